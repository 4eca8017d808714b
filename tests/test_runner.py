"""The local runner: real runs of examples with fakes, Python components, manifests from (moto)
S3, capacity scheduling, retries, failure isolation, resume, and clean errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import load_example, run_cli, write_pipeline

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources, Retry
from pipecast.runner import Capacity


def writer(name: str, content: str = "x"):
    """A fake that writes one file into each of its outputs and records what it got."""
    calls: list[dict] = []

    def fake(**kwargs):
        calls.append({k: getattr(v, "path", v) for k, v in kwargs.items()})
        for value in kwargs.values():
            if (
                hasattr(value, "path")
                and Path(value.path).is_dir()
                and Path(value.path).parts[-2] == name
            ):
                (Path(value.path) / "data.txt").write_text(content)

    fake.calls = calls  # type: ignore[attr-defined]
    return fake


def test_flagship_runs_with_every_step_faked(pipecast_run, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.mp4").write_bytes(b"fake video")
    fakes = {s.id: writer(s.id) for s in load_example("video_analysis").spec.steps}
    result = pipecast_run(
        load_example("video_analysis"), params={"video_uri": str(videos)}, fakes=fakes
    )
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
    extract = result["extract-frames"]
    assert Path(extract.inputs["video"], "a.mp4").read_bytes() == b"fake video"
    assert extract.parameters == {"fps": 5}
    assert extract.outputs["frames"] == str(result.run_dir / "extract-frames" / "frames")
    assert result["track"].inputs["detections"] == str(
        result.run_dir / "detect-objects" / "detections"
    )
    assert result.run_dir.parent.name == "video-analysis"
    summary = json.loads((result.run_dir / "run.json").read_text())
    assert summary["succeeded"] and set(summary["steps"]) == set(fakes)


def test_fan_out_example_runs_in_parallel_and_joins(pipecast_run, tmp_path):
    manifest = tmp_path / "manifest.json"
    (tmp_path / "vids").mkdir()
    (tmp_path / "vids" / "cam1.mp4").write_text("1")
    manifest.write_text(json.dumps([{"prefix": str(tmp_path / "vids") + "/"}, "cam1.mp4"]))
    (tmp_path / "weights").mkdir()
    spec = load_example("multi_camera").spec
    fakes = {s.id: writer(s.id) for s in spec.steps}
    result = pipecast_run(
        load_example("multi_camera"),
        params={"manifest_uri": str(manifest), "weights_uri": str(tmp_path / "weights")},
        fakes=fakes,
    )
    assert result.succeeded
    assert Path(result["extract-frames"].inputs["video"], "cam1.mp4").read_text() == "1"
    merge = result["merge"]
    assert merge.inputs == {
        r: str(result.run_dir / f"detect-{r}" / "detections") for r in ("north", "south", "east")
    }
    assert result["summarize"].started >= result["quality-check"].finished


@dsl.component
def add(a: int, b: int, total: Output[Dataset]):
    """Add two numbers."""
    Path(total.path, "value.txt").write_text(str(a + b))


@dsl.component
def double(value: Input[Dataset], result: Output[Dataset]):
    """Double a number."""
    number = int(Path(value.path, "value.txt").read_text())
    Path(result.path, "value.txt").write_text(str(number * 2))


@dsl.pipeline(name="arith")
def arith(x: int = 2, y: int = 3):
    double(value=add(a=x, b=y).output)


@pytest.mark.parametrize("isolation", ["inprocess", "subprocess"])
def test_python_components_compute_a_known_result(pipecast_run, isolation):
    result = pipecast_run(arith, params={"x": 20}, isolation=isolation)
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
    assert Path(result["double"].outputs["result"], "value.txt").read_text() == "46"


SLEEPER = """
import sys, time
from pathlib import Path
"""


@dsl.container_component(
    image="r.example.com/x:1",
    command=[
        "python",
        "-c",
        "import sys,time,pathlib; pathlib.Path(sys.argv[2]).mkdir(exist_ok=True);"
        " open(pathlib.Path(sys.argv[2])/'t','w').write(str(time.time()));"
        " time.sleep(0.3)",
    ],
    resources=Resources(cpu=1, memory="1GiB", gpu=1),
)
def gpu_job(out: Output[Dataset]):
    """Sleeps on a GPU."""


@dsl.pipeline(name="gpus")
def gpus():
    gpu_job().set_name("a")
    gpu_job().set_name("b")


def test_two_one_gpu_steps_never_overlap_on_one_gpu(pipecast_run):
    result = pipecast_run(gpus, capacity=Capacity(cpu=8, memory=16 * 1024**3, gpu=1))
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
    a, b = result["a"], result["b"]
    assert a.finished <= b.started or b.finished <= a.started
    two = pipecast_run(gpus, capacity=Capacity(cpu=8, memory=16 * 1024**3, gpu=2))
    a, b = two["a"], two["b"]
    assert a.started < b.finished and b.started < a.finished  # they overlap when they fit


def test_retry_then_success_and_failure_isolation(pipecast_run, tmp_path):
    flaky_calls = []

    def flaky(**kwargs):
        flaky_calls.append(1)
        if len(flaky_calls) < 2:
            raise RuntimeError("transient")

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def step(out: Output[Dataset]):
        """x"""

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def after(data: Input[Dataset], out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="iso")
    def iso():
        ok = step().set_name("ok").set_retry(Retry(3, backoff=1))
        after(data=ok.output).set_name("ok-child")
        bad = step().set_name("bad")
        after(data=bad.output).set_name("bad-child")

    def broken(**kwargs):
        raise ValueError("boom in bad")

    result = pipecast_run(iso, fakes={"ok": flaky, "bad": broken})
    assert result["ok"].status == "succeeded" and result["ok"].attempts == 2
    assert result["ok-child"].status == "succeeded"
    assert result["bad"].status == "failed" and "boom in bad" in result["bad"].error
    assert result["bad-child"].status == "skipped"
    assert not result.succeeded


def test_manifest_materialised_from_moto_s3(pipecast_run, monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="videos")
        s3.put_object(Bucket="videos", Key="raw/day1/a.mp4", Body=b"A")
        s3.put_object(Bucket="videos", Key="raw/day2/b.mp4", Body=b"B")
        s3.put_object(Bucket="videos", Key="raw/day2/skip.mp4", Body=b"S")
        s3.put_object(
            Bucket="videos",
            Key="lists/m.json",
            Body=json.dumps([{"prefix": "s3://videos/raw/"}, "day1/a.mp4", "day2/b.mp4"]).encode(),
        )
        seen = {}

        def fake(video, frames, fps):
            seen["files"] = sorted(
                str(p.relative_to(video.path)) for p in Path(video.path).rglob("*") if p.is_file()
            )
            seen["uri"] = video.uri

        spec_pipeline = load_example("multi_camera")
        fakes = {s.id: writer(s.id) for s in spec_pipeline.spec.steps}
        fakes["extract-frames"] = fake
        s3.create_bucket(Bucket="models")
        s3.put_object(Bucket="models", Key="w/v1.bin", Body=b"W")
        result = pipecast_run(
            spec_pipeline,
            params={"manifest_uri": "s3://videos/lists/m.json", "weights_uri": "s3://models/w/"},
            fakes=fakes,
        )
    assert result["extract-frames"].status == "succeeded", result["extract-frames"].error
    assert seen["files"] == ["day1/a.mp4", "day2/b.mp4"]
    assert seen["uri"] == "s3://videos/lists/m.json"
    assert result["extract-frames"].status == "succeeded"


BAD_RUN = '''
@dsl.container_component(image="r.example.com/a:1", command=["true"])
def s(data: Input[Dataset], out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="p")
def p(uri: str, n: int = 1):
    s(data=dsl.importer(uri=uri).output)
'''


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-p", "urii=x"], "no parameter 'urii'; did you mean 'uri'?"),
        ([], "needs -p uri=..."),
        (["-p", "uri=/nope/missing", "-p", "n=2"], "does not exist"),
        (["-p", "uri=x", "-p", "n=two"], "parameter 'n' is int"),
    ],
)
def test_bad_input_exits_1_and_writes_nothing_outside_the_run(tmp_path, args, fragment):
    path = write_pipeline(tmp_path, BAD_RUN)
    before = set(os.listdir(tmp_path))
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(tmp_path / "runs"), *args, cwd=tmp_path
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert fragment in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert set(os.listdir(tmp_path)) - before <= {"runs", "__pycache__"}


def test_cli_run_and_resume(tmp_path):
    path = write_pipeline(
        tmp_path,
        '''
@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys,pathlib; pathlib.Path(sys.argv[2], 'f').write_text('ok')"])
def s(out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="p")
def p():
    s()
''',
    )
    result = run_cli("run", str(path), "--local", "--workdir", str(tmp_path / "runs"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, *outputs = result.stdout.splitlines()
    run_dir = Path(first.split(": ", 1)[1])
    assert (run_dir / "s" / "out" / "f").read_text() == "ok"
    assert outputs == [f"  s.out: {run_dir / 's' / 'out'}"]  # where the final outputs are
    assert (run_dir / "s" / "_logs" / "stdout.txt").exists()
    again = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        "--resume",
        run_dir.name,
        cwd=tmp_path,
    )
    assert again.returncode == 0 and "cached" in again.stderr
