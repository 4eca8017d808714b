"""detect_objects on generated videos: detections match the generator's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipecast.components.detect_objects.__main__ import main
from pipecast.components.extract_frames._extract import extract
from pipecast.components.synthetic import load, score_detections

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def frames(pipecast_sample_videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("frames")
    extract(pipecast_sample_videos / "videos", out, fps=5.0)
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "detections.jsonl").read_text().splitlines()]


def test_background_detector_finds_the_true_objects(
    pipecast_sample_videos: Path, frames: Path, tmp_path: Path
) -> None:
    assert main(["--frames", str(frames), "--detections", str(tmp_path)]) == 0
    rows = _rows(tmp_path)
    score = score_detections(load(pipecast_sample_videos / "ground_truth.json"), rows)
    assert score.frames == 80
    assert score.true_positives > 150  # the sample holds about 200 visible boxes at 5 fps
    assert score.precision >= 0.95 and score.recall >= 0.95, score
    assert score.frames_exact >= 0.95 * score.frames, score
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["format"] == "pipecast.detections/1"
    assert [v["frames"] for v in meta["videos"]] == [40, 40]
    assert all(0.5 <= o["score"] <= 1.0 for r in rows for o in r["objects"])


def test_threshold_filters_by_score(frames: Path, tmp_path: Path) -> None:
    assert (
        main(["--frames", str(frames), "--detections", str(tmp_path / "all"), "--threshold", "0"])
        == 0
    )
    assert (
        main(["--frames", str(frames), "--detections", str(tmp_path / "none"), "--threshold", "1"])
        == 0
    )
    everything = sum(len(r["objects"]) for r in _rows(tmp_path / "all"))
    nothing = sum(len(r["objects"]) for r in _rows(tmp_path / "none"))
    assert everything >= 190 and nothing < everything / 4


def test_output_is_deterministic(frames: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert main(["--frames", str(frames), "--detections", str(tmp_path / name)]) == 0
    assert (tmp_path / "a" / "detections.jsonl").read_bytes() == (
        tmp_path / "b" / "detections.jsonl"
    ).read_bytes()


def test_hog_people_detector_runs_and_ignores_shapes(frames: Path, tmp_path: Path) -> None:
    assert main(["--frames", str(frames), "--detections", str(tmp_path), "--method", "hog"]) == 0
    rows = _rows(tmp_path)
    assert len(rows) == 80
    assert sum(len(r["objects"]) for r in rows) <= 2  # rectangles and discs are not people


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "yolo"], "--method must be one of background, hog"),
        (["--threshold", "1.5"], "--threshold must be in [0, 1]"),
    ],
)
def test_bad_settings(
    frames: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["--frames", str(frames), "--detections", str(tmp_path), *args]) == 2
    assert message in capsys.readouterr().err


def test_frames_from_the_wrong_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "index.json").write_text('{"format": "pipecast.tracks/1"}')
    assert main(["--frames", str(tmp_path), "--detections", str(tmp_path / "out")]) == 2
    assert (
        "expected format 'pipecast.frames/1', found 'pipecast.tracks/1'" in capsys.readouterr().err
    )
