"""Decode videos into JPEG frames at a chosen rate, with an index the next steps read.

OpenCV (FFmpeg inside the wheel) decodes every common container and codec and needs no system
libraries, which keeps the image small. Frames are sampled by timestamp, not by counting, so a
29.97 fps source sampled at 5 fps gives frames at 0.0, 0.2, 0.4 … seconds, whatever the source rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipecast.components import _per_frame as per_frame
from pipecast.components._common import FRAMES_FORMAT, ComponentError, write_json

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg"})


@dataclass(frozen=True)
class Extracted:
    videos: int
    frames: int
    skipped: tuple[str, ...]


def find_videos(source: Path) -> tuple[list[Path], list[str]]:
    """Video files under ``source`` (a file or a folder, searched recursively), sorted, and the
    names of other files that were skipped (a manifest or prefix may bring more than videos)."""
    if source.is_file():
        return [source], []
    if not source.is_dir():
        raise ComponentError(f"input {source} does not exist")
    files = sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith("."))
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    skipped = [str(p.relative_to(source)) for p in files if p.suffix.lower() not in VIDEO_SUFFIXES]
    if not videos:
        raise ComponentError(
            f"no video files in {source} (looked for {', '.join(sorted(VIDEO_SUFFIXES))})"
        )
    return videos, skipped


def _video_name(path: Path, root: Path, taken: set[str]) -> str:
    """A folder-safe, unique name for the video (its path under the input, without suffix)."""
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    base = "_".join(rel.with_suffix("").parts) or "video"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def extract_video(path: Path, name: str, out: Path, fps: float, quality: int) -> dict[str, Any]:
    """Decode one video; write ``out/name/NNNNNN.jpg``; return its index entry."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ComponentError(f"cannot decode {path}: not a video OpenCV/FFmpeg can read")
    try:
        source_fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        if source_fps <= 0 or source_fps > 1000:
            raise ComponentError(f"{path}: the container reports no frame rate ({source_fps})")
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        (out / name).mkdir(parents=True, exist_ok=True)
        frames: list[dict[str, Any]] = []
        step, next_t, index = 1.0 / fps, 0.0, 0
        while True:
            ok, image = capture.read()
            if not ok:
                break
            t = index / source_fps
            if t + 1e-6 >= next_t:
                rel = f"{name}/{len(frames):06d}.jpg"
                if not cv2.imwrite(str(out / rel), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                    raise ComponentError(f"cannot write {out / rel}")
                frames.append({"file": rel, "index": index, "t": round(t, 6)})
                next_t = len(frames) * step
            index += 1
    finally:
        capture.release()
    if not frames:
        raise ComponentError(f"{path}: decoded no frames (empty or corrupt video)")
    return {
        "name": name,
        "source": path.name,
        "width": width,
        "height": height,
        "source_fps": round(source_fps, 6),
        "duration": round(index / source_fps, 6),
        "frames": frames,
    }


def extract(source: Path, out: Path, fps: float, quality: int = 95) -> Extracted:
    """Extract every video under ``source`` into ``out`` and write ``out/index.json`` (or, in
    the shard-safe layout, the metadata into each frame: :mod:`pipecast.components._per_frame`).
    """
    if not 0 < fps <= 240:
        raise ComponentError(f"--fps must be in (0, 240], got {fps}")
    if not 1 <= quality <= 100:
        raise ComponentError(f"--quality must be in [1, 100], got {quality}")
    shard_safe = per_frame.enabled()
    if shard_safe and source.is_dir() and not any(p.is_file() for p in source.rglob("*")):
        return Extracted(0, 0, ())  # a machine whose shard is empty
    videos, skipped = find_videos(source)
    taken: set[str] = set()
    entries = [extract_video(v, _video_name(v, source, taken), out, fps, quality) for v in videos]
    if shard_safe:
        for entry in entries:
            _embed_metadata(out, entry, fps)
    else:
        write_json(out / "index.json", {"format": FRAMES_FORMAT, "fps": fps, "videos": entries})
    return Extracted(len(entries), sum(len(e["frames"]) for e in entries), tuple(skipped))


def _embed_metadata(out: Path, entry: dict[str, Any], fps: float) -> None:
    """Write each frame's index entry into the frame itself (the shard-safe layout)."""
    video = {k: v for k, v in entry.items() if k != "frames"}
    for number, frame in enumerate(entry["frames"]):
        path = out / frame["file"]
        meta = {"format": FRAMES_FORMAT, "fps": fps, "video": video, "frame": number, **frame}
        path.write_bytes(per_frame.embed(path.read_bytes(), meta))
