"""Camera triage for SageMaker Pipelines: the cameras are a list literal, and no exit handler.

The same steps as ``camera_triage.py``, in the shape SageMaker Pipelines can express:

    ParallelFor(["lobby", "gate", "dock", "yard"])     unrolled: count-motion-0 … count-motion-3
      count-motion ──(moving ≥ min_moving?)──▶ detect-objects (GPU, spot)   one ConditionStep each
    triage-summary ◀── Collected(moving), Collected(frames)

SageMaker has no loop over a run-time list and no exit handler: the loop is unrolled into one
step per camera (``<step>-<i>``), each condition becomes a ``ConditionStep`` that reads
``moving`` with ``Std:JsonGet``, and the status report is left out (SageMaker stops at the first
failure; watch the execution's status instead). ``camera_triage.py`` keeps the run-time list and
the exit handler for the targets that express them.
"""

from camera_triage import count_motion, detect_objects, triage_summary

from pipecast import dsl

CAMERAS = ["lobby", "gate", "dock", "yard"]


@dsl.pipeline(name="camera-triage-fixed")
def camera_triage_fixed(video_root: str = "s3://acme-ml/cameras/", min_moving: int = 1):
    """Triage four fixed cameras; the detector runs only where something moved."""
    with dsl.ParallelFor(CAMERAS, parallelism=2) as camera:
        motion = count_motion(camera=camera, video_root=video_root)
        with dsl.If(motion.outputs["moving"] >= min_moving):
            detect_objects(frames=motion.outputs["frames"], camera=camera)
    triage_summary(
        cameras=CAMERAS,
        moving=dsl.Collected(motion.outputs["moving"]),
        frames=dsl.Collected(motion.outputs["frames"]),
    )
