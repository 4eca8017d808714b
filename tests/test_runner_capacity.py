"""The machine the local runner schedules on: CPU cores, memory and GPUs as found (with the
fallbacks when the system cannot say), and what a person reads at the end of a run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pipecast.runner._progress import Progress
from pipecast.runner._results import RunResult, StepResult
from pipecast.runner._schedule import Capacity


def _nvidia_smi(tmp_path: Path, monkeypatch, output: str | None) -> None:
    """An ``nvidia-smi`` printing ``output`` as the only program on PATH (None: none at all)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    if output is not None:
        tool = folder / "nvidia-smi"
        tool.write_text(f"#!/bin/sh\n[ \"$1\" = -L ] || exit 2\nprintf '{output}'\n")
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(folder))


def test_the_machine_is_measured(tmp_path, monkeypatch):
    _nvidia_smi(tmp_path, monkeypatch, "GPU 0: A (UUID: a)\\nGPU 1: B (UUID: b)\\nMIG 1g\\n")
    found = Capacity.detect()
    pages = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert found == Capacity(cpu=float(os.cpu_count() or 1), memory=pages, gpu=2)


def test_unknown_figures_fall_back_to_one_core_eight_gib_and_no_gpu(tmp_path, monkeypatch):
    _nvidia_smi(tmp_path, monkeypatch, None)
    monkeypatch.setattr(os, "cpu_count", lambda: None)

    def no_sysconf(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", no_sysconf)
    assert Capacity.detect() == Capacity(cpu=1.0, memory=8 * 1024**3, gpu=0)


# ----- the summary at the end ------------------------------------------------------------------


def _result(tmp_path: Path, state: str = "succeeded", signal: str | None = None) -> RunResult:
    out = tmp_path / "final"
    out.mkdir()
    steps = {
        "prep": StepResult("prep", "succeeded", attempts=1, started=100.0, finished=102.5),
        "show/0": StepResult("show/0", "failed", attempts=1, error="boom"),
        "show/1": StepResult("show/1", "cached", attempts=1, outputs={"out": str(out)}),
        "show/2": StepResult("show/2", "succeeded", attempts=1, outputs={"out": str(out)}),
    }
    return RunResult("p", "r1", tmp_path, steps, state=state, signal=signal)


def test_the_summary_shows_durations_and_every_final_output_that_exists(tmp_path, capsys):
    Progress(("prep", "show")).summary(_result(tmp_path), final_steps=("show",))
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert lines[0].split() == ["prep", "succeeded", "attempts=1", "2.5s"]
    assert lines[1].split() == ["show/0", "failed", "attempts=1", "-"]
    # the failed iteration shows nothing; the reused and the new one show where their outputs are
    assert out.splitlines() == [
        f"run r1 succeeded: {tmp_path}",
        f"  show/1.out: {tmp_path / 'final'}",
        f"  show/2.out: {tmp_path / 'final'}",
    ]


@pytest.mark.parametrize(
    ("state", "signal", "shown"),
    [("failed", None, "FAILED"), ("interrupted", "SIGTERM", "INTERRUPTED by SIGTERM")],
)
def test_the_summary_says_how_the_run_ended(tmp_path, capsys, state, signal, shown):
    Progress(("prep",)).summary(_result(tmp_path, state, signal))
    out = capsys.readouterr().out
    assert out == f"run r1 {shown}: {tmp_path}\n"
