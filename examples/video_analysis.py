"""The flagship: video in, report out. Every step has its own image, versions and resources.

    video_uri ──▶ extract_frames (CPU) ──▶ detect_objects (GPU, spot) ──▶ track (CPU)
                                                                            │
                                                       summarize (small CPU) ◀┘ ──▶ report

The steps are the reusable components in ``pipecast.components``, pinned to this team's
registry. ``video_uri`` is an S3 prefix of videos (or a local folder for ``pipecast run
--local``). Try it end to end on a generated sample video with ``make demo``, or:

    python -m pipecast.components.synthetic --out build/sample
    pipecast run examples/video_analysis.py --local -p video_uri=build/sample/videos
    pipecast compile examples/video_analysis.py --target all -o build/video_analysis
"""

from pipecast import dsl
from pipecast.components.detect_objects import detect_objects as _detect
from pipecast.components.extract_frames import extract_frames as _extract
from pipecast.components.summarize import summarize as _summarize
from pipecast.components.track_objects import track_objects as _track
from pipecast.dsl import Dataset, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"

extract_frames = _extract.with_image(f"{REGISTRY}/extract-frames:0.1.0")
# the detector's image: the CPU build of the component here; a CUDA build with the same contract
# is a drop-in replacement (components/detect_objects/README.md)
detect_objects = _detect.with_image(f"{REGISTRY}/detect-objects:0.1.0")
track_objects = _track.with_image(f"{REGISTRY}/track-objects:0.1.0")
summarize = _summarize.with_image(f"{REGISTRY}/summarize:0.1.0")


# Expected durations (``set_expected_duration``) size the cost estimate (``pipecast cost``) and the
# Step Functions layout. They are documented assumptions for one batch of one hour of 1080p30
# H.264 video at fps=5 with the CUDA build of the detector, not measurements (the sample video
# of ``make demo`` is seconds long):
# - extract_frames, 10 min: decoding 108,000 frames on 4 vCPUs at ~200 frames/s and writing the
#   18,000 kept ones as images;
# - detect_objects, 30 min: 18,000 frames through a CNN detector on one T4 at ~10 frames/s,
#   image decoding included;
# - track, 5 min: IoU matching of a few boxes per frame, mostly reading the detections;
# - summarize, 1 min: one pass over the tracks.
@dsl.pipeline(name="video-analysis")
def video_analysis(video_uri: str, fps: float = 5.0, threshold: float = 0.5):
    """Detect and track objects in videos; all outputs of one run land under one prefix."""
    video = dsl.importer(uri=video_uri, artifact_type=Dataset)
    frames = extract_frames(video=video.output, fps=fps).set_expected_duration("10m")
    detections = (
        detect_objects(frames=frames.outputs["frames"], threshold=threshold)
        .set_resources(Resources(cpu=4, memory="16GiB", gpu=1))
        # the detector resumes from its checkpoints when spot capacity is reclaimed
        .set_spot(Spot(max_wait="3h", checkpoints=True))
        .set_retry(Retry(max_attempts=3, backoff="1m"))
        .set_expected_duration("30m")
    )
    tracks = (
        track_objects(detections=detections.output).set_name("track").set_expected_duration("5m")
    )
    summarize(tracks=tracks.output, title="Video analysis").set_expected_duration("1m")
