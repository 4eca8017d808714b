"""Capacity scheduling for local runs: what the machine has, what a step needs, what is free.

Every number is checked before the first step starts (PC204): a NaN, infinite, zero or negative
CPU or memory figure, on a step or on the machine (``--cpus``, ``--memory``), would make "does it
fit?" false forever and the run would wait without end. Steps larger than the machine are
named in a warning before anything starts (they run alone).
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipecast.dsl.spec import StepSpec
from pipecast.errors import RunError

__all__ = ["Capacity", "Scheduler", "capacity_warnings", "check_numbers"]

Need = tuple[float, int, int]


@dataclass(frozen=True)
class Capacity:
    """What the local runner schedules against: CPU cores, memory bytes, GPUs."""

    cpu: float
    memory: int
    gpu: int

    @classmethod
    def detect(cls) -> Capacity:
        cpu = float(os.cpu_count() or 1)
        try:
            memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory = 8 * 1024**3
        gpu = 0
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=5)
            gpu = sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
        except (OSError, subprocess.SubprocessError):
            pass
        return cls(cpu, memory, gpu)


def _bad(value: object, *, positive: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return True
    if not math.isfinite(value):
        return True
    return value <= 0 if positive else value < 0


def check_numbers(capacity: Capacity, steps: Iterable[StepSpec]) -> None:
    """Refuse (PC204) any resource figure that cannot be scheduled, before anything runs."""
    problems = [
        f"--{flag} is {value!r}; it must be a finite number {'> 0' if positive else '>= 0'}"
        for flag, value, positive in (
            ("cpus", capacity.cpu, True),
            ("memory", capacity.memory, True),
            ("gpus", capacity.gpu, False),
        )
        if _bad(value, positive=positive)
    ]
    if problems:
        raise RunError("PC204", "; ".join(problems), hint="e.g. --cpus 4 --memory 16GiB --gpus 0")
    for step in steps:
        r = step.resources
        if r is None:
            continue
        for field_, value, positive in (
            ("cpu", r.cpu, True),
            ("memory", r.memory_bytes, True),
            ("gpu", r.gpu, False),
        ):
            if _bad(value, positive=positive):
                raise RunError(
                    "PC204",
                    f"step '{step.id}' asks for Resources.{field_}={value!r}; it must be a finite "
                    f"number {'> 0' if positive else '>= 0'}",
                    hint="e.g. Resources(cpu=2, memory='4GiB')",
                    location=step.location,
                    step=step.id,
                )


class Scheduler:
    """Free capacity, taken and given back by steps under one condition variable."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.free = [capacity.cpu, capacity.memory, capacity.gpu]
        self.lock = threading.Condition()

    def need(self, step: StepSpec) -> Need:
        """What the step takes while it runs: one machine's share of its declared resources
        (capped at the machine), times the workers of a scaled-out step that run at once."""
        r = step.resources
        want = (r.cpu, r.memory_bytes, r.gpu) if r else (1.0, 2 * 1024**3, 0)
        one = (
            min(want[0], self.capacity.cpu),
            min(want[1], self.capacity.memory),
            min(want[2], self.capacity.gpu),
        )
        k = self.workers_at_once(step, one)
        return (one[0] * k, one[1] * k, one[2] * k)

    def workers_at_once(self, step: StepSpec, one: Need | None = None) -> int:
        """How many of a scaled-out step's workers fit in the machine side by side (at least
        one, at most ``step.instances``): the rest wait for a worker to finish."""
        count = step.instances if isinstance(step.instances, int) and step.instances > 1 else 1
        if count == 1:
            return 1
        if one is None:
            one = self.need(replace(step, instances=1))
        capacity = (self.capacity.cpu, self.capacity.memory, self.capacity.gpu)
        fits = [int(have // want) for have, want in zip(capacity, one, strict=True) if want > 0]
        return max(1, min([count, *fits]))

    def oversized(self, step: StepSpec) -> bool:
        r = step.resources
        return r is not None and (
            r.cpu > self.capacity.cpu
            or r.memory_bytes > self.capacity.memory
            or r.gpu > self.capacity.gpu
        )

    def try_acquire(self, need: Need) -> bool:
        if all(self.free[i] >= need[i] for i in range(3)):
            for i in range(3):
                self.free[i] -= need[i]
            return True
        return False

    def release(self, need: Need) -> None:
        for i in range(3):
            self.free[i] += need[i]


def capacity_warnings(scheduler: Scheduler, steps: Iterable[StepSpec]) -> list[str]:
    """One warning per step that asks for more than the machine has (it will run alone)."""
    cap = scheduler.capacity
    return [
        f"step '{s.id}' asks for more than this machine has ({_figures(s)}; capacity "
        f"{cap.cpu:g} CPU, {cap.memory / 1024**3:.1f} GiB, {cap.gpu} GPU); it will run alone"
        for s in steps
        if scheduler.oversized(s)
    ]


def _figures(step: StepSpec) -> str:
    r = step.resources
    assert r is not None
    return f"{r.cpu:g} CPU, {r.memory_bytes / 1024**3:.1f} GiB, {r.gpu} GPU"
