"""Steps that run inside pipecast's own process: fakes, and ``@dsl.component`` functions under
``--isolation inprocess`` without a timeout; plus reading a failed attempt's stderr.

In-process code cannot be killed, so a timeout is enforced by calling it in a thread and
abandoning the thread when the time is up (the step fails with exit code 124). A real Python
component with a timeout never comes here: it runs in a subprocess (``_engine``).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["call_in_process", "failure_text"]


def call_in_process(
    func: Callable[..., Any],
    text: dict[str, str],
    uris: dict[str, str],
    comp: Any,
    log_dir: Path,
    timeout: int | None,
) -> int:
    """Call a fake or an in-process component; with a timeout, in a thread that is abandoned
    (it cannot be killed) when the time is up: the step fails with exit code 124."""
    from pipecast.runtime import call_component

    outcome: list[int] = []

    def target() -> None:
        try:
            call_component(func, text, uris, interface=comp)
            outcome.append(0)
        except Exception:
            (log_dir / "stderr.txt").write_text(traceback.format_exc(), encoding="utf-8")
            outcome.append(1)

    if timeout is None:
        target()
        return outcome[0]
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        with open(log_dir / "stderr.txt", "a", encoding="utf-8") as err:
            err.write(f"\ntimed out after {timeout}s (in-process code goes on in its thread)\n")
        return 124
    return outcome[0]


def failure_text(code: int, log_dir: Path) -> str:
    """What a failed attempt reports: its exit code and the end of its stderr."""
    tail = _tail(log_dir / "stderr.txt")
    return f"exit code {code}" + (f"; stderr ends with:\n{tail}" if tail else "")


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
