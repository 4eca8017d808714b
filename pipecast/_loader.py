"""Resolve a pipeline REF (``file.py[:function]``, ``package.module:function`` or an IR ``.json``)
and turn any failure in the user's code into a clear error pointing at their file and line."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pipecast.errors import LoadError, PipecastError, UsageError, did_you_mean
from pipecast.importable import module_name_for

__all__ = ["LoadedPipeline", "load_pipeline", "user_error"]

_OWN_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class LoadedPipeline:
    """The spec of a loaded pipeline and the file it came from (for config discovery)."""

    spec: object  # PipelineSpec; typed loosely to keep this module import-light
    file: Path | None
    pipeline: object | None = None  # the dsl.Pipeline object when loaded from Python


def _is_own(filename: str) -> bool:
    path = os.path.abspath(filename)
    own_dirs = [
        os.path.dirname(os.path.abspath(m.__file__ or ""))
        for m in (
            sys.modules.get("pipecast"),
            sys.modules.get("pipecast.dsl"),
            sys.modules.get("pipecast.compilers"),
        )
        if m is not None
    ]
    return any(path.startswith(d + os.sep) for d in own_dirs) or "importlib" in path


def user_error(exc: BaseException, what: str) -> LoadError:
    """A LoadError for an unexpected exception raised by user code, at its deepest user frame."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_own(f.filename)]
    where = f"{os.path.relpath(frames[-1].filename)}:{frames[-1].lineno}: " if frames else ""
    return LoadError(f"{where}{what}: {type(exc).__name__}: {exc}")


def _import_file(path: Path) -> ModuleType:
    """Import ``path`` under the name it is importable as (:func:`module_name_for`), so that the
    components it defines name the same module whatever the REF's spelling; a file whose name is
    no module name (``my-steps.py``) is imported under its stem, and a ``@dsl.component`` in it
    is then a clear error (its image could not import it)."""
    found = module_name_for(path)
    name, root = found if found is not None else (path.stem, path.parent)
    for directory in dict.fromkeys((str(root), str(path.parent))):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == str(
        path
    ):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except PipecastError:
        sys.modules.pop(name, None)
        raise
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise LoadError(
            f"{os.path.relpath(exc.filename or str(path))}:{exc.lineno}: syntax error: {exc.msg}"
        ) from None
    except Exception as exc:
        sys.modules.pop(name, None)
        raise user_error(exc, f"importing {path.name} failed") from None
    return module


def _import_module(name: str) -> ModuleType:
    """Import ``package.module`` as ``python -m`` would: from the working directory first."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UsageError(
                f"no module or file '{name}'; pass path/to/file.py or package.module:function"
            ) from None
        raise user_error(exc, f"importing {name} failed") from None
    except PipecastError:
        raise
    except SyntaxError as exc:
        raise LoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise user_error(exc, f"importing {name} failed") from None


def load_pipeline(ref: str) -> LoadedPipeline:
    """Load the pipeline a REF names and build its spec (DSL errors propagate as raised)."""
    from pipecast.dsl import Pipeline, PipelineSpec

    file_part, _, func = ref.partition(":") if not re.match(r"^[A-Za-z]:\\", ref) else (ref, "", "")
    if file_part.endswith(".json"):
        return _load_ir(Path(file_part))
    if file_part.endswith(".py") or os.sep in file_part or "/" in file_part:
        path = Path(file_part).resolve()
        if not path.is_file():
            raise UsageError(f"pipeline file '{file_part}' does not exist")
        module = _import_file(path)
        file: Path | None = path
    else:
        module = _import_module(file_part)
        file = Path(str(module.__file__)).resolve() if getattr(module, "__file__", None) else None
        found = module_name_for(file) if file is not None and file.suffix == ".py" else None
        if file is not None and found is not None and found[0] != module.__name__:
            # a namespace package: spelled pkg.steps, importable from its own folder as steps
            module = _import_file(file)
    pipelines = {k: v for k, v in vars(module).items() if isinstance(v, Pipeline)}
    if func:
        obj = getattr(module, func, None)
        if not isinstance(obj, Pipeline):
            what = "is not a @dsl.pipeline" if obj is not None else "does not exist"
            raise UsageError(
                f"'{func}' in {file_part} {what}{did_you_mean(func, pipelines)}"
                f" (pipelines here: {', '.join(sorted(pipelines)) or 'none'})"
            )
        chosen = obj
    elif len(pipelines) == 1:
        chosen = next(iter(pipelines.values()))
    elif not pipelines:
        raise UsageError(f"{file_part} defines no @dsl.pipeline function")
    else:
        raise UsageError(
            f"{file_part} defines several pipelines ({', '.join(sorted(pipelines))});"
            f" name one: {file_part}:{sorted(pipelines)[0]}"
        )
    try:
        spec = chosen.spec
    except PipecastError:
        raise
    except Exception as exc:
        raise user_error(exc, f"building pipeline '{chosen.name}' failed") from None
    assert isinstance(spec, PipelineSpec)
    return LoadedPipeline(spec, file, chosen)


def _load_ir(path: Path) -> LoadedPipeline:
    import jsonschema

    from pipecast.dsl import PipelineSpec
    from pipecast.schemas import load_schema

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"IR file '{path}' does not exist") from None
    except (OSError, ValueError) as exc:
        raise LoadError(f"{path}: not readable JSON: {exc}") from None
    except RecursionError:
        raise LoadError(f"{path}: JSON nested too deeply to be a pipecast IR document") from None
    errors = sorted(
        jsonschema.Draft202012Validator(load_schema("pipeline")).iter_errors(data),
        key=lambda e: list(e.absolute_path),
    )
    if errors:
        lines = [
            f"{path}: /{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:20]
        ]
        raise LoadError("not a valid pipecast IR document:\n" + "\n".join(lines))
    try:
        spec = PipelineSpec.from_dict(data)
    except PipecastError as exc:
        raise LoadError(f"{path}: {exc}") from None
    return LoadedPipeline(spec, path.resolve())
