"""The flagship, scaled out: ``extract_frames`` and ``detect_objects`` each on several machines.

    video_uri ──▶ extract_frames ×N ──▶ detect_objects ×N (GPU, spot) ──▶ track ──▶ summarize

The same steps, images and settings as ``video_analysis.py``; two steps run on ``shards``
machines at once (``set_instances``): each machine of ``extract_frames`` decodes its share of
the videos, each machine of ``detect_objects`` detects in its share of the frames. The container
contract: a sharded step sees only its shard, so the video components run in their shard-safe
layout (``PIPECAST_FRAMES_LAYOUT=per-frame``: every frame carries its own metadata, and every
file name derives from the inputs, see ``pipecast/components/_per_frame.py``). Locally:

    pipecast run examples/video_analysis_shards.py --local -p video_uri=build/sample/videos
"""

from pipecast import dsl
from pipecast.components.detect_objects import detect_objects as _detect
from pipecast.components.extract_frames import extract_frames as _extract
from pipecast.components.summarize import summarize as _summarize
from pipecast.components.track_objects import track_objects as _track
from pipecast.dsl import Dataset, Resources, Retry, Spot

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/pipecast"  # as in video_analysis.py

extract_frames = _extract.with_image(f"{REGISTRY}/extract-frames:0.1.0")
detect_objects = _detect.with_image(f"{REGISTRY}/detect-objects:0.1.0")
track_objects = _track.with_image(f"{REGISTRY}/track-objects:0.1.0")
summarize = _summarize.with_image(f"{REGISTRY}/summarize:0.1.0")
SHARDS = 3  # machines per scaled-out step
SHARD_SAFE = {"PIPECAST_FRAMES_LAYOUT": "per-frame"}


@dsl.pipeline(name="video-analysis-shards")
def video_analysis_shards(video_uri: str, fps: float = 5.0, threshold: float = 0.5):
    """The flagship with its two heavy steps split across machines."""
    video = dsl.importer(uri=video_uri, artifact_type=Dataset)
    frames = (
        extract_frames(video=video.output, fps=fps)
        .set_instances(SHARDS, shard=["video"])
        .set_env(**SHARD_SAFE)
    )
    detections = (
        detect_objects(frames=frames.outputs["frames"], threshold=threshold)
        .set_resources(Resources(cpu=4, memory="16GiB", gpu=1))
        .set_spot(Spot(max_wait="3h", checkpoints=True))
        .set_retry(Retry(max_attempts=3, backoff="1m"))
        .set_instances(SHARDS, shard=["frames"])
        .set_env(**SHARD_SAFE)
    )
    tracks = track_objects(detections=detections.output).set_name("track")
    summarize(tracks=tracks.output, title="Video analysis")
