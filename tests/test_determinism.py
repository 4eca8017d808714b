"""Same input → same bytes, across runs, hash seeds and definition order (DESIGN §10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import EXAMPLES, ROOT, available_targets, example_files, refused_features
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast.compilers import canonical


def _compilable() -> list[tuple[object, str]]:
    """(example, target) pairs that compile (an example may use what some targets refuse)."""
    return [
        (example, target)
        for example in example_files()
        for target in available_targets()
        if not refused_features(example, target)
    ]


def _compile_all(out_dir, seed: str) -> dict[str, bytes]:
    pairs = _compilable()
    for example in example_files():
        targets = [t for e, t in pairs if e == example]
        everywhere = len(targets) == len(available_targets())
        for target in ["all"] if everywhere else targets:
            _compile(example, target, out_dir, seed)
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


def _compile(example, target: str, out_dir, seed: str) -> None:
    """``pipecast compile EXAMPLE --target T`` in a fresh interpreter with ``seed``."""
    from pipecast._loader import load_pipeline
    from pipecast.compilers import load_target

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir
    if target != "all":
        name = load_pipeline(str(example)).spec.name
        output = out_dir / f"{name}.{load_target(target).suffix}"
    argv = [sys.executable, "-m", "pipecast", "compile", str(example), "--target", target]
    subprocess.run(
        [*argv, "-o", str(output)],
        check=True,
        cwd=ROOT,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
    )


def test_every_target_is_byte_identical_across_hash_seeds(tmp_path):
    first = _compile_all(tmp_path / "a", "1")
    second = _compile_all(tmp_path / "b", "2")
    third = _compile_all(tmp_path / "c", "random")
    assert first.keys() == second.keys() == third.keys()
    assert len(first) == len(_compilable())
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
