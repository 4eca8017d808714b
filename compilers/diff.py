"""Semantic diff of two compiled documents of the same target: what changed, step by step.

A JSON line diff of a SageMaker definition or a state machine is unreadable in review: one image
bump moves braces around, nested Parallel branches shift. Instead, each target reduces its
document to a :class:`DocumentSummary` (its review hook, ``Target.review.summarize``): per step,
the few things a reviewer cares about, under the same field names on every target (``image``,
``instance type``, ``spot``, ``resources``, ``retry``, ``timeout``, ``arguments``, ``inputs``,
``depends on``, ...).

A summary alone would hide what it does not model, so the diff is also complete (DESIGN §15):
:func:`compare` diffs the two parsed documents by JSON path (:mod:`._json_diff`) and lists every
difference that no changed summary row shows (a difference counts as shown when applying it alone
to the old document changes one of the summary fields reported as changed). "No changes" means the
documents are equivalent: equal once parsed (key order and formatting are the only differences
ignored). One engine serves ``pipecast diff``, ``plan`` and ``compile --check``; the output is
text, Markdown (for pull requests) or JSON (every difference with its path).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipecast.errors import DocumentError

from ._json_diff import PathChange, apply, format_path, path_diff
from .canonical import dumps_json

__all__ = [
    "EXPLAIN_LIMIT",
    "EXPLAIN_WORK",
    "Change",
    "ChangeKind",
    "DocumentSummary",
    "Review",
    "StepSummary",
    "compare",
    "compare_texts",
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
        if isinstance(item, Mapping):  # an empty mapping adds no row (as if absent)
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


# ----- the complete comparison ------------------------------------------------------------------

# how many differences are each tested against the summary (one describe of the whole document
# per difference, so fewer on large documents: EXPLAIN_WORK step-summaries in all); beyond it
# every remaining difference is listed by path, so the output stays complete
EXPLAIN_LIMIT = 500
EXPLAIN_WORK = 20_000


@dataclass(frozen=True)
class Review:
    """Two documents of one target compared completely.

    ``changes`` are the summary's readable rows; ``differences`` every difference by JSON path
    (empty exactly when the documents are equivalent); ``unexplained`` the differences no
    summary row shows, listed by path so that nothing is hidden.
    """

    target: str
    old: DocumentSummary
    new: DocumentSummary
    changes: list[Change]
    differences: list[PathChange]
    unexplained: list[PathChange]
    note: str | None = None  # why there is no per-step summary, when there is none

    @property
    def equal(self) -> bool:
        return not self.differences

    @property
    def name(self) -> str:
        return self.new.name

    def render(self, fmt: str = "text") -> str:
        """The review as ``text`` (terminal), ``markdown`` (pull requests) or ``json``."""
        return render(self, fmt)


_MALFORMED = (DocumentError, KeyError, TypeError, AttributeError, IndexError, ValueError)


def compare(
    old_document: Any,
    new_document: Any,
    target: str,
    name: str | None = None,
    describe: Callable[[Any], DocumentSummary] | None = None,
) -> Review:
    """Compare two parsed documents of ``target`` completely.

    ``name``: the pipeline's name when the caller knows it better than the documents do (plan
    knows the deployed name; a SageMaker definition does not carry it). ``describe``: the
    summary function (default: the target's review hook, ``summarize``). A document it cannot
    summarise still
    gets a complete review: every difference by path.
    """
    if describe is None:
        describe = _describer(target, "document")
    try:
        summaries = describe(old_document), describe(new_document)
        note = None
    except _MALFORMED as exc:  # still complete: every difference is listed by path
        summaries = (DocumentSummary(target, name or "pipeline", {}, {}),) * 2
        note = f"no per-step summary ({exc}); every difference is listed by path"
    return _review(old_document, new_document, target, name, describe, summaries, note)


def _review(
    old_document: Any,
    new_document: Any,
    target: str,
    name: str | None,
    describe: Callable[[Any], DocumentSummary],
    summaries: tuple[DocumentSummary, DocumentSummary],
    note: str | None,
) -> Review:
    old, new = summaries
    if name is not None:
        old, new = _named(old, name), _named(new, name)
    changes = diff(old, new)
    differences = path_diff(old_document, new_document)
    # a renamed pipeline explains nothing by itself: the differences behind it are listed
    shown: set[tuple[str, str, str | None]] = {
        (c.scope, c.id, c.field) for c in changes if c.scope != "pipeline"
    }
    unexplained: list[PathChange] = []
    limit = min(EXPLAIN_LIMIT, max(1, EXPLAIN_WORK // max(1, len(old.steps))))
    for i, difference in enumerate(differences):
        if (
            i >= limit
            or not shown
            or not _summary_shows(difference, old_document, old, describe, shown)
        ):
            unexplained.append(difference)
    return Review(target, old, new, changes, differences, unexplained, note)


def _named(summary: DocumentSummary, name: str) -> DocumentSummary:
    return DocumentSummary(summary.target, name, summary.parameters, summary.steps)


def _summary_shows(
    difference: PathChange,
    old_document: Any,
    old: DocumentSummary,
    describe: Callable[[Any], DocumentSummary],
    shown: set[tuple[str, str, str | None]],
) -> bool:
    """Does a summary row of this review show ``difference``? True when applying it alone to
    the old document changes one of the summary fields this review reports as changed."""
    try:
        alone = describe(apply(old_document, difference))
    except (*_MALFORMED, AssertionError):
        return False
    alone = _named(alone, old.name)
    return any((c.scope, c.id, c.field) in shown for c in diff(old, alone))


def _show(value: Any) -> str:
    """A summary value in full (never truncated: a review must see every byte)."""
    if value is None:
        return "(none)"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value) if value else "(none)"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _rows(change: Change) -> list[tuple[str, str, str]]:
    """(field, before, after) rows of one changed summary field; lists element by element."""
    label = change.field or ""
    if isinstance(change.old, list) and isinstance(change.new, list):
        rows = []
        for sub in path_diff(change.old, change.new):
            where = label + format_path(sub.path).removeprefix("(document)")
            if sub.kind == "reordered":
                rows.append((f"{where} order", _show(sub.old), _show(sub.new)))
            else:
                rows.append(
                    (
                        where,
                        "(none)" if sub.kind == "added" else _json(sub.old),
                        "(none)" if sub.kind == "removed" else _json(sub.new),
                    )
                )
        return rows
    return [(label, _show(change.old), _show(change.new))]


def _path_row(difference: PathChange) -> tuple[str, str, str]:
    before = "(none)" if difference.kind == "added" else _json(difference.old)
    after = "(none)" if difference.kind == "removed" else _json(difference.new)
    return difference.where, before, after


def _headline(review: Review) -> str:
    old, new = review.old, review.new
    if old.name != new.name:
        head = f"pipelines '{old.name}' and '{new.name}' ({new.target}): two different pipelines"
    else:
        head = f"pipeline '{new.name}' ({new.target})"
    if review.equal:
        return f"{head}: no changes"
    parts = []
    changes = [c for c in review.changes if c.scope != "pipeline"]
    for scope in ("step", "parameter"):
        for kind in ("added", "removed", "changed"):
            n = len({c.id for c in changes if c.scope == scope and c.kind == kind})
            if n:
                parts.append(f"{n} {scope}{'s' if n != 1 else ''} {kind}")
    if review.unexplained:
        n = len(review.unexplained)
        parts.append(f"{n} other difference{'s' if n != 1 else ''}")
    return f"{head}: {', '.join(parts) or 'changed'}"


def render(review: Review, fmt: str = "text") -> str:
    """Render a review as ``text`` (terminal), ``markdown`` (pull requests) or ``json``.

    Every format carries every difference: the summary rows, then each difference no row shows
    by its JSON path; ``json`` also lists all differences by path (``differences``).
    """
    old, new = review.old, review.new
    if fmt == "json":
        return dumps_json(
            {
                "target": new.target,
                "pipeline": new.name,
                "old_pipeline": old.name,
                "equal": review.equal,
                "changes": [c.to_dict() for c in review.changes],
                "differences": [d.to_dict() for d in review.differences],
                "not_in_summary": [d.where for d in review.unexplained],
                "note": review.note,
            }
        )
    markdown = fmt == "markdown"
    lines = [f"### {_headline(review)}" if markdown else _headline(review)]
    if review.note and not review.equal:
        lines.append(f"note: {review.note}")
    grouped: dict[tuple[str, str], list[Change]] = {}
    for change in review.changes:
        if change.scope != "pipeline":
            grouped.setdefault((change.scope, change.id), []).append(change)
    for (scope, ident), group in grouped.items():
        first = group[0]
        if first.kind in ("added", "removed"):
            value = first.new if first.kind == "added" else first.old
            mark = "+" if first.kind == "added" else "-"
            summary = _brief(value) if scope == "step" else _show(value)
            if markdown:
                lines.append(f"- **{first.kind}** {scope} `{ident}`: {summary}")
            else:
                lines.append(f"{mark} {scope} {ident}: {summary}")
            continue
        rows = [row for c in group for row in _rows(c)]
        if markdown:
            lines += ["", f"**changed {scope} `{ident}`**", "", "| field | before | after |"]
            lines += ["|---|---|---|", *(f"| {f} | `{_md(a)}` | `{_md(b)}` |" for f, a, b in rows)]
        else:
            lines.append(f"~ {scope} {ident}")
            lines += [f"    {f}: {a} → {b}" for f, a, b in rows]
    if review.unexplained:
        title = "other differences (by JSON path; not in the per-step summary)"
        rows = [_path_row(d) for d in review.unexplained]
        if markdown:
            lines += ["", f"**{title}**", "", "| path | before | after |", "|---|---|---|"]
            lines += [f"| `{_md(p)}` | `{_md(a)}` | `{_md(b)}` |" for p, a, b in rows]
        else:
            lines.append(title + ":")
            lines += [f"  {p}: {a} → {b}" for p, a, b in rows]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'").replace("\n", "\\n")


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
    if not stripped:
        raise DocumentError(f"{source}: empty document")
    json_error = None
    if stripped.startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError as exc:  # maybe YAML in flow style; else this is the error to show
            json_error = f"{source}: not valid JSON (truncated?): {exc}"
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        one_line = " ".join(str(exc).split())
        raise DocumentError(json_error or f"{source}: neither JSON nor YAML: {one_line}") from None
    if not docs:
        raise DocumentError(f"{source}: empty document")
    return docs[0] if len(docs) == 1 else docs


def detect_target(document: Any, source: str = "document") -> str:
    """Which registered target produced ``document`` (from its content, not its file name)."""
    from . import load_target, target_names

    kinds = []
    for name in target_names():
        target = load_target(name)
        if target.review is not None and target.review.detect(document):
            return name
        kinds.append(target.document_kind)
    raise DocumentError(
        f"{source}: not a document pipecast can read (expected a {', a '.join(kinds[:-1])} "
        f"or a {kinds[-1]})"
    )


def _describer(name: str, source: str) -> Callable[[Any], DocumentSummary]:
    """The target's summary function, turning a malformed document into one clear line."""
    from . import load_target

    review = load_target(name).review
    if review is None:
        raise DocumentError(f"{source}: the {name} target cannot summarise documents yet")
    describe = review.summarize

    def safe(document: Any) -> DocumentSummary:
        try:
            return describe(document)
        except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
            raise DocumentError(
                f"{source}: malformed {name} document ({type(exc).__name__}: {exc}); "
                "truncated or not written by pipecast?"
            ) from None

    return safe


def summarize_text(
    text: str, source: str = "document", target: str | None = None
) -> DocumentSummary:
    """Parse, detect the target and summarise a compiled document."""
    document = load_document(text, source)
    name = target or detect_target(document, source)
    return _describer(name, source)(document)


def compare_texts(
    old_text: str,
    new_text: str,
    old_source: str = "old",
    new_source: str = "new",
    target: str | None = None,
    name: str | None = None,
    strict: bool = True,
) -> Review:
    """The one engine behind ``diff``, ``plan`` and ``compile --check``: parse both texts,
    check they are documents of one target, and compare them completely.

    ``strict``: a document the target cannot summarise (truncated, hand-broken) is an error
    naming its file; otherwise (``plan``: whatever is deployed must stay replaceable) the review
    lists every difference by path without a summary.
    """
    from pipecast.errors import UsageError

    old_document = load_document(old_text, old_source)
    new_document = load_document(new_text, new_source)
    old_target = target or detect_target(old_document, old_source)
    new_target = target or detect_target(new_document, new_source)
    if old_target != new_target:
        raise UsageError(
            f"{old_source} is {_article(old_target)} {old_target} document but {new_source} is "
            f"{_article(new_target)} {new_target} document; compare two documents of one target"
        )
    describe_old = _describer(old_target, old_source)
    describe_new = _describer(old_target, new_source)
    if not strict:
        return compare(old_document, new_document, old_target, name, describe_old)
    summaries = describe_old(old_document), describe_new(new_document)  # errors name the file
    return _review(old_document, new_document, old_target, name, describe_old, summaries, None)


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def summarize_file(path: str | Path) -> DocumentSummary:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from None
    return summarize_text(text, str(path))
