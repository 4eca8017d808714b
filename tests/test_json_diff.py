"""The complete, by-path half of ``diff`` (``compilers/_json_diff.py``, DESIGN §15), on small
hand-made documents: what counts as equal (key order only), how lists are matched, and
``apply`` of one change (which the summary uses to tell which differences it shows)."""

from __future__ import annotations

from typing import Any

from pipecast.compilers._json_diff import Named, PathChange, apply, path_diff


def _rows(old: Any, new: Any) -> list[tuple[str, str, Any, Any]]:
    return [(c.where, c.kind, c.old, c.new) for c in path_diff(old, new)]


def test_key_order_is_the_only_thing_ignored():
    assert path_diff({"a": 1, "b": [1, {"c": 2}]}, {"b": [1, {"c": 2}], "a": 1}) == []
    # 1, 1.0 and true are equal in Python but not in the document, at any depth
    assert _rows({"a": [1]}, {"a": [1.0]}) == [("a[0]", "changed", 1, 1.0)]
    assert _rows({"a": {"b": [True]}}, {"a": {"b": [1]}}) == [("a.b[0]", "changed", True, 1)]
    assert _rows([{"x": 1}], [{"x": 1.0}]) == [("[0].x", "changed", 1, 1.0)]


def test_dict_keys_added_removed_and_changed_in_sorted_order():
    assert _rows({"b": 1, "c": 2, "odd key": 0}, {"a": 1, "c": 3, "odd key": 1}) == [
        ("a", "added", None, 1),
        ("b", "removed", 1, None),
        ("c", "changed", 2, 3),
        ('["odd key"]', "changed", 0, 1),
    ]


def test_plain_lists_of_another_length_are_aligned_as_sequences():
    assert _rows([1, 2, 3], [1, 9, 2, 3]) == [("[1]", "added", None, 9)]
    assert _rows([1, 2, 3], [1, 3]) == [("[1]", "removed", 2, None)]
    # a run replaced by one of another length: the old run removed, the new one added
    assert _rows([1, 2, 3], [1, 7, 8, 9, 3]) == [
        ("[1]", "removed", 2, None),
        ("[1]", "added", None, 7),
        ("[2]", "added", None, 8),
        ("[3]", "added", None, 9),
    ]
    # equal values of another type are not the same element: a replaced run of one length is
    # compared element by element
    assert _rows([1, 2, 3], [1, 2.0, 3, 4]) == [
        ("[1]", "changed", 2, 2.0),
        ("[3]", "added", None, 4),
    ]


def test_lists_of_named_objects_are_matched_by_name_and_a_new_order_is_one_change():
    old = {"Steps": [{"Name": "a", "v": 1}, {"Name": "b", "v": 1}, {"Name": "c", "v": 1}]}
    new = {"Steps": [{"Name": "c", "v": 1}, {"Name": "a", "v": 2}, {"Name": "d", "v": 1}]}
    assert _rows(old, new) == [
        ("Steps[b]", "removed", {"Name": "b", "v": 1}, None),
        ("Steps[a].v", "changed", 1, 2),
        ("Steps[d]", "added", None, {"Name": "d", "v": 1}),
        ("Steps", "reordered", ["a", "c"], ["c", "a"]),
    ]


def test_apply_one_change_at_a_time_gives_the_new_document():
    old = {"Steps": [{"Name": "a", "v": 1}, {"Name": "b", "v": 1}], "n": [1, 2], "k": 0}
    new = {"Steps": [{"Name": "b", "v": 1}, {"Name": "a", "v": 2}], "n": [1, 5, 2], "m": 1}
    document = old
    for change in path_diff(old, new):
        document = apply(document, change)
    assert path_diff(document, new) == []
    assert old == {"Steps": [{"Name": "a", "v": 1}, {"Name": "b", "v": 1}], "n": [1, 2], "k": 0}


def test_a_reorder_applied_alone_keeps_the_elements_it_does_not_name_after_the_others():
    items = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    change = PathChange((), "reordered", ["a", "b"], ["b", "a"])
    assert apply(items, change) == [{"id": "b"}, {"id": "a"}, {"id": "c"}]
    # a list without an identity key has nothing to reorder
    assert apply([1, 2], PathChange((), "reordered", [0, 1], [1, 0])) == [1, 2]


def test_apply_a_removal_or_addition_by_name_or_index():
    doc = {"L": [{"Name": "a"}, {"Name": "b"}]}
    removed = PathChange(("L", Named("Name", "a")), "removed", {"Name": "a"}, None)
    assert apply(doc, removed) == {"L": [{"Name": "b"}]}
    added = PathChange(("L", Named("Name", "c")), "added", None, {"Name": "c"})
    assert apply(doc, added) == {"L": [{"Name": "a"}, {"Name": "b"}, {"Name": "c"}]}
    assert apply([1, 2], PathChange((1,), "added", None, 9)) == [1, 9, 2]
    assert apply([1, 2], PathChange((7,), "added", None, 9)) == [1, 2, 9]
    assert apply([1, 2], PathChange((0,), "removed", 1, None)) == [2]


def test_a_long_list_of_repeated_values_shows_one_insertion_not_every_element_changed():
    # difflib's "autojunk" heuristic would treat a value that fills over 1 % of a list of 200 or
    # more as junk and align nothing: every element of a long argument list would read changed
    old = ["-v", "-q"] * 130
    new = ["--first", *old]
    assert _rows(old, new) == [("[0]", "added", None, "--first")]
    assert _rows(new, old) == [("[0]", "removed", "--first", None)]


def test_lists_of_other_lengths_match_elements_whatever_their_key_order():
    old = [{"a": 1, "b": 2}, {"c": 3}]
    new = [{"b": 2, "a": 1}]  # the same object, its keys written in another order
    assert _rows(old, new) == [("[1]", "removed", {"c": 3}, None)]


def test_a_change_at_an_index_the_list_lacks_changes_nothing():
    # differences inside an aligned list carry the new list's index, which the old may lack
    assert apply(["a", "b"], PathChange((2, "x"), "changed", 1, 2)) == ["a", "b"]
    assert apply(["a", "b"], PathChange((5,), "removed", "z", None)) == ["a", "b"]
    assert apply(["a", "b"], PathChange((2,), "added", None, "c")) == ["a", "b", "c"]
