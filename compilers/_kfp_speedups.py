"""Two of kfp's slow paths, made cheap while the ``kubeflow`` target runs kfp's compiler.

kfp spends most of a large compile in two places that do not shape its output:

- every ``PipelineTask.set_cpu_request``/``set_memory_limit``/... calls ``inspect.stack()`` only
  to name itself in an error raised for non-container tasks (pipecast sets resources on container
  tasks only). The real ``stack()`` opens the source file of every frame: about 70 % of compiling
  a 1,000-step pipeline. The stand-in (:class:`CheapInspect`) returns the same frames, names and
  line numbers, without the source-line context, which kfp never reads;
- the compiler sanitizes every task name once per other task (O(N²) regex calls, about half of
  what is left at 1,000 steps). ``maybe_rename_for_k8s`` is a pure function of its string
  argument, so memoising it cannot change a result.

Why this is safe: neither stand-in changes a value kfp writes (the test suite compiles every
example with and without them and compares the bytes), they are installed only for the duration
of one compile, under a lock so two compiles in one process do not interleave, and the originals
are put back in a ``finally`` even when kfp raises. They are applied only to the kfp versions the
tests cover (:data:`TESTED_KFP`, the ``kubeflow`` extra's pin); any other version runs at kfp's own
speed. ``PIPECAST_KFP_SPEEDUPS=0`` turns them off (to rule them out when reporting a kfp bug).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, NamedTuple

__all__ = ["SWITCH", "TESTED_KFP", "CheapInspect", "active", "kfp_speedups"]

TESTED_KFP = ((2, 14), (2, 18))  # kfp versions from the first to before the second
SWITCH = "PIPECAST_KFP_SPEEDUPS"  # "0" (or "false", "no", "off") turns the stand-ins off


class _Frame(NamedTuple):
    frame: Any
    filename: str
    lineno: int
    function: str
    code_context: None
    context_index: None  # inspect.FrameInfo's ``index``; a tuple's own .index() takes that name


class CheapInspect:
    """``inspect`` for kfp's task setters, with a ``stack()`` that reads no source files."""

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list[_Frame]:
        frames: list[_Frame] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            code = frame.f_code
            frames.append(_Frame(frame, code.co_filename, frame.f_lineno, code.co_name, None, None))
            frame = frame.f_back
        return frames


_LOCK = threading.Lock()


def active(kfp_version: str) -> bool:
    """Whether the stand-ins apply: a tested kfp version and the switch not turned off."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        version = tuple(int(part) for part in kfp_version.split(".")[:2])
    except ValueError:
        return False
    low, high = TESTED_KFP
    return low <= version < high


@contextlib.contextmanager
def swap(module_name: str, attribute: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """Replace ``module.attribute`` with ``make(original)`` for the duration, if both exist."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:  # moved in this kfp: run at kfp's own speed
        yield
        return
    original = getattr(module, attribute, None)
    if original is None:
        yield
        return
    setattr(module, attribute, make(original))
    try:
        yield
    finally:
        setattr(module, attribute, original)


@contextlib.contextmanager
def kfp_speedups(kfp_version: str) -> Iterator[bool]:
    """Install both stand-ins while the block runs (yields whether they are installed)."""
    if not active(kfp_version):
        yield False
        return
    with _LOCK, contextlib.ExitStack() as stack:
        stack.enter_context(
            swap(
                "kfp.dsl.pipeline_task",
                "inspect",
                lambda real: CheapInspect() if real is inspect else real,
            )
        )
        stack.enter_context(
            swap(
                "kfp.dsl.utils",
                "maybe_rename_for_k8s",
                lambda real: functools.lru_cache(None)(real),
            )
        )
        yield True
