"""``extract_frames``: decode videos into frames at a chosen rate (CPU).

Its image holds only OpenCV's headless wheel; pin it to your registry with
``extract_frames.with_image(...)``. Input: a video file or a folder of them (an S3 prefix or a
manifest on AWS). Output: ``frames/index.json`` and one folder of JPEGs per video.
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources

IMAGE = "ghcr.io/pipecast/extract-frames:0.1.0"


@dsl.container_component(
    image=IMAGE,
    command=["python", "-m", "pipecast.components.extract_frames"],
    resources=Resources(cpu=4, memory="8GiB"),
    timeout="1h",
)
def extract_frames(video: Input[Dataset], frames: Output[Dataset], fps: float = 5.0):  # type: ignore[no-untyped-def]
    """Decode every video into JPEG frames at ``fps`` frames per second."""


__all__ = ["IMAGE", "extract_frames"]
