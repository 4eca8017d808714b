"""The in-container runtime for ``@dsl.component`` functions: ``python -m pipecast.runtime
module:function --name value ...``.

It is what a Python component's image runs on SageMaker or Kubeflow, and what the local runner
runs with ``--isolation subprocess``: paths come only from the command line (the container
contract), artifacts become ``Dataset``/``Model`` objects with ``.path``/``.uri``, parameters are
converted to the annotated types, and output directories exist before the call. A return
value is an output parameter: written as JSON to the path given for ``Output`` (or, for a
``typing.NamedTuple``, for each field); a container component's ``Output[int]`` is a path the
function (a fake, say) writes itself.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pipecast.dsl.types import (
    ARTIFACT_CLASSES,
    io_annotation,
    output_parameter_annotation,
    return_fields,
)

__all__ = ["Kind", "call_component", "main", "resolve_function", "write_returns"]


def resolve_function(target: str) -> Callable[..., Any]:
    """Import ``module:qualname`` (the decorated component or its plain function)."""
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    func: Callable[..., Any] = getattr(obj, "python_func", None) or obj
    return func


def _convert(text: str, annotation: Any) -> Any:
    if annotation is bool:
        return text.lower() in ("true", "1", "yes")
    if annotation in (int, float):
        return annotation(text)
    if annotation in (list, dict) or typing.get_origin(annotation) in (list, dict):
        return json.loads(text)
    return text


_RETURN = "return"  # the kind of a name that receives a return value (a path to write)


def write_returns(result: Any, paths: dict[str, str], names: list[str]) -> None:
    """Write a Python component's return value(s) as JSON to the output paths given."""
    if not names:
        return
    values = (
        [result]
        if len(names) == 1 and not hasattr(result, "_fields")
        else [
            getattr(result, n) if hasattr(result, "_fields") else result[i]
            for i, n in enumerate(names)
        ]
    )
    for name, value in zip(names, values, strict=True):
        if name in paths:
            os.makedirs(os.path.dirname(paths[name]) or ".", exist_ok=True)
            with open(paths[name], "w", encoding="utf-8") as handle:
                json.dump(value, handle)


def call_component(
    func: Callable[..., Any],
    values: dict[str, str],
    uris: dict[str, str] | None = None,
    interface: Any = None,
) -> Any:
    """Call ``func`` with artifacts built from paths in ``values`` and typed parameters.

    Types come from ``interface`` (a ComponentSpec) when given, so a fake with no annotations
    receives exactly what the real step would; otherwise from ``func``'s annotations.
    """
    kinds = _interface_kinds(interface) if interface is not None else _function_kinds(func)
    kwargs: dict[str, Any] = {}
    returns = [name for name, kind in kinds.items() if kind == _RETURN]
    for name, text in values.items():
        kind = kinds.get(name, str)
        if kind == _RETURN:
            continue
        if isinstance(kind, tuple):
            direction, cls = kind
            if direction == "output":
                os.makedirs(text, exist_ok=True)
            kwargs[name] = cls(path=text, uri=(uris or {}).get(name, text))
        else:
            kwargs[name] = _convert(text, kind)
    result = func(**kwargs)
    write_returns(result, {n: values[n] for n in returns if n in values}, returns)
    return result


Kind = Any  # a Python type for parameters, or (direction, Artifact class) for artifacts


def _function_kinds(func: Callable[..., Any]) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    hints = typing.get_type_hints(func, include_extras=True)
    for name, hint in hints.items():
        if name == "return":
            continue
        io = io_annotation(hint)
        out = output_parameter_annotation(hint)
        kinds[name] = io if io is not None else str if out is not None else hint
    for name, _ in return_fields(hints.get("return")):
        kinds[name] = _RETURN
    return kinds


def _interface_kinds(comp: Any) -> dict[str, Kind]:
    py = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}
    kinds: dict[str, Kind] = {}
    for inp in comp.inputs:
        kinds[inp.name] = (
            ("input", ARTIFACT_CLASSES[inp.type]) if inp.kind == "artifact" else py[inp.type]
        )
    for out in comp.outputs:
        if out.kind == "parameter":
            # a Python component returns it; a container component gets the path to write
            kinds[out.name] = _RETURN if comp.python_function else str
        else:
            kinds[out.name] = ("output", ARTIFACT_CLASSES[out.type])
    return kinds


def _parse_pairs(tokens: Sequence[str], names: Sequence[str], prog: str) -> dict[str, str]:
    """Read ``--name value`` pairs as the compilers write them: the token after a known flag is
    its value whatever it looks like, so a string such as ``-x`` or ``--y`` stays literal (an
    option parser would take it for a flag). ``--name=value`` is accepted too."""
    known = set(names)
    values: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        flag = tokens[i]
        name, eq, inline = flag[2:].partition("=") if flag.startswith("--") else ("", "", "")
        if name not in known:
            choices = ", ".join(f"--{n}" for n in names) or "none"
            sys.stderr.write(f"{prog}: unexpected argument {flag!r} (known: {choices})\n")
            sys.exit(2)
        if eq:
            values[name] = inline
            i += 1
            continue
        if i + 1 >= len(tokens):
            sys.stderr.write(f"{prog}: {flag} needs a value\n")
            sys.exit(2)
        values[name] = tokens[i + 1]
        i += 2
    return values


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        sys.exit("usage: python -m pipecast.runtime module:function --name value ...")
    func = resolve_function(args[0])
    import inspect

    names = [*inspect.signature(func).parameters]
    names += [n for n, _ in return_fields(typing.get_type_hints(func).get("return"))]
    call_component(func, _parse_pairs(args[1:], names, f"pipecast.runtime {args[0]}"))


if __name__ == "__main__":
    main()
