"""Stopping step processes, in-process: a timed-out step's whole process group is killed, and an
interrupt stops every running step (SIGTERM, then SIGKILL after the grace period for a step that
ignores it), records the run as interrupted and leaves no process behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Output
from pipecast.runner import run_pipeline

pytestmark = pytest.mark.timeout(120)

# writes its pid and its child's pid, then sleeps; with IGNORE set it ignores SIGTERM (so does
# its child)
SLEEPER = (
    "import os, pathlib, signal, subprocess, sys, time\n"
    "if os.environ.get('IGNORE'): signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "pathlib.Path(os.environ['PIDS']).write_text(f'{os.getpid()} {child.pid}')\n"
    "time.sleep(60)\n"
)


@dsl.container_component(image="r.example.com/s:1", command=["python", "-c", SLEEPER])
def sleeper(out: Output[Dataset]):
    """Sleeps with a child in its process group."""


@dsl.pipeline(name="slow")
def slow():
    sleeper().set_name("slow").set_timeout(2)


@dsl.pipeline(name="long")
def long():
    sleeper().set_name("long")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is not running
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _pids(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PIPECAST_ENGINE", "process")
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    monkeypatch.setenv("PIPECAST_STOP_GRACE", "1")
    return tmp_path


def test_a_timed_out_step_is_killed_with_its_whole_process_group(env):
    started = time.monotonic()
    result = run_pipeline(graph.check(slow.spec), {}, env / "runs", engine=None)
    assert time.monotonic() - started < 30
    step = result["slow"]
    assert (step.status, step.exit_code) == ("failed", 124)
    time.sleep(0.5)
    assert [_alive(p) for p in _pids(env / "pids")] == [False, False]


@pytest.mark.parametrize("ignore", ["", "1"])
def test_an_interrupt_stops_every_step_process(env, monkeypatch, ignore):
    monkeypatch.setenv("IGNORE", ignore)
    pids = env / "pids"

    def interrupt_when_started() -> None:
        deadline = time.monotonic() + 30
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    started = time.monotonic()
    result = run_pipeline(graph.check(long.spec), {}, env / "runs", handle_signals=True)
    took = time.monotonic() - started
    assert (result.state, result.signal) == ("interrupted", "SIGINT")
    assert result["long"].status == "interrupted"
    time.sleep(0.5)
    assert [_alive(p) for p in _pids(pids)] == [False, False]
    # the grace period (1 s here) is waited for only when a process ignores SIGTERM
    assert took < 20
    if ignore:
        assert took >= 1.0
