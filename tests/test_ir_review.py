"""``diff``/``plan`` on IR documents with control flow: a changed condition, loop items,
parallelism or exit task is one readable line in the summary, not only a JSON path."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from helpers import GOLDEN_DIR, compile_text

from pipecast import dsl
from pipecast.compilers import diff
from pipecast.compilers.ir import describe

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


# ----- every field of the IR summary, on a hand-made document ---------------------------------


def _ir_document() -> dict[str, Any]:
    """An IR document using every kind of binding and group (``describe`` reads only these
    keys; the goldens cover real compiled documents)."""
    out = {"output": {"step": "s0", "name": "out"}}
    return {
        "ir_version": 1,
        "name": "every-field",
        "parameters": [
            {"name": "cams", "type": "list", "default": ["a"]},
            {"name": "x", "type": "int"},
        ],
        "components": [{"name": "c", "image": "r/a:1", "command": ["run", "it"]}],
        "importers": [
            {"id": "imp-1", "uri": {"constant": "s3://b/x"}, "manifest": True},
            {"id": "imp-2", "uri": {"parameter": "root"}},
        ],
        "groups": [
            {"id": "exit-1", "kind": "exit_handler", "parent": None, "exit_step": "final"},
            {
                "id": "loop-1",
                "kind": "loop",
                "parent": "exit-1",
                "items": {"parameter": "cams"},
                "parallelism": 2,
            },
            {
                "id": "condition-2",
                "kind": "condition",
                "parent": "loop-1",
                "when": [
                    {"left": out, "op": ">=", "right": {"constant": "0"}},
                    {"left": {"parameter": "x"}, "op": "==", "right": {"constant": 1}},
                ],
                "unless": [
                    {
                        "left": {"constant": True},
                        "op": "!=",
                        "right": {"loop_item": {"loop": "loop-1"}},
                    }
                ],
            },
            {"id": "loop-3", "kind": "loop", "parent": None, "items": {"constant": ["p", "q"]}},
            {"id": "condition-4", "kind": "condition", "parent": "loop-3"},
        ],
        "steps": [
            {
                "id": "full",
                "component": "c",
                "group": "condition-2",
                "arguments": {
                    "a": out,
                    "b": {"parameter": "cams"},
                    "c": {"importer": "imp-1"},
                    "d": {"importer": "imp-2"},
                    "e": {"loop_item": {"loop": "loop-1", "key": "cam"}},
                    "f": {"loop_item": {"loop": "loop-1", "key": None}},
                    "g": {"collected": {"step": "s0", "name": "out"}},
                    "h": {"one_of": [{"step": "x", "name": "o"}, {"step": "y", "name": "p"}]},
                    "i": {"run_status": True},
                    "j": {"constant": 3},
                },
                "after": ["s0"],
                "env": {"K": "v"},
                "resources": {
                    "cpu": 2,
                    "memory": 4 * 2**30,
                    "gpu": 1,
                    "gpu_type": "T4",
                    "disk": 10 * 2**30,
                },
                "spot": {"max_wait_seconds": 7200, "checkpoints": True},
                "retry": {"max_attempts": 3},
                "timeout_seconds": 60,
                "caching": True,
                "instance_type": "ml.g4dn.xlarge",
                "instances": 2,
                "shard": ["a"],
            },
            {
                "id": "bare",
                "component": "c",
                "arguments": {},
                "after": [],
                "env": {},
                "group": "condition-4",
                "resources": {"cpu": 1, "memory": 2**30, "gpu": 0, "gpu_type": None, "disk": None},
            },
            {"id": "final", "component": "c", "arguments": {}, "after": [], "env": {}},
        ],
    }


def test_describe_shows_every_field_of_a_step_as_a_reviewer_reads_it():
    summary = describe(_ir_document())
    assert (summary.target, summary.name) == ("ir", "every-field")
    assert summary.parameters == {
        "cams": {"type": "list", "default": ["a"]},
        "x": {"type": "int", "default": None},
    }
    assert {s.id: s.kind for s in summary.steps.values()} == {
        "full": "container step",
        "bare": "container step",
        "final": "container step",
    }
    assert dict(summary.steps["full"].fields) == {
        "image": "r/a:1",
        "command": ["run", "it"],
        "inputs": {
            "a": "s0.out",
            "b": "parameter cams",
            "c": "manifest s3://b/x",
            "d": "parameter root",
            "e": "item of loop-1['cam']",
            "f": "item of loop-1",
            "g": "collected s0.out",
            "h": "one of x.o, y.p",
            "i": "run status",
            "j": 3,
        },
        "depends on": ["s0"],
        "env": {"K": "v"},
        "resources": {"cpu": 2, "memory": "4GiB", "gpu": 1, "gpu type": "T4", "disk": "10GiB"},
        "spot": 7200,
        "retry": {"max_attempts": 3},
        "timeout": 60,
        "caching": True,
        "instance type": "ml.g4dn.xlarge",
        "instances": 2,
        "shard": ["a"],
        "runs in": [
            "exit-1: exit handler, then final",
            "loop-1: for each of parameter cams, 2 at a time",
            'condition-2: if s0.out >= "0" and parameter x == 1 and not (true != item of loop-1)',
        ],
    }
    assert dict(summary.steps["bare"].fields) == {
        "image": "r/a:1",
        "command": ["run", "it"],
        "inputs": {},
        "depends on": [],
        "env": {},
        "resources": {"cpu": 1, "memory": "1GiB", "gpu": 0, "gpu type": None, "disk": None},
        "spot": False,
        "retry": None,
        "timeout": None,
        "caching": None,
        "instance type": None,
        "instances": 1,
        "shard": [],
        "runs in": ['loop-3: for each of ["p", "q"]', "condition-4: if always"],
    }
    final = summary.steps["final"].fields
    assert final["exit task of"] == ["exit-1"] and final["runs in"] == []
    assert "resources" not in final and "exit task of" not in summary.steps["bare"].fields


def test_constants_in_conditions_and_loops_are_shown_as_written():
    @dsl.container_component(image="r/x:1", command=["say"])
    def say(text: str):
        """Says it."""

    @dsl.pipeline(name="cities")
    def cities(city: str = "Zürich"):
        with dsl.If(city == "Genève"):
            say(text="x").set_name("in-geneva")
        with dsl.ParallelFor(["Bâle", "Lugano"]) as c:
            say(text=c).set_name("each")

    steps = diff.summarize_text(compile_text(cities, "ir")).steps
    assert steps["in-geneva"].fields["runs in"] == ['condition-1: if parameter city == "Genève"']
    assert steps["each"].fields["runs in"] == ['loop-2: for each of ["Bâle", "Lugano"]']
