"""track_objects: one track per true object, through jitter, missed frames and noise."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from pipecast.components.synthetic import SyntheticObject, SyntheticVideo, load, truth_detections
from pipecast.components.track_objects.__main__ import main
from pipecast.components.track_objects._track import Settings, match, track_video


def _tracks(path: Path) -> dict[str, list[dict]]:
    data = json.loads((path / "tracks.json").read_text())
    assert data["format"] == "pipecast.tracks/1"
    return {v["name"]: v["tracks"] for v in data["videos"]}


def test_one_track_per_true_object(pipecast_sample_videos: Path, tmp_path: Path) -> None:
    videos = load(pipecast_sample_videos / "ground_truth.json")
    truth_detections(videos, tmp_path / "det", fps=5.0)
    assert main(["--detections", str(tmp_path / "det"), "--tracks", str(tmp_path / "tracks")]) == 0
    tracks = _tracks(tmp_path / "tracks")
    for video in videos:
        found = sorted(tracks[video.name], key=lambda tr: tr["start"])
        expected = sorted(video.objects, key=lambda o: o.start)
        assert len(found) == len(expected)
        for tr, obj in zip(found, expected, strict=True):
            assert tr["start"] == pytest.approx(obj.start, abs=0.21)  # one frame at 5 fps
            assert tr["end"] == pytest.approx(obj.end, abs=0.21)


def _noisy_rows(video: SyntheticVideo, fps: float, seed: int) -> list[dict]:
    """Truth with ±2 px jitter, 15 % missed detections (never twice in a row: longer gaps are
    for ``max_gap``) and a one-frame false positive now and then."""
    rng = random.Random(seed)
    rows = []
    missed: set[int] = set()
    for frame in range(round(video.duration * fps)):
        t = frame / fps
        objects = []
        for obj in video.objects:
            box = obj.box(t)
            if box is None:
                continue
            if obj.id not in missed and rng.random() < 0.15:
                missed.add(obj.id)
                continue
            missed.discard(obj.id)
            objects.append(
                {"box": [v + rng.randint(-2, 2) for v in box], "label": "object", "score": 0.9}
            )
        if rng.random() < 0.1:
            objects.append(
                {
                    "box": [rng.randint(0, 300), rng.randint(0, 220), 8, 8],
                    "label": "object",
                    "score": 0.5,
                }
            )
        rows.append({"video": video.name, "frame": frame, "t": t, "objects": objects})
    return rows


@pytest.mark.parametrize("seed", range(10))
def test_robust_to_jitter_misses_and_noise(seed: int) -> None:
    objects = tuple(
        SyntheticObject(
            i + 1,
            "rect",
            (0, 0, 0),
            start=0.4 * i,
            end=6.0 + 0.3 * i,
            x0=10.0 + 60 * i,
            y=10 + 45 * i,
            speed=30.0,
            w=28,
            h=24,
        )
        for i in range(4)
    )
    video = SyntheticVideo("v", 320, 240, 25.0, 200, objects)
    tracks = track_video(_noisy_rows(video, 5.0, seed), Settings())
    assert len(tracks) == 4
    assert [tr.id for tr in tracks] == [1, 2, 3, 4]


def test_fast_object_keeps_its_track_without_overlap() -> None:
    # 40 px per frame: consecutive boxes never overlap, so only prediction/centroid can link them
    rows = [
        {
            "frame": i,
            "t": i * 0.2,
            "objects": [{"box": [10 + 40 * i, 50, 30, 30], "label": "object", "score": 1.0}],
        }
        for i in range(7)
    ]
    (only,) = track_video(rows, Settings())
    assert len(only.path) == 7


def test_gap_longer_than_max_gap_splits_the_track() -> None:
    frames = [0, 1, 2, 3, 8, 9, 10, 11]
    rows = [
        {
            "frame": i,
            "t": i * 0.2,
            "objects": [{"box": [100, 50, 30, 30], "label": "object", "score": 1.0}],
        }
        for i in frames
    ]
    assert len(track_video(rows, Settings(max_gap=2))) == 2
    assert len(track_video(rows, Settings(max_gap=4))) == 1


def test_matching_prefers_the_best_overlap() -> None:
    predicted = [(0.0, 0.0, 10.0, 10.0), (4.0, 0.0, 10.0, 10.0)]
    boxes = [(5.0, 0.0, 10.0, 10.0), (1.0, 0.0, 10.0, 10.0)]
    assert match(predicted, boxes, 0.3) == [(0, 1), (1, 0)]


def test_bad_settings_and_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--detections", str(tmp_path), "--tracks", str(tmp_path / "t")]) == 2
    assert "meta.json not found" in capsys.readouterr().err
    assert (
        main(
            ["--detections", str(tmp_path), "--tracks", str(tmp_path / "t"), "--iou_threshold", "0"]
        )
        == 2
    )
    assert "--iou_threshold must be in (0, 1]" in capsys.readouterr().err
