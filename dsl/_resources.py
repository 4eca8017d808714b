"""``Resources``, ``Spot`` and ``Retry``: step settings as users write them.

They accept human units (``memory="16GiB"``, ``max_wait="2h"``) and check them where the user
wrote them; :meth:`to_spec` turns each into the plain-number form the IR carries
(:mod:`pipecast.dsl.spec`), so nothing downstream sees these classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._collect import collecting
from .spec import ResourceSpec, RetrySpec, SpotSpec
from .units import _fail, parse_duration, parse_memory

__all__ = ["Resources", "Retry", "Spot"]


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
        with collecting(self):  # inside a pipeline function: reported, and the step ignores it
            self._check()

    def _check(self) -> None:
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

    def to_spec(self) -> ResourceSpec:
        """The IR's plain-number form."""
        return ResourceSpec(self.cpu, self.memory_bytes, self.gpu, self.gpu_type, self.disk_bytes)


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
        with collecting(self):
            self._check()

    def _check(self) -> None:
        object.__setattr__(self, "max_wait", parse_duration(self.max_wait, "Spot.max_wait"))
        if not isinstance(self.checkpoints, bool):
            raise _fail(
                f"Spot.checkpoints must be True or False, got {self.checkpoints!r}",
                "e.g. Spot(max_wait='2h', checkpoints=True)",
            )

    @property
    def max_wait_seconds(self) -> int:
        return int(self.max_wait)

    def to_spec(self) -> SpotSpec:
        """The IR's plain-number form."""
        return SpotSpec(self.max_wait_seconds, self.checkpoints)


@dataclass(frozen=True)
class Retry:
    """Retry a failed step up to ``max_attempts`` times in total, with exponential backoff."""

    max_attempts: int = 3
    backoff: str | int | float = "30s"
    backoff_rate: float = 2.0

    def __post_init__(self) -> None:
        with collecting(self):
            self._check()

    def _check(self) -> None:
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

    def to_spec(self) -> RetrySpec:
        """The IR's plain-number form."""
        return RetrySpec(self.max_attempts, self.backoff_seconds, self.backoff_rate)
