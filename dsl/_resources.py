"""Resources, spot and retry settings, and the human units they are written in.

Memory and disk are written as ``"16GiB"``/``"512MiB"`` (binary units; ``GB``/``MB`` are decimal;
a bare number is refused: ``memory=16`` almost always means 16 GiB, and ``"4096B"`` says bytes)
and durations as ``"90s"``, ``"30m"``, ``"2h"``, ``"1d"`` or a number of seconds. Both are
normalised to integers (bytes, seconds) so the IR never carries ambiguous strings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pipecast.errors import DefinitionError

from ._location import user_location

__all__ = ["Resources", "Retry", "Spot", "format_bytes", "parse_duration", "parse_memory"]

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


def format_bytes(size: int) -> str:
    """The shortest exact binary-unit spelling of a byte count (``17179869184`` → ``16GiB``)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


@dataclass(frozen=True)
class Resources:
    """What one step needs: vCPUs, memory, GPUs (count and optional model) and scratch disk.

    Targets turn this into their own terms: the cheapest satisfying ``ml.*`` instance on AWS,
    requests/limits and accelerators on Kubeflow, a scheduling budget in the local runner.
    """

    cpu: float = 1
    memory: str | int = "2GiB"
    gpu: int = 0
    gpu_type: str | None = None
    disk: str | int | None = None

    def __post_init__(self) -> None:
        cpu = self.cpu
        if isinstance(cpu, bool) or not isinstance(cpu, (int, float)) or not 0 < cpu < math.inf:
            raise _fail(
                f"Resources.cpu must be a positive number, got {self.cpu!r}",
                "e.g. Resources(cpu=4, memory='16GiB')",
            )
        if isinstance(self.gpu, bool) or not isinstance(self.gpu, int) or self.gpu < 0:
            raise _fail(
                f"Resources.gpu must be a whole number >= 0, got {self.gpu!r}",
                "e.g. Resources(cpu=4, memory='16GiB', gpu=1)",
            )
        if self.gpu_type is not None and (not isinstance(self.gpu_type, str) or not self.gpu_type):
            raise _fail(
                f"Resources.gpu_type must be a GPU model name, got {self.gpu_type!r}",
                "e.g. gpu_type='A10G' (SageMaker) or 'nvidia.com/gpu' (Kubeflow)",
            )
        if self.gpu_type is not None and self.gpu == 0:
            raise _fail("Resources.gpu_type is set but gpu=0", "set gpu=1 (or more) as well")
        object.__setattr__(self, "memory", parse_memory(self.memory, "Resources.memory"))
        if self.disk is not None:
            object.__setattr__(self, "disk", parse_memory(self.disk, "Resources.disk"))

    @property
    def memory_bytes(self) -> int:
        return int(self.memory)

    @property
    def disk_bytes(self) -> int | None:
        return None if self.disk is None else int(self.disk)


@dataclass(frozen=True)
class Spot:
    """Run on spot capacity, waiting at most ``max_wait`` in total (queueing plus running).

    ``checkpoints=True`` gives the job a checkpoint folder (``/opt/ml/checkpoints`` on SageMaker,
    synced to ``{run}/{step}/_checkpoints/``) so an interrupted job resumes where it stopped.
    Off by default: the folder is run-scoped, and SageMaker hashes ``CheckpointConfig`` into a
    step's cache key, so a cached step with checkpoints never hits (a compile warning says so).
    """

    max_wait: str | int = "2h"
    checkpoints: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_wait", parse_duration(self.max_wait, "Spot.max_wait"))
        if not isinstance(self.checkpoints, bool):
            raise _fail(
                f"Spot.checkpoints must be True or False, got {self.checkpoints!r}",
                "e.g. Spot(max_wait='2h', checkpoints=True)",
            )

    @property
    def max_wait_seconds(self) -> int:
        return int(self.max_wait)


@dataclass(frozen=True)
class Retry:
    """Retry a failed step up to ``max_attempts`` times in total, with exponential backoff."""

    max_attempts: int = 3
    backoff: str | int | float = "30s"
    backoff_rate: float = 2.0

    def __post_init__(self) -> None:
        n = self.max_attempts
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
            raise _fail(
                f"Retry.max_attempts must be a whole number from 1 to 20, got {n!r}",
                "e.g. Retry(max_attempts=3)",
            )
        rate = self.backoff_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 1 <= rate <= 10:
            raise _fail(
                f"Retry.backoff_rate must be from 1 to 10, got {rate!r}",
                "e.g. Retry(max_attempts=3, backoff='30s', backoff_rate=2)",
            )
        object.__setattr__(self, "backoff", parse_duration(self.backoff, "Retry.backoff"))
        object.__setattr__(self, "backoff_rate", float(rate))

    @property
    def backoff_seconds(self) -> int:
        return int(self.backoff)
