"""Cost of reporting every problem of every target at once (issue #15 item 7), and of per-target
settings: for chains of N steps,

- ``clean``: check every available target (the graph check, projection included) of a pipeline
  with no problem and no ``targets=`` — the baseline every compile pays;
- ``per-target``: the same with ``.set_caching(True, targets=("sagemaker", "kubeflow"))`` on every
  step (each target gets its projected spec, Step Functions one PC014 note per step);
- ``all-refused``: every step caching without ``targets=``, so Step Functions reports one PC008
  per step, each hint naming the targets that can (read from the registry).

Prints µs per step per target checked; the rows must stay flat as N grows (linear).

    python benchmarks/all_problems.py [--sizes 100,1000,5000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generate import source, transform

from pipecast import dsl
from pipecast._api import paused_gc, resolve_targets
from pipecast.compilers import graph
from pipecast.config import load_config
from pipecast.dsl.spec import PipelineSpec
from pipecast.errors import PipelineError

CONFIG = load_config(Path(__file__).resolve().parent.parent / "examples" / "pipecast.toml")


def _chain(n: int, cache: Callable[[object], object] | None) -> PipelineSpec:
    @dsl.pipeline(name=f"chain-{n}")
    def pipeline() -> None:
        prev = source()
        for _ in range(n - 1):
            prev = transform(data=prev.output)
            if cache is not None:
                cache(prev)

    with paused_gc():
        return pipeline.spec  # type: ignore[no-any-return]


CASES: dict[str, Callable[[object], object] | None] = {
    "clean": None,
    "per-target": lambda t: t.set_caching(True, targets=("sagemaker", "kubeflow")),  # type: ignore[attr-defined]
    "all-refused": lambda t: t.set_caching(True),  # type: ignore[attr-defined]
}


def _check_all(spec: PipelineSpec) -> int:
    """Graph check of every target (no document compile: that is compile_scale's job)."""
    targets, _ = resolve_targets("all")
    found = 0
    for target in targets:
        try:
            checked = graph.check(spec, target, CONFIG)
            found += len(checked.warnings)
        except PipelineError as exc:
            found += len(exc.diagnostics)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    n_targets = len(resolve_targets("all")[0])
    print(f"{'case':<12} {'N':>6} {'diagnostics':>12} {'ms':>9} {'µs/step/target':>15}")
    for case, cache in CASES.items():
        for n in sizes:
            spec = _chain(n, cache)
            with paused_gc():
                start = time.perf_counter()
                found = _check_all(spec)
                took = time.perf_counter() - start
            per = took / n / n_targets * 1e6
            print(f"{case:<12} {n:>6} {found:>12} {took * 1e3:>9.1f} {per:>15.1f}")


if __name__ == "__main__":
    main()
