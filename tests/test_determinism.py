"""Same input → same bytes, across runs, hash seeds and definition order (DESIGN §10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import EXAMPLES, ROOT, available_targets, example_files
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast.compilers import canonical


def _compile_all(out_dir, seed: str) -> dict[str, bytes]:
    for example in example_files():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pipecast",
                "compile",
                str(example),
                "--target",
                "all",
                "-o",
                str(out_dir),
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


def test_every_target_is_byte_identical_across_hash_seeds(tmp_path):
    first = _compile_all(tmp_path / "a", "1")
    second = _compile_all(tmp_path / "b", "2")
    third = _compile_all(tmp_path / "c", "random")
    assert first.keys() == second.keys() == third.keys()
    assert len(first) == len(example_files()) * len(available_targets())
    for name in first:
        assert first[name] == second[name] == third[name], f"{name} differs between hash seeds"


@pytest.mark.parametrize("example", ["video_analysis", "multi_camera"])
def test_documents_are_canonical_text(example):
    from helpers import available_targets, compile_text, load_example

    for target in available_targets():
        text = compile_text(load_example(example), target)
        assert text.endswith("\n") and not text.endswith("\n\n"), target
        assert "\r" not in text and "\t" not in text, target
        for marker in ("2026-", "2025-", "/tmp/", "/work/", str(EXAMPLES)):
            assert marker not in text, f"{target} document contains {marker!r}"


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_fast_canonical_json_is_exactly_the_standard_librarys(document):
    expected = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    assert canonical.dumps_json(document) == expected + "\n"


def test_canonical_json_falls_back_for_what_is_not_plain_json():
    import enum

    class Size(enum.IntEnum):
        BIG = 3

    for document in ({"a": Size.BIG}, {10: "x", 9: [True, None]}, ("t", 1.5)):
        expected = json.dumps(
            document, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
        )
        assert canonical.dumps_json(document) == expected + "\n"
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical.dumps_json({"x": [float("nan")]})
