"""Run parameters from the command line (``-p NAME=VALUE``), typed by the pipeline's declaration.

Shared by ``pipecast run --local`` and ``pipecast start``: an unknown name gets a "did you mean",
a value that does not parse as the declared type and a missing required parameter are errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pipecast.errors import ParameterError, did_you_mean

if TYPE_CHECKING:
    from pipecast.dsl.spec import ParameterSpec, PipelineSpec

__all__ = ["ParamValue", "parse_params", "resolve_params"]

ParamValue = str | int | float | bool | list[Any] | dict[str, Any]
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _convert(param: ParameterSpec, text: str) -> ParamValue:
    try:
        if param.type == "int":
            return int(text)
        if param.type == "float":
            number = float(text)
            if not math.isfinite(number):  # JSON (and so every document and run.json) has no NaN
                raise ValueError(text)
            return number
    except ValueError:
        raise ParameterError(
            f"parameter '{param.name}' is {param.type}, got {text!r}"
            + (" (a finite number)" if param.type == "float" else "")
        ) from None
    if param.type in ("list", "dict"):
        return _json(param, text)
    if param.type == "bool":
        if text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ParameterError(f"parameter '{param.name}' is bool, got {text!r} (use true or false)")
    return text


def _json(param: ParameterSpec, text: str) -> ParamValue:
    """A list or dict parameter is given as JSON: ``-p 'cams=["a","b"]'``."""
    want = list if param.type == "list" else dict
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(
            f"parameter '{param.name}' is a {param.type} written as JSON, got {text!r} ({exc.msg})"
        ) from None
    if not isinstance(value, want):
        example = '["a","b"]' if want is list else '{"k":1}'
        raise ParameterError(
            f"parameter '{param.name}' is a {param.type}, got {type(value).__name__} {text!r}"
            f" (e.g. -p '{param.name}={example}')"
        )
    return value  # type: ignore[no-any-return]


def parse_params(spec: PipelineSpec, pairs: Iterable[str]) -> dict[str, ParamValue]:
    """Parse ``NAME=VALUE`` strings given on the command line (no defaults applied)."""
    declared = {p.name: p for p in spec.parameters}
    values: dict[str, ParamValue] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"-p takes NAME=VALUE, got {pair!r}")
        param = declared.get(name)
        if param is None:
            raise ParameterError(
                f"pipeline '{spec.name}' has no parameter '{name}'{did_you_mean(name, declared)}"
                f" (parameters: {', '.join(declared) or 'none'})"
            )
        values[name] = _convert(param, text)
    return values


def resolve_params(
    spec: PipelineSpec, pairs: Iterable[str], *, require_all: bool = True
) -> dict[str, ParamValue]:
    """Parsed values merged over defaults; with ``require_all``, a missing required one fails."""
    values = parse_params(spec, pairs)
    resolved: dict[str, ParamValue] = {}
    missing = []
    for param in spec.parameters:
        if param.name in values:
            resolved[param.name] = values[param.name]
        elif param.optional and param.default is not None:
            resolved[param.name] = param.default
        elif require_all:
            missing.append(param.name)
    if missing:
        raise ParameterError(
            f"pipeline '{spec.name}' needs " + ", ".join(f"-p {m}=..." for m in missing)
        )
    return resolved
