"""Synthetic sample videos with known ground truth: coloured shapes moving over a textured scene.

The flagship needs a video to run on, and tests need to know what is in it. Downloading one is not
an option (offline machines, licences), so this module draws one: each object is a rectangle or a
disc in its own horizontal lane, appearing at some time, moving at constant speed, disappearing
later. Everything comes from a seeded generator, so the same seed gives the same objects (the
encoded bytes may differ between codec builds; the ground truth does not).

    python -m pipecast.components.synthetic --out build/sample --videos 2 --seed 7

writes ``videos/<name>.mp4`` and ``ground_truth.json``. :func:`boxes_at` tells which boxes are
visible at a time, for tests that compare detections and tracks against the truth.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipecast.components._common import (
    DETECTIONS_FORMAT,
    iou,
    read_json,
    run_main,
    write_json,
    write_jsonl,
)

__all__ = [
    "GROUND_TRUTH_FORMAT",
    "PALETTE",
    "Score",
    "SyntheticObject",
    "SyntheticVideo",
    "boxes_at",
    "generate",
    "load",
    "main",
    "score_detections",
    "truth_detections",
]

GROUND_TRUTH_FORMAT = "pipecast.groundtruth/1"
# saturated BGR colours, each far (in some channel) from the grey scene
PALETTE = [(0, 0, 230), (0, 200, 0), (230, 0, 0), (0, 230, 230), (230, 0, 230), (240, 240, 240)]


@dataclass(frozen=True)
class SyntheticObject:
    """One object: visible for ``start <= t < end``, at ``x0 + speed * (t - start)``."""

    id: int
    shape: str  # "rect" | "disc"
    color: tuple[int, int, int]
    start: float
    end: float
    x0: float
    y: int
    speed: float  # pixels per second, signed
    w: int
    h: int

    def box(self, t: float) -> tuple[int, int, int, int] | None:
        if not self.start <= t < self.end:
            return None
        return (round(self.x0 + self.speed * (t - self.start)), self.y, self.w, self.h)


@dataclass(frozen=True)
class SyntheticVideo:
    name: str
    width: int
    height: int
    fps: float
    frames: int
    objects: tuple[SyntheticObject, ...]

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def _plan(
    name: str, rng: random.Random, width: int, height: int, fps: float, seconds: float, count: int
) -> SyntheticVideo:
    lane = height // count
    objects = []
    for i in range(count):
        size_w, size_h = rng.randint(22, min(34, lane - 14)), rng.randint(20, min(32, lane - 14))
        speed = rng.uniform(25.0, 60.0) * rng.choice((-1, 1))
        travel = width - size_w - 8
        visible = min(travel / abs(speed), rng.uniform(0.45, 0.8) * seconds)
        start = round(rng.uniform(0.0, seconds - visible), 2)
        x0 = 4.0 if speed > 0 else float(width - size_w - 4)
        objects.append(
            SyntheticObject(
                id=i + 1,
                shape=rng.choice(("rect", "disc")),
                color=PALETTE[i % len(PALETTE)],
                start=start,
                end=round(start + visible, 2),
                x0=x0,
                y=i * lane + (lane - size_h) // 2,
                speed=round(speed, 2),
                w=size_w,
                h=size_h,
            )
        )
    return SyntheticVideo(name, width, height, fps, round(seconds * fps), tuple(objects))


def _render(video: SyntheticVideo, path: Path, seed: int) -> None:
    import cv2
    import numpy as np

    noise = np.random.default_rng(seed)
    # a static scene with structure (gradient + blotches), so a detector cannot just threshold
    ys, xs = np.mgrid[0 : video.height, 0 : video.width]
    scene = 95 + 45 * xs / video.width + 10 * np.sin(ys / 9.0) * np.cos(xs / 13.0)
    scene = np.repeat(scene[:, :, None], 3, axis=2).astype(np.float32)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"mp4v"), video.fps, (video.width, video.height)
    )
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path} (no mp4v encoder in this build)")
    try:
        for index in range(video.frames):
            t = index / video.fps
            frame = scene + noise.normal(0.0, 2.5, scene.shape).astype(np.float32)
            image = np.clip(frame, 0, 255).astype(np.uint8)
            for obj in video.objects:
                box = obj.box(t)
                if box is None:
                    continue
                x, y, w, h = box
                if obj.shape == "rect":
                    cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), obj.color, -1)
                else:
                    cv2.ellipse(
                        image, (x + w // 2, y + h // 2), (w // 2, h // 2), 0, 0, 360, obj.color, -1
                    )
            writer.write(image)
    finally:
        writer.release()


def generate(
    out: Path,
    videos: int = 2,
    seed: int = 7,
    seconds: float = 8.0,
    fps: float = 25.0,
    width: int = 320,
    height: int = 240,
) -> list[SyntheticVideo]:
    """Write ``videos`` clips into ``out/videos`` and their truth into ``out/ground_truth.json``."""
    rng = random.Random(seed)
    planned = []
    (out / "videos").mkdir(parents=True, exist_ok=True)
    for i in range(videos):
        video = _plan(f"camera-{i + 1}", rng, width, height, fps, seconds, rng.randint(3, 5))
        _render(video, out / "videos" / f"{video.name}.mp4", seed * 1000 + i)
        planned.append(video)
    write_json(
        out / "ground_truth.json",
        {"format": GROUND_TRUTH_FORMAT, "seed": seed, "videos": [asdict(v) for v in planned]},
    )
    return planned


def load(path: Path) -> list[SyntheticVideo]:
    """Read ``ground_truth.json`` back into objects."""
    data = read_json(path, GROUND_TRUTH_FORMAT)
    videos = []
    for v in data["videos"]:
        objs = tuple(SyntheticObject(**{**o, "color": tuple(o["color"])}) for o in v["objects"])
        videos.append(
            SyntheticVideo(v["name"], v["width"], v["height"], v["fps"], v["frames"], objs)
        )
    return videos


def boxes_at(video: SyntheticVideo, t: float) -> list[tuple[int, int, int, int]]:
    """The ground-truth boxes visible at time ``t``."""
    return [box for obj in video.objects if (box := obj.box(t)) is not None]


@dataclass(frozen=True)
class Score:
    """Detections against the truth, matched one to one at IoU ≥ 0.5."""

    true_positives: int
    false_positives: int
    false_negatives: int
    frames: int
    frames_exact: int  # frames where the detection count equals the truth

    @property
    def precision(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_positives, 1)

    @property
    def recall(self) -> float:
        return self.true_positives / max(self.true_positives + self.false_negatives, 1)


def score_detections(
    videos: Sequence[SyntheticVideo], rows: Iterable[dict[str, Any]], min_iou: float = 0.5
) -> Score:
    """Score ``detections.jsonl`` rows (``video``, ``t``, ``objects[].box``) against the truth."""
    by_name = {v.name: v for v in videos}
    tp = fp = fn = frames = exact = 0
    for row in rows:
        truth = boxes_at(by_name[row["video"]], row["t"])
        found = [o["box"] for o in row["objects"]]
        free = list(range(len(found)))
        for box in truth:
            hit = next((i for i in free if iou(box, found[i]) >= min_iou), None)
            if hit is not None:
                free.remove(hit)
        matched = len(found) - len(free)
        tp, fp, fn = tp + matched, fp + len(free), fn + len(truth) - matched
        frames, exact = frames + 1, exact + (len(found) == len(truth))
    return Score(tp, fp, fn, frames, exact)


def truth_detections(videos: Sequence[SyntheticVideo], out: Path, fps: float = 5.0) -> None:
    """Write the truth as ``detect_objects`` output (``detections.jsonl`` + ``meta.json``) at
    ``fps``, so a tracker or a report can be tested without running a detector."""
    rows = []
    for video in videos:
        for number in range(round(video.duration * fps)):
            t = round(number / fps, 6)
            objects = [
                {"box": list(b), "label": "object", "score": 1.0} for b in boxes_at(video, t)
            ]
            rows.append({"video": video.name, "frame": number, "t": t, "objects": objects})
    write_jsonl(out / "detections.jsonl", rows)
    meta_videos = [
        {
            "name": v.name,
            "source": f"{v.name}.mp4",
            "width": v.width,
            "height": v.height,
            "source_fps": v.fps,
            "duration": v.duration,
            "frames": round(v.duration * fps),
        }
        for v in videos
    ]
    write_json(
        out / "meta.json",
        {
            "format": DETECTIONS_FORMAT,
            "fps": fps,
            "settings": {"method": "ground-truth"},
            "videos": meta_videos,
        },
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipecast.components.synthetic", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for videos/ and truth")
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--fps", type=float, default=25.0)
    return parser


def _body(args: argparse.Namespace) -> str:
    made = generate(args.out, args.videos, args.seed, args.seconds, args.fps)
    objects = sum(len(v.objects) for v in made)
    return f"wrote {len(made)} videos with {objects} objects to {args.out / 'videos'}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(_parser(), _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
