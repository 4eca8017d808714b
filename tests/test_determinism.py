"""Same input → same bytes, across runs, hash seeds and definition order (DESIGN §10)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import EXAMPLES, ROOT, available_targets, example_files


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
