"""Every difference between two parsed documents, each with its JSON path (DESIGN §15).

The per-step summary of :mod:`pipecast.compilers.diff` is what a reviewer reads; this module is
what makes the diff complete: a structural comparison of the two canonical documents that misses
nothing. It is target-agnostic and pure (documents in, changes out). What it treats as equal is
exactly what does not change a document's meaning for the services, and nothing else:

- **key order and formatting** (indentation, YAML vs JSON spelling, quoting): documents are
  compared parsed, so ``{"a": 1, "b": 2}`` equals ``{"b": 2, "a": 1}``;
- nothing more: ``1`` and ``1.0`` and ``true`` differ (their canonical bytes do, and a service
  may read them differently), lists are compared as lists (order matters).

Lists of objects that carry a unique identity (``Name``, ``InputName``, ``ChannelName``, ...) are
matched by it, so inserting a step shows one added step, not every later step changed; a changed
order of such a list is one ``reordered`` change. Other lists are aligned as sequences, element by
element, with added and removed runs.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["IDENTITY_KEYS", "Named", "PathChange", "apply", "format_path", "path_diff"]

PathKind = Literal["added", "removed", "changed", "reordered"]

# keys that identify an object inside a list, in the order they are tried
IDENTITY_KEYS = ("Name", "name", "id", "InputName", "OutputName", "ChannelName", "Key", "key")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


@dataclass(frozen=True)
class Named:
    """A path segment for the element of a list whose ``key`` field is ``value``."""

    key: str
    value: str


Segment = str | int | Named
Path = tuple[Segment, ...]


@dataclass(frozen=True)
class PathChange:
    """One difference: the value at ``path`` was added, removed, changed or (lists) reordered."""

    path: Path
    kind: PathKind
    old: Any = None
    new: Any = None

    @property
    def where(self) -> str:
        return format_path(self.path)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.where, "kind": self.kind, "old": self.old, "new": self.new}


def format_path(path: Path) -> str:
    """``("Steps", Named("Name", "a"), "Arguments")`` → ``Steps[a].Arguments``."""
    out = ""
    for segment in path:
        if isinstance(segment, Named):
            out += f"[{segment.value}]"
        elif isinstance(segment, int):
            out += f"[{segment}]"
        elif _PLAIN_KEY.match(segment):
            out += f".{segment}" if out else segment
        else:
            out += f"[{json.dumps(segment, ensure_ascii=False)}]"
    return out or "(document)"


def _same_leaf(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def path_diff(old: Any, new: Any, path: Path = ()) -> list[PathChange]:
    """Every difference from ``old`` to ``new``, depth first, keys in sorted order."""
    out: list[PathChange] = []
    _diff(old, new, path, out)
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same JSON types all the way down (``1``, ``1.0`` and ``true`` differ).

    ``==`` runs in C and settles almost every subtree of two versions of one document at once;
    for equal ones, their canonical JSON (also encoded in C) tells the numeric spellings apart.
    """
    if a is b:
        return True
    if a != b:
        return False
    return type(a) is type(b) and (
        not isinstance(a, (dict, list)) or _canonical(a) == _canonical(b)
    )


def _diff(old: Any, new: Any, path: Path, out: list[PathChange]) -> None:
    if _same(old, new):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted({*old, *new}, key=str):
            if key not in old:
                out.append(PathChange((*path, key), "added", None, new[key]))
            elif key not in new:
                out.append(PathChange((*path, key), "removed", old[key], None))
            else:
                _diff(old[key], new[key], (*path, key), out)
    elif isinstance(old, list) and isinstance(new, list):
        identity = _identity(old, new)
        if identity is not None:
            _keyed(old, new, path, identity, out)
        else:
            _sequence(old, new, path, out)
    else:
        out.append(PathChange(path, "changed", old, new))


def _identity(old: list[Any], new: list[Any]) -> str | None:
    """The identity key both lists' objects carry, unique within each list, if any."""
    items = [*old, *new]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in IDENTITY_KEYS:
        if all(isinstance(i.get(key), str) for i in items) and all(
            len({i[key] for i in side}) == len(side) for side in (old, new)
        ):
            return key
    return None


def _keyed(old: list[Any], new: list[Any], path: Path, key: str, out: list[PathChange]) -> None:
    before = {item[key]: item for item in old}
    after = {item[key]: item for item in new}
    for ident in before:
        if ident not in after:
            out.append(PathChange((*path, Named(key, ident)), "removed", before[ident], None))
    for ident in after:
        if ident in before:
            _diff(before[ident], after[ident], (*path, Named(key, ident)), out)
        else:
            out.append(PathChange((*path, Named(key, ident)), "added", None, after[ident]))
    kept_old = [i for i in before if i in after]
    kept_new = [i for i in after if i in before]
    if kept_old != kept_new:
        out.append(PathChange(path, "reordered", kept_old, kept_new))


def _sequence(old: list[Any], new: list[Any], path: Path, out: list[PathChange]) -> None:
    if len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            _diff(a, b, (*path, i), out)
        return
    keys_old = [_canonical(v) for v in old]
    keys_new = [_canonical(v) for v in new]
    matcher = difflib.SequenceMatcher(None, keys_old, keys_new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                _diff(old[i1 + k], new[j1 + k], (*path, j1 + k), out)
            continue
        for i in range(i1, i2):
            out.append(PathChange((*path, i), "removed", old[i], None))
        for j in range(j1, j2):
            out.append(PathChange((*path, j), "added", None, new[j]))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


# ----- applying one change (to tell which changes the summary shows) ----------------------------


def apply(document: Any, change: PathChange) -> Any:
    """``document`` with only ``change`` applied; shares every untouched subtree with it."""
    return _apply(document, change.path, change)


def _apply(node: Any, path: Sequence[Segment], change: PathChange) -> Any:
    if not path:
        return change.new if change.kind != "reordered" else _reorder(node, change)
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        copy = dict(node)
        assert isinstance(head, str)
        if not rest and change.kind == "removed":
            copy.pop(head, None)
        elif not rest and change.kind == "added":
            copy[head] = change.new
        else:
            copy[head] = _apply(node[head], rest, change)
        return copy
    assert isinstance(node, list)
    items = list(node)
    index = _index(items, head)
    if not rest and change.kind == "removed":
        if index is not None:
            del items[index]
    elif not rest and change.kind == "added":
        position = index if isinstance(head, int) else None
        items.insert(len(items) if position is None else min(position, len(items)), change.new)
    elif index is not None:
        items[index] = _apply(items[index], rest, change)
    return items


def _index(items: list[Any], segment: Segment) -> int | None:
    if isinstance(segment, int):
        return segment if segment < len(items) else None
    assert isinstance(segment, Named)
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get(segment.key) == segment.value:
            return i
    return None


def _reorder(node: list[Any], change: PathChange) -> list[Any]:
    """The list's identified elements in the new order (only ``reordered`` changes)."""
    key = _identity(node, node)
    if key is None:
        return node
    by_id = {item[key]: item for item in node}
    order = [i for i in change.new if i in by_id]
    return [by_id[i] for i in order] + [item for item in node if item[key] not in order]
