"""``pipecast diff`` in process (DESIGN §15): the errors a reader of a bad document sees, word for
word and naming the document; the review of a document the target cannot summarise; and the
lines of an added or removed step in every format. (tests/test_diff.py covers the CLI.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import GOLDEN_DIR

from pipecast.compilers import diff, target_names
from pipecast.compilers._json_diff import PathChange
from pipecast.compilers.diff import DocumentSummary, Review, StepSummary
from pipecast.errors import DocumentError

IR_TEXT = (GOLDEN_DIR / "video-analysis.ir.json").read_text(encoding="utf-8")


def _kinds() -> str:
    """What the registered targets write, as the error lists them."""
    assert target_names() == ["ir", "sagemaker", "stepfunctions", "kubeflow"]
    return (
        "a pipecast IR document, a SageMaker pipeline definition, a Step Functions state machine "
        "or a Kubeflow pipeline (KFP IR YAML)"
    )


# ----- reading documents: one line naming the document ------------------------------------------


def test_summarize_text_names_the_document_by_default_or_as_told():
    for text in ("", "  \n", "---\n...\n"):
        with pytest.raises(DocumentError) as info:
            diff.summarize_text(text)
        assert str(info.value) == "document: empty document"
    with pytest.raises(DocumentError) as info:
        diff.summarize_text('{"hello": 1}')
    assert str(info.value) == f"document: not a document pipecast can read (expected {_kinds()})"
    with pytest.raises(DocumentError) as info:
        diff.summarize_text('{"hello": 1}', "mine.json")
    assert str(info.value).startswith("mine.json: not a document pipecast can read")
    with pytest.raises(DocumentError) as info:
        diff.summarize_text('{"steps": [', "cut.json")
    assert str(info.value).startswith("cut.json: not valid JSON (truncated?): ")


def test_summarize_text_with_a_target_reads_that_targets_summary():
    summary = diff.summarize_text(IR_TEXT, target="ir")
    assert summary.target == "ir" and summary.name == "video-analysis"
    broken = json.loads(IR_TEXT)
    del broken["components"]
    with pytest.raises(DocumentError) as info:
        diff.summarize_text(json.dumps(broken), target="ir")
    assert str(info.value) == (
        "document: malformed ir document (KeyError: 'components'); truncated or not written by "
        "pipecast?"
    )


def test_summarize_file_names_the_file(tmp_path):
    path = tmp_path / "video.ir.json"
    path.write_text(IR_TEXT, encoding="utf-8")
    assert diff.summarize_file(path) == diff.summarize_text(IR_TEXT)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DocumentError) as info:
        diff.summarize_file(str(path))
    assert str(info.value) == f"{path}: empty document"
    with pytest.raises(DocumentError) as info:
        diff.summarize_file(tmp_path / "missing.json")
    assert str(info.value) == f"{tmp_path / 'missing.json'}: no such file"
    path.write_bytes(b"\xff\xfe{")
    with pytest.raises(DocumentError) as info:
        diff.summarize_file(path)
    assert str(info.value).startswith(f"{path}: cannot read: ")


def test_a_document_the_target_cannot_summarise_is_still_reviewed_by_path_unless_strict():
    broken = json.loads(IR_TEXT)
    del broken["components"]
    changed = json.loads(IR_TEXT)
    del changed["components"]
    changed["name"] = "renamed"
    old_text, new_text = json.dumps(broken), json.dumps(changed)
    review = diff.compare_texts(old_text, new_text, "deployed x", "compiled x", strict=False)
    assert review.note == (
        "no per-step summary (deployed x: malformed ir document (KeyError: 'components'); "
        "truncated or not written by pipecast?); every difference is listed by path"
    )
    assert review.changes == [] and not review.equal
    assert [d.to_dict() for d in review.unexplained] == [
        {"path": "name", "kind": "changed", "old": "video-analysis", "new": "renamed"}
    ]
    assert review.render("text").splitlines() == [
        "pipeline 'pipeline' (ir): 1 other difference",
        f"note: {review.note}",
        "other differences (by JSON path; not in the per-step summary):",
        '  name: "video-analysis" → "renamed"',
    ]
    with pytest.raises(DocumentError) as info:
        diff.compare_texts(old_text, IR_TEXT, "deployed x", "compiled x")
    assert str(info.value).startswith("deployed x: malformed ir document (KeyError:")
    with pytest.raises(DocumentError) as info:
        diff.compare_texts(IR_TEXT, new_text, "deployed x", "compiled x")
    assert str(info.value).startswith("compiled x: malformed ir document (KeyError:")


# ----- an added or removed step, in every format ------------------------------------------------


def _review() -> Review:
    old = DocumentSummary(
        "sagemaker",
        "p",
        {},
        {
            "gone": StepSummary(
                "gone", "processing job", {"image": "r/b:1", "spot": False, "instance type": ""}
            ),
            "kept": StepSummary("kept", "processing job", {"image": "r/k:1"}),
        },
    )
    new = DocumentSummary(
        "sagemaker",
        "p",
        {},
        {
            "kept": StepSummary("kept", "processing job", {"image": "r/k:1"}),
            "new": StepSummary(
                "new",
                "training job",
                {
                    "spot": 3600,
                    "instance type": "ml.m5.large",
                    "image": "r/a:1",
                    "retry": {"max_attempts": 3},
                },
            ),
        },
    )
    difference = PathChange(("Steps", 1), "added", None, {"Name": "new"})
    return Review("sagemaker", old, new, diff.diff(old, new), [difference], [])


def test_added_and_removed_steps_show_kind_image_machine_and_spot():
    assert _review().render("text") == (
        "pipeline 'p' (sagemaker): 1 step added, 1 step removed\n"
        "- step gone: processing job, image r/b:1\n"
        "+ step new: training job, image r/a:1, instance type ml.m5.large, spot 3600\n"
    )
    assert _review().render("markdown") == (
        "### pipeline 'p' (sagemaker): 1 step added, 1 step removed\n"
        "- **removed** step `gone`: processing job, image r/b:1\n"
        "- **added** step `new`: training job, image r/a:1, instance type ml.m5.large, spot 3600\n"
    )


def test_json_review_lists_every_difference_with_its_path_kind_and_values():
    got = json.loads(_review().render("json"))
    assert got["differences"] == [
        {"path": "Steps[1]", "kind": "added", "old": None, "new": {"Name": "new"}}
    ]
    assert got["equal"] is False and got["not_in_summary"] == [] and got["note"] is None
    assert [(c["id"], c["kind"]) for c in got["changes"]] == [("gone", "removed"), ("new", "added")]


def test_differences_no_row_shows_are_listed_by_path_with_none_for_a_missing_side():
    summary = DocumentSummary("ir", "p", {}, {})
    differences = [
        PathChange(("a",), "added", None, {"y": 2, "x": 1}),
        PathChange(("b", 0), "removed", "gone", None),
        PathChange(("c", "odd|key"), "changed", 1, 1.5),
    ]
    review = Review("ir", summary, summary, [], differences, differences)
    assert review.render("text") == (
        "pipeline 'p' (ir): 3 other differences\n"
        "other differences (by JSON path; not in the per-step summary):\n"
        '  a: (none) → {"x": 1, "y": 2}\n'
        '  b[0]: "gone" → (none)\n'
        '  c["odd|key"]: 1 → 1.5\n'
    )
    assert review.render("markdown") == (
        "### pipeline 'p' (ir): 3 other differences\n"
        "\n"
        "**other differences (by JSON path; not in the per-step summary)**\n"
        "\n"
        "| path | before | after |\n"
        "|---|---|---|\n"
        '| `a` | `(none)` | `{"x": 1, "y": 2}` |\n'
        '| `b[0]` | `"gone"` | `(none)` |\n'
        '| `c["odd\\|key"]` | `1` | `1.5` |\n'
    )


def test_a_changed_step_has_one_row_per_changed_field_and_list_element():
    old = StepSummary(
        "s",
        "job",
        {
            "image": "r/a:1",
            "command": ["run", "-v", "x"],
            "depends on": ["a"],
            "inputs": [{"name": "a"}, {"name": "b"}],
            "retry": {"max_attempts": 2, "backoff": 1},
        },
    )
    new = StepSummary(
        "s",
        "job",
        {
            "image": "r/a:2",
            "command": ["run", "x"],
            "depends on": ["a", "b"],
            "inputs": [{"name": "b"}, {"name": "a"}],
            "retry": {"max_attempts": 3, "backoff": 1},
        },
    )
    before = DocumentSummary("ir", "p", {}, {"s": old})
    after = DocumentSummary("ir", "p", {}, {"s": new})
    difference = PathChange(("x",), "changed", 1, 2)
    review = Review("ir", before, after, diff.diff(before, after), [difference], [])
    assert review.render("text") == (
        "pipeline 'p' (ir): 1 step changed\n"
        "~ step s\n"
        '    command[1]: "-v" → (none)\n'
        '    depends on[1]: (none) → "b"\n'
        "    image: r/a:1 → r/a:2\n"
        "    inputs order: a b → b a\n"
        "    retry.max_attempts: 2 → 3\n"
    )
    assert review.render("markdown") == (
        "### pipeline 'p' (ir): 1 step changed\n"
        "\n"
        "**changed step `s`**\n"
        "\n"
        "| field | before | after |\n"
        "|---|---|---|\n"
        '| command[1] | `"-v"` | `(none)` |\n'
        '| depends on[1] | `(none)` | `"b"` |\n'
        "| image | `r/a:1` | `r/a:2` |\n"
        "| inputs order | `a b` | `b a` |\n"
        "| retry.max_attempts | `2` | `3` |\n"
    )


def test_the_headline_counts_each_kind_of_change_and_a_rename_names_both_pipelines():
    old = DocumentSummary(
        "ir",
        "before",
        {"gone": {"type": "int", "default": 1}, "kept": {"type": "str", "default": "a"}},
        {},
    )
    new = DocumentSummary(
        "ir",
        "after",
        {"kept": {"type": "str", "default": "b"}, "added": {"type": "list", "default": None}},
        {},
    )
    changes = diff.diff(old, new)
    assert [c.to_dict() for c in changes] == [
        {
            "scope": "pipeline",
            "id": "after",
            "kind": "changed",
            "field": "name",
            "old": "before",
            "new": "after",
        },
        {
            "scope": "parameter",
            "id": "added",
            "kind": "added",
            "field": None,
            "old": None,
            "new": {"type": "list", "default": None},
        },
        {
            "scope": "parameter",
            "id": "gone",
            "kind": "removed",
            "field": None,
            "old": {"type": "int", "default": 1},
            "new": None,
        },
        {
            "scope": "parameter",
            "id": "kept",
            "kind": "changed",
            "field": "default",
            "old": "a",
            "new": "b",
        },
    ]
    renamed = PathChange(("name",), "changed", "before", "after")
    review = Review("ir", old, new, changes, [renamed], [])
    assert review.render("text") == (
        "pipelines 'before' and 'after' (ir): two different pipelines: 1 parameter added, "
        "1 parameter removed, 1 parameter changed\n"
        '+ parameter added: {"default": null, "type": "list"}\n'
        '- parameter gone: {"default": 1, "type": "int"}\n'
        "~ parameter kept\n"
        "    default: a → b\n"
    )
    got = json.loads(review.render("json"))
    assert (got["target"], got["pipeline"], got["old_pipeline"]) == ("ir", "after", "before")
    only_renamed = Review(
        "ir", old, DocumentSummary("ir", "after", old.parameters, {}), [], [renamed], []
    )
    assert (
        only_renamed.render()
        == "pipelines 'before' and 'after' (ir): two different pipelines: changed\n"
    )


# ----- the exact words of the reading errors and the headline -----------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # JSON that breaks off: the JSON error, not YAML's, even after leading blank lines
        ("[1, 2", "list.json: not valid JSON (truncated?): "),
        ('\n\n  {"a": 1,', "list.json: not valid JSON (truncated?): "),
        # neither: YAML's error on one line, where it happened
        ("a: [1\nb: 2", "list.json: neither JSON nor YAML: while parsing a flow sequence "),
    ],
    ids=["json-list", "json-after-blank-lines", "yaml"],
)
def test_a_document_that_cannot_be_read_says_which_parser_failed(text, message):
    with pytest.raises(DocumentError) as info:
        diff.load_document(text, "list.json")
    shown = str(info.value)
    assert shown.startswith(message)
    assert "\n" not in shown and "  " not in shown.removeprefix(message)


def test_json_and_yaml_lists_and_several_yaml_documents_are_read():
    assert diff.load_document("\n [1, 2]") == [1, 2]
    assert diff.load_document("- 1\n- 2\n") == [1, 2]
    assert diff.load_document("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


def test_detect_target_and_compare_name_the_document_by_default():
    with pytest.raises(DocumentError) as info:
        diff.detect_target({"hello": 1})
    assert str(info.value) == f"document: not a document pipecast can read (expected {_kinds()})"
    broken = json.loads(IR_TEXT)
    del broken["components"]
    review = diff.compare(broken, broken, "ir")
    assert review.note == (
        "no per-step summary (document: malformed ir document (KeyError: 'components'); "
        "truncated or not written by pipecast?); every difference is listed by path"
    )


def test_documents_of_two_targets_are_refused_naming_both():
    from pipecast.errors import UsageError

    sagemaker = (GOLDEN_DIR / "video-analysis.sagemaker.json").read_text(encoding="utf-8")
    with pytest.raises(UsageError) as info:
        diff.compare_texts(IR_TEXT, sagemaker, "a.json", "b.json")
    assert str(info.value) == (
        "a.json is an ir document but b.json is a sagemaker document; compare two documents of "
        "one target"
    )
    with pytest.raises(UsageError) as info:
        diff.compare_texts(sagemaker, IR_TEXT, "b.json", "a.json")
    assert str(info.value).startswith("b.json is a sagemaker document but a.json is an ir ")


def test_the_headline_counts_in_the_plural_beyond_one():
    def summary(steps: list[str], params: dict[str, Any]) -> DocumentSummary:
        return DocumentSummary(
            "ir",
            "p",
            {name: {"type": "int", "default": v} for name, v in params.items()},
            {s: StepSummary(s, "job", {"image": "r/a:1"}) for s in steps},
        )

    old = summary(["kept"], {"a": 1, "b": 1})
    new = summary(["kept", "x", "y"], {"a": 2, "b": 2})
    others = [PathChange(("x",), "added", None, 1), PathChange(("y",), "added", None, 2)]
    review = Review("ir", old, new, diff.diff(old, new), others, others)
    assert review.render("text").splitlines()[0] == (
        "pipeline 'p' (ir): 2 steps added, 2 parameters changed, 2 other differences"
    )


# ----- what compare_texts calls each side, and the pipeline name it is told ---------------------


def test_compare_texts_calls_the_two_sides_old_and_new_by_default():
    cases = [
        (("", IR_TEXT), "old: empty document"),
        ((IR_TEXT, "  "), "new: empty document"),
        (('{"hello": 1}', IR_TEXT), f"old: not a document pipecast can read (expected {_kinds()})"),
        ((IR_TEXT, '{"hello": 1}'), f"new: not a document pipecast can read (expected {_kinds()})"),
    ]
    for (old_text, new_text), message in cases:
        with pytest.raises(DocumentError) as info:
            diff.compare_texts(old_text, new_text)
        assert str(info.value) == message
    with pytest.raises(DocumentError) as info:
        diff.compare_texts(IR_TEXT, '{"steps": [')
    assert str(info.value).startswith("new: not valid JSON (truncated?): ")


@pytest.mark.parametrize("strict", [True, False])
def test_the_name_the_caller_knows_names_both_sides_of_the_review(strict):
    changed = json.loads(IR_TEXT)
    changed["components"][0]["image"] = "r/new:2"
    review = diff.compare_texts(IR_TEXT, json.dumps(changed), name="deployed", strict=strict)
    assert (review.old.name, review.new.name, review.name) == ("deployed",) * 3
    assert review.render("text").startswith("pipeline 'deployed' (ir): 1 step changed")
    assert diff.compare(json.loads(IR_TEXT), changed, "ir", name="deployed").name == "deployed"


def test_a_difference_that_breaks_the_document_alone_is_listed_by_path():
    """Renaming a component changes the component list and a step's reference together; each
    alone leaves a document the summary cannot read, so neither can be "shown" by a row."""
    changed = json.loads(IR_TEXT)
    first = changed["components"][0]["name"]
    changed["components"][0]["name"] = f"{first}-v2"
    for step in changed["steps"]:
        if step["component"] == first:
            step["component"] = f"{first}-v2"
    changed["components"][1]["image"] = "r/other:2"  # a row, so the search for rows runs
    review = diff.compare_texts(IR_TEXT, json.dumps(changed))
    assert [d.where for d in review.unexplained] == [
        f"components[{first}]",
        f"components[{first}-v2]",
        f"steps[{first}].component",
    ]


# ----- values in the review: shown whole, as written --------------------------------------------


def _one_step_change(old: dict[str, Any], new: dict[str, Any]) -> Review:
    before = DocumentSummary("ir", "p", {}, {"s": StepSummary("s", "job", old)})
    after = DocumentSummary("ir", "p", {}, {"s": StepSummary("s", "job", new)})
    return Review(
        "ir", before, after, diff.diff(before, after), [PathChange(("x",), "changed")], []
    )


def test_missing_and_empty_values_read_none_and_text_is_shown_as_written():
    review = _one_step_change(
        {"image": None, "command": [], "env": ["Zürich", 2], "args": ["a", "b"]},
        {"image": "r/a:1", "command": "run", "env": "Genève", "args": "a b c"},
    )
    assert review.render("text").splitlines()[1:] == [
        "~ step s",
        "    args: a b → a b c",
        "    command: (none) → run",
        '    env: ["Zürich", 2] → Genève',
        "    image: (none) → r/a:1",
    ]


def test_markdown_cells_escape_pipes_backticks_and_line_breaks():
    review = _one_step_change({"command": "a | b"}, {"command": "say `hi`\nthen bye"})
    assert review.render("markdown").splitlines()[-1] == (
        "| command | `a \\| b` | `say 'hi'\\nthen bye` |"
    )
