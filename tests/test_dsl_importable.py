"""The module name a ``@dsl.component`` runs under (``python -m pipecast.runtime module:function``),
decided in-process for every way a pipeline file can be loaded: imported normally, run as a
script (``__main__``), loaded by path under a name ``sys.modules`` does not hold, or from a file
no image could import (PC128). tests/test_module_refs.py checks the same through the CLI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipecast.dsl import Component
from pipecast.errors import DefinitionError

STEPS = """from pipecast import dsl

@dsl.component(image="r.example.com/py:1.0")
def hello(name: str = "x") -> None:
    print("hello", name)
"""


def _load(path: Path | str, module: str) -> Component:
    """Run STEPS as from ``path`` with ``__name__`` = ``module`` (as runpy and importlib do)."""
    namespace = {"__name__": module}
    exec(compile(STEPS, str(path), "exec"), namespace)
    component = namespace["hello"]
    assert isinstance(component, Component)
    return component


def _target(component: Component) -> str:
    assert component.spec.command[:3] == ("python", "-m", "pipecast.runtime")
    return component.spec.command[3]


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """``tmp/pkg/pyc.py`` inside a regular package."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    steps = tmp_path / "pkg" / "pyc.py"
    steps.write_text(STEPS)
    return steps


def test_a_script_run_as_main_is_named_from_its_file_and_package(package: Path) -> None:
    assert _target(_load(package, "__main__")) == "pkg.pyc:hello"


def test_a_file_loaded_under_a_name_python_does_not_know_is_named_from_its_file(
    package: Path,
) -> None:
    assert "pipecast_loaded_elsewhere" not in sys.modules
    assert _target(_load(package, "pipecast_loaded_elsewhere")) == "pkg.pyc:hello"


def test_a_module_python_knows_keeps_its_own_name(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # imported as top-level ``pyc`` (its folder on sys.path): the image imports it the same way
    monkeypatch.setitem(sys.modules, "pyc", sys.modules[__name__])
    assert _target(_load(package, "pyc")) == "pyc:hello"


def test_code_without_a_python_file_keeps_its_module_name() -> None:
    assert "pipecast_generated_steps" not in sys.modules
    assert (
        _target(_load("<generated>", "pipecast_generated_steps"))
        == "pipecast_generated_steps:hello"
    )


def test_a_script_without_a_file_is_pc128_at_the_decorator() -> None:
    with pytest.raises(DefinitionError) as caught:
        _load("<stdin>", "__main__")
    error = caught.value.diagnostic
    assert error.code == "PC128"
    assert "'hello' is defined in module '__main__', which no image can import" in error.message


def test_a_file_whose_name_is_no_module_name_is_pc128_with_the_fix(tmp_path: Path) -> None:
    bad = tmp_path / "my-steps.py"
    bad.write_text(STEPS)
    with pytest.raises(DefinitionError) as caught:
        _load(bad, "__main__")
    error = caught.value.diagnostic
    assert error.code == "PC128"
    assert error.location is not None
    assert (error.location.file, error.location.line) == (str(bad), 3)
    assert error.message == (
        "@dsl.component 'hello' is defined in module 'my-steps', which no image can import "
        "(the step runs as python -m pipecast.runtime module:function)"
    )
    assert error.hint == (
        "put components in a file whose name is a Python module name (my_steps.py, not "
        "my-steps.py), inside packages whose folders are module names too"
    )


def test_a_package_folder_that_is_no_module_name_falls_back_to_the_file_name(
    tmp_path: Path,
) -> None:
    # ``2024/`` holds an __init__.py, so no dotted name exists; the image runs it from its folder
    folder = tmp_path / "2024"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    steps = folder / "steps.py"
    steps.write_text(STEPS)
    assert _target(_load(steps, "__main__")) == "steps:hello"
