"""Semantic diff of two compiled documents of the same target: what changed, step by step.

A JSON line diff of a SageMaker definition or a state machine is unreadable in review: one image
bump moves braces around, nested Parallel branches shift. Instead, each target reduces its
document to a :class:`DocumentSummary` (its review hook, ``Target.review.summarize``): per step,
the few things a reviewer cares about, under the same field names on every target (``image``,
``instance type``, ``spot``, ``resources``, ``retry``, ``timeout``, ``arguments``, ``inputs``,
``depends on``, ...). This module compares two summaries and renders the changes as text,
Markdown (for pull requests) or JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipecast.errors import DocumentError

from .canonical import dumps_json

__all__ = [
    "Change",
    "ChangeKind",
    "DocumentSummary",
    "StepSummary",
    "detect_target",
    "diff",
    "load_document",
    "render",
    "summarize_file",
    "summarize_text",
]

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True)
class StepSummary:
    """What a reviewer needs to see of one step; ``fields`` values are JSON-able."""

    id: str
    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentSummary:
    """A compiled document reduced to its parameters and steps."""

    target: str
    name: str
    parameters: Mapping[str, Any]
    steps: Mapping[str, StepSummary]


@dataclass(frozen=True)
class Change:
    """One difference: a parameter or step added/removed, or one field of it changed."""

    scope: Literal["parameter", "step", "pipeline"]
    id: str
    kind: ChangeKind
    field: str | None = None
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "id": self.id,
            "kind": self.kind,
            "field": self.field,
            "old": self.old,
            "new": self.new,
        }


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"resources": {"gpu": 1}}`` → ``{"resources.gpu": 1}``; lists and scalars stay whole."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            out.update(_flatten(item, f"{name}."))
        else:
            out[name] = item
    return out


def diff(old: DocumentSummary, new: DocumentSummary) -> list[Change]:
    """Changes from ``old`` to ``new`` in a fixed order: pipeline, parameters, then steps by id."""
    changes: list[Change] = []
    if old.name != new.name:
        changes.append(Change("pipeline", new.name, "changed", "name", old.name, new.name))
    for name in sorted({*old.parameters, *new.parameters}):
        before, after = old.parameters.get(name), new.parameters.get(name)
        if before is None:
            changes.append(Change("parameter", name, "added", new=after))
        elif after is None:
            changes.append(Change("parameter", name, "removed", old=before))
        elif before != after:
            for key in sorted({*_flatten(before), *_flatten(after)}):
                a, b = _flatten(before).get(key), _flatten(after).get(key)
                if a != b:
                    changes.append(Change("parameter", name, "changed", key, a, b))
    for step_id in sorted({*old.steps, *new.steps}):
        before_step, after_step = old.steps.get(step_id), new.steps.get(step_id)
        if before_step is None:
            assert after_step is not None
            changes.append(Change("step", step_id, "added", new=_step_dict(after_step)))
        elif after_step is None:
            changes.append(Change("step", step_id, "removed", old=_step_dict(before_step)))
        else:
            a_fields = _flatten({"kind": before_step.kind, **before_step.fields})
            b_fields = _flatten({"kind": after_step.kind, **after_step.fields})
            for key in sorted({*a_fields, *b_fields}):
                if a_fields.get(key) != b_fields.get(key):
                    changes.append(
                        Change(
                            "step", step_id, "changed", key, a_fields.get(key), b_fields.get(key)
                        )
                    )
    return changes


def _step_dict(step: StepSummary) -> dict[str, Any]:
    return {"kind": step.kind, **step.fields}


def _show(value: Any, limit: int = 120) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = " ".join(value) if value else "(none)"
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _headline(changes: Iterable[Change], old: DocumentSummary, new: DocumentSummary) -> str:
    changes = list(changes)
    if not changes:
        return f"pipeline '{new.name}' ({new.target}): no changes"
    parts = []
    for scope in ("step", "parameter"):
        for kind in ("added", "removed", "changed"):
            n = len({c.id for c in changes if c.scope == scope and c.kind == kind})
            if n:
                parts.append(f"{n} {scope}{'s' if n != 1 else ''} {kind}")
    return f"pipeline '{new.name}' ({new.target}): {', '.join(parts)}"


def render(
    changes: list[Change], old: DocumentSummary, new: DocumentSummary, fmt: str = "text"
) -> str:
    """Render changes as ``text`` (terminal), ``markdown`` (pull requests) or ``json``."""
    if fmt == "json":
        return dumps_json(
            {
                "target": new.target,
                "pipeline": new.name,
                "equal": not changes,
                "changes": [c.to_dict() for c in changes],
            }
        )
    lines = [_headline(changes, old, new)]
    if fmt == "markdown":
        lines = [f"### {lines[0]}"]
    grouped: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        grouped.setdefault((change.scope, change.id), []).append(change)
    for (scope, ident), group in grouped.items():
        first = group[0]
        if first.kind in ("added", "removed"):
            value = first.new if first.kind == "added" else first.old
            mark = "+" if first.kind == "added" else "-"
            summary = _brief(value) if scope == "step" else _show(value)
            if fmt == "markdown":
                lines.append(f"- **{first.kind}** {scope} `{ident}`: {summary}")
            else:
                lines.append(f"{mark} {scope} {ident}: {summary}")
            continue
        if fmt == "markdown":
            lines += [
                "",
                f"**changed {scope} `{ident}`**",
                "",
                "| field | before | after |",
                "|---|---|---|",
            ]
            lines += [
                f"| {c.field} | `{_md(_show(c.old))}` | `{_md(_show(c.new))}` |" for c in group
            ]
        else:
            lines.append(f"~ {scope} {ident}")
            lines += [f"    {c.field}: {_show(c.old)} → {_show(c.new)}" for c in group]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def _brief(step: Mapping[str, Any]) -> str:
    keys = ("kind", "image", "instance type", "spot")
    return ", ".join(
        f"{_show(step[k])}" if k == "kind" else f"{k} {_show(step[k])}"
        for k in keys
        if step.get(k) not in (None, False, "")
    )


# ----- reading documents ------------------------------------------------------------------------


def load_document(text: str, source: str = "document") -> Any:
    """Parse JSON or YAML text (KFP documents are YAML, possibly several YAML documents)."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise DocumentError(f"{source}: not valid JSON: {exc}") from None
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise DocumentError(f"{source}: neither JSON nor YAML: {exc}") from None
    if not docs:
        raise DocumentError(f"{source}: empty document")
    return docs[0] if len(docs) == 1 else docs


def detect_target(document: Any, source: str = "document") -> str:
    """Which registered target produced ``document`` (from its content, not its file name)."""
    from . import load_target, target_names

    readable = []
    for name in target_names():
        review = load_target(name).review
        if review is not None:
            if review.detect(document):
                return name
            readable.append(name)
    raise DocumentError(
        f"{source}: not a document pipecast can read (expected a document of one of the "
        f"targets {', '.join(readable)})"
    )


def summarize_text(
    text: str, source: str = "document", target: str | None = None
) -> DocumentSummary:
    """Parse, detect the target and summarise a compiled document."""
    from . import load_target

    document = load_document(text, source)
    name = target or detect_target(document, source)
    review = load_target(name).review
    if review is None:
        raise DocumentError(f"{source}: the {name} target cannot summarise documents yet")
    try:
        return review.summarize(document)
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise DocumentError(
            f"{source}: malformed {name} document ({type(exc).__name__}: {exc})"
        ) from None


def summarize_file(path: str | Path) -> DocumentSummary:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from None
    return summarize_text(text, str(path))
