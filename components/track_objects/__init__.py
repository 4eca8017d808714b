"""``track_objects``: link detections across frames into object tracks (CPU, standard library).

Output: ``tracks/tracks.json`` with, per video, each track's span and path, and the number of
detections per frame.
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources

IMAGE = "ghcr.io/pipecast/track-objects:0.1.0"


@dsl.container_component(
    image=IMAGE,
    command=["python", "-m", "pipecast.components.track_objects"],
    resources=Resources(cpu=2, memory="4GiB"),
    timeout="1h",
)
def track_objects(  # type: ignore[no-untyped-def]
    detections: Input[Dataset],
    tracks: Output[Dataset],
    iou_threshold: float = 0.3,
    max_gap: int = 2,
    min_length: int = 3,
):
    """Link detections across frames into object tracks."""


__all__ = ["IMAGE", "track_objects"]
