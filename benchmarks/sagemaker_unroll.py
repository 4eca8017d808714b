"""SageMaker loop unrolling: definition size and compile time per iteration, and how many
iterations fit in the 1 MiB definition limit.

SageMaker Pipelines has no loop, so ``dsl.ParallelFor`` over a list literal is unrolled into one
step per item (and one ConditionStep per item when the loop holds a ``dsl.If``). The pipeline
measured is the triage shape: per camera, a Processing step writing an output parameter and a
frames folder, and a spot detector behind a condition on that parameter; after the loop, a
fan-in of every camera's count and frames (which caps it at 10 cameras: a Processing job takes
10 inputs, so the fan-in is left out above that).

    python benchmarks/sagemaker_unroll.py
"""

from __future__ import annotations

import time

from pipecast import dsl
from pipecast._api import compile_spec
from pipecast.compilers import load_target
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output, Spot
from pipecast.errors import PipelineError

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/step:1.0.0"
CONFIG = Config(
    {
        "artifact_root": "s3://acme-ml/pipelines",
        "sagemaker": {"role_arn": "arn:aws:iam::123456789012:role/pipecast-jobs"},
    }
)
LIMIT = 1024 * 1024


@dsl.container_component(image=IMAGE, command=["python", "-m", "bench.count"])
def count_motion(camera: str, frames: Output[Dataset], moving: Output[int]):
    """Count what moved."""


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "bench.detect"], spot=Spot(max_wait="2h")
)
def detect(frames: Input[Dataset], camera: str, detections: Output[Dataset]):
    """Detect objects."""


@dsl.container_component(image=IMAGE, command=["python", "-m", "bench.summary"])
def summary(moving: list, frames: Input[Dataset], out: Output[Dataset]):
    """Fan in."""


def triage(n: int) -> dsl.Pipeline:
    cameras = [f"camera-{i}" for i in range(n)]

    @dsl.pipeline(name=f"triage-{n}")
    def pipeline(min_moving: int = 1):
        with dsl.ParallelFor(cameras) as camera:
            counted = count_motion(camera=camera)
            with dsl.If(counted.outputs["moving"] >= min_moving):
                detect(frames=counted.outputs["frames"], camera=camera)
        if n <= 10:
            summary(
                moving=dsl.Collected(counted.outputs["moving"]),
                frames=dsl.Collected(counted.outputs["frames"]),
            )

    return pipeline


def measure(n: int) -> tuple[int | None, float]:
    """(definition bytes, or None when refused; seconds to compile and validate)."""
    spec = triage(n).spec
    start = time.perf_counter()
    try:
        text = compile_spec(spec, load_target("sagemaker"), CONFIG).text
    except PipelineError as exc:
        assert all(d.code == "PC009" for d in exc.diagnostics if d.severity == "error"), exc
        return None, time.perf_counter() - start
    return len(text.encode("utf-8")), time.perf_counter() - start


def main() -> None:
    measure(1)  # warm up: imports and the botocore model slice load once
    print(f"{'cameras':>8} {'steps':>6} {'bytes':>10} {'bytes/camera':>13} {'seconds':>8}")
    for n in (1, 10, 50, 100, 150):
        size, seconds = measure(n)
        steps = 3 * n + (1 if n <= 10 else 0)
        per = f"{size / n:,.0f}" if size else "-"
        shown = f"{size:,}" if size else "refused"
        print(f"{n:>8} {steps:>6} {shown:>10} {per:>13} {seconds:>8.2f}")
    low, high = 1, 400  # the largest loop that still fits, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        size, _ = measure(mid)
        low, high = (mid, high) if size is not None and size <= LIMIT else (low, mid - 1)
    print(f"largest loop of this shape under the {LIMIT:,}-byte limit: {low} cameras")


if __name__ == "__main__":
    main()
