"""pipecast: write an inference pipeline once, compile it to SageMaker Pipelines, AWS Step
Functions and Kubeflow Pipelines, and run or unit-test it offline.

This module stays import-light (the CLI's start-up time depends on it): the DSL lives in
``pipecast.dsl``, targets in ``pipecast.compilers``.
"""

from __future__ import annotations

import typing as _typing

from pipecast.errors import PipecastError

if _typing.TYPE_CHECKING:
    from pipecast._api import compile

__all__ = ["PipecastError", "__version__", "compile"]

__version__ = "0.1.0"


def __getattr__(name: str) -> _typing.Any:
    if name == "compile":
        from pipecast._api import compile

        return compile
    raise AttributeError(f"module 'pipecast' has no attribute {name!r}")
