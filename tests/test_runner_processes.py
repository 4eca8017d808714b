"""Stopping the processes of a run (SIGINT/SIGTERM): each step's whole group gets SIGTERM, one
that ignores it is killed when the grace period ends, none starts afterwards; a group that is
already gone is fine; and in-process steps get a moment to end on their own."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Output
from pipecast.runner import Capacity, run_pipeline
from pipecast.runner._process import Processes

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"
ENDS_ON_TERM = "import time; time.sleep(30)"


def start(processes: Processes, tmp_path: Path, key: str, code: str):
    out = open(tmp_path / f"{key}.out", "wb")  # noqa: SIM115 - closed by the test
    proc = processes.start(
        key,
        [sys.executable, "-c", code],
        stdout=out,
        stderr=out,
        env={},
        cwd=tmp_path,
    )
    assert proc is not None
    return proc, out


def reaped(proc) -> threading.Thread:
    """What a step's thread does: wait for its process (so an ended one is reaped)."""
    thread = threading.Thread(target=proc.wait, daemon=True)
    thread.start()
    return thread


def test_a_step_that_ignores_sigterm_is_killed_when_the_grace_period_ends(tmp_path):
    processes = Processes(grace=0.3)
    proc, out = start(processes, tmp_path, "stubborn", IGNORES_TERM)
    time.sleep(0.3)  # its handler is in place
    try:
        processes.stop_all()
        assert proc.wait(timeout=5) == -signal.SIGKILL
    finally:
        out.close()


def test_a_step_that_ends_on_sigterm_is_not_waited_for_the_whole_grace(tmp_path):
    processes = Processes(grace=10)
    proc, out = start(processes, tmp_path, "polite", ENDS_ON_TERM)
    reaped(proc)
    try:
        began = time.monotonic()
        processes.stop_all()
        assert time.monotonic() - began < 0.5
        assert proc.returncode == -signal.SIGTERM
    finally:
        out.close()


def test_no_step_starts_once_stopping_and_a_group_already_gone_is_fine(tmp_path):
    processes = Processes(grace=0.3)
    proc, out = start(processes, tmp_path, "done", "pass")
    proc.wait()  # reaped, still listed: its group no longer exists
    try:
        processes.stop_all()
        late = processes.start(
            "late", [sys.executable, "-c", "pass"], stdout=out, stderr=out, env={}, cwd=tmp_path
        )
        assert late is None
    finally:
        out.close()


def test_an_in_process_step_ending_soon_after_the_stop_keeps_its_result(tmp_path):
    @dsl.container_component(image="r.example.com/s:1", command=["false"])
    def step(out: Output[Dataset]):
        """A fake does the work."""

    @dsl.pipeline(name="stopped")
    def stopped():
        step().set_name("s")

    stop = threading.Event()

    def fake(out):
        stop.set()  # the run is interrupted while this in-process code goes on
        time.sleep(0.3)
        Path(out.path, "done").write_text("yes")

    result = run_pipeline(
        graph.check(stopped.spec),
        {},
        tmp_path / "runs",
        run_id="r1",
        fakes={"s": fake},
        capacity=Capacity(cpu=2, memory=8 * 1024**3, gpu=0),
        stop=stop,
    )
    assert result["s"].status == "succeeded"
    assert (result.run_dir / "s" / "out" / "done").read_text() == "yes"
