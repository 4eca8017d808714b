"""Detect objects in extracted frames with detectors that need no downloaded weights.

- ``background`` (default): a per-video background model (the per-pixel median of frames sampled
  across the video), then blobs where a frame differs from it. Batch input lets the model see the
  whole video first, so there is no warm-up period as with running background subtractors. A
  blob's score is how solid and how contrasted it is: ``fill × min(1, mean difference / (2 ×
  pixel threshold))``, in [0, 1].
- ``hog``: OpenCV's built-in HOG + linear SVM people detector; the score is the SVM margin.

The GPU deep-learning detector is a different image with the same command-line contract and the
same ``detections.jsonl`` output (see this component's README): swap the image, keep the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipecast.components import _per_frame as per_frame
from pipecast.components._common import (
    DETECTIONS_FORMAT,
    FRAMES_FORMAT,
    ComponentError,
    read_json,
    write_json,
    write_jsonl,
)

METHODS = ("background", "hog")
BACKGROUND_SAMPLES = 31


@dataclass(frozen=True)
class Settings:
    method: str = "background"
    threshold: float = 0.5
    min_area: int = 80
    pixel_threshold: int = 30


def _read(path: Path) -> Any:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ComponentError(f"cannot read frame {path}")
    return image


def _smooth(image: Any) -> Any:
    import cv2

    return cv2.GaussianBlur(image, (5, 5), 0)


def background_model(frames_dir: Path, files: list[str]) -> Any:
    """The per-pixel median of up to ``BACKGROUND_SAMPLES`` frames spread over the video."""
    import numpy as np

    count = min(BACKGROUND_SAMPLES, len(files))
    picks = sorted({round(i * (len(files) - 1) / max(count - 1, 1)) for i in range(count)})
    stack = np.stack([_smooth(_read(frames_dir / files[i])) for i in picks])
    return np.median(stack, axis=0).astype(np.uint8)


def detect_background(image: Any, background: Any, settings: Settings) -> list[dict[str, Any]]:
    """Blobs where ``image`` differs from ``background``, largest first."""
    import cv2
    import numpy as np

    diff = cv2.absdiff(_smooth(image), background).max(axis=2)
    mask = (diff > settings.pixel_threshold).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area < settings.min_area:
            continue
        contrast = float(diff[labels == label].mean()) / (2.0 * settings.pixel_threshold)
        score = round((area / (w * h)) * min(1.0, contrast), 4)
        if score >= settings.threshold:
            found.append({"box": [x, y, w, h], "label": "object", "score": score})
    return sorted(found, key=lambda d: (-d["box"][2] * d["box"][3], d["box"]))


class _People:
    """OpenCV's default people detector (64×128 window)."""

    def __init__(self) -> None:
        import cv2
        import numpy as np

        self.hog = cv2.HOGDescriptor()
        weights = np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32)
        self.hog.setSVMDetector(weights)

    def __call__(self, image: Any, settings: Settings) -> list[dict[str, Any]]:
        rects, weights = self.hog.detectMultiScale(
            image, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        found = [
            {"box": [int(v) for v in r], "label": "person", "score": round(float(s), 4)}
            for r, s in zip(rects, list(weights), strict=True)
            if float(s) >= settings.threshold
        ]
        return sorted(found, key=lambda d: (-d["score"], d["box"]))


def _rows(frames_dir: Path, index: dict[str, Any], settings: Settings) -> Iterator[dict[str, Any]]:
    people = _People() if settings.method == "hog" else None
    for video in index["videos"]:
        files = [f["file"] for f in video["frames"]]
        background = background_model(frames_dir, files) if people is None else None
        for number, frame in enumerate(video["frames"]):
            image = _read(frames_dir / frame["file"])
            objects = (
                people(image, settings)
                if people is not None
                else detect_background(image, background, settings)
            )
            yield {"video": video["name"], "frame": number, "t": frame["t"], "objects": objects}


def detect(frames_dir: Path, out: Path, settings: Settings) -> tuple[int, int]:
    """Detect in every frame listed in ``frames_dir/index.json``; (frames, detections)."""
    if settings.method not in METHODS:
        raise ComponentError(
            f"--method must be one of {', '.join(METHODS)}, got {settings.method!r}"
        )
    if not 0.0 <= settings.threshold <= 1.0 and settings.method == "background":
        raise ComponentError(f"--threshold must be in [0, 1], got {settings.threshold}")
    if per_frame.enabled() and not (frames_dir / "index.json").exists():
        return _detect_per_frame(frames_dir, out, settings)
    index = read_json(frames_dir / "index.json", FRAMES_FORMAT)
    rows = list(_rows(frames_dir, index, settings))
    write_jsonl(out / "detections.jsonl", rows)
    write_json(out / "meta.json", _meta(index["fps"], index["videos"], rows, settings))
    return len(rows), sum(len(r["objects"]) for r in rows)


def _meta(
    fps: float, videos: list[dict[str, Any]], rows: list[dict[str, Any]], settings: Settings
) -> dict[str, Any]:
    """``meta.json``: the videos (with how many frames were detected in) and the settings."""
    entries = [{k: v for k, v in video.items() if k != "frames"} for video in videos]
    for video in entries:
        video["frames"] = sum(1 for r in rows if r["video"] == video["name"])
    return {
        "format": DETECTIONS_FORMAT,
        "fps": fps,
        "settings": {
            "method": settings.method,
            "threshold": settings.threshold,
            "min_area": settings.min_area,
            "pixel_threshold": settings.pixel_threshold,
        },
        "videos": entries,
    }


def _detect_per_frame(frames_dir: Path, out: Path, settings: Settings) -> tuple[int, int]:
    """The shard-safe layout (:mod:`pipecast.components._per_frame`): whatever frames this
    machine has, placed by their own metadata; per video ``<video>/<first frame>.jsonl`` and
    ``.json``, names no other machine writes."""
    by_video: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    fps = 0.0
    for path in sorted(frames_dir.rglob("*.jpg")):
        meta = per_frame.read_meta(path)
        if meta is None or meta.get("format") != FRAMES_FORMAT:
            raise ComponentError(f"{path}: no frame metadata (extract with the same layout)")
        fps = meta["fps"]
        rel = path.relative_to(frames_dir).as_posix()
        by_video.setdefault(meta["video"]["name"], []).append((rel, meta))
    total = found = 0
    for name, frames in sorted(by_video.items()):
        frames.sort(key=lambda item: item[1]["frame"])
        video = {**frames[0][1]["video"], "frames": [{**m, "file": f} for f, m in frames]}
        rows = list(_rows(frames_dir, {"videos": [video]}, settings))
        for row, (_, meta) in zip(rows, frames, strict=True):
            row["frame"] = meta["frame"]  # the frame's number in the whole video
        first = Path(frames[0][0]).stem
        write_jsonl(out / name / f"{first}.jsonl", rows)
        write_json(out / name / f"{first}.json", _meta(fps, [video], rows, settings))
        total, found = total + len(rows), found + sum(len(r["objects"]) for r in rows)
    return total, found
