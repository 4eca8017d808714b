"""Interrupts with REAL signals on a REAL ``pipecast run --local`` subprocess: SIGINT/SIGTERM stop
the running step's whole process group (SIGKILL after the grace period if it ignores SIGTERM),
no late output appears, the journal says what finished, the exit code is 130/143, the
``--resume`` command is printed, and resuming finishes the run. A half-copied input is not used.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT, write_pipeline

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.runner import Capacity, run_pipeline

pytestmark = pytest.mark.timeout(180)

PIPE = '''
import os, pathlib, signal, subprocess, sys, time

QUICK = "import sys, pathlib; pathlib.Path(sys.argv[2], 'q.txt').write_text('quick')"
# writes its pid (= its process group: steps start in their own session) and a child's pid,
# then sleeps; only after the sleep does it write its output
NAP = (
    "import os, sys, time, pathlib, signal, subprocess\\n"
    "if sys.argv[6] == 'stubborn': signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\\n"
    "pathlib.Path('pids.txt').write_text(f'{os.getpid()} {child.pid}')\\n"
    "time.sleep(float(sys.argv[4]))\\n"
    "pathlib.Path(sys.argv[2], 'late.txt').write_text('late')\\n"
)

@dsl.container_component(image="r.example.com/q:1", command=["python", "-c", QUICK])
def quick(out: Output[Dataset]):
    """Finishes at once."""

@dsl.container_component(image="r.example.com/n:1", command=["python", "-c", NAP])
def nap(data: Input[Dataset], out: Output[Dataset], seconds: float, mode: str):
    """Sleeps, then writes."""

@dsl.container_component(
    image="r.example.com/a:1",
    command=["python", "-c",
             "import sys, pathlib; pathlib.Path(sys.argv[4], 'a.txt').write_text('after')"],
)
def after(data: Input[Dataset], out: Output[Dataset]):
    """Runs after the nap."""

@dsl.pipeline(name="naps")
def naps(seconds: float = 3.0, mode: str = "polite"):
    q = quick().set_name("quick")
    n = nap(data=q.output, seconds=seconds, mode=mode).set_name("nap")
    after(data=n.output).set_name("after")
'''


def _start(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    path = write_pipeline(tmp_path, PIPE)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipecast",
            "run",
            str(path),
            "--local",
            "--workdir",
            str(tmp_path / "runs"),
            *args,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PIPECAST_ENGINE": "process", **(env or {})},
    )


def _wait_for(path_glob: str, root: Path, proc: subprocess.Popen[str]) -> Path:
    """The first file matching ``path_glob`` under ``root`` once it has content."""
    for _ in range(1200):
        found = [p for p in root.glob(path_glob) if p.is_file() and p.read_text().strip()]
        if found:
            return found[0]
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"{path_glob} never appeared")


def _alive(pid: int, *, group: bool) -> bool:
    try:
        (os.killpg if group else os.kill)(pid, 0)
    except ProcessLookupError:
        return False
    if not group:  # a zombie no one reaped yet is not running
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False
    return True


def _gone(pid: int, *, group: bool) -> bool:
    for _ in range(100):  # the kernel may need a moment to reap an orphan
        if not _alive(pid, group=group):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_step_group_records_the_run_and_resume_finishes(tmp_path, sig, code):
    proc = _start(tmp_path)
    pids = _wait_for("runs/naps/*/nap/pids.txt", tmp_path, proc)
    step_pid, child_pid = map(int, pids.read_text().split())
    run_dir = pids.parent.parent
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert _gone(step_pid, group=True) and _gone(child_pid, group=False)
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["state"] == "interrupted" and journal["signal"] == sig.name
    states = {k: v["status"] for k, v in journal["steps"].items()}
    assert states == {"quick": "succeeded", "nap": "interrupted", "after": "pending"}
    assert f"--resume {run_dir.name}" in stderr and "resume with: pipecast run" in stderr
    time.sleep(4)  # longer than the step would have slept: its late write must never come
    assert not (run_dir / "nap" / "out" / "late.txt").exists()

    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipecast",
            "run",
            str(tmp_path / "pipe.py"),
            "--local",
            "--workdir",
            str(tmp_path / "runs"),
            "--resume",
            run_dir.name,
            "-p",
            "seconds=0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PIPECAST_ENGINE": "process"},
    )
    assert again.returncode == 0, again.stderr
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["state"] == "succeeded"
    assert {k: v["status"] for k, v in journal["steps"].items()} == {
        "quick": "cached",
        "nap": "succeeded",
        "after": "succeeded",
    }
    assert (run_dir / "after" / "out" / "a.txt").read_text() == "after"


def test_a_step_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    proc = _start(
        tmp_path, "-p", "mode=stubborn", "-p", "seconds=30", env={"PIPECAST_STOP_GRACE": "1"}
    )
    pids = _wait_for("runs/naps/*/nap/pids.txt", tmp_path, proc)
    step_pid, child_pid = map(int, pids.read_text().split())
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert _gone(step_pid, group=True) and _gone(child_pid, group=False)
    journal = json.loads((pids.parent.parent / "run.json").read_text())
    assert journal["steps"]["nap"]["status"] == "interrupted"


def test_a_second_signal_ends_the_grace_period_at_once(tmp_path):
    """With a 300 s grace period, only the second signal can end this run within the timeout."""
    proc = _start(
        tmp_path, "-p", "mode=stubborn", "-p", "seconds=600", env={"PIPECAST_STOP_GRACE": "300"}
    )
    pids = _wait_for("runs/naps/*/nap/pids.txt", tmp_path, proc)
    step_pid, _ = map(int, pids.read_text().split())
    proc.send_signal(signal.SIGTERM)
    time.sleep(1)
    assert proc.poll() is None  # still in its grace period: the step ignores SIGTERM
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr  # the first signal is the one reported
    assert _gone(step_pid, group=True)


FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys, time
args = sys.argv[1:]
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[0] in ("info", "rm"):
    sys.exit(0)
name = args[args.index("--name") + 1]
with open(os.environ["FAKE_ENGINE_LOG"] + ".started", "w") as f:
    f.write(name)
time.sleep(60)
"""


def test_an_interrupted_container_step_is_removed_by_name(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "engine.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ENGINE_LOG": str(log),
        "PIPECAST_ENGINE": "docker",
    }
    proc = _start(tmp_path, env=env)
    started = _wait_for("engine.log.started", tmp_path, proc)
    name = started.read_text()
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert ["rm", "-f", name] in calls
    assert "--engine docker" in stderr  # the printed resume command keeps the engine


HALF = '''
@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys, os, pathlib; "
    "pathlib.Path(sys.argv[4], 'n.txt').write_text(str(len(os.listdir(sys.argv[2]))))"])
def count(data: Input[Dataset], out: Output[Dataset]):
    """Counts its input files."""

@dsl.pipeline(name="half")
def half(uri: str):
    count(data=dsl.importer(uri=uri, manifest=True).output).set_name("count")
'''


def test_a_half_copied_input_is_never_used_on_resume(tmp_path):
    """The manifest's last object is a FIFO: the copy blocks there, half done, when the signal
    comes. The half copy must not be taken for the input; resume copies it all again."""
    src = tmp_path / "src"
    src.mkdir()
    names = [f"f{i:03d}.bin" for i in range(50)]
    for name in names[:-1]:
        (src / name).write_bytes(b"x" * 100)
    os.mkfifo(src / names[-1])
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"prefix": str(src) + "/"}, *names]))
    path = write_pipeline(tmp_path, HALF)
    cmd = [
        sys.executable,
        "-m",
        "pipecast",
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
    ]
    env = {**os.environ, "PIPECAST_ENGINE": "process"}
    proc = subprocess.Popen(
        [*cmd, "-p", f"uri={manifest}"],
        cwd=tmp_path,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    partial = None
    for _ in range(1200):  # wait until the copy is blocked on the FIFO: 49 objects in
        found = list((tmp_path / "runs").glob("half/*/_inputs/.*.partial"))
        if found and len(list(found[0].iterdir())) == len(names) - 1:
            partial = found[0]
            break
        time.sleep(0.05)
    assert partial is not None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    run_dir = partial.parent.parent
    inputs = run_dir / "_inputs"
    assert [p.name for p in inputs.iterdir() if not p.name.startswith(".")] == []
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["state"] == "interrupted" and journal["steps"]["count"]["status"] == "pending"
    (src / names[-1]).unlink()
    (src / names[-1]).write_bytes(b"y")
    again = subprocess.run(
        [*cmd, "--resume", run_dir.name],
        cwd=tmp_path,
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert (run_dir / "count" / "out" / "n.txt").read_text() == str(len(names))
    assert not list(inputs.glob(".*.partial"))


def test_the_cli_module_is_what_runs(tmp_path):
    """The subprocess tests above run this worktree's pipecast, not another install."""
    out = subprocess.run(
        [sys.executable, "-c", "import pipecast; print(pipecast.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert Path(out.stdout.strip()).resolve().is_relative_to(ROOT)


def test_an_interrupt_during_an_in_process_fake_records_what_finished(tmp_path):
    """In-process code cannot be killed: the run still ends (after a bounded wait), marks the
    step interrupted, leaves the steps after it pending, and a resume reruns only those."""

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def first(out: Output[Dataset]):
        """x"""

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def second(data: Input[Dataset], out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="inproc")
    def p():
        s = second(data=first().set_name("first").output).set_name("second")
        second(data=s.output).set_name("third")

    stop, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def blocking(data, out):
        calls.append("second")
        stop.set()  # as the signal handler would
        release.wait(30)

    fakes = {
        "first": lambda out: calls.append("first"),
        "second": blocking,
        "third": lambda data, out: calls.append("third"),
    }
    checked, cap = graph.check(p.spec), Capacity(2, 2**33, 0)
    result = run_pipeline(checked, {}, tmp_path, fakes=fakes, capacity=cap, stop=stop)
    release.set()
    assert result.state == "interrupted" and not result.succeeded
    assert {k: v.status for k, v in result.steps.items()} == {
        "first": "succeeded",
        "second": "interrupted",
        "third": "pending",
    }
    assert json.loads((result.run_dir / "run.json").read_text())["state"] == "interrupted"
    calls.clear()
    fakes["second"] = lambda data, out: calls.append("second")
    again = run_pipeline(
        checked, {}, tmp_path, run_id=result.run_id, resume=True, fakes=fakes, capacity=cap
    )
    assert again.succeeded and calls == ["second", "third"]
