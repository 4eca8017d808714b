"""The local runner as the reference semantics of control flow (DESIGN §12), end to end with
real subprocess steps: loops with parallelism, output parameters, fan-in (Collected), untaken
branches shown as skipped, the exit handler seeing the real status, a failing iteration, and
fakes per step or per iteration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources
from pipecast.testing import run_offline

# each step is a real process: `python -c SCRIPT --name value ...` (the container contract)
_ARGS = "import sys, json, os, time; a = dict(zip(sys.argv[1::2], sys.argv[2::2]));"
COUNT = _ARGS + (
    "cam = a['--camera']; time.sleep(0.2);"
    "sys.exit(3) if cam == 'broken' else None;"
    "os.makedirs(a['--frames'], exist_ok=True);"
    "open(os.path.join(a['--frames'], 'frames.txt'), 'w').write(cam);"
    "open(a['--count'], 'w').write(json.dumps({'lobby': 2, 'gate': 0}.get(cam, 1)))"
)
DETECT = _ARGS + (
    "src = open(os.path.join(a['--frames'], 'frames.txt')).read();"
    "open(os.path.join(a['--detections'], 'found.txt'), 'w').write(src + ':person')"
)
TOTAL = _ARGS + (
    "counts = json.loads(a['--counts']);"
    "open(os.path.join(a['--summary'], 'counts.json'), 'w').write(json.dumps(counts));"
    "open(os.path.join(a['--summary'], 'folders.txt'), 'w')"
    ".write(','.join(sorted(os.listdir(a['--frames']))));"
    "open(a['--total'], 'w').write(json.dumps(sum(counts)))"
)
REPORT = _ARGS + "open(os.path.join(a['--report'], 'status.json'), 'w').write(a['--status'])"


@dsl.container_component(image="local/count:1", command=["python", "-c", COUNT])
def count_motion(camera: str, frames: Output[Dataset], count: Output[int]):
    """Count moving objects in one camera's frames."""


@dsl.container_component(
    image="local/detect:1",
    command=["python", "-c", DETECT],
    resources=Resources(cpu=1, memory="1GiB", gpu=1),
)
def detect(frames: Input[Dataset], detections: Output[Dataset]):
    """The GPU detector."""


@dsl.container_component(image="local/total:1", command=["python", "-c", TOTAL])
def total(counts: list, frames: Input[Dataset], summary: Output[Dataset], total: Output[int]):
    """Fan in: every camera's count and frames."""


@dsl.container_component(image="local/report:1", command=["python", "-c", REPORT])
def status_report(status: str, report: Output[Dataset]):
    """Write the run's status."""


@dsl.pipeline(name="triage-e2e")
def triage(cams: list, parallelism_hint: int = 2):
    report = status_report(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(report):
        with dsl.ParallelFor(cams, parallelism=2) as cam:
            counted = count_motion(camera=cam)
            with dsl.If(counted.outputs["count"] > 0):
                detect(frames=counted.outputs["frames"])
        total(
            counts=dsl.Collected(counted.outputs["count"]),
            frames=dsl.Collected(counted.outputs["frames"]),
        )


def _run(tmp_path: Path, cams: list[str], **kwargs):
    return run_offline(triage, tmp_path / "runs", params={"cams": cams}, **kwargs)


def test_a_loop_with_a_condition_fan_in_and_exit_handler_runs_end_to_end(tmp_path):
    result = _run(tmp_path, ["lobby", "gate", "dock"])
    assert result.succeeded, {k: (v.status, v.error) for k, v in result.steps.items()}
    counted = result.iterations("count-motion")
    assert [r.step for r in counted] == ["count-motion/0", "count-motion/1", "count-motion/2"]
    assert [r.parameters["camera"] for r in counted] == ["lobby", "gate", "dock"]
    # the untaken branch (gate: nothing moved) is skipped without an error
    assert [(r.step, r.status, r.error) for r in result.iterations("detect")] == [
        ("detect/0", "succeeded", None),
        ("detect/1", "skipped", None),
        ("detect/2", "succeeded", None),
    ]
    assert result.branches == {"condition-3/0": True, "condition-3/1": False, "condition-3/2": True}
    run = result.run_dir
    assert (run / "detect" / "2" / "detections" / "found.txt").read_text() == "dock:person"
    assert json.loads((run / "count-motion" / "1" / "count").read_text()) == 0
    # fan-in: the parameters as a list in iteration order, the artifacts one folder each
    summary = run / "total" / "summary"
    assert json.loads((summary / "counts.json").read_text()) == [2, 0, 1]
    assert (summary / "folders.txt").read_text() == "0,1,2"
    assert result["total"].parameters["counts"] == [2, 0, 1]
    assert json.loads((run / "total" / "total").read_text()) == 3
    status = json.loads((run / "status-report" / "report" / "status.json").read_text())
    assert status == {"state": "SUCCEEDED", "failed_step": None, "error": None}
    recorded = json.loads((run / "run.json").read_text())
    assert recorded["succeeded"] is True
    assert recorded["steps"]["detect/1"]["status"] == "skipped"
    assert recorded["branches"]["condition-3/1"] is False
    assert recorded["loops"] == {"loop-2": ["lobby", "gate", "dock"]}


def test_a_failing_iteration_fails_the_run_and_the_exit_task_sees_it(tmp_path):
    result = _run(tmp_path, ["lobby", "broken", "dock"])
    assert not result.succeeded
    assert result["count-motion/1"].status == "failed"
    assert result["count-motion/1"].exit_code == 3
    assert result["count-motion/0"].status == result["count-motion/2"].status == "succeeded"
    assert result["total"].status == "skipped" and result["total"].error
    assert result["status-report"].status == "succeeded"
    status = json.loads((result.run_dir / "status-report" / "report" / "status.json").read_text())
    assert status["state"] == "FAILED"
    assert status["failed_step"] == "count-motion"
    assert status["error"].startswith("count-motion/1: exit code 3")


def test_parallelism_bounds_the_iterations_in_flight(tmp_path):
    result = _run(tmp_path, ["a", "b", "c", "d", "e"])
    assert result.succeeded
    spans = [(r.started, r.finished) for r in result.iterations("count-motion")]
    assert all(s is not None and f is not None for s, f in spans)
    most = max(sum(1 for s, f in spans if s <= t < f) for t, _ in spans)
    assert 1 <= most <= 2


def test_fakes_replace_a_step_in_every_iteration_or_in_one(tmp_path):
    seen: list[str] = []

    def fake_detect(frames, detections):
        seen.append(Path(frames.path, "frames.txt").read_text())
        Path(detections.path, "found.txt").write_text("fake")

    one = _run(tmp_path / "one", ["lobby", "dock"], fakes={"detect/1": fake_detect})
    assert one.succeeded and seen == ["dock"]
    assert (one.run_dir / "detect" / "0" / "detections" / "found.txt").read_text() == (
        "lobby:person"
    )

    def fake_count(camera, frames, count):
        Path(frames.path, "frames.txt").write_text(camera)
        Path(count).write_text(json.dumps(5))

    every = _run(tmp_path / "every", ["gate", "x"], fakes={"count-motion": fake_count})
    assert every.succeeded
    assert every["total"].parameters["counts"] == [5, 5]
    assert every.branches == {"condition-3/0": True, "condition-3/1": True}


def test_an_output_parameter_the_step_did_not_write_fails_it(tmp_path):
    def lazy_count(camera, frames, count):
        pass

    result = _run(tmp_path, ["lobby"], fakes={"count-motion": lazy_count})
    assert result["count-motion/0"].status == "failed"
    assert "did not write its output parameter 'count'" in (result["count-motion/0"].error or "")


@dsl.component
def pick(mode: str) -> str:
    return mode


@dsl.component
def shout(text: str) -> str:
    return text.upper()


@dsl.component
def keep(text: str) -> str:
    return text


@dsl.pipeline(name="python-flow")
def python_flow(mode: str = "loud"):
    chosen = pick(mode=mode)
    with dsl.If(chosen.output == "loud"):
        a = shout(text="hi")
    with dsl.Else():
        b = keep(text="hi")
    keep(text=dsl.OneOf(a.output, b.output)).set_name("final")


@pytest.mark.parametrize(("mode", "expected"), [("loud", "HI"), ("soft", "hi")])
def test_python_components_return_values_and_one_of_takes_the_branch_that_ran(
    tmp_path, mode, expected
):
    result = run_offline(python_flow, tmp_path / "runs", params={"mode": mode})
    assert result.succeeded
    assert result["final"].parameters["text"] == expected
    assert json.loads((result.run_dir / "final" / "Output").read_text()) == expected


def test_the_camera_triage_example_runs_locally(tmp_path):
    """examples/camera_triage.py, its container steps replaced by fakes (their images are in a
    private registry): the detector runs only for cameras where something moved."""
    from helpers import load_example

    moved = {"lobby": 3, "gate": 0, "dock": 1, "yard": 0}

    def count_motion(camera, video_root, frames, moving, fps):
        Path(frames.path, "sample.txt").write_text(f"{video_root}{camera}")
        Path(moving).write_text(json.dumps(moved[camera]))

    def detect_objects(frames, camera, detections, threshold):
        Path(detections.path, "boxes.json").write_text(json.dumps([camera]))

    def triage_summary(cameras, moving, frames, summary):
        assert sorted(p.name for p in Path(frames.path).iterdir()) == ["0", "1", "2", "3"]
        Path(summary.path, "summary.json").write_text(
            json.dumps(dict(zip(cameras, moving, strict=True)))
        )

    def status_report(status, report):
        Path(report.path, "status.json").write_text(status)

    result = run_offline(
        load_example("camera_triage"),
        tmp_path / "runs",
        fakes={
            "count-motion": count_motion,
            "detect-objects": detect_objects,
            "triage-summary": triage_summary,
            "status-report": status_report,
        },
    )
    assert result.succeeded, {k: (v.status, v.error) for k, v in result.steps.items()}
    ran = [r.step for r in result.iterations("detect-objects") if r.status == "succeeded"]
    assert ran == ["detect-objects/0", "detect-objects/2"]  # lobby and dock moved
    summary = json.loads(
        (result.run_dir / "triage-summary" / "summary" / "summary.json").read_text()
    )
    assert summary == moved
    status = json.loads((result.run_dir / "status-report" / "report" / "status.json").read_text())
    assert status["state"] == "SUCCEEDED"


def test_the_command_line_takes_a_list_parameter_as_json_and_runs_the_loop(tmp_path):
    from helpers import ROOT, run_cli

    ref = f"{Path(__file__).relative_to(ROOT)}:triage"
    args = ("run", ref, "--local", "--workdir", str(tmp_path), "-p")
    done = run_cli(*args, 'cams=["lobby","gate"]')
    assert done.returncode == 0, done.stderr
    (run_json,) = tmp_path.glob("triage-e2e/*/run.json")
    recorded = json.loads(run_json.read_text())
    assert recorded["parameters"]["cams"] == ["lobby", "gate"]
    assert recorded["steps"]["detect/1"]["status"] == "skipped"
    bad = run_cli(*args, "cams=lobby,gate")
    assert bad.returncode == 1 and "written as JSON" in bad.stderr


@dsl.pipeline(name="python-flow-no-else")
def python_flow_no_else(mode: str = "loud"):
    chosen = pick(mode=mode)
    with dsl.If(chosen.output == "loud"):
        a = shout(text="hi")
    with dsl.Elif(chosen.output == "soft"):
        b = keep(text="hi")
    keep(text=dsl.OneOf(a.output, b.output)).set_name("final")


def test_one_of_with_no_branch_taken_fails_its_reader_naming_the_options(tmp_path):
    result = run_offline(python_flow_no_else, tmp_path / "runs", params={"mode": "silent"})
    assert not result.succeeded
    final = result["final"]
    assert final.status == "failed"
    assert final.error == (
        "input 'text': dsl.OneOf('shout', 'keep') has no value: none of those steps ran "
        "(no branch of its condition was taken); add a dsl.Else() branch that produces it"
    )
    assert result["shout"].status == "skipped" and result["shout"].error is None
