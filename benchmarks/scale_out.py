"""Scale-out of one step (``set_instances``): simulated makespan and cost on SageMaker, and the
local runner's real speed-up.

Part 1 simulates the flagship (extract_frames → detect_objects → track → summarize) over 10,
1,000 and 100,000 videos with extract_frames and detect_objects sharded on 1, 4, 16 and 64
instances. Nothing runs on AWS; the assumptions are printed with the table:

- video lengths: log-normal, median 60 s, sigma 0.8 (seed 19); extracting takes 0.25 s and
  detecting 0.8 s per second of video on the step's instance; tracking 0.05 s per second of
  video and summarizing 30 s, each on one instance;
- the split: objects sorted by key, object ``i`` to instance ``i mod count`` (pipecast's local
  and Kubeflow rule; SageMaker documents ``ShardedByS3Key`` as splitting by key without giving
  its assignment, so this is an assumption); a step ends when its slowest instance does;
- start-up: 240 s per job before the container runs (provisioning, image pull, input download).
  SageMaker publishes no start-up figure; 2-5 minutes is what AWS's own Processing and Training
  examples show in their job logs, and 240 s is an assumption in that range, not a measurement;
- cost: every instance billed for start-up plus its own work (an upper bound: SageMaker bills
  an instance until the job ends, and may not bill all of start-up), at the shipped catalogue's
  price for the type the SageMaker target places the step on, detect_objects at the catalogue
  price x (1 - 0.7) for spot (DESIGN §14's default discount).

Part 2 runs a real scaled-out step locally: 48 objects, each "processed" by a 50 ms sleep in a
subprocess worker, with 1, 2 and 4 workers, and prints wall times and speed-ups.

    python benchmarks/scale_out.py [--skip-local]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from pipecast import dsl
from pipecast.compilers import aws_jobs, graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.runner import Capacity, run_pipeline

VIDEOS = (10, 1_000, 100_000)
INSTANCES = (1, 4, 16, 64)
STARTUP_S = 240.0
SPOT_DISCOUNT = 0.7
SECONDS_PER_VIDEO_SECOND = {"extract-frames": 0.25, "detect-objects": 0.8}
TRACK_PER_VIDEO_SECOND, SUMMARIZE_S = 0.05, 30.0
MAX_PROCESSING_RUNTIME_H = 777_600 / 3600  # botocore: ProcessingMaxRuntimeInSeconds maximum


def _lengths(n: int) -> list[float]:
    rnd = random.Random(19)
    return [rnd.lognormvariate(0.0, 0.8) * 60.0 for _ in range(n)]


def _prices() -> dict[str, tuple[str, float]]:
    """Each flagship step's placed instance type and its hourly price (catalogue)."""
    from pipecast._loader import load_pipeline

    spec = load_pipeline(str(Path(__file__).parent.parent / "examples" / "video_analysis.py")).spec
    prices = {it.type: it.price_per_hour for it in aws_jobs.catalogue()}
    out = {}
    for step in spec.steps:
        instance, _ = aws_jobs.choose_instance(step)
        assert instance is not None
        discount = SPOT_DISCOUNT if step.spot is not None else 0.0
        out[step.id] = (instance, prices[instance] * (1 - discount))
    return out


def simulate(
    videos: int, count: int, prices: dict[str, tuple[str, float]]
) -> tuple[float, float, float]:
    """(makespan hours, cost USD, longest single job in hours) of one run."""
    lengths = _lengths(videos)
    makespan = cost = longest = 0.0
    for step, factor in SECONDS_PER_VIDEO_SECOND.items():
        work = [length * factor for length in lengths]
        per_instance = [sum(work[i::count]) for i in range(count)]
        makespan += STARTUP_S + max(per_instance)
        longest = max(longest, max(per_instance))
        cost += sum(STARTUP_S + w for w in per_instance) / 3600 * prices[step][1]
    for step, seconds in (
        ("track", sum(lengths) * TRACK_PER_VIDEO_SECOND),
        ("summarize", SUMMARIZE_S),
    ):
        makespan += STARTUP_S + seconds
        longest = max(longest, seconds)
        cost += (STARTUP_S + seconds) / 3600 * prices[step][1]
    return makespan / 3600, cost, longest / 3600


def part_one() -> None:
    prices = _prices()
    print("Simulated flagship on SageMaker, extract_frames and detect_objects sharded")
    print(
        "  placed: "
        + ", ".join(f"{s} {t} ${p:.3f}/h" for s, (t, p) in prices.items())
        + f"; start-up {STARTUP_S:.0f} s per job (assumed)"
    )
    print("| videos | instances | makespan h | cost USD | speed-up | cost ratio | longest job h |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for videos in VIDEOS:
        base_h, base_cost, _ = simulate(videos, 1, prices)
        for count in INSTANCES:
            hours, cost, longest = simulate(videos, count, prices)
            over = " (over the limit)" if longest > MAX_PROCESSING_RUNTIME_H else ""
            print(
                f"| {videos:,} | {count} | {hours:,.2f} | {cost:,.2f} | "
                f"{base_h / hours:.1f}x | {cost / base_cost:.2f} | {longest:,.1f}{over} |"
            )
    print(
        f"  a Processing job runs at most {MAX_PROCESSING_RUNTIME_H:g} h (botocore's "
        "ProcessingMaxRuntimeInSeconds); the unsharded track step bounds the speed-up"
    )


ITEM_SCRIPT = (
    "import os, sys, time\n"
    "a = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
    "for name in sorted(os.listdir(a['--items'])):\n"
    "    time.sleep(0.05)\n"
    "    open(os.path.join(a['--out'], name + '.done'), 'w').close()\n"
)


@dsl.container_component(image="bench/items:1", command=["python", "-c", ITEM_SCRIPT])
def process(items: Input[Dataset], out: Output[Dataset]):
    """Sleeps 50 ms per object."""


def _bench(count: int) -> dsl.Pipeline:
    @dsl.pipeline(name="scale-bench")
    def bench(items_uri: str):
        items = dsl.importer(uri=items_uri, artifact_type=Dataset)
        process(items=items.output).set_instances(count, shard=["items"])

    return bench


def part_two(objects: int = 48, repeats: int = 3) -> None:
    print(f"\nLocal runner: one step over {objects} objects, 50 ms each, subprocess workers")
    print("| workers | wall s (median of 3) | speed-up | ideal work s |")
    print("|---:|---:|---:|---:|")
    base = None
    for count in (1, 2, 4):
        checked = graph.check(_bench(count).spec)
        walls = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp) / "items"
                folder.mkdir()
                for i in range(objects):
                    (folder / f"{i:04d}.bin").write_bytes(b"x")
                start = time.perf_counter()
                result = run_pipeline(
                    checked,
                    {"items_uri": str(folder)},
                    Path(tmp) / "runs",
                    capacity=Capacity(cpu=4, memory=64 * 1024**3, gpu=0),
                )
                walls.append(time.perf_counter() - start)
                assert result.succeeded, result["process"].error
                done = list(Path(result["process"].outputs["out"]).iterdir())
                assert len(done) == objects
        wall = statistics.median(walls)
        base = base or wall
        print(f"| {count} | {wall:.2f} | {base / wall:.2f}x | {objects * 0.05 / count:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-local", action="store_true")
    args = parser.parse_args()
    part_one()
    if not args.skip_local:
        part_two()


if __name__ == "__main__":
    main()
