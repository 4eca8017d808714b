"""Resume exactly (DESIGN §15): a step is reused only when its cache key matches (component spec
and image, resolved parameter values, content digests of its inputs, keys of the steps before
it) and its outputs are intact. Every step appends its id to a calls file, so each test sees
exactly which steps ran.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli, write_pipeline

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import RunError
from pipecast.runner import Capacity, run_pipeline

pytestmark = pytest.mark.timeout(300)

PIPE = '''
import os, pathlib

# --name value pairs in; writes out/v.txt: every input's content (or value), sorted by name
S = (
    "import os, sys, pathlib\\n"
    "a = dict(zip(sys.argv[1::2], sys.argv[2::2]))\\n"
    "open(os.environ['CALLS'], 'a').write(os.path.basename(os.getcwd()) + '\\\\n')\\n"
    "def read(v):\\n"
    "    p = pathlib.Path(v)\\n"
    "    if not p.is_dir(): return v\\n"
    "    return '+'.join(f.read_text() for f in sorted(p.rglob('*')) if f.is_file())\\n"
    "text = ';'.join(f'{k}={read(v)}' for k, v in sorted(a.items()) if k != '--out')\\n"
    "pathlib.Path(a['--out'], 'v.txt').write_text(text)\\n"
)

@dsl.container_component(image="r.example.com/src:1", command=["python", "-c", S])
def src(v: int, out: Output[Dataset]):
    """A value."""

@dsl.container_component(image="r.example.com/one:1", command=["python", "-c", S])
def one(data: Input[Dataset], out: Output[Dataset]):
    """One input."""

@dsl.container_component(image="r.example.com/join:1", command=["python", "-c", S])
def join(left: Input[Dataset], right: Input[Dataset], out: Output[Dataset]):
    """Two inputs."""

@dsl.pipeline(name="res")
def res(uri: str, x: int = 1, y: int = 1):
    a = src(v=x).set_name("a")
    b = src(v=y).set_name("b")
    c = one(data=a.output).set_name("c")
    join(left=b.output, right=c.output).set_name("d")
    one(data=dsl.importer(uri=uri).output).set_name("e")
'''


class Runs:
    """``pipecast run`` of PIPE in one folder; :meth:`run` returns the steps that executed."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.pipe = write_pipeline(tmp_path, PIPE)
        self.calls = tmp_path / "calls.txt"
        self.data = tmp_path / "data"
        self.data.mkdir()
        (self.data / "f.txt").write_text("one")
        self.last = None

    def run(self, *args: str, code: int = 0) -> set[str]:
        self.calls.write_text("")
        self.last = run_cli(
            "run",
            str(self.pipe),
            "--local",
            "--workdir",
            str(self.tmp / "runs"),
            *args,
            cwd=self.tmp,
            env={"PIPECAST_ENGINE": "process", "CALLS": str(self.calls)},
        )
        assert self.last.returncode == code, self.last.stderr
        assert "Traceback" not in self.last.stderr
        return set(self.calls.read_text().split())

    def run_dir(self) -> Path:
        (run_dir,) = (self.tmp / "runs" / "res").iterdir()
        return run_dir

    def journal(self) -> dict:
        return json.loads((self.run_dir() / "run.json").read_text())

    def out(self, step: str) -> str:
        return (self.run_dir() / step / "out" / "v.txt").read_text()


def test_resume_reruns_exactly_what_a_change_reaches(tmp_path):
    runs = Runs(tmp_path)
    assert runs.run("-p", f"uri={runs.data}") == {"a", "b", "c", "d", "e"}
    rid = runs.run_dir().name

    # unchanged, and no -p at all: the recorded parameters (uri is required) are reused
    assert runs.run("--resume", rid) == set()
    journal = runs.journal()
    assert journal["parameters"] == {"uri": str(runs.data), "x": 1, "y": 1}
    assert {s["status"] for s in journal["steps"].values()} == {"cached"}

    # a new value for x: the step that takes it and everything downstream of it, nothing else
    assert runs.run("--resume", rid, "-p", "x=5") == {"a", "c", "d"}
    assert runs.journal()["parameters"]["x"] == 5
    assert runs.out("d") == "--left=--v=1;--right=--data=--v=5"
    statuses = {k: v["status"] for k, v in runs.journal()["steps"].items()}
    assert statuses == {
        "a": "succeeded",
        "b": "cached",
        "c": "succeeded",
        "d": "succeeded",
        "e": "cached",
    }

    # x=5 is now the recorded value: resuming without -p keeps it and runs nothing
    assert runs.run("--resume", rid) == set()
    assert runs.out("d").endswith("--v=5")

    # changed input content: only the step reading it
    (runs.data / "f.txt").write_text("two")
    assert runs.run("--resume", rid) == {"e"}
    assert runs.out("e") == "--data=two"

    # an output deleted on disk: that step reruns; the same bytes again, so d is still reused
    (runs.run_dir() / "c" / "out" / "v.txt").unlink()
    assert runs.run("--resume", rid) == {"c"}

    # an output edited on disk: the step reruns, and what reads it sees new bytes, so reruns
    (runs.run_dir() / "a" / "out" / "v.txt").write_text("tampered")
    assert runs.run("--resume", rid) == {"a"}  # a's own output restored: c sees the same bytes

    # a new image for one component: its steps and what they reach
    runs.pipe.write_text(
        runs.pipe.read_text().replace("r.example.com/one:1", "r.example.com/one:2")
    )
    assert runs.run("--resume", rid) == {"c", "d", "e"}


def test_resume_of_an_unknown_run_lists_the_known_ones(tmp_path):
    runs = Runs(tmp_path)
    runs.run("-p", f"uri={runs.data}")
    rid = runs.run_dir().name
    assert runs.run("--resume", "no-such-run", code=1) == set()
    err = runs.last.stderr
    assert "error[PC203]" in err and "no run 'no-such-run'" in err and rid in err
    assert not (tmp_path / "runs" / "res" / "no-such-run").exists()


def test_resume_with_a_required_parameter_missing_from_the_record_asks_for_it(tmp_path):
    runs = Runs(tmp_path)
    runs.run("-p", f"uri={runs.data}")
    journal = runs.run_dir() / "run.json"
    data = json.loads(journal.read_text())
    del data["parameters"]["uri"]
    journal.write_text(json.dumps(data))
    runs.run("--resume", runs.run_dir().name, code=1)
    assert "needs -p uri=..." in runs.last.stderr


# ----- in-process (the API the fixture uses) ------------------------------------------------


@dsl.container_component(image="r.example.com/x:1", command=["true"])
def make(n: int, out: Output[Dataset]):
    """x"""


@dsl.container_component(image="r.example.com/x:1", command=["true"])
def use(data: Input[Dataset], out: Output[Dataset]):
    """x"""


@dsl.pipeline(name="pair")
def pair(n: int = 1):
    use(data=make(n=n).set_name("make").output).set_name("use")


def _fakes(calls: list[str]):
    def make_fake(n, out):
        calls.append("make")
        Path(out.path, "n.txt").write_text(str(n))

    def use_fake(data, out):
        calls.append("use")
        Path(out.path, "n.txt").write_text(Path(data.path, "n.txt").read_text() * 2)

    return {"make": make_fake, "use": use_fake}


def test_run_pipeline_resume_reuses_by_key_and_refuses_unknown_ids(tmp_path):
    checked = graph.check(pair.spec)
    cap = Capacity(2, 2**33, 0)
    calls: list[str] = []
    first = run_pipeline(checked, {"n": 3}, tmp_path, fakes=_fakes(calls), capacity=cap)
    assert first.succeeded and calls == ["make", "use"]
    calls.clear()
    again = run_pipeline(
        checked,
        {"n": 3},
        tmp_path,
        run_id=first.run_id,
        resume=True,
        fakes=_fakes(calls),
        capacity=cap,
    )
    assert again.succeeded and calls == []
    assert {s.status for s in again.steps.values()} == {"cached"}
    changed = run_pipeline(
        checked,
        {"n": 4},
        tmp_path,
        run_id=first.run_id,
        resume=True,
        fakes=_fakes(calls),
        capacity=cap,
    )
    assert changed.succeeded and calls == ["make", "use"]
    assert Path(changed["use"].outputs["out"], "n.txt").read_text() == "44"
    with pytest.raises(RunError) as caught:
        run_pipeline(checked, {"n": 4}, tmp_path, run_id="nope", resume=True, capacity=cap)
    assert caught.value.diagnostic.code == "PC203" and first.run_id in str(caught.value)


def test_a_dependent_starts_only_after_the_journal_records_its_parent(tmp_path, monkeypatch):
    """The race that made the test above flaky, made certain: writing run.json is slow (as on
    a loaded machine), and the scheduler must still not start ``use`` before the journal says
    ``make`` succeeded (the status and its journal entry change under one lock)."""
    import time

    from pipecast.runner import _journal

    checked = graph.check(pair.spec)
    write = _journal.Journal.write

    def slow_write(self, state, steps, **extra):
        time.sleep(0.3)
        write(self, state, steps, **extra)

    monkeypatch.setattr(_journal.Journal, "write", slow_write)
    seen = {}

    def use_fake(data, out):
        seen["journal"] = json.loads((Path(out.path).parents[1] / "run.json").read_text())

    fakes = {**_fakes([]), "use": use_fake}
    result = run_pipeline(checked, {"n": 1}, tmp_path, fakes=fakes, capacity=Capacity(2, 2**33, 0))
    assert result.succeeded
    assert seen["journal"]["steps"]["make"]["status"] == "succeeded"


def test_the_journal_is_written_after_every_step(tmp_path):
    """A step sees the journal already recording the steps that finished before it."""
    checked = graph.check(pair.spec)
    seen = {}

    def use_fake(data, out):
        run_json = Path(out.path).parents[1] / "run.json"
        seen["journal"] = json.loads(run_json.read_text())

    fakes = {**_fakes([]), "use": use_fake}
    result = run_pipeline(checked, {"n": 1}, tmp_path, fakes=fakes, capacity=Capacity(2, 2**33, 0))
    assert result.succeeded
    journal = seen["journal"]
    assert journal["state"] == "running"
    assert journal["steps"]["make"]["status"] == "succeeded"
    assert journal["steps"]["make"]["cache_key"] and journal["steps"]["make"]["digests"]["out"]
    assert journal["steps"]["use"]["status"] in ("pending", "running")
    assert not list(Path(result.run_dir).glob(".run.json.*.tmp"))  # atomic: no leftovers
    assert os.path.getsize(result.run_dir / "run.json") > 0
