"""``detect_objects``: find objects in every frame (GPU spot in the flagship; CPU detectors here).

The default image runs OpenCV detectors that need no downloaded weights; a deep-learning image
with the same contract is swapped in with ``detect_objects.with_image(...)`` (see README.md).
Output: ``detections/detections.jsonl`` (one line per frame) and ``detections/meta.json``.
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources

IMAGE = "ghcr.io/pipecast/detect-objects:0.1.0"


@dsl.container_component(
    image=IMAGE,
    command=["python", "-m", "pipecast.components.detect_objects"],
    resources=Resources(cpu=4, memory="16GiB"),
    timeout="2h",
)
def detect_objects(  # type: ignore[no-untyped-def]
    frames: Input[Dataset],
    detections: Output[Dataset],
    threshold: float = 0.5,
    method: str = "background",
    min_area: int = 80,
):
    """Detect objects in every frame listed in ``frames/index.json``."""


__all__ = ["IMAGE", "detect_objects"]
