"""Scale: build (DSL → IR), check (graph compiler) and compile to every available target for
generated pipelines of N = 100, 1,000, 10,000 steps. Prints time, µs per step, and peak Python
memory; scaling must be linear (µs/step flat as N grows).

    python benchmarks/compile_scale.py [--sizes 100,1000,10000] [--shapes chain,fan-out,layered]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generate import SHAPES

from pipecast._api import paused_gc, resolve_targets
from pipecast.compilers import graph
from pipecast.config import load_config
from pipecast.errors import PipelineError

EXAMPLES = load_config(Path(__file__).resolve().parent.parent / "examples" / "pipecast.toml")
# the default Step Functions layout; the exact one (run-time handshakes) gets rows of its own
CONFIG = EXAMPLES.with_overrides({"stepfunctions.layout": "nested"})
VARIANTS: dict[str, tuple[str, Any]] = {
    "stepfunctions": (
        "stepfunctions exact",
        CONFIG.with_overrides({"stepfunctions.layout": "exact"}),
    )
}
# targets whose own SDK is super-linear are measured up to this size only (see their benchmarks)
MAX_N: dict[str, int] = {"kubeflow": 1000}
# (the service size limits are not applied here: the benchmark measures the compiler)


def measure(fn: Callable[[], Any], memory: bool) -> tuple[float, float, Any]:
    """Seconds (best of a short run) and, with ``memory``, peak MiB of Python allocations.

    The collector is paused during the timed run, as ``pipecast compile`` does (``paused_gc``).
    """
    gc.collect()
    with paused_gc():
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    peak = 0.0
    if memory:
        gc.collect()
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc pass")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    targets, skipped = resolve_targets("all")
    for note in skipped:
        print(note, file=sys.stderr)
    header = f"{'shape':<8} {'N':>6}  {'phase':<26} {'seconds':>9} {'µs/step':>9} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    for shape in args.shapes.split(","):
        for n in sizes:
            rows: list[tuple[str, float, float]] = []
            make = SHAPES[shape]
            t, mem, spec = measure(lambda make=make, n=n: make(n).spec, not args.no_memory)
            rows.append(("build (DSL→IR)", t, mem))
            t, mem, checked = measure(lambda s=spec: graph.check(s), not args.no_memory)
            rows.append(("check (graph)", t, mem))
            for target in targets:
                if n > MAX_N.get(target.name, n):
                    continue
                runs = [(target.name, CONFIG)]
                if target.name in VARIANTS:
                    runs.append(VARIANTS[target.name])
                for label, config in runs:
                    try:
                        graph.check(spec, target)
                    except PipelineError:  # a construct it cannot express yet (loops)
                        continue
                    t, mem, _ = measure(
                        lambda s=spec, tg=target, c=config: tg.compile(graph.check(s, tg, c), c),
                        not args.no_memory,
                    )
                    rows.append((f"compile {label}", t, mem))
            del checked
            for phase, seconds, peak in rows:
                print(
                    f"{shape:<8} {n:>6}  {phase:<26} {seconds:>9.3f} "
                    f"{seconds / n * 1e6:>9.1f} {peak:>9.1f}"
                )
        print()


if __name__ == "__main__":
    main()
