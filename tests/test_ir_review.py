"""``diff``/``plan`` on IR documents with control flow: a changed condition, loop items,
parallelism or exit task is one readable line in the summary, not only a JSON path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from helpers import GOLDEN_DIR

from pipecast.compilers import diff

GOLDEN = GOLDEN_DIR / "camera-triage.ir.json"


def _group(document: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(g for g in document["groups"] if g["kind"] == kind)


def _set_threshold(document: dict[str, Any]) -> None:
    cond = _group(document, "condition")
    cond["when"][0]["right"] = {"constant": 7}


def _set_parallelism(document: dict[str, Any]) -> None:
    _group(document, "loop")["parallelism"] = 9


def _set_items(document: dict[str, Any]) -> None:
    _group(document, "loop")["items"] = {"constant": ["lobby", "gate"]}


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("condition", _set_threshold, "7"),
    ("parallelism", _set_parallelism, "9 at a time"),
    ("loop items", _set_items, "lobby"),
]


@pytest.mark.parametrize(("what", "change", "shown"), CASES, ids=[c[0] for c in CASES])
def test_a_control_flow_change_is_a_summarised_line(what, change, shown):
    old_text = GOLDEN.read_text(encoding="utf-8")
    document = json.loads(old_text)
    changed = copy.deepcopy(document)
    change(changed)
    assert changed != document, f"the {what} edit changed nothing: the example moved"
    review = diff.compare_texts(old_text, json.dumps(changed), target="ir")
    assert not review.equal
    assert review.changes, f"{what}: only a path diff, no summarised change"
    text = review.render("text")
    assert "runs in" in text and shown in text, text


def test_unchanged_control_flow_document_is_equal():
    text = GOLDEN.read_text(encoding="utf-8")
    assert diff.compare_texts(text, text, target="ir").equal
