"""Camera triage: look at every camera, run the GPU detector only where something moved, and
always post a status report.

    ┌ ExitHandler ─────────────────────────────────────────────────────────────┐
    │  ParallelFor(cameras, parallelism=2)                                     │
    │    count-motion ──(moving ≥ min_moving?)──▶ detect-objects (GPU, spot)   │
    │  triage-summary ◀── Collected(moving), Collected(frames)                 │
    └──────────────────────────────────────────────────────────────▶ status-report

Values between steps (``moving: Output[int]``), a loop with bounded parallelism, a condition
per camera, a fan-in and an exit handler (DESIGN §12). The local runner runs all of it
(``pipecast run examples/camera_triage.py --local``), ``--target ir`` keeps it, Step Functions
expresses it (Map, Choice, Catch; ``examples/compiled/camera-triage.stepfunctions.json``), and so
does Kubeflow (kfp's own ParallelFor, If, Collected and ExitHandler; a shell prelude in
triage-summary's container turns the list of frames artifacts into ``frames/0/``, ``frames/1/``,
…: ``examples/compiled/camera-triage.kubeflow.yaml``); a target that cannot refuses it with a
clear error.
"""

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"


@dsl.container_component(
    image=f"{REGISTRY}/count-motion:0.4.0",
    command=["python", "-m", "pipecast.components.count_motion"],
    resources=Resources(cpu=2, memory="4GiB"),
)
def count_motion(
    camera: str, video_root: str, frames: Output[Dataset], moving: Output[int], fps: int = 2
):
    """Sample one camera's video and count the frames where something moved."""


@dsl.container_component(
    image=f"{REGISTRY}/detect-objects:2.0.1",
    command=["python", "-m", "pipecast.components.detect_objects"],
    resources=Resources(cpu=8, memory="32GiB", gpu=1, gpu_type="A10G"),
    spot=Spot(max_wait="2h"),
    retry=Retry(max_attempts=2),
    timeout="1h",
)
def detect_objects(
    frames: Input[Dataset], camera: str, detections: Output[Dataset], threshold: float = 0.5
):
    """Run the detector over the frames of one camera that moved."""


@dsl.container_component(
    image=f"{REGISTRY}/triage-summary:0.2.0",
    command=["python", "-m", "pipecast.components.triage_summary"],
    resources=Resources(cpu=1, memory="2GiB"),
)
def triage_summary(cameras: list, moving: list, frames: Input[Dataset], summary: Output[Dataset]):
    """Fan in: per camera, how much moved (``frames/<i>/`` is camera ``i``'s sample)."""


@dsl.container_component(
    image=f"{REGISTRY}/status-report:0.2.0",
    command=["python", "-m", "pipecast.components.status_report"],
    resources=Resources(cpu=1, memory="1GiB"),
)
def status_report(status: str, report: Output[Dataset]):
    """Write the run's status (``dsl.RUN_STATUS``) as a report, whether the run failed or not."""


@dsl.pipeline(name="camera-triage")
def camera_triage(
    cameras: list = ["lobby", "gate", "dock", "yard"],  # noqa: B006 (a default, never mutated)
    video_root: str = "s3://acme-ml/cameras/",
    min_moving: int = 1,
):
    """Triage every camera; the detector runs only where something moved."""
    report = status_report(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(report):
        with dsl.ParallelFor(cameras, parallelism=2) as camera:
            motion = count_motion(camera=camera, video_root=video_root)
            with dsl.If(motion.outputs["moving"] >= min_moving):
                detect_objects(frames=motion.outputs["frames"], camera=camera)
        triage_summary(
            cameras=cameras,
            moving=dsl.Collected(motion.outputs["moving"]),
            frames=dsl.Collected(motion.outputs["frames"]),
        )
