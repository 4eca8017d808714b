"""The one serializer: key order, indentation, trailing newline and atomic writes.

Every document pipecast writes goes through here, so that the same input gives the same bytes on
every machine and Python version (DESIGN §10): keys sorted, 2-space indent, ``\\n`` line endings,
one trailing newline, non-ASCII kept as UTF-8, floats in Python's shortest round-trip form.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "dumps_json", "dumps_json_compact"]


def dumps_json(document: Any) -> str:
    """Canonical, human-diffable JSON text.

    Exactly ``json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False,
    allow_nan=False)`` plus a newline (tested on random documents), about 2.5× faster: with an
    indent the standard library falls back to its generator-based pure-Python encoder, which was
    most of the time a large SageMaker compile took. Anything but plain JSON types (a str or int
    subclass, a non-string key) takes the standard library's path.
    """
    try:
        return _Indented().dumps(document)
    except _NotPlain:
        return (
            json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
            + "\n"
        )


class _NotPlain(Exception):
    """A value the fast encoder leaves to the standard library."""


class _Indented:
    """The fast path of :func:`dumps_json`: one recursive pass appending to a list."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.indents = ["\n"]

    def dumps(self, document: Any) -> str:
        self._value(document, 0)
        return "".join(self.parts) + "\n"

    def _indent(self, level: int) -> str:
        while len(self.indents) <= level:
            self.indents.append(self.indents[-1] + "  ")
        return self.indents[level]

    def _value(self, o: Any, level: int) -> None:
        kind, append = type(o), self.parts.append
        if kind is str:
            append(encode_basestring(o))
        elif kind is dict:
            self._dict(o, level)
        elif kind is list or kind is tuple:
            self._list(o, level)
        elif o is True or o is False or o is None:
            append("true" if o is True else "false" if o is False else "null")
        elif kind is int:
            append(int.__repr__(o))
        elif kind is float:
            if o != o or o in (math.inf, -math.inf):
                raise ValueError(f"Out of range float values are not JSON compliant: {o!r}")
            append(float.__repr__(o))
        else:
            raise _NotPlain

    def _dict(self, o: dict[Any, Any], level: int) -> None:
        if not o:
            self.parts.append("{}")
            return
        if any(type(k) is not str for k in o):
            raise _NotPlain
        inner, opener = self._indent(level + 1), "{"
        for key in sorted(o):
            self.parts.append(opener + inner + encode_basestring(key) + ": ")
            opener = ","
            self._value(o[key], level + 1)
        self.parts.append(self._indent(level) + "}")

    def _list(self, o: list[Any] | tuple[Any, ...], level: int) -> None:
        if not o:
            self.parts.append("[]")
            return
        inner, opener = self._indent(level + 1), "["
        for item in o:
            self.parts.append(opener + inner)
            opener = ","
            self._value(item, level + 1)
        self.parts.append(self._indent(level) + "]")


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
