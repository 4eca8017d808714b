"""A ``@dsl.component`` runs as ``python -m pipecast.runtime module:function`` in its image, so
the module name in the document must be the same however the pipeline REF is spelled (file path
from any folder, dotted module), and a file no image could import is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import EXAMPLES, run_cli

STEPS = """
from pipecast import dsl


@dsl.component(image="r.example.com/py:1.0")
def hello(name: str = "x") -> None:
    print("hello", name)


@dsl.pipeline(name="pyc")
def pyc():
    hello()
"""


def runtime_target(ref: str, cwd: Path) -> str:
    proc = run_cli("compile", ref, "--target", "ir", cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    (component,) = json.loads(proc.stdout)["components"]
    assert component["command"][:3] == ["python", "-m", "pipecast.runtime"]
    return component["command"][3]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pipecast.toml").write_text(
        (EXAMPLES / "pipecast.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "pyc.py").write_text(STEPS, encoding="utf-8")
    (tmp_path / "ns" / "sub").mkdir(parents=True)  # namespace packages: no __init__.py
    (tmp_path / "ns" / "sub" / "steps.py").write_text(STEPS, encoding="utf-8")
    return tmp_path


def test_a_package_module_has_one_name_however_it_is_spelled(project):
    spellings = {
        runtime_target("pkg/pyc.py", project),
        runtime_target("pkg.pyc:pyc", project),
        runtime_target("pkg.pyc", project),
        runtime_target("pyc.py", project / "pkg"),
        runtime_target(str(project / "pkg" / "pyc.py"), Path("/")),
    }
    assert spellings == {"pkg.pyc:hello"}


def test_a_module_in_namespace_folders_is_named_from_its_own_folder(project):
    spellings = {
        runtime_target("ns.sub.steps:pyc", project),
        runtime_target("ns/sub/steps.py", project),
        runtime_target("steps.py", project / "ns" / "sub"),
    }
    assert spellings == {"steps:hello"}


def test_a_file_no_image_could_import_is_pc128(project):
    bad = project / "my-steps.py"
    bad.write_text(STEPS, encoding="utf-8")
    proc = run_cli("compile", str(bad), "--target", "ir", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "my-steps.py:5: error[PC128]" in proc.stderr, proc.stderr
    assert "my_steps.py" in proc.stderr


def test_container_components_in_such_a_file_still_compile(project):
    bad = project / "my-pipe.py"
    bad.write_text(
        "from pipecast import dsl\n"
        "@dsl.container_component(image='r.example.com/x:1', command=['run'])\n"
        "def step():\n    '''x'''\n"
        "@dsl.pipeline(name='p')\ndef p():\n    step()\n",
        encoding="utf-8",
    )
    proc = run_cli("compile", str(bad), "--target", "ir", cwd=project)
    assert proc.returncode == 0, proc.stderr
