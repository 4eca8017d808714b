"""Link per-frame detections into tracks: greedy IoU matching with a centroid fallback.

Each frame, every live track predicts its box (constant velocity from its last two boxes), then
pairs (track, detection) are matched greedily, best IoU first, among pairs with IoU ≥ the
threshold; what is left is matched by centroid distance (within one box diagonal, between boxes of
similar size), which keeps
fast objects sampled at a low frame rate. Unmatched detections start tracks; a track unseen for
more than ``max_gap`` frames ends; tracks shorter than ``min_length`` detections are dropped as
noise. Greedy matching is deterministic and, for the sparse scenes inference pipelines see,
as good as the Hungarian assignment at a fraction of the code.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipecast.components._common import (
    DETECTIONS_FORMAT,
    TRACKS_FORMAT,
    Box,
    ComponentError,
    iou,
    read_json,
    read_jsonl,
    write_json,
)


@dataclass(frozen=True)
class Settings:
    iou_threshold: float = 0.3
    max_gap: int = 2
    min_length: int = 3


@dataclass
class Track:
    """One object's detections, in time order; ``last_frame`` is when it was last seen."""

    id: int
    label: str
    path: list[tuple[float, Box, float]] = field(default_factory=list)  # (t, box, score)
    last_frame: int = 0

    def predict(self, t: float) -> Box:
        """Where the object should be at ``t``: constant velocity from the last two boxes."""
        t1, b1, _ = self.path[-1]
        if len(self.path) < 2 or t1 == self.path[-2][0]:
            return b1
        t0, b0, _ = self.path[-2]
        k = (t - t1) / (t1 - t0)
        return (b1[0] + k * (b1[0] - b0[0]), b1[1] + k * (b1[1] - b0[1]), b1[2], b1[3])


def _centre_distance(a: Box, b: Box) -> float:
    return math.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)


def _similar_size(a: Box, b: Box) -> bool:
    """Areas within a factor of two: a centroid match must not hand a track to a speck of noise."""
    area_a, area_b = a[2] * a[3], b[2] * b[3]
    return 0.5 * area_b <= area_a <= 2.0 * area_b


def match(predicted: list[Box], boxes: list[Box], iou_threshold: float) -> list[tuple[int, int]]:
    """Greedy (track index, detection index) pairs: by IoU first, then by centroid distance."""
    pairs: list[tuple[int, int]] = []
    used_t: set[int] = set()
    used_d: set[int] = set()
    scored = sorted(
        ((-iou(p, b), ti, di) for ti, p in enumerate(predicted) for di, b in enumerate(boxes)),
    )
    for negative, ti, di in scored:
        if -negative < iou_threshold:
            break
        if ti not in used_t and di not in used_d:
            pairs.append((ti, di))
            used_t.add(ti)
            used_d.add(di)
    near = sorted(
        (_centre_distance(p, b), ti, di)
        for ti, p in enumerate(predicted)
        if ti not in used_t
        for di, b in enumerate(boxes)
        if di not in used_d
    )
    for distance, ti, di in near:
        if ti in used_t or di in used_d:
            continue
        if distance <= math.hypot(predicted[ti][2], predicted[ti][3]) and _similar_size(
            predicted[ti], boxes[di]
        ):
            pairs.append((ti, di))
            used_t.add(ti)
            used_d.add(di)
    return sorted(pairs)


def track_video(rows: list[dict[str, Any]], settings: Settings) -> list[Track]:
    """Tracks of one video, numbered 1, 2, … in order of first appearance."""
    live: list[Track] = []
    finished: list[Track] = []
    next_id = 1
    for row in rows:
        frame, t = row["frame"], row["t"]
        live, ended = (
            [tr for tr in live if frame - tr.last_frame <= settings.max_gap + 1],
            [tr for tr in live if frame - tr.last_frame > settings.max_gap + 1],
        )
        finished += ended
        objects = row["objects"]
        boxes: list[Box] = [tuple(float(v) for v in o["box"]) for o in objects]  # type: ignore[misc]
        pairs = match([tr.predict(t) for tr in live], boxes, settings.iou_threshold)
        matched = {di for _, di in pairs}
        for ti, di in pairs:
            live[ti].path.append((t, boxes[di], float(objects[di]["score"])))
            live[ti].last_frame = frame
        for di, obj in enumerate(objects):
            if di not in matched:
                live.append(
                    Track(next_id, obj["label"], [(t, boxes[di], float(obj["score"]))], frame)
                )
                next_id += 1
    kept = sorted(finished + live, key=lambda tr: tr.id)
    kept = [tr for tr in kept if len(tr.path) >= settings.min_length]
    for number, tr in enumerate(kept, 1):
        tr.id = number
    return kept


def _track_dict(tr: Track) -> dict[str, Any]:
    return {
        "id": tr.id,
        "label": tr.label,
        "start": tr.path[0][0],
        "end": tr.path[-1][0],
        "detections": len(tr.path),
        "mean_score": round(sum(s for _, _, s in tr.path) / len(tr.path), 4),
        "path": [[t, *(round(v, 2) for v in box)] for t, box, _ in tr.path],
    }


def _pieces(detections_dir: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Detections a scaled-out ``detect_objects`` wrote in pieces (``<video>/<first>.json`` and
    ``.jsonl``, :mod:`pipecast.components._per_frame`), joined into one meta and rows."""
    videos: dict[str, dict[str, Any]] = {}
    by_video: dict[str, list[dict[str, Any]]] = defaultdict(list)
    meta: dict[str, Any] = {}
    for path in sorted(detections_dir.glob("*/*.json")):
        meta = read_json(path, DETECTIONS_FORMAT)
        for video in meta["videos"]:
            seen = videos.setdefault(video["name"], {**video, "frames": 0})
            seen["frames"] += video["frames"]
        for row in read_jsonl(path.with_suffix(".jsonl")):
            by_video[row["video"]].append(row)
    return {**meta, "videos": [videos[name] for name in sorted(videos)]}, by_video


def track(detections_dir: Path, out: Path, settings: Settings) -> tuple[int, int]:
    """Track every video in ``detections_dir``; write ``out/tracks.json``; (videos, tracks)."""
    if not 0.0 < settings.iou_threshold <= 1.0:
        raise ComponentError(f"--iou_threshold must be in (0, 1], got {settings.iou_threshold}")
    if settings.max_gap < 0 or settings.min_length < 1:
        raise ComponentError("--max_gap must be ≥ 0 and --min_length ≥ 1")
    if not (detections_dir / "meta.json").exists() and any(detections_dir.glob("*/*.json")):
        meta, by_video = _pieces(detections_dir)  # the shard-safe layout
    else:
        meta = read_json(detections_dir / "meta.json", DETECTIONS_FORMAT)
        by_video = defaultdict(list)
        for row in read_jsonl(detections_dir / "detections.jsonl"):
            by_video[row["video"]].append(row)
    videos = []
    for video in meta["videos"]:
        rows = sorted(by_video.get(video["name"], []), key=lambda r: r["frame"])
        tracks = track_video(rows, settings)
        videos.append(
            {
                **video,
                "counts": [[r["t"], len(r["objects"])] for r in rows],
                "tracks": [_track_dict(tr) for tr in tracks],
            }
        )
    write_json(
        out / "tracks.json",
        {
            "format": TRACKS_FORMAT,
            "fps": meta["fps"],
            "settings": {
                "iou_threshold": settings.iou_threshold,
                "max_gap": settings.max_gap,
                "min_length": settings.min_length,
            },
            "videos": videos,
        },
    )
    return len(videos), sum(len(v["tracks"]) for v in videos)
