"""Scale: build (DSL → IR), check (graph compiler) and compile to every available target for
generated pipelines of N = 100, 1,000, 10,000 steps. Prints time, µs per step, and peak Python
memory; scaling must be linear (µs/step flat as N grows).

    python benchmarks/compile_scale.py [--sizes 100,1000,10000] [--shapes chain,fan-out,layered]
                                      [--cpu [--repeat 5]]

``--cpu`` times with the process's CPU clock and keeps the best of ``--repeat`` runs: on a shared
machine (load average far above the core count) wall-clock figures swing by ±50 %, CPU time by a
few per cent, so before/after comparisons of two checkouts should use it.
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


CLOCK: dict[str, Any] = {"now": time.perf_counter, "repeat": 1}


def measure(fn: Callable[[], Any], memory: bool) -> tuple[float, float, Any]:
    """Seconds (the best of ``CLOCK["repeat"]`` runs on ``CLOCK["now"]``) and, with ``memory``,
    peak MiB of Python allocations.

    The collector is paused during the timed run, as ``pipecast compile`` does (``paused_gc``).
    """
    seconds = float("inf")
    for _ in range(CLOCK["repeat"]):
        gc.collect()
        with paused_gc():
            start = CLOCK["now"]()
            result = fn()
            seconds = min(seconds, CLOCK["now"]() - start)
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
    parser.add_argument(
        "--cpu", action="store_true", help="CPU time (process_time) instead of wall-clock time"
    )
    parser.add_argument("--repeat", type=int, default=None, help="best of N runs (--cpu: 5)")
    args = parser.parse_args()
    if args.cpu:
        CLOCK["now"] = time.process_time
    CLOCK["repeat"] = max(1, args.repeat or (5 if args.cpu else 1))
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
