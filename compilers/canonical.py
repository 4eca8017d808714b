"""The one serializer: key order, indentation, trailing newline and atomic writes.

Every document pipecast writes goes through here, so that the same input gives the same bytes on
every machine and Python version (DESIGN §10): keys sorted, 2-space indent, ``\\n`` line endings,
one trailing newline, non-ASCII kept as UTF-8, floats in Python's shortest round-trip form.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "dumps_json", "dumps_json_compact"]


def dumps_json(document: Any) -> str:
    """Canonical, human-diffable JSON text."""
    return (
        json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )


def dumps_json_compact(document: Any) -> str:
    """Canonical JSON without whitespace, for documents that must stay under a size limit."""
    return (
        json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        + "\n"
    )


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` so that readers see the old file or the whole new one, never a part.

    The text goes to a temporary file in the same directory, is flushed to disk, then renamed
    over the destination (``os.replace`` is atomic on POSIX and Windows).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
