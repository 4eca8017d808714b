"""Mistakes in step settings that need not stop the pipeline function (issue #15 item 7).

Why: a bad duration or size (``.set_timeout("soon")``, ``Resources(memory="16")``) used to raise
at once, so one typo hid every other problem of the pipeline. Inside a running ``@dsl.pipeline``
function such a mistake is recorded as a diagnostic (with the user's file:line) and the setting
is left out, so the function runs on and the graph and target checks still see the rest. Outside
a pipeline function (a component decorator at import time) there is nothing to collect into, and
the mistake raises as before.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from pipecast.errors import DefinitionError, Diagnostic

__all__ = ["INVALID", "SINK", "collecting", "is_invalid"]

# attribute set on a Resources/Spot/Retry built with a mistake inside a pipeline function
INVALID = "_pipecast_invalid"

# where the running ``@dsl.pipeline`` function collects such mistakes (set by ``_pipeline``)
SINK: contextvars.ContextVar[Callable[[Diagnostic], None] | None] = contextvars.ContextVar(
    "pipecast_collect", default=None
)


def _record(exc: DefinitionError) -> bool:
    """Record ``exc`` in the pipeline being built; False when no pipeline is being built."""
    sink = SINK.get()
    if sink is None:
        return False
    sink(exc.diagnostic)
    return True


@contextlib.contextmanager
def collecting(value: object | None = None) -> Iterator[None]:
    """Run a setting's checks; inside a pipeline function, a DefinitionError they raise becomes
    a collected diagnostic (and ``value``, if given, is marked invalid so no step takes it)."""
    try:
        yield
    except DefinitionError as exc:
        if not _record(exc):
            raise
        if value is not None:
            object.__setattr__(value, INVALID, True)


def is_invalid(value: object) -> bool:
    """Whether ``value`` was built with a mistake already reported (see :func:`collecting`)."""
    return bool(getattr(value, INVALID, False))
