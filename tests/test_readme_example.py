"""The offline unit test shown in the README, verbatim in spirit: it must keep working."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import load_example


def test_detector_gets_the_frames_extract_wrote(pipecast_run, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "clip.mp4").write_bytes(b"\x00" * 16)
    seen = {}

    def fake_extract(video, frames, fps):
        for i in range(3):
            (Path(frames.path) / f"{i:05d}.jpg").write_bytes(b"jpg")

    def fake_detect(frames, detections, threshold, **settings):
        seen["frames"] = sorted(p.name for p in Path(frames.path).iterdir())
        (Path(detections.path) / "detections.json").write_text(json.dumps([]))

    def fake_track(detections, tracks, **settings):
        (Path(tracks.path) / "tracks.json").write_text("[]")

    def fake_summarize(tracks, summary, report, title):
        (Path(report.path) / "report.html").write_text("<html></html>")

    result = pipecast_run(
        load_example("video_analysis"),
        params={"video_uri": str(videos), "threshold": 0.7},
        fakes={
            "extract-frames": fake_extract,
            "detect-objects": fake_detect,
            "track": fake_track,
            "summarize": fake_summarize,
        },
    )
    assert result.succeeded
    assert seen["frames"] == ["00000.jpg", "00001.jpg", "00002.jpg"]
    assert result["detect-objects"].parameters["threshold"] == 0.7
    assert Path(result["summarize"].outputs["report"], "report.html").exists()
