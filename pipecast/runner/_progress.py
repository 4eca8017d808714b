"""Progress while a local run goes on (rich on a terminal, plain lines otherwise), and the
summary table at the end.

A retry is never a silent wait: the step shows ``attempt 2/3 after 30 s`` (and why the attempt
before failed) while it waits. Warnings (a step larger than the machine) appear before the first
step starts, not at the end."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

from ._engine import RunResult, StepResult


class Progress:
    def __init__(self, steps: tuple[str, ...]) -> None:
        self.tty = sys.stderr.isatty()
        self.steps = steps
        self.lock = threading.Lock()
        self._live: Any = None
        self._status: dict[str, str] = dict.fromkeys(steps, "pending")

    def __enter__(self) -> Progress:
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(self._table(), console=Console(stderr=True), refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(*exc)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="pipecast run", show_header=True)
        table.add_column("step")
        table.add_column("status")
        for step in self.steps:
            table.add_row(step, self._status[step])
        return table

    def event(self, kind: str, result: StepResult) -> None:
        shown = result.note if kind == "retrying" and result.note else kind
        with self.lock:
            self._status[result.step] = shown
            if self._live is not None:
                self._live.update(self._table())
            else:
                click.echo(f"{result.step}: {shown}", err=True)
                if kind == "retrying" and result.error:
                    first = result.error.splitlines()[0]
                    click.echo(f"  attempt {result.attempts} failed: {first}", err=True)

    def warn(self, text: str) -> None:
        """Show a warning now (above the live table on a terminal)."""
        with self.lock:
            if self._live is not None:
                self._live.console.print(f"warning: {text}", markup=False, highlight=False)
            else:
                click.echo(f"warning: {text}", err=True)

    def summary(self, result: RunResult, final_steps: tuple[str, ...] = ()) -> None:
        """The table on stderr; the run folder and the final steps' outputs on stdout (what a
        script or a person wants next: where the results are)."""
        for step, res in result.steps.items():
            took = f"{res.finished - res.started:.1f}s" if res.started and res.finished else "-"
            click.echo(f"{step:<24} {res.status:<10} attempts={res.attempts} {took}", err=True)
            if res.attempts > 1:
                kept = Path(res.log_dir).parent / "_attempts"
                click.echo(f"  earlier attempts: {kept}", err=True)
            if res.status == "failed" and res.error:
                click.echo(f"  {res.error}".replace("\n", "\n  "), err=True)
        state = {"succeeded": "succeeded", "failed": "FAILED"}.get(
            result.state, f"INTERRUPTED by {result.signal}"
        )
        click.echo(f"run {result.run_id} {state}: {result.run_dir}")
        for step in final_steps:
            # a final step inside a loop has one result per iteration: "<step>/<index>"
            keys = (
                [step]
                if step in result.steps
                else [k for k in result.steps if k.startswith(f"{step}/")]
            )
            for key in keys:
                res = result.steps[key]
                if res.status not in ("succeeded", "cached"):
                    continue
                for name, folder in sorted(res.outputs.items()):
                    page = Path(folder) / "index.html"
                    shown = page if page.is_file() else Path(folder)
                    click.echo(f"  {key}.{name}: {shown}")
