"""extract_frames on generated videos: frame counts and times follow the requested rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipecast.components.extract_frames.__main__ import main
from pipecast.components.synthetic import load

pytest.importorskip("cv2")


def _index(frames: Path) -> dict:
    return json.loads((frames / "index.json").read_text())


@pytest.mark.parametrize("fps", [5.0, 2.5, 1.0])
def test_frames_are_sampled_by_time(
    pipecast_sample_videos: Path, tmp_path: Path, fps: float
) -> None:
    assert (
        main(
            [
                "--video",
                str(pipecast_sample_videos / "videos"),
                "--frames",
                str(tmp_path),
                "--fps",
                str(fps),
            ]
        )
        == 0
    )
    index = _index(tmp_path)
    truth = {v.name: v for v in load(pipecast_sample_videos / "ground_truth.json")}
    assert index["format"] == "pipecast.frames/1"
    assert [v["name"] for v in index["videos"]] == sorted(truth)
    for video in index["videos"]:
        expected = truth[video["name"]]
        assert (video["width"], video["height"]) == (expected.width, expected.height)
        assert video["source_fps"] == pytest.approx(expected.fps)
        assert len(video["frames"]) == round(expected.duration * fps)
        times = [f["t"] for f in video["frames"]]
        assert times == pytest.approx([i / fps for i in range(len(times))], abs=1 / expected.fps)
        for frame in video["frames"]:
            assert (tmp_path / frame["file"]).stat().st_size > 1000


def test_single_file_and_non_video_files(
    pipecast_sample_videos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    (source / "clip.mp4").write_bytes(
        (pipecast_sample_videos / "videos" / "camera-1.mp4").read_bytes()
    )
    (source / "notes.txt").write_text("not a video")
    assert main(["--video", str(source), "--frames", str(tmp_path / "a"), "--fps", "5"]) == 0
    assert "skipped 1 non-video files" in capsys.readouterr().out
    assert main(["--video", str(source / "clip.mp4"), "--frames", str(tmp_path / "b")]) == 0
    assert [v["name"] for v in _index(tmp_path / "b")["videos"]] == ["clip"]
    assert len(_index(tmp_path / "a")["videos"][0]["frames"]) == 40


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda d: None, [], "no video files in"),
        (lambda d: (d / "broken.mp4").write_text("not really a video"), [], "cannot decode"),
        (lambda d: None, ["--fps", "0"], "--fps must be in (0, 240]"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup, args, message
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "in"
    source.mkdir()
    setup(source)
    assert main(["--video", str(source), "--frames", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out" / "index.json").exists()
