"""The RunResult/fixture example in the README runs as written (extracted from README.md)."""

from __future__ import annotations

import re
import types

from helpers import ROOT

MARKER = "<!-- runner-api-example: run by tests/test_readme_runner_api.py -->"


def _example() -> types.ModuleType:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(MARKER) + len(MARKER) :]
    match = re.match(r"\s*```python\n(.*?)\n```", after, re.S)
    assert match, "the README example block must follow the marker"
    module = types.ModuleType("readme_runner_api")
    exec(compile(match.group(1), str(ROOT / "README.md"), "exec"), module.__dict__)
    return module


def test_the_readme_runner_api_example_passes(pipecast_run):
    module = _example()
    tests = [name for name in vars(module) if name.startswith("test_")]
    assert tests == ["test_a_flaky_fetch_is_retried_from_an_empty_folder"]
    for name in tests:
        getattr(module, name)(pipecast_run)
