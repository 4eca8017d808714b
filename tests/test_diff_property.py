"""The diff is complete (DESIGN §15): a mutation of any leaf of any committed golden is reported,
at its own path; reformatting alone (key order, indentation, JSON vs YAML spelling) is not.

For every golden of every target: a seeded sample of leaves (all of them when a document has
fewer than ``SAMPLE``) is each changed alone (a string gets a suffix, a number +1, a boolean
flips, a null becomes a string) or, every third one, removed from its object. The oracle is the
document itself, not the diff's own logic: the path the diff reports is resolved in both
documents independently of the diff's code (by index or by the named item) and must land on the
very container that was mutated, holding the old and the new value; the rendered review must not
say "no changes", and the difference must be shown (a summary row or a path row).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from helpers import GOLDEN_DIR

from pipecast.compilers import diff
from pipecast.compilers._json_diff import IDENTITY_KEYS, Named

SAMPLE = 200
GOLDENS = sorted(p.name for p in GOLDEN_DIR.iterdir() if p.suffix in (".json", ".yaml"))
Index = tuple[str | int, ...]


def _leaves(node: Any, path: Index = ()) -> Iterator[Index]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _leaves(value, (*path, i))
    else:
        yield path


def _get(node: Any, path: Index) -> Any:
    for segment in path:
        node = node[segment]
    return node


def _copy_along(document: Any, path: Index) -> Any:
    """``document`` with fresh copies of the containers on ``path`` (the rest shared), so a
    mutation there leaves ``document`` intact: a deep copy per case would be most of the cost."""
    top = copy.copy(document)
    node = top
    for segment in path:
        node[segment] = copy.copy(node[segment])
        node = node[segment]
    return top


def _mutated(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "!"
    return "was null"


def _resolve(node: Any, segments: tuple[Any, ...]) -> Any:
    """Follow a reported path with plain lookups (a named segment: the item with that name)."""
    for segment in segments:
        if isinstance(segment, Named):
            matches = [
                i for i in node if isinstance(i, dict) and i.get(segment.key) == segment.value
            ]
            assert len(matches) == 1, segment
            node = matches[0]
        else:
            node = node[segment]
    return node


def _cases(name: str) -> list[tuple[Index, str]]:
    document = diff.load_document((GOLDEN_DIR / name).read_text())
    leaves = list(_leaves(document))
    rng = random.Random(f"pipecast-diff-{name}")
    chosen = leaves if len(leaves) <= SAMPLE else rng.sample(leaves, SAMPLE)
    cases = []
    for n, path in enumerate(chosen):
        removable = bool(path) and isinstance(path[-1], str)
        cases.append((path, "remove" if removable and n % 3 == 2 else "change"))
    return cases


@pytest.mark.parametrize("name", GOLDENS)
def test_every_mutated_leaf_is_reported_at_its_path(name):
    text = (GOLDEN_DIR / name).read_text()
    old = diff.load_document(text)
    target = diff.detect_target(old)
    cases = _cases(name)
    assert len(cases) >= min(SAMPLE, len(list(_leaves(old))))
    for path, how in cases:
        new = _copy_along(old, path[:-1])
        parent, key = _get(new, path[:-1]), path[-1]
        before = parent[key]
        if how == "remove":
            del parent[key]
        else:
            parent[key] = _mutated(before)
        review = diff.compare(old, new, target)
        where = f"{name}: {how} {path}"
        assert not review.equal, where
        if len(review.differences) == 2 and key in IDENTITY_KEYS:
            # the name of an identified list item (a step's Name) changed: one item removed
            # under its old name, one added under its new name, whole
            gone, added = review.differences
            assert (gone.kind, added.kind) == ("removed", "added"), where
            assert gone.old == _get(old, path[:-1]) and added.new is parent, where
            assert gone.path[-1] == Named(key, before), where
            assert "no changes" not in review.render("text"), where
            continue
        assert len(review.differences) == 1, (where, review.differences)
        (found,) = review.differences
        assert found.kind == ("removed" if how == "remove" else "changed"), where
        # the reported path lands on the mutated container in both documents
        assert _resolve(new, found.path[:-1]) is parent, where
        assert _resolve(old, found.path[:-1]) is _get(old, path[:-1]), where
        assert found.path[-1] == key and found.old == before, where
        if how == "change":
            assert found.new == parent[key], where
        text_out = review.render("text")
        assert "no changes" not in text_out, where
        # shown: by a summary row, or by its path
        assert found in review.unexplained or review.changes, where
        if found in review.unexplained:
            assert found.where in text_out, where
        else:
            assert any(c.scope != "pipeline" for c in review.changes), where
        as_json = json.loads(review.render("json"))
        assert as_json["equal"] is False
        assert [d["path"] for d in as_json["differences"]] == [found.where], where


def _reordered(node: Any) -> Any:
    """The same document with every object's keys in reverse order."""
    if isinstance(node, dict):
        return {k: _reordered(node[k]) for k in reversed(list(node))}
    if isinstance(node, list):
        return [_reordered(v) for v in node]
    return node


@pytest.mark.parametrize("name", GOLDENS)
def test_reformatting_only_reports_equal(name):
    text = (GOLDEN_DIR / name).read_text()
    document = diff.load_document(text)
    shuffled = _reordered(document)
    variants = [json.dumps(shuffled, indent=4), json.dumps(shuffled, separators=(",", ":"))]
    if name.endswith(".yaml"):
        parts = shuffled if isinstance(shuffled, list) else [shuffled]
        variants.append(yaml.safe_dump_all(parts, sort_keys=False, default_flow_style=True))
    for variant in variants:
        assert variant != text
        review = diff.compare_texts(text, variant, "golden", "reformatted")
        assert review.equal and review.differences == [], name
        assert review.render("text").endswith(": no changes\n")


def _apply(document: Any, path: Index) -> Any:
    new = _copy_along(document, path[:-1])
    parent = _get(new, path[:-1])
    parent[path[-1]] = _mutated(parent[path[-1]])
    return new


@pytest.mark.parametrize("name", GOLDENS)
def test_a_summarised_change_never_hides_an_unmodelled_one(name):
    """Pairs of mutations: one the summary shows, one it does not. Both must be in the text
    (the summary row, and the other by its path), whatever else changed."""
    old = diff.load_document((GOLDEN_DIR / name).read_text())
    target = diff.detect_target(old)
    shown, unmodelled = [], []
    for path, how in _cases(name):
        if how != "change" or path[-1] in IDENTITY_KEYS:  # a renamed item: removed + added
            continue
        review = diff.compare(old, _apply(old, path), target)
        if review.changes and not review.unexplained and len(review.differences) == 1:
            shown.append(path)
        elif review.unexplained and not review.changes:
            unmodelled.append(path)
    assert shown and unmodelled, (len(shown), len(unmodelled))
    rng = random.Random(f"pipecast-pairs-{name}")
    for _ in range(20):
        a, b = rng.choice(shown), rng.choice(unmodelled)
        if a[:-1] == b[:-1] and a[-1] == b[-1]:
            continue
        review = diff.compare(old, _apply(_apply(old, a), b), target)
        if review.note is not None:  # the pair broke the summary: all is listed by path
            assert len(review.unexplained) == 2
            continue
        assert len(review.differences) == 2 and review.changes, (a, b)
        (other,) = [
            d
            for d in review.differences
            if d.path[-1] == b[-1] and _resolve(old, d.path[:-1]) is _get(old, b[:-1])
        ]
        assert other in review.unexplained, (a, b, review.unexplained)
        assert f"  {other.where}: " in review.render("text"), (a, b)
