"""Starting a local run: the run folder and journal, resume, signals, and the choice of runner
(the classic :class:`Runner`, or the :class:`FlowRunner` for control flow and output values).

Kept apart from ``_engine`` so that the flow runner can build on the engine without a circle.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pipecast.compilers.graph import CheckedPipeline

from ._engine import Runner
from ._flow import FlowRunner, needs_flow_runner
from ._journal import Journal, known_runs, read_journal, unknown_run
from ._paths import safe_id
from ._results import RunResult, StepResult, new_run_id
from ._schedule import check_numbers

__all__ = ["run_pipeline"]


@contextlib.contextmanager
def _stop_on_signals(runner: Runner) -> Iterator[None]:
    """SIGINT/SIGTERM stop the run instead of killing pipecast (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if runner.stop_signal is None:
            runner.stop_signal = signum
        elif runner.stop.is_set():  # asked twice: do not wait for the grace period
            runner.processes.hurry.set()
        runner.stop.set()
        if not runner.started:
            raise KeyboardInterrupt  # still bringing inputs in: stop the copy now

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def run_pipeline(
    checked: CheckedPipeline,
    params: Mapping[str, Any],
    workdir: Path,
    *,
    run_id: str | None = None,
    resume: bool = False,
    handle_signals: bool = False,
    **options: Any,
) -> RunResult:
    """Run ``checked`` with ``params`` under ``workdir``; returns the per-step results.

    With ``resume``, ``run_id`` names an earlier run (PC203 if there is none) and a step is
    reused when its cache key matches the recorded one. With ``handle_signals`` (the CLI),
    SIGINT/SIGTERM stop the steps and the result's ``state`` is ``interrupted``.
    """
    name = checked.spec.name
    pipeline_dir = workdir / safe_id(name, what="pipeline name")
    previous: dict[str, StepResult] = {}
    if resume:
        if run_id is None:
            raise unknown_run("", name, pipeline_dir)
        safe_id(run_id, what="--resume run id", known=known_runs(pipeline_dir))
        recorded = read_journal(pipeline_dir / run_id)
        if not recorded:
            raise unknown_run(run_id, name, pipeline_dir)
        previous = {k: StepResult.from_dict(v) for k, v in dict(recorded.get("steps", {})).items()}
    run_id = safe_id(run_id or new_run_id(), what="run id")
    run_dir = pipeline_dir / run_id
    engine = options.get("engine")
    journal = Journal(
        run_dir / "run.json",
        {
            "pipeline": name,
            "run_id": run_id,
            "parameters": dict(params),
            "engine": engine.name if engine else "process",
        },
    )
    cls = FlowRunner if needs_flow_runner(checked) else Runner
    runner = cls(checked, params, run_dir, previous=previous, journal=journal, **options)
    check_numbers(runner.scheduler.capacity, checked.spec.steps)  # before any folder is made
    run_dir.mkdir(parents=True, exist_ok=True)
    with _stop_on_signals(runner) if handle_signals else contextlib.nullcontext():
        runner.run()
    state = runner.state()
    journal.write(state, runner.results, **runner._extra())
    return RunResult(
        name,
        run_id,
        run_dir,
        runner.results,
        runner.warnings,
        state=state,
        signal=runner._extra()["signal"],
        branches=dict(runner._extra().get("branches", {})),
    )
