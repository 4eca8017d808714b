"""Step processes of a local run: started in their own process group, stopped as a group.

Why: each step starts in a new session, so a Ctrl-C in the terminal reaches pipecast only;
without this module the steps would keep running (and writing outputs) after pipecast exited.
:class:`Processes` knows every live step process; :meth:`Processes.stop_all` sends SIGTERM to
each step's process group, gives them ``grace`` seconds, then SIGKILLs what is left and calls
each step's ``on_stop`` (which removes its container, when it runs in an engine). Once stopping
has begun no new step process starts; a second interrupt (:attr:`Processes.hurry`) ends the
grace period at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

__all__ = ["DEFAULT_GRACE", "Processes"]

DEFAULT_GRACE = 10.0  # seconds between SIGTERM and SIGKILL; PIPECAST_STOP_GRACE overrides


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Live:
    proc: subprocess.Popen[bytes]
    on_stop: Callable[[], None] | None


class Processes:
    """The step processes alive now (one per running step attempt)."""

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self.lock = threading.Lock()
        self.live: dict[str, _Live] = {}
        self.stopping = False
        self.hurry = threading.Event()  # a second interrupt: no more grace

    def start(
        self,
        key: str,
        argv: list[str],
        *,
        stdout: IO[bytes],
        stderr: IO[bytes],
        env: dict[str, str],
        cwd: Path,
        on_stop: Callable[[], None] | None = None,
    ) -> subprocess.Popen[bytes] | None:
        """Start ``argv`` in a new session, or return None when the run is stopping."""
        with self.lock:
            if self.stopping:
                return None
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
            self.live[key] = _Live(proc, on_stop)
        return proc

    def finished(self, key: str) -> None:
        """Forget ``key``'s process (it has been waited for)."""
        with self.lock:
            self.live.pop(key, None)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL ``proc``'s whole process group and wait for it (a timed-out step)."""
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> int:
        """SIGTERM every live step's group, SIGKILL after the grace period; returns how many
        groups had to be killed. No step process starts after this is called."""
        with self.lock:
            self.stopping = True
            live = list(self.live.values())
        for item in live:
            _signal_group(item.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while (
            time.monotonic() < deadline
            and not self.hurry.is_set()
            and any(_group_alive(i.proc.pid) for i in live)
        ):
            time.sleep(0.05)
        killed = 0
        for item in live:
            if _group_alive(item.proc.pid):
                _signal_group(item.proc.pid, signal.SIGKILL)
                killed += 1
            if item.on_stop is not None:
                item.on_stop()
        for item in live:  # reap, so no zombie keeps the group id alive
            with contextlib.suppress(subprocess.TimeoutExpired):
                item.proc.wait(timeout=5)
        return killed
