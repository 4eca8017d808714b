"""``--resume`` of a run with control flow is exact per instance (#17; DESIGN §15): a loop
iteration or a step reading output parameters is reused only when its cache key (the values it
is given, its input digests, the keys of the instances before it) matches and its outputs are
intact; a rerun upstream instance reruns exactly what reads it; branch decisions are made again
from the values. Every step is a real subprocess that appends its instance folder to a calls
file, so each test sees exactly which instances ran; the tests at the end use fakes that can
write something else when they rerun, to show a reader is not reused with what it no longer
reads."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

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


# ----- what a reused instance was given: fakes with a memory, so a rerun can write new data -----


class Fan:
    """A loop whose iterations make frames and a count, a reader per iteration, a fan-in of both,
    a reader of an imported file and an exit task given RUN_STATUS; every step is a fake that
    records its instance key, and writes what ``self.state`` says (so a rerun can differ)."""

    def __init__(self, tmp_path: Path) -> None:
        @dsl.container_component(image="local/make:1", command=["true"])
        def make(cam: str, frames: Output[Dataset], count: Output[int]):
            """Frames and a count per camera."""

        @dsl.container_component(image="local/look:1", command=["true"])
        def look(frames: Input[Dataset], seen: Output[Dataset]):
            """Reads one iteration's frames."""

        @dsl.container_component(image="local/fan-in:1", command=["true"])
        def fan_in(counts: list, frames: Input[Dataset], total: Output[Dataset]):
            """Reads every iteration's count and frames."""

        @dsl.container_component(image="local/read:1", command=["true"])
        def read(data: Input[Dataset], copy: Output[Dataset]):
            """Reads an imported file."""

        @dsl.container_component(image="local/report:1", command=["true"])
        def report(status: str, out: Output[Dataset]):
            """Writes the run's status."""

        @dsl.pipeline(name="fan")
        def fan(cams: list, data: str):
            rep = report(status=dsl.RUN_STATUS).set_name("report")
            with dsl.ExitHandler(rep):
                with dsl.ParallelFor(cams) as cam:
                    made = make(cam=cam).set_name("make")
                    look(frames=made.outputs["frames"]).set_name("look")
                fan_in(
                    counts=dsl.Collected(made.outputs["count"]),
                    frames=dsl.Collected(made.outputs["frames"]),
                ).set_name("fan-in")
                read(data=dsl.importer(uri=data).output).set_name("read")

        self.spec = fan.spec
        self.workdir = tmp_path / "runs"
        self.data = tmp_path / "data.txt"
        self.data.write_text("v1")
        self.state: dict[str, Any] = {"frames": "", "count": 0, "fail": set()}
        self.ran: list[str] = []
        self.events: list[tuple[str, str]] = []
        self.fakes = {
            "make": self.make,
            "look": self.look,
            "fan-in": self.fan_in,
            "read": self.read,
            "report": self.report,
        }

    def _note(self, out: Any) -> None:
        key = Path(out.path).parent.relative_to(self.workdir / "fan" / "r1").as_posix()
        self.ran.append(key)
        if key in self.state["fail"]:
            raise RuntimeError(f"{key} broke")

    def make(self, cam, frames, count):
        self._note(frames)
        Path(frames.path, "f.txt").write_text(cam + self.state["frames"])
        Path(count).write_text(json.dumps(len(cam) + self.state["count"]))

    def look(self, frames, seen):
        self._note(seen)
        Path(seen.path, "s.txt").write_text(Path(frames.path, "f.txt").read_text())

    def fan_in(self, counts, frames, total):
        self._note(total)
        texts = [Path(frames.path, str(i), "f.txt").read_text() for i in range(len(counts))]
        Path(total.path, "t.json").write_text(json.dumps([counts, texts]))

    def read(self, data, copy):
        self._note(copy)
        self.state["uri"] = data.uri
        Path(copy.path, "c.txt").write_text(Path(data.path, "data.txt").read_text())

    def report(self, status, out):
        self._note(out)
        Path(out.path, "status.json").write_text(status)

    def __call__(self, *, resume: bool, fakes: dict[str, Any] | None = None):
        self.ran, self.events = [], []
        result = run_pipeline(
            graph.check(self.spec),
            {"cams": ["lobby", "gate"], "data": str(self.data)},
            self.workdir,
            run_id="r1",
            resume=resume,
            fakes={**self.fakes, **(fakes or {})},
            capacity=Capacity(cpu=4, memory=16 * 1024**3, gpu=0),
            backoff_scale=0.0,
            on_event=lambda kind, r: self.events.append((kind, r.step)),
        )
        return result, sorted(self.ran)

    def read_output(self, *parts: str) -> Any:
        return json.loads(self.workdir.joinpath("fan", "r1", *parts).read_text())


ALL_FAN = sorted(["make/0", "make/1", "look/0", "look/1", "fan-in", "read", "report"])


@pytest.fixture
def fan(tmp_path):
    return Fan(tmp_path)


def test_an_unchanged_resume_tells_the_caller_each_instance_was_cached(fan):
    first, ran = fan(resume=False)
    assert first.state == "succeeded" and ran == ALL_FAN
    again, ran = fan(resume=True)
    assert again.state == "succeeded" and ran == []
    assert sorted(fan.events) == [("cached", key) for key in ALL_FAN]


def test_a_rerun_that_writes_different_frames_reruns_their_readers(fan):
    fan(resume=False)
    (fan.workdir / "fan" / "r1" / "make" / "0" / "frames" / "f.txt").write_text("tampered")
    fan.state["frames"] = "-new"  # the rerun writes other frames than the first run did
    result, ran = fan(resume=True)
    assert result.state == "succeeded"
    # make/1, look/1 and read are reused; the exit task waits for changed keys: it reruns
    assert ran == ["fan-in", "look/0", "make/0", "report"]
    seen = (fan.workdir / "fan" / "r1" / "look" / "0" / "seen" / "s.txt").read_text()
    assert seen == "lobby-new"
    assert fan.read_output("fan-in", "total", "t.json") == [[5, 4], ["lobby-new", "gate"]]


def test_a_rerun_that_writes_a_different_count_reruns_the_fan_in(fan):
    fan(resume=False)
    (fan.workdir / "fan" / "r1" / "make" / "1" / "count").write_text("0")
    fan.state["count"] = 10  # same frames, another count
    result, ran = fan(resume=True)
    assert result.state == "succeeded"
    assert ran == ["fan-in", "make/1", "report"]  # look/1 reads identical frames: reused
    assert fan.read_output("fan-in", "total", "t.json") == [[5, 14], ["lobby", "gate"]]


def test_new_contents_of_an_imported_file_rerun_its_reader(fan):
    fan(resume=False)
    fan.data.write_text("v2")  # same URI, other data
    result, ran = fan(resume=True)
    assert result.state == "succeeded"
    assert ran == ["read", "report"]
    copy = fan.workdir / "fan" / "r1" / "read" / "copy" / "c.txt"
    assert copy.read_text() == "v2"
    assert fan.state["uri"] == str(fan.data)  # what the importer was given, not its copy


def test_the_exit_task_reruns_when_the_run_status_it_was_given_changed(fan):
    fan.state["fail"] = {"look/1"}
    first, _ = fan(resume=False)
    assert first.state == "failed"
    assert fan.read_output("report", "out", "status.json")["state"] == "FAILED"
    fan.state["fail"] = set()  # the same instance, the same inputs: now it works
    result, ran = fan(resume=True)
    assert result.state == "succeeded"
    assert ran == ["look/1", "report"]
    assert fan.read_output("report", "out", "status.json") == {
        "state": "SUCCEEDED",
        "failed_step": None,
        "error": None,
    }


def test_another_fake_for_a_step_reruns_its_instances(fan):
    fan(resume=False)

    def other_look(frames, seen):
        fan.ran.append("other")
        Path(seen.path, "s.txt").write_text("other")

    result, ran = fan(resume=True, fakes={"look": other_look})
    assert result.state == "succeeded"
    assert ran == ["other", "other", "report"]
    assert {k: r.status for k, r in result.steps.items() if k.startswith("look")} == {
        "look/0": "succeeded",
        "look/1": "succeeded",
    }


MODULE = """
from pipecast import dsl


@dsl.component
def shout(text: str) -> str:
    return text.upper() + "{mark}"


@dsl.pipeline(name="edited")
def edited():
    with dsl.ParallelFor(["a", "b"]) as item:
        shout(text=item).set_name("shout")
"""


def test_an_edited_python_component_reruns_on_resume(tmp_path, monkeypatch):
    source = tmp_path / "edited_steps.py"
    source.write_text(MODULE.format(mark="!"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("edited_steps")
    try:

        def once(resume: bool):
            return run_pipeline(
                graph.check(module.edited.spec),
                {},
                tmp_path / "runs",
                run_id="r1",
                resume=resume,
                capacity=Capacity(cpu=2, memory=8 * 1024**3, gpu=0),
            )

        assert once(False).succeeded
        assert once(True)["shout/0"].status == "cached"
        source.write_text(MODULE.format(mark="?"))  # the function's code changed, not its name
        module = importlib.reload(module)
        again = once(True)
        assert [r.status for r in again.iterations("shout")] == ["succeeded", "succeeded"]
        assert json.loads((again.run_dir / "shout" / "0" / "Output").read_text()) == "A?"
    finally:
        sys.modules.pop("edited_steps", None)
