"""What a local run remembers: the ``run.json`` journal, content digests and step cache keys.

Why: a run can be killed at any moment, and ``--resume`` must reuse exactly the steps whose
result would not change. So ``run.json`` is rewritten atomically (whole old file or whole new
file, never a part) after every step that ends, and each finished step records its *cache key*:
a digest of its component (spec and image), its step settings, its resolved parameter values, the
content digests of its inputs and the keys of the steps before it. A step is reused only when
the key it would have now equals the recorded one and its outputs on disk still have the digests
recorded when it succeeded.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipecast.compilers.canonical import atomic_write, dumps_json
from pipecast.errors import RunError

__all__ = ["Journal", "cache_key", "digest_folder", "known_runs", "read_journal"]

_CHUNK = 1 << 20


def digest_folder(folder: Path) -> str:
    """sha256 of a folder's content: every relative path, file byte and symlink target, in
    sorted order (names and bytes only; timestamps and permissions do not count)."""
    h = hashlib.sha256()
    if not folder.exists():
        return "missing"
    if folder.is_file():
        folder, names = folder.parent, [folder.name]
    else:
        names = []
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            dirnames.sort()
            rel = Path(dirpath).relative_to(folder)
            names += [(rel / n).as_posix() for n in dirnames + filenames]
        names.sort()
    for name in names:
        path = folder / name
        if path.is_symlink():
            h.update(b"L" + name.encode("utf-8", "surrogateescape") + b"\0")
            h.update(os.readlink(path).encode("utf-8", "surrogateescape") + b"\0")
        elif path.is_dir():
            h.update(b"D" + name.encode("utf-8", "surrogateescape") + b"\0")
        elif path.is_file():
            h.update(b"F" + name.encode("utf-8", "surrogateescape") + b"\0")
            with open(path, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    h.update(chunk)
            h.update(b"\0")
    return h.hexdigest()


def cache_key(material: Mapping[str, Any]) -> str:
    """sha256 of ``material`` as canonical JSON (sorted keys): the same inputs, the same key."""
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_journal(run_dir: Path) -> dict[str, Any]:
    """The recorded ``run.json`` of ``run_dir`` ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def known_runs(pipeline_dir: Path) -> tuple[str, ...]:
    """Ids of the runs under ``pipeline_dir`` that have a journal, newest name last."""
    if not pipeline_dir.is_dir():
        return ()
    return tuple(sorted(p.name for p in pipeline_dir.iterdir() if (p / "run.json").is_file()))


def unknown_run(run_id: str, pipeline: str, pipeline_dir: Path) -> RunError:
    """PC203: ``--resume`` of a run that does not exist, listing the ones that do."""
    known = known_runs(pipeline_dir)
    listed = ", ".join(known[-20:]) if known else "none yet"
    return RunError(
        "PC203",
        f"no run '{run_id}' of pipeline '{pipeline}' under {pipeline_dir}; known runs: {listed}",
        hint="pass one of the known ids (and the same --workdir), or drop --resume to start a "
        "new run",
    )


class Journal:
    """``run.json``, rewritten atomically whenever :meth:`write` is called (thread-safe)."""

    def __init__(self, path: Path, header: Mapping[str, Any]) -> None:
        self.path = path
        self.header = dict(header)
        self.lock = threading.Lock()

    def write(self, state: str, steps: Mapping[str, Any], **extra: Any) -> None:
        """Record the run's ``state`` and every step's result as they are now."""
        with self.lock:
            body = {
                **self.header,
                **extra,
                "state": state,
                "succeeded": state == "succeeded",
                "steps": {k: v.to_dict() for k, v in steps.items()},
            }
            try:
                text = dumps_json(body)
            except ValueError:  # a float parameter given as nan/inf: JSON has no spelling
                text = json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
            atomic_write(self.path, text)
