"""``--resume`` of a run with control flow is exact per instance (#17; DESIGN §15): a loop
iteration or a step reading output parameters is reused only when its cache key (the values it
is given, its input digests, the keys of the instances before it) matches and its outputs are
intact; a rerun upstream instance reruns exactly what reads it; branch decisions are made again
from the values. Every step is a real subprocess that appends its instance folder to a calls
file, so each test sees exactly which instances ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.runner import Capacity, run_pipeline

pytestmark = pytest.mark.timeout(300)

# `python -c S --name value ...`: records "<step>/<index>" (its cwd relative to the run folder)
_REC = (
    "import sys, json, os, pathlib\n"
    "a = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
    "here = pathlib.Path.cwd()\n"
    "run = pathlib.Path(os.environ['RUN_DIR'])\n"
    "open(os.environ['CALLS'], 'a').write(here.relative_to(run).as_posix() + '\\n')\n"
)
COUNT = _REC + (
    "cam, n = a['--camera'], int(a['--n'])\n"
    "pathlib.Path(a['--frames'], 'f.txt').write_text(cam * (n + 1))\n"
    "open(a['--count'], 'w').write(json.dumps(n))\n"
)
DETECT = _REC + (
    "src = pathlib.Path(a['--frames'], 'f.txt').read_text()\n"
    "pathlib.Path(a['--found'], 'd.txt').write_text(src.upper())\n"
)
TOTAL = _REC + "open(a['--total'], 'w').write(json.dumps(sum(json.loads(a['--counts']))))\n"
REPORT = _REC + "pathlib.Path(a['--report'], 's.json').write_text(a['--status'] + a['--total'])\n"


@dsl.container_component(image="local/count:1", command=["python", "-c", COUNT])
def count_motion(camera: str, n: int, tag: str, frames: Output[Dataset], count: Output[int]):
    """'Count' moving objects: the loop item says how many (so tests can change one)."""


@dsl.container_component(image="local/detect:1", command=["python", "-c", DETECT])
def detect(frames: Input[Dataset], found: Output[Dataset]):
    """Runs only where something moved."""


@dsl.container_component(image="local/total:1", command=["python", "-c", TOTAL])
def total(counts: list, total: Output[int]):
    """Fan in the counts."""


@dsl.container_component(image="local/report:1", command=["python", "-c", REPORT])
def report(status: str, total: int, report: Output[Dataset]):
    """A status report."""


@dsl.pipeline(name="flow-resume")
def triage(cams: list, tag: str = "v1"):
    with dsl.ParallelFor(cams, parallelism=2) as cam:
        counted = count_motion(camera=cam["cam"], n=cam["n"], tag=tag)
        with dsl.If(counted.outputs["count"] > 0):
            detect(frames=counted.outputs["frames"])
    summed = total(counts=dsl.Collected(counted.outputs["count"]))
    report(status="done", total=summed.outputs["total"])


class Runs:
    """Runs of ``triage`` under one run id in one workdir, each one's calls recorded apart."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.workdir = tmp_path / "runs"
        self.run_dir = self.workdir / "flow-resume" / "r1"
        self.calls = tmp_path / "calls.txt"
        monkeypatch.setenv("CALLS", str(self.calls))
        monkeypatch.setenv("RUN_DIR", str(self.run_dir))

    def __call__(self, counts: dict[str, object], *, resume: bool, tag: str = "v1"):
        self.calls.write_text("")
        cams = [{"cam": cam, "n": n} for cam, n in counts.items()]
        result = run_pipeline(
            graph.check(triage.spec),
            {"cams": cams, "tag": tag},
            self.workdir,
            run_id="r1",
            resume=resume,
            capacity=Capacity(cpu=4, memory=16 * 1024**3, gpu=0),
            backoff_scale=0.0,
        )
        return result, sorted(self.calls.read_text().split())


@pytest.fixture
def runs(tmp_path, monkeypatch):
    return Runs(tmp_path, monkeypatch)


EVERYTHING = sorted(
    [
        "count-motion/0",
        "count-motion/1",
        "count-motion/2",
        "detect/0",
        "detect/2",
        "total",
        "report",
    ]
)


COUNTS = {"lobby": 2, "gate": 0, "dock": 1}


def test_an_unchanged_resume_reuses_every_instance_and_the_same_decisions(runs):
    first, ran = runs(COUNTS, resume=False)
    assert first.state == "succeeded"
    assert ran == EVERYTHING  # detect/1 is an untaken branch (gate counted 0)
    again, ran = runs(COUNTS, resume=True)
    assert again.state == "succeeded"
    assert ran == []
    assert {k: r.status for k, r in again.steps.items()} == {
        **dict.fromkeys(EVERYTHING, "cached"),
        "detect/1": "skipped",
    }
    assert again.branches == first.branches
    journal = json.loads((runs.run_dir / "run.json").read_text())
    assert journal["steps"]["count-motion/1"]["status"] == "cached"
    assert (runs.run_dir / "report" / "report" / "s.json").read_text() == "done3"


def test_a_changed_iteration_reruns_itself_and_exactly_what_it_reaches(runs):
    first, _ = runs(COUNTS, resume=False)
    (gate_branch,) = [k for k, taken in first.branches.items() if k.endswith("/1")]
    assert first.branches[gate_branch] is False
    # gate now counts 4: its iteration reruns, its branch is now taken (decided again), the
    # fan-in and the report rerun; lobby's and dock's iterations are reused
    result, ran = runs({**COUNTS, "gate": 4}, resume=True)
    assert result.state == "succeeded"
    assert ran == ["count-motion/1", "detect/1", "report", "total"]
    for key in ("count-motion/0", "count-motion/2", "detect/0", "detect/2"):
        assert result.steps[key].status == "cached", key
    assert result.branches[gate_branch] is True
    assert (runs.run_dir / "report" / "report" / "s.json").read_text() == "done7"
    assert (runs.run_dir / "detect" / "1" / "found" / "d.txt").read_text() == "GATE" * 5


def test_a_changed_setting_of_the_loop_step_reruns_every_iteration_and_what_follows(runs):
    runs(COUNTS, resume=False)
    result, ran = runs(COUNTS, resume=True, tag="v2")  # a value every iteration is given
    assert result.state == "succeeded"
    assert ran == EVERYTHING


def test_a_longer_loop_list_runs_only_the_new_iteration_and_the_fan_in(runs):
    runs(COUNTS, resume=False)
    result, ran = runs({**COUNTS, "yard": 5}, resume=True)
    assert result.state == "succeeded"
    assert ran == ["count-motion/3", "detect/3", "report", "total"]
    assert (runs.run_dir / "report" / "report" / "s.json").read_text() == "done8"


def test_a_damaged_artifact_reruns_its_instance_only(runs):
    runs(COUNTS, resume=False)
    (runs.run_dir / "detect" / "2" / "found" / "d.txt").write_text("tampered")
    result, ran = runs(COUNTS, resume=True)
    assert result.state == "succeeded"
    assert ran == ["detect/2"]  # nothing reads detect's output
    assert (runs.run_dir / "detect" / "2" / "found" / "d.txt").read_text() == "DOCKDOCK"


def test_a_damaged_output_parameter_reruns_its_instance(runs):
    """The rerun writes the same value again, so its readers' keys are unchanged: reused."""
    runs(COUNTS, resume=False)
    (runs.run_dir / "count-motion" / "0" / "count").write_text("0")
    result, ran = runs(COUNTS, resume=True)
    assert ran == ["count-motion/0"]
    assert json.loads((runs.run_dir / "count-motion" / "0" / "count").read_text()) == 2
    assert result.steps["total"].status == "cached"


def test_a_failed_iteration_reruns_on_resume_and_the_rest_is_reused(runs):
    first, _ = runs({**COUNTS, "dock": "x"}, resume=False)  # int('x') fails in the process
    assert first.state == "failed"
    assert first.steps["count-motion/2"].status == "failed"
    assert first.steps["total"].status == "skipped"
    result, ran = runs(COUNTS, resume=True)
    assert result.state == "succeeded"
    assert ran == ["count-motion/2", "detect/2", "report", "total"]
