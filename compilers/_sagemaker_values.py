"""Values between steps and conditions in a SageMaker pipeline definition.

An output parameter is a JSON file the step writes (DESIGN §12). On SageMaker it is read with
``Std:JsonGet``:

- from a Processing step, through a ``PropertyFile`` the step declares on its output
  (the container writes ``/opt/ml/processing/output/<name>/value.json``, see
  ``aws_jobs.PARAMETER_FILE``);
- from a spot step (a Training job), straight from its S3 URI in the uncompressed model folder
  (``<S3ModelArtifacts>/<name>/value.json``: the container wrote
  ``/opt/ml/model/<name>/value.json``), the ``S3Uri`` form of ``Std:JsonGet``.

The file holds the bare JSON value, so the path is the root, ``$``. A value handed to a
container argument is converted to text by ``Std:Join`` (the arguments are strings); inside a
condition it stays typed, so ``3 >= 1`` compares numbers. Only pipecast's own references become
expressions: every constant (a user's string included) is written as JSON data.
"""

from __future__ import annotations

import json
from typing import Any

from pipecast.dsl.spec import Binding, Comparison, Constant, OutputRef, ParameterRef

__all__ = [
    "OPERATORS",
    "comparison_json",
    "comparison_text",
    "json_get",
    "operand_json",
    "operand_text",
    "property_files",
]

OPERATORS = {
    "==": "Equals",
    "!=": "NotEquals",
    "<": "LessThan",
    "<=": "LessThanOrEqualTo",
    ">": "GreaterThan",
    ">=": "GreaterThanOrEqualTo",
}
_SYMBOLS = {v: k for k, v in OPERATORS.items()}
ROOT = "$"


def json_get(step_id: str, kind: str, output: str, training_uri: Any) -> dict[str, Any]:
    """``Std:JsonGet`` of output parameter ``output`` of ``step_id`` (its whole JSON value)."""
    if kind == "training":
        return {"Std:JsonGet": {"S3Uri": training_uri, "Path": ROOT}}
    source = {"Get": f"Steps.{step_id}.PropertyFiles.{output}"}
    return {"Std:JsonGet": {"PropertyFile": source, "Path": ROOT}}


def property_files(parameter_outputs: list[str], file_name: str) -> list[dict[str, str]]:
    """A Processing step's ``PropertyFiles``: one per output parameter, named like it."""
    return [
        {"PropertyFileName": name, "OutputName": name, "FilePath": file_name}
        for name in parameter_outputs
    ]


def operand_json(binding: Binding, read: Any) -> Any:
    """A comparison operand: a constant as JSON data, a parameter by ``Get``, an output by
    ``read(OutputRef)`` (a ``Std:JsonGet``)."""
    if isinstance(binding, Constant):
        return binding.value
    if isinstance(binding, ParameterRef):
        return {"Get": f"Parameters.{binding.name}"}
    assert isinstance(binding, OutputRef), binding  # the graph check allows nothing else here
    return read(binding)


def comparison_json(c: Comparison, read: Any) -> dict[str, Any]:
    return {
        "Type": OPERATORS[c.op],
        "LeftValue": operand_json(c.left, read),
        "RightValue": operand_json(c.right, read),
    }


def operand_text(value: Any) -> str:
    """An operand or value as review text: ``{Steps.a.PropertyFiles.n}``, ``{Parameters.p}``,
    constants as JSON (so a string shows quoted and never looks like a reference); the literal
    parts of a ``Std:Join`` or of a ``Std:JsonGet`` URI as text
    (``{json at {Steps.t.ModelArtifacts.S3ModelArtifacts}/n/value.json}``)."""
    if isinstance(value, dict) and "Get" in value:
        return "{" + str(value["Get"]) + "}"
    if isinstance(value, dict) and "Std:JsonGet" in value:
        get = value["Std:JsonGet"]
        source = get.get("PropertyFile", get.get("S3Uri"))
        if isinstance(source, dict) and "Get" in source:
            return "{" + str(source["Get"]) + "}"
        return "{json at " + _uri_text(source) + "}"
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        return str(join.get("On", "")).join(_uri_text(v) for v in join.get("Values", []))
    return json.dumps(value, ensure_ascii=False)  # a constant: JSON, so strings show quoted


def _uri_text(value: Any) -> str:
    """A part of a URI or joined text: literal text as it is (``.../best/value.json``)."""
    return value if isinstance(value, str) else operand_text(value)


def comparison_text(condition: Any) -> str:
    """One readable line per condition for ``pipecast diff``/``plan``:
    ``{Steps.count-motion-0.PropertyFiles.moving} >= {Parameters.min_moving}``."""
    if not isinstance(condition, dict):
        return repr(condition)
    kind = condition.get("Type")
    if kind in _SYMBOLS:
        left = operand_text(condition.get("LeftValue"))
        right = operand_text(condition.get("RightValue"))
        return f"{left} {_SYMBOLS[kind]} {right}"
    if kind == "Or":
        return " or ".join(f"({comparison_text(c)})" for c in condition.get("Conditions", []))
    if kind == "Not":
        return f"not ({comparison_text(condition.get('Expression', condition.get('Condition')))})"
    return f"{kind} {condition}"
