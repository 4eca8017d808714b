"""Containment: every local path the runner derives from data stays inside its folder.

Why: a manifest entry, an S3 key, a run id or a name comes from whoever controls the input data
or the command line. Joined naively (``dest / key``), ``../../.bashrc`` or ``/etc/x`` writes
outside the run folder. Every such path goes through :func:`inside`, which refuses any name that
is not a plain relative path (no ``..``, no absolute path, no empty or ``.`` part, no backslash,
no NUL or other control character, no part longer than the file system allows) and then checks
that the resolved result (after any symlink already on disk) is still under the folder.

Refused, not encoded: an escaping name is almost always an attack or a bug in whoever wrote
the manifest, and an encoded file name would silently differ from the key the step expects.
"""

from __future__ import annotations

import re
from pathlib import Path

from pipecast.errors import RunError

__all__ = ["MAX_PART_BYTES", "inside", "path_problem", "safe_id"]

MAX_PART_BYTES = 255  # NAME_MAX on Linux and macOS
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def path_problem(name: str) -> str | None:
    """Why ``name`` is not a safe relative path (``a/b.txt``), or None when it is."""
    if not name:
        return "it is empty"
    if _CONTROL.search(name):
        return "it contains a NUL or control character"
    if "\\" in name:
        return "it contains a backslash"
    if name.startswith("/"):
        return "it is an absolute path"
    for part in name.split("/"):
        if part in ("", "."):
            return "it has an empty or '.' part"
        if part == "..":
            return "it has a '..' part"
        if len(part.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES:
            return f"a part is longer than {MAX_PART_BYTES} bytes"
    return None


def inside(folder: Path, name: str, *, what: str, source: str, hint: str | None = None) -> Path:
    """``folder / name``, refused with PC201 unless it is a safe relative path that resolves
    inside ``folder``.

    Args:
        folder: the folder the result must stay in (it need not exist yet).
        name: the data-derived relative path, ``/``-separated.
        what: what ``name`` is, for the message ("manifest entry", "S3 key", "run id").
        source: where ``name`` came from (the manifest's URI, the S3 prefix, the flag).
        hint: how to fix it, when the default one does not fit.
    """
    problem = path_problem(name)
    target = folder.joinpath(*name.split("/")) if problem is None else folder
    if problem is None:
        base = folder.resolve()
        resolved = target.resolve()
        if resolved != base and base not in resolved.parents:
            problem = f"it resolves to {resolved}, outside {base}"
    if problem is not None:
        raise RunError(
            "PC201",
            f"{what} {name!r} in {source} would be written outside its folder: {problem}",
            hint=hint or "use plain relative paths such as 'day1/a.mp4' (no '..', no leading '/')",
        )
    return target


def safe_id(value: str, *, what: str, known: tuple[str, ...] = ()) -> str:
    """``value`` if it is a legal single folder name for a run id or name, else PC201."""
    if not _ID.match(value) or value in (".", ".."):
        listed = f"; known runs: {', '.join(known)}" if known else ""
        raise RunError(
            "PC201",
            f"{what} {value!r} is not a plain folder name: letters, digits, '.', '_', '-' "
            f"only, at most 128 characters{listed}",
            hint="pass the id that `pipecast run` printed (e.g. 20261201-020635-a1b2c3)",
        )
    return value
