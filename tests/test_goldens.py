"""Every example's compiled documents are committed in examples/compiled/; they must be current.

This is the byte-stability check only: what the documents mean is tested on documents compiled
inside the tests (test_meaning.py and the per-target modules), so regenerating a golden cannot
hide a change of meaning. ``PIPECAST_REGENERATE=1 pytest tests/test_goldens.py`` rewrites the
goldens after an intended change: in that mode each case writes its file and is reported as
skipped (what it wrote), never as a passed comparison of a file with itself.
"""

from __future__ import annotations

import pytest
from helpers import (
    EXAMPLE_CONFIG,
    GOLDEN_DIR,
    REGENERATE,
    available_targets,
    compile_text,
    example_files,
    refused_features,
)

from pipecast._loader import load_pipeline
from pipecast.compilers import load_target, target_names
from pipecast.compilers.canonical import atomic_write

CASES = [(f, t) for f in example_files() for t in available_targets()]


@pytest.mark.parametrize(("example", "target"), CASES, ids=[f"{f.stem}-{t}" for f, t in CASES])
def test_golden_is_current(example, target):
    loaded = load_pipeline(str(example))
    golden = GOLDEN_DIR / f"{loaded.spec.name}.{load_target(target).suffix}"
    if refused_features(example, target):
        # the example uses what this target cannot express yet: no golden, a clean refusal
        if REGENERATE:
            golden.unlink(missing_ok=True)
        assert not golden.exists(), f"{golden} exists, but {target} refuses {example.name}"
        return
    text = compile_text(loaded.spec, target, EXAMPLE_CONFIG)
    if REGENERATE:
        before = golden.read_text(encoding="utf-8") if golden.is_file() else None
        if before != text:
            atomic_write(golden, text)
        pytest.skip(
            f"PIPECAST_REGENERATE=1: {golden.name} {'unchanged' if before == text else 'written'}"
        )
    assert golden.is_file(), f"missing golden {golden}; run with PIPECAST_REGENERATE=1"
    assert golden.read_text(encoding="utf-8") == text, (
        f"{golden} is stale; review the change, then PIPECAST_REGENERATE=1 pytest "
        "tests/test_goldens.py"
    )


def test_every_example_compiles_for_some_target_beyond_the_ir():
    """Examples that only compile for some targets are the exception: the IR always works,
    and the examples without control flow compile everywhere."""
    for example in example_files():
        assert not refused_features(example, "ir"), example.name
    everywhere = [
        f for f in example_files() if not any(refused_features(f, t) for t in available_targets())
    ]
    assert len(everywhere) >= 3, everywhere


def test_every_golden_has_an_example_and_a_target():
    """No orphan goldens: each file is ``<pipeline>.<suffix>`` for an example pipeline and a
    registered target's suffix (whether or not that target's extra is installed here)."""
    examples = {f: load_pipeline(str(f)).spec.name for f in example_files()}
    names = set(examples.values())
    suffixes = {load_target(t).suffix for t in target_names()}
    goldens = sorted(GOLDEN_DIR.iterdir())
    assert goldens, f"no goldens in {GOLDEN_DIR}"
    for path in goldens:
        name, _, suffix = path.name.partition(".")
        assert name in names, f"{path.name}: no example defines pipeline '{name}'"
        assert suffix in suffixes, f"{path.name}: '{suffix}' is no target's suffix"
    expected = {
        f"{name}.{load_target(t).suffix}"
        for f, name in examples.items()
        for t in target_names()
        if not refused_features(f, t)
    }
    assert {p.name for p in goldens} == expected, (
        "every example has a golden for every target that does not refuse it"
    )
