"""Cameras along a corridor: people walk out of one view into the next, so each pair of
neighbouring cameras is stitched ("hand-off") from both cameras' tracks.

    west   ─▶ extract ─▶ detect ─▶ track ──────▶ handoff-west-middle ──┐
    middle ─▶ extract ─▶ detect ─▶ track ──┬───▲                       ├──▶ report
                                           └───▶ handoff-middle-east ──┘
    east   ─▶ extract ─▶ detect ─▶ track ──────▲

The middle camera's tracks feed both hand-offs. That "N" is not series-parallel, so Step
Functions cannot nest it exactly: by default one hand-off would also wait for the far camera
(reported at compile time). ``layout = "exact"`` in examples/pipecast.toml makes the compiled
state machine enforce those edges with run-time handshakes instead, so each hand-off starts as
soon as its own two cameras are tracked. ``set_expected_duration`` tells the layout which steps
are long (the east camera has the most footage).
"""

from pipecast import dsl
from pipecast.components.detect_objects import detect_objects as _detect
from pipecast.components.extract_frames import extract_frames as _extract
from pipecast.components.track_objects import track_objects as _track
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"

extract_frames = _extract.with_image(f"{REGISTRY}/extract-frames:0.1.0")
detect_objects = _detect.with_image(f"{REGISTRY}/detect-objects:0.1.0")
track_objects = _track.with_image(f"{REGISTRY}/track-objects:0.1.0")


@dsl.container_component(
    image=f"{REGISTRY}/handoff:0.2.0",
    command=["python", "-m", "corridor.handoff"],
    resources=Resources(cpu=2, memory="8GiB"),
    expected_duration="5m",
)
def handoff(left: Input[Dataset], right: Input[Dataset], stitched: Output[Dataset]):
    """Match tracks leaving one camera's view to tracks entering its neighbour's."""


@dsl.container_component(
    image=f"{REGISTRY}/corridor-report:0.2.0",
    command=["python", "-m", "corridor.report"],
    resources=Resources(cpu=1, memory="2GiB"),
)
def corridor_report(
    west_middle: Input[Dataset], middle_east: Input[Dataset], report: Output[Dataset]
):
    """Count people walking through the whole corridor, per direction."""


@dsl.pipeline(name="corridor-handoff")
def corridor_handoff(west_uri: str, middle_uri: str, east_uri: str, threshold: float = 0.5):
    """Track people in three neighbouring cameras, then stitch each neighbouring pair."""
    tracks = {}
    for camera, uri, footage in (
        ("west", west_uri, "20m"),
        ("middle", middle_uri, "20m"),
        ("east", east_uri, "90m"),
    ):
        video = dsl.importer(uri=uri, artifact_type=Dataset)
        frames = extract_frames(video=video.output).set_name(f"extract-{camera}")
        detections = (
            detect_objects(frames=frames.outputs["frames"], threshold=threshold)
            .set_name(f"detect-{camera}")
            .set_resources(Resources(cpu=4, memory="16GiB", gpu=1))
            .set_spot(Spot(max_wait="3h"))
            .set_retry(Retry(max_attempts=3, backoff="1m"))
            .set_expected_duration(footage)
        )
        tracks[camera] = track_objects(detections=detections.output).set_name(f"track-{camera}")
    west_middle = handoff(left=tracks["west"].output, right=tracks["middle"].output).set_name(
        "handoff-west-middle"
    )
    middle_east = handoff(left=tracks["middle"].output, right=tracks["east"].output).set_name(
        "handoff-middle-east"
    )
    corridor_report(west_middle=west_middle.output, middle_east=middle_east.output).set_name(
        "report"
    )
