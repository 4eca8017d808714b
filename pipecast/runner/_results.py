"""What a local run reports: one :class:`StepResult` per step and the :class:`RunResult`.

These are what ``pipecast_run`` returns to a unit test and what ``run.json`` records (one
``StepResult.to_dict()`` per step), so their fields are public API (README, "The RunResult API").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["DONE", "RunResult", "StepResult", "new_run_id"]

DONE = ("succeeded", "cached")


@dataclass
class StepResult:
    """What one step did: status, attempts, timing, what it received and wrote.

    ``status`` is one of pending, running, succeeded, failed, skipped, cached (reused from the
    run being resumed) or interrupted (stopped by SIGINT/SIGTERM; it reruns on resume).
    """

    step: str
    status: str = "pending"
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    error: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    log_dir: str = ""
    max_attempts: int = 1
    note: str | None = None  # what is happening now, e.g. "attempt 2/3 after 30 s"
    cache_key: str | None = None
    digests: dict[str, str] = field(default_factory=dict)  # output name -> content digest

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepResult:
        """Rebuild from ``run.json`` (fields this version does not know are ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class RunResult:
    """What :func:`run_pipeline` (and the ``pipecast_run`` fixture) returns.

    ``steps`` maps step ids to :class:`StepResult`; ``result["step"]`` is a shortcut.
    ``state`` is succeeded, failed or interrupted; ``signal`` names the signal that stopped it.
    A step inside loops has one entry per iteration, ``<step>/<index>`` (:meth:`iterations`).
    """

    pipeline: str
    run_id: str
    run_dir: Path
    steps: dict[str, StepResult]
    warnings: list[str] = field(default_factory=list)
    state: str = "succeeded"
    signal: str | None = None
    # control flow: condition group (``<group>/<loop index>...``) -> whether its branch ran
    branches: dict[str, bool] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.state == "succeeded"

    def __getitem__(self, step: str) -> StepResult:
        return self.steps[step]

    def iterations(self, step: str) -> list[StepResult]:
        """The results of a step inside a loop, one per iteration (``<step>/<index>``), in
        iteration order."""
        found = [(k, r) for k, r in self.steps.items() if k.startswith(f"{step}/")]
        found.sort(key=lambda kr: [int(p) for p in kr[0].split("/")[1:]])
        return [r for _, r in found]


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{os.urandom(3).hex()}"
