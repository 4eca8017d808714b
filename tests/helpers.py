"""Shared test helpers: load examples, compile in-process, run the CLI, and the table-driven
``expect(pipeline, sagemaker=..., stepfunctions=Unsupported(...), kubeflow=...)``."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from meaning import check_all

from pipecast._api import compile_spec, resolve_targets
from pipecast.config import Config, load_config
from pipecast.errors import Diagnostic, PipelineError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN_DIR = EXAMPLES / "compiled"
EXAMPLE_CONFIG: Config = load_config(EXAMPLES / "pipecast.toml")
REGENERATE = os.environ.get("PIPECAST_REGENERATE") == "1"


def shown_path(path: str) -> str:
    """``path`` as pipecast's locations show it: relative to the working directory when below
    it, as given otherwise."""
    return path if os.path.relpath(path).startswith("..") else os.path.relpath(path)


def marked_line(where: str | Callable[..., Any], marker: str) -> int:
    """The line that ends with the comment ``# marker``: in the file ``where``, or within the
    source of the function ``where`` (so one marker name can serve every test of a file)."""
    if callable(where):
        lines, first = inspect.getsourcelines(where)
        numbered = list(enumerate((line.rstrip("\n") for line in lines), first))
    else:
        numbered = list(enumerate(Path(where).read_text(encoding="utf-8").splitlines(), 1))
    (number,) = [n for n, line in numbered if line.rstrip().endswith(f"# {marker}")]
    return number


def only_diagnostic(pipeline: Any, target: str | None = None) -> Diagnostic:
    """The one diagnostic of a pipeline the DSL refuses (``target`` None: building its spec)
    or that ``target`` refuses; fails if there is not exactly one."""
    with pytest.raises(PipelineError) as info:
        if target is None:
            pipeline.spec  # noqa: B018 (building the spec runs the function)
        else:
            compile_text(pipeline, target)
    (diagnostic,) = info.value.diagnostics
    return diagnostic


def points_at(diagnostic: Diagnostic, file: str, marker: str) -> bool:
    """Whether ``diagnostic`` is located at the line of ``file`` marked ``# marker``."""
    location = diagnostic.location
    return (
        location is not None
        and Path(location.file).resolve() == Path(file).resolve()
        and location.line == marked_line(file, marker)
    )


def package_dir(name: str) -> Path:
    """The folder of ``pipecast.<name>`` as imported: ``compilers/`` in this checkout,
    ``pipecast/compilers/`` in an installed or mutation-staged tree (never ``ROOT / name``)."""
    import importlib.resources

    return Path(str(importlib.resources.files(f"pipecast.{name}")))


def example_files() -> list[Path]:
    """Every example pipeline file (each defines exactly one pipeline)."""
    return sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


def load_example(name: str) -> Any:
    """The ``dsl.Pipeline`` defined in ``examples/<name>.py``."""
    from pipecast._loader import load_pipeline

    return load_pipeline(str(EXAMPLES / f"{name}.py")).pipeline


def available_targets() -> list[str]:
    """Registered targets whose optional dependencies are installed here."""
    return [t.name for t in resolve_targets("all")[0]]


def refused_features(example: Path, target: str) -> list[str]:
    """The PC008 messages ``target`` refuses ``example`` with (empty: it compiles there).

    An example may use what only some targets express (control flow, until every target
    does): its goldens exist for those targets only, and the others must refuse it with PC008,
    never another error.
    """
    from pipecast._loader import load_pipeline
    from pipecast.compilers import graph, load_target

    try:
        graph.check(load_pipeline(str(example)).spec, load_target(target))
    except PipelineError as exc:
        errors = [d for d in exc.diagnostics if d.severity == "error"]
        assert all(d.code == "PC008" for d in errors), str(exc)
        return [d.message for d in errors]
    return []


def examples_for(target: str) -> list[str]:
    """The example names ``target`` compiles (the others it must refuse with PC008 only:
    tests/test_goldens.py checks that)."""
    return [f.stem for f in example_files() if not refused_features(f, target)]


def compile_document(pipeline: Any, target: str, config: Config | None = None) -> Any:
    """Compile a ``dsl.Pipeline`` (or spec) in-process: the ``Document`` (text and notes)."""
    spec = getattr(pipeline, "spec", pipeline)
    (t,), _ = resolve_targets(target)
    return compile_spec(spec, t, config or EXAMPLE_CONFIG)


def compile_text(pipeline: Any, target: str, config: Config | None = None) -> str:
    """Compile a ``dsl.Pipeline`` (or spec) in-process and return the document text."""
    return str(compile_document(pipeline, target, config).text)


@dataclass(frozen=True)
class Unsupported:
    """Expect compilation to fail with these diagnostic codes (and message fragments)."""

    code: str
    contains: str = ""


def expect(pipeline: Any, config: Config | None = None, **per_target: Any) -> dict[str, str]:
    """Table-driven check: for each ``target=expectation``:

    - ``Unsupported(code, contains)``: compiling fails with that code;
    - a list of ``meaning`` checks (``at``/``doc``/``holds``): each must hold on the document
      compiled here, in the test (never on a committed golden);
    - a callable: called with the compiled text (assert inside it);
    - ``True``: compiles without error.
    Returns the compiled texts by target.
    """
    texts: dict[str, str] = {}
    for target, expectation in per_target.items():
        if isinstance(expectation, Unsupported):
            with pytest.raises(PipelineError) as info:
                compile_text(pipeline, target, config)
            codes = [d.code for d in info.value.diagnostics]
            assert expectation.code in codes, (
                f"{target}: wanted {expectation.code}, got {info.value}"
            )
            assert expectation.contains in str(info.value), str(info.value)
            continue
        text = compile_text(pipeline, target, config)
        texts[target] = text
        if isinstance(expectation, (list, tuple)):
            check_all(target, text, expectation)
        elif callable(expectation):
            expectation(text)
        else:
            assert expectation is True
    return texts


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipecast ARGS`` in a subprocess (real exit codes, real stderr).

    Without ``env``, local runs use ``--engine process`` semantics (``PIPECAST_ENGINE``): on a
    machine with Docker, tests must not try to pull the examples' registry images.
    """
    full_env = {**os.environ, **(env or {"PIPECAST_ENGINE": "process"})}
    return subprocess.run(
        [sys.executable, "-m", "pipecast", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


def load_module_from(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write_pipeline(tmp_path: Path, body: str, name: str = "pipe.py") -> Path:
    """Write a pipeline file (with the usual imports prepended) and return its path."""
    header = (
        "from pipecast import dsl\n"
        "from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot\n"
    )
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


ExpectFn = Callable[[str], None]


def job_step_part(step_id: str) -> str:
    """The documented job-name prefix of a step on the AWS targets: the id itself up to 40
    characters, else its first 29, ``-`` and 12 hex of the id's sha256 (distinct ids never share
    a job name). Computed here, independently of the compiler."""
    if len(step_id) <= 40:
        return step_id
    return step_id[:29] + "-" + hashlib.sha256(step_id.encode()).hexdigest()[:12]
