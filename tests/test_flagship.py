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


def test_real_components_read_a_manifest_of_s3_videos(
    pipecast_sample_videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The story's last lesson: SageMaker's local mode cannot read manifest inputs. Here the
    real components run on the objects a manifest lists (moto S3), and only on those."""
    import boto3
    from moto import mock_aws

    from pipecast import dsl
    from pipecast.components.detect_objects import detect_objects
    from pipecast.components.extract_frames import extract_frames
    from pipecast.dsl import Dataset
    from pipecast.testing import run_offline

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)

    @dsl.pipeline(name="manifest-videos")
    def from_manifest(manifest_uri: str):
        videos = dsl.importer(uri=manifest_uri, artifact_type=Dataset, manifest=True)
        frames = extract_frames(video=videos.output, fps=2.5)
        detect_objects(frames=frames.output)

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="cams")
        clip = (pipecast_sample_videos / "videos" / "camera-2.mp4").read_bytes()
        for key in ("site-a/day1/cam.mp4", "site-a/day2/cam.mp4", "site-a/day3/cam.mp4"):
            s3.put_object(Bucket="cams", Key=key, Body=clip)
        manifest = [{"prefix": "s3://cams/site-a/"}, "day1/cam.mp4", "day3/cam.mp4"]
        s3.put_object(Bucket="cams", Key="lists/m.json", Body=json.dumps(manifest).encode())
        result = run_offline(
            from_manifest, tmp_path / "runs", params={"manifest_uri": "s3://cams/lists/m.json"}
        )
    assert result.succeeded, {s: r.error for s, r in result.steps.items()}
    index = json.loads(Path(result["extract-frames"].outputs["frames"], "index.json").read_text())
    assert [v["name"] for v in index["videos"]] == ["day1_cam", "day3_cam"]  # not day2
    assert [len(v["frames"]) for v in index["videos"]] == [20, 20]  # 8 s at 2.5 fps
    rows = Path(result["detect-objects"].outputs["detections"], "detections.jsonl").read_text()
    assert len(rows.splitlines()) == 40
