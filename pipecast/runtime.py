"""The in-container runtime for ``@dsl.component`` functions: ``python -m pipecast.runtime
module:function --name value ...``.

It is what a Python component's image runs on SageMaker or Kubeflow, and what the local runner
runs with ``--isolation subprocess``: paths come only from the command line (the container
contract), artifacts become ``Dataset``/``Model`` objects with ``.path``/``.uri``, parameters are
converted to the annotated types, and output directories exist before the call.
"""

from __future__ import annotations

import importlib
import os
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from pipecast.dsl._types import ARTIFACT_CLASSES, io_annotation

__all__ = ["call_component", "main", "resolve_function"]


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
    return text


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
    for name, text in values.items():
        kind = kinds.get(name, str)
        if isinstance(kind, tuple):
            direction, cls = kind
            if direction == "output":
                os.makedirs(text, exist_ok=True)
            kwargs[name] = cls(path=text, uri=(uris or {}).get(name, text))
        else:
            kwargs[name] = _convert(text, kind)
    return func(**kwargs)


Kind = Any  # a Python type for parameters, or (direction, Artifact class) for artifacts


def _function_kinds(func: Callable[..., Any]) -> dict[str, Kind]:
    kinds: dict[str, Kind] = {}
    for name, hint in typing.get_type_hints(func, include_extras=True).items():
        io = io_annotation(hint)
        kinds[name] = io if io is not None else hint
    return kinds


def _interface_kinds(comp: Any) -> dict[str, Kind]:
    py = {"str": str, "int": int, "float": float, "bool": bool}
    kinds: dict[str, Kind] = {}
    for inp in comp.inputs:
        kinds[inp.name] = (
            ("input", ARTIFACT_CLASSES[inp.type]) if inp.kind == "artifact" else py[inp.type]
        )
    for out in comp.outputs:
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

    names = list(inspect.signature(func).parameters)
    call_component(func, _parse_pairs(args[1:], names, f"pipecast.runtime {args[0]}"))


if __name__ == "__main__":
    main()
