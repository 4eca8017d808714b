"""The flagship: video in, report out. Every step has its own image, versions and resources.

    video_uri ──▶ extract_frames (CPU) ──▶ detect_objects (GPU, spot) ──▶ track_objects (CPU)
                                                                              │
                                                         summarize (small CPU) ◀┘ ──▶ report

``video_uri`` is an S3 prefix of videos, or (``manifest=True``) a SageMaker manifest file
listing them. Compile it with ``pipecast compile examples/video_analysis.py --target all -o out``.
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"


@dsl.container_component(
    image=f"{REGISTRY}/extract-frames:1.4.0",
    command=["python", "-m", "pipecast.components.extract_frames"],
    resources=Resources(cpu=4, memory="8GiB"),
    timeout="1h",
)
def extract_frames(video: Input[Dataset], frames: Output[Dataset], fps: int = 5):
    """Decode every video into JPEG frames at ``fps`` frames per second."""


@dsl.container_component(
    image=f"{REGISTRY}/detect-objects:2.0.1",
    command=["python", "-m", "pipecast.components.detect_objects"],
    resources=Resources(cpu=4, memory="16GiB", gpu=1),
    spot=Spot(max_wait="3h"),
    timeout="2h",
)
def detect_objects(frames: Input[Dataset], detections: Output[Dataset], threshold: float = 0.5):
    """Run the object detector over every frame (GPU image with the deep-learning stack)."""


@dsl.container_component(
    image=f"{REGISTRY}/track-objects:1.1.0",
    command=["python", "-m", "pipecast.components.track_objects"],
    resources=Resources(cpu=2, memory="4GiB"),
    timeout="1h",
)
def track_objects(detections: Input[Dataset], tracks: Output[Dataset], iou_threshold: float = 0.3):
    """Link detections across frames into object tracks."""


@dsl.container_component(
    image=f"{REGISTRY}/summarize:1.0.3",
    command=["python", "-m", "pipecast.components.summarize"],
    resources=Resources(cpu=1, memory="2GiB"),
    timeout="30m",
)
def summarize(tracks: Input[Dataset], summary: Output[Dataset], report: Output[Dataset]):
    """Write a JSON summary and an HTML report with a timeline."""


@dsl.pipeline(name="video-analysis")
def video_analysis(video_uri: str, fps: int = 5, threshold: float = 0.5):
    """Detect and track objects in videos; all outputs of one run land under one prefix."""
    video = dsl.importer(uri=video_uri, artifact_type=Dataset)
    frames = extract_frames(video=video.output, fps=fps)
    detections = detect_objects(frames=frames.outputs["frames"], threshold=threshold)
    detections.set_retry(Retry(max_attempts=3, backoff="1m"))
    tracks = track_objects(detections=detections.output).set_name("track")
    summarize(tracks=tracks.output)
