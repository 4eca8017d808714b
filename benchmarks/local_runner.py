"""Local runner: per-step overhead, parallel speed-up and resume cost for 50 short steps.

Each step is a real subprocess (``python -c "sleep"``). Prints wall time for capacity 1 CPU
(sequential) and for this machine's cores, the speed-up, and the runner's overhead per step
(wall time minus the ideal time, divided by the number of steps). Then resumes the unchanged
run (``--resume``: every step's cache key and output digests are checked, nothing reruns) and
prints its time as a share of the first run's.

    python benchmarks/local_runner.py [--steps 50] [--sleep 0.2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Output, Resources
from pipecast.runner import Capacity, run_pipeline


def build(steps: int, sleep: float) -> dsl.Pipeline:
    @dsl.container_component(
        image="bench/sleep:1",
        command=["python", "-c", f"import sys, time; time.sleep({sleep})", "--"],
        resources=Resources(cpu=1, memory="256MiB"),
    )
    def nap(out: Output[Dataset]):
        """Sleeps."""

    @dsl.pipeline(name="naps")
    def naps() -> None:
        for _ in range(steps):
            nap()

    return naps


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--sleep", type=float, default=0.2)
    args = parser.parse_args()
    checked = graph.check(build(args.steps, args.sleep).spec)
    cores = os.cpu_count() or 1
    cap = {cpus: Capacity(cpu=cpus, memory=64 * 1024**3, gpu=0) for cpus in (1, cores)}
    rows = []
    resume_rows = []
    for cpus in (1, cores):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = run_pipeline(checked, {}, Path(tmp), capacity=cap[cpus])
            wall = time.perf_counter() - start
            assert result.succeeded
            start = time.perf_counter()
            again = run_pipeline(
                checked, {}, Path(tmp), run_id=result.run_id, resume=True, capacity=cap[cpus]
            )
            resumed = time.perf_counter() - start
            assert again.succeeded
            assert {s.status for s in again.steps.values()} == {"cached"}
        ideal = args.steps * args.sleep / cpus
        rows.append((cpus, wall, (wall - ideal) / args.steps * 1000))
        resume_rows.append((cpus, wall, resumed))
    print(f"{args.steps} independent steps of {args.sleep}s each (subprocesses)")
    print(f"{'capacity':>9} {'wall s':>8} {'overhead ms/step':>17}")
    for cpus, wall, overhead in rows:
        print(f"{cpus:>6} cpu {wall:>8.2f} {overhead:>17.1f}")
    print(f"speed-up with {cores} cores: {rows[0][1] / rows[1][1]:.2f}x (ideal {cores}x)")
    print(f"{'capacity':>9} {'first s':>8} {'resume s':>9} {'resume/first':>13}")
    for cpus, wall, resumed in resume_rows:
        print(f"{cpus:>6} cpu {wall:>8.2f} {resumed:>9.3f} {resumed / wall:>12.1%}")


if __name__ == "__main__":
    main()
