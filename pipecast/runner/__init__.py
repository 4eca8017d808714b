"""Run pipelines on this machine (``pipecast run --local``) and in unit tests (fakes).

Imports are lazy so that ``pipecast --help`` (which lists the ``run`` command) stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Capacity", "RunResult", "StepResult", "run_pipeline"]


def __getattr__(name: str) -> Any:
    if name == "run_pipeline":
        from ._start import run_pipeline

        return run_pipeline
    if name in __all__:
        from . import _engine

        return getattr(_engine, name)
    raise AttributeError(f"module 'pipecast.runner' has no attribute {name!r}")
