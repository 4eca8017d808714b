"""Fan-out / fan-in: one camera feed per detector shard, merged, then summarised.

    manifest ──▶ extract_frames ─┬─▶ detect-north ─┐
                                 ├─▶ detect-south ─┼─▶ merge ──▶ summarize
                                 └─▶ detect-east  ─┘
                 quality-check (after extract_frames, no data) ──────────▲ (explicit .after)

The input is a SageMaker manifest file listing the video objects (``manifest=True``).
It compiles for every target; see tests for features only some targets express (caching).
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"


@dsl.container_component(
    image=f"{REGISTRY}/extract-frames:1.4.0",
    command=["python", "-m", "pipecast.components.extract_frames"],
    resources=Resources(cpu=8, memory="16GiB"),
)
def extract_frames(video: Input[Dataset], frames: Output[Dataset], fps: int = 5):
    """Decode videos into frames."""


@dsl.container_component(
    image=f"{REGISTRY}/detect-objects@sha256:"
    "3b1f0c7e5b8d6a4f2e9c1d0b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f",
    command=["python", "-m", "pipecast.components.detect_objects"],
    args=[
        "--frames",
        dsl.input_path("frames"),
        "--weights",
        dsl.input_path("weights"),
        "--region",
        dsl.param("region"),
        ["--threshold=", dsl.param("threshold")],
        "--detections",
        dsl.output_path("detections"),
    ],
    resources=Resources(cpu=8, memory="32GiB", gpu=1, gpu_type="A10G"),
    spot=Spot(max_wait="4h"),
    retry=Retry(max_attempts=2),
    timeout="3h",
)
def detect_objects(
    frames: Input[Dataset],
    weights: Input[Model],
    region: str,
    detections: Output[Dataset],
    threshold: float = 0.4,
):
    """Detect objects in one region of the frames."""


@dsl.container_component(
    image=f"{REGISTRY}/merge:0.9.2",
    command=["python", "-m", "pipecast.components.merge"],
    resources=Resources(cpu=2, memory="4GiB"),
)
def merge(
    north: Input[Dataset], south: Input[Dataset], east: Input[Dataset], merged: Output[Dataset]
):
    """Merge per-region detections into one set."""


@dsl.container_component(
    image=f"{REGISTRY}/quality-check:0.3.0",
    command=["python", "-m", "pipecast.components.quality_check"],
    resources=Resources(cpu=1, memory="2GiB"),
)
def quality_check(frames: Input[Dataset], min_frames: int = 10):
    """Fail the run early when too few frames were decoded."""


@dsl.container_component(
    image=f"{REGISTRY}/summarize:1.0.3",
    command=["python", "-m", "pipecast.components.summarize"],
    resources=Resources(cpu=1, memory="2GiB"),
)
def summarize(tracks: Input[Dataset], summary: Output[Dataset], report: Output[Dataset]):
    """Write a JSON summary and an HTML report."""


@dsl.pipeline(name="multi-camera")
def multi_camera(
    manifest_uri: str, weights_uri: str = "s3://acme-ml/models/detector/v7/", threshold: float = 0.4
):
    """Detect objects in three regions of every camera frame in parallel, then merge."""
    videos = dsl.importer(uri=manifest_uri, artifact_type=Dataset, manifest=True)
    weights = dsl.importer(uri=weights_uri, artifact_type=Model)
    frames = extract_frames(video=videos.output)
    shards = {
        region: detect_objects(
            frames=frames.output, weights=weights.output, region=region, threshold=threshold
        ).set_name(f"detect-{region}")
        for region in ("north", "south", "east")
    }
    merged = merge(
        north=shards["north"].output, south=shards["south"].output, east=shards["east"].output
    )
    check = quality_check(frames=frames.output)
    summarize(tracks=merged.output).after(check).set_env(REPORT_TITLE="Multi-camera run")
