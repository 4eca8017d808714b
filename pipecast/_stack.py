"""Run a computation that recurses once per level of the user's graph on a deep enough stack.

Series-parallel layouts, the documents built from them and the JSON they are written as are
trees as deep as the pipeline's nesting (a fan-out nested 130 levels deep is 500+ levels of
ASL). Python's default limits (1,000 frames, an 8 MiB main-thread stack) would turn such a
pipeline into a RecursionError. Ordinary pipelines run on the caller's stack as before; only
when that overflows (or the caller expects it to) is the same pure computation run on a thread
with a 512 MiB stack (reserved, not used: pages are touched only as deep as the recursion goes)
and a recursion limit to match, so depth is bounded by memory, not by an interpreter default.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["call_deep"]

T = TypeVar("T")
_STACK_BYTES = 512 * 1024 * 1024
_RECURSION_LIMIT = 200_000
_LOCK = threading.Lock()


def call_deep(fn: Callable[[], T], *, eager: bool = False) -> T:
    """``fn()``, retried on a deep stack if it overflows the normal one (``fn`` must be pure);
    with ``eager`` (a large input, likely to overflow), on the deep stack at once."""
    if not eager:
        try:
            return fn()
        except RecursionError:
            pass
    result: list[T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the caller's thread below
            error.append(exc)

    with _LOCK:
        old_limit, old_size = sys.getrecursionlimit(), threading.stack_size()
        sys.setrecursionlimit(max(old_limit, _RECURSION_LIMIT))
        try:
            threading.stack_size(_STACK_BYTES)
            worker = threading.Thread(target=run, name="pipecast-deep-stack")
            worker.start()
        finally:
            threading.stack_size(old_size)
        worker.join()
        sys.setrecursionlimit(old_limit)
    if error:
        raise error[0]
    return result[0]
