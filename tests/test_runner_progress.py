"""What a person watching a local run sees: on a terminal, a live table titled ``pipecast run``
with one row per step and warnings printed above it exactly as written; the capacity warning's
figures."""

from __future__ import annotations

import io
import re
import sys

from pipecast.dsl import Resources
from pipecast.dsl.spec import StepSpec
from pipecast.runner._progress import Progress
from pipecast.runner._results import StepResult
from pipecast.runner._schedule import Capacity, Scheduler, capacity_warnings

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_live_table_is_titled_and_warnings_keep_their_brackets(monkeypatch):
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    with Progress(("prep", "train")) as progress:
        progress.warn("step 'train' reads [bold]raw[/bold] and [red]x[/red]")
        progress.event("started", StepResult("prep"))
    text = ANSI.sub("", screen.getvalue())
    assert "warning: step 'train' reads [bold]raw[/bold] and [red]x[/red]" in text
    assert "pipecast run" in text
    rows = [" ".join(re.sub("[│┃]", " ", line).split()) for line in text.splitlines()]
    assert "step status" in rows and "prep started" in rows and "train pending" in rows


def test_the_capacity_warning_gives_the_figures_in_gib():
    step = StepSpec(
        id="big", component="c", arguments=(), resources=Resources(cpu=8, memory="64GiB", gpu=1)
    )
    scheduler = Scheduler(Capacity(cpu=2, memory=48 * 1024**3, gpu=0))
    assert capacity_warnings(scheduler, [step]) == [
        "step 'big' asks for more than this machine has (8 CPU, 64.0 GiB, 1 GPU; capacity "
        "2 CPU, 48.0 GiB, 0 GPU); it will run alone"
    ]
