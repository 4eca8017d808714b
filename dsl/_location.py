"""Find the user's file:line from inside the DSL, so errors point at their code, not ours."""

from __future__ import annotations

import os
import sys

from pipecast.errors import SourceLocation

_OWN_DIRS = tuple(
    os.path.dirname(os.path.abspath(p)) + os.sep
    for p in (__file__, sys.modules["pipecast.errors"].__file__ or "")
)


def user_location(skip_frames: int = 1) -> SourceLocation | None:
    """Return the first stack frame outside pipecast's DSL and tool packages."""
    frame = sys._getframe(skip_frames)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        synthetic = frame.f_code.co_filename.startswith("<")  # dataclass __init__, exec
        if not filename.startswith(_OWN_DIRS) and not synthetic:
            return SourceLocation(display_path(filename), frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


def display_path(path: str) -> str:
    """A path relative to the working directory when below it (shorter, stable in CI logs)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel
