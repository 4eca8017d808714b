"""The human units sizes and durations are written in, parsed into plain integers.

Memory and disk are written as ``"16GiB"``/``"512MiB"`` (binary units; ``GB``/``MB`` are decimal;
a bare number is refused: ``memory=16`` almost always means 16 GiB, and ``"4096B"`` says bytes)
and durations as ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or a number of seconds. Both are
normalised to integers (bytes, seconds) so the IR never carries ambiguous strings. Public because
the command line reads the same units (``pipecast run --memory 8GiB``).
"""

from __future__ import annotations

import math
import re

from pipecast.errors import DefinitionError

from ._location import user_location
from .spec import format_bytes

__all__ = ["format_bytes", "parse_duration", "parse_memory"]

_MEMORY_UNITS = {
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ki": 1024,
    "kib": 1024,
    "mi": 1024**2,
    "mib": 1024**2,
    "gi": 1024**3,
    "gib": 1024**3,
    "ti": 1024**4,
    "tib": 1024**4,
}
_MEMORY_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def _fail(message: str, hint: str) -> DefinitionError:
    return DefinitionError(message, code="PC101", location=user_location(2), hint=hint)


def parse_memory(value: str | int, what: str = "memory") -> int:
    """Parse ``"16GiB"`` into bytes; a number without a unit is an error with a hint."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail(
            f"{what} must be a size string like '16GiB', got {value!r}",
            "write sizes as '512MiB', '16GiB' or '1.5TiB'",
        )
    match = _MEMORY_RE.fullmatch(str(value))
    if match and not match.group(2):
        # a bare number is almost always a unit left out (memory=16 meaning 16 GiB): say so
        raise _fail(
            f"{what} {value!r} has no unit",
            f"write '{match.group(1)}GiB' or '{match.group(1)}MiB' ('{match.group(1)}B' for bytes)",
        )
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        raise _fail(
            f"{what} {value!r} is not a size",
            "write sizes as '512MiB', '16GiB' or '1.5TiB' (GB/MB are decimal)",
        )
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _MEMORY_UNITS[unit])
    if size <= 0:
        raise _fail(f"{what} must be positive, got {value!r}", "give a size such as '1GiB'")
    return size


def parse_duration(value: str | int | float, what: str = "duration") -> int:
    """Parse ``"2h"``/``"30m"``/``"90s"`` (or seconds) into whole seconds, rounding up."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(
            f"{what} must be a string like '30m' or seconds, got {value!r}",
            "write durations as '90s', '30m', '2h', '1d' or a number of seconds",
        )
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if not match:
            raise _fail(
                f"{what} {value!r} is not a duration",
                "write durations as '90s', '30m', '2h', '1d' or a number of seconds",
            )
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise _fail(f"{what} must be positive, got {value!r}", "give a duration such as '30m'")
    return math.ceil(seconds)
