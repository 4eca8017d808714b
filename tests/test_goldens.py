"""Every example's compiled documents are committed in examples/compiled/; they must be current.

``PIPECAST_REGENERATE=1 pytest tests/test_goldens.py`` rewrites them after an intended change.
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
from pipecast.compilers import load_target
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
        atomic_write(golden, text)
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


def test_every_golden_has_an_example():
    """No orphan goldens: each file belongs to an example pipeline and a registered target."""
    names = {load_pipeline(str(f)).spec.name for f in example_files()}
    suffixes = {load_target(t).suffix for t in available_targets()}
    for path in GOLDEN_DIR.iterdir():
        name, _, suffix = path.name.partition(".")
        assert name in names, f"{path.name}: no example defines pipeline '{name}'"
        assert suffix in suffixes or suffix.split(".")[0] not in available_targets(), path.name
