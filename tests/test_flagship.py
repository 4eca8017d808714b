"""The flagship end to end here: generated video in, report out (what `make demo` runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

from pipecast.components.synthetic import load

pytest.importorskip("cv2", reason="needs the components extra")


def test_flagship_runs_locally_and_counts_the_true_objects(
    pipecast_sample_videos: Path, tmp_path: Path
) -> None:
    result = run_cli(
        "run",
        str(ROOT / "examples" / "video_analysis.py"),
        "--local",
        "-p",
        f"video_uri={pipecast_sample_videos / 'videos'}",
        "--workdir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "runs" / "video-analysis").iterdir()
    report = run_dir / "summarize" / "report" / "index.html"
    assert f"summarize.report: {report}" in result.stdout  # the run says where the report is
    run = json.loads((run_dir / "run.json").read_text())
    assert [
        run["steps"][s]["status"]
        for s in ("extract-frames", "detect-objects", "track", "summarize")
    ] == ["succeeded"] * 4

    truth = load(pipecast_sample_videos / "ground_truth.json")
    summary = json.loads((run_dir / "summarize" / "summary" / "summary.json").read_text())
    assert summary["objects"] == sum(len(v.objects) for v in truth)
    by_name = {v["name"]: v for v in summary["videos"]}
    for video in truth:
        assert by_name[video.name]["objects"] == len(video.objects)
        spans = sorted((t["start"], t["end"]) for t in by_name[video.name]["tracks"])
        expected = sorted((o.start, o.end) for o in video.objects)
        for (start, end), (true_start, true_end) in zip(spans, expected, strict=True):
            assert (
                abs(start - true_start) <= 0.41 and abs(end - true_end) <= 0.41
            )  # two frames at 5 fps
    assert report.read_text().count("<svg") == len(truth)
    # every output of the run is under the run folder, step by step (the layout contract)
    assert {p.name for p in run_dir.iterdir()} >= {
        "extract-frames",
        "detect-objects",
        "track",
        "summarize",
    }
