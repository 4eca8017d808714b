"""Validate any SageMaker pipeline definition (ours, hand-written or SDK-made) before it ships.

Checks the envelope, step names (unique, legal), ``DependsOn`` and ``Get`` references to steps
and parameters, cycles, and every Processing/Training step's ``Arguments`` against botocore's
model of the CreateProcessingJob / CreateTrainingJob request: types, required members, unknown
keys, enums, min/max lengths and values, patterns. Expressions (``Get``, ``Std:Join``,
``Std:JsonGet``, JSONata ``{% ... %}`` strings) are replaced by placeholders of the expected type,
since their values exist only at run time. botocore is the ``aws`` extra, imported lazily.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from pipecast.errors import MissingExtraError

__all__ = ["Problem", "check_request", "validate_document", "validate_text"]

_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
_OPERATIONS = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob"}
_NAME_MEMBERS = {"CreateProcessingJob": "ProcessingJobName", "CreateTrainingJob": "TrainingJobName"}


@dataclass(frozen=True)
class Problem:
    step: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"step '{self.step}': " if self.step else ""
        return f"{where}{self.path}: {self.message}"


def _is_expression(value: Any) -> bool:
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet")
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


@functools.cache
def _service_model(service: str = "sagemaker") -> Any:
    try:
        import botocore.session
    except ImportError:
        raise MissingExtraError("botocore", "aws") from None
    return botocore.session.get_session().get_service_model(service)


def check_request(
    operation: str,
    request: dict[str, Any],
    *,
    name_supplied: bool = False,
    service: str = "sagemaker",
    pascal_case: bool = False,
) -> list[str]:
    """Problems of ``request`` against the botocore input shape of ``operation`` of ``service``.

    The job name member is optional unless ``name_supplied`` (pipelines add it themselves).
    ``pascal_case``: member names as Step Functions' AWS SDK integrations spell them
    (``TaskToken`` for the API's ``taskToken``).
    """
    model = _service_model(service).operation_model(operation).input_shape
    problems: list[str] = []
    skip = set() if name_supplied else {_NAME_MEMBERS.get(operation)}
    _walk(model, request, "", problems, skip, pascal_case)
    return problems


def _member_name(name: str, pascal_case: bool) -> str:
    return name[:1].upper() + name[1:] if pascal_case else name


def _walk(
    shape: Any,
    value: Any,
    path: str,
    out: list[str],
    skip: set[str | None],
    pascal: bool = False,
) -> None:
    if _is_expression(value):
        return  # typed placeholder: a run-time value of the expected type
    kind = shape.type_name
    where = path or "/"
    if kind == "structure":
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        members = {_member_name(k, pascal): m for k, m in shape.members.items()}
        for required in (_member_name(r, pascal) for r in shape.required_members):
            if required not in value and required not in skip:
                out.append(f"{where}: missing required '{required}'")
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                out.append(f"{path}/{key}: unknown key (allowed: {', '.join(sorted(members))})")
                continue
            _walk(member, item, f"{path}/{key}", out, set(), pascal)
        return
    if kind == "list":
        if not isinstance(value, list):
            out.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        _bounds(shape, len(value), where, out, "items")
        for i, item in enumerate(value):
            _walk(shape.member, item, f"{path}/{i}", out, set(), pascal)
        return
    if kind == "map":
        if not isinstance(value, dict):
            out.append(f"{where}: expected a map, got {type(value).__name__}")
            return
        _bounds(shape, len(value), where, out, "entries")
        for key, item in value.items():
            _walk(shape.key, key, f"{path}/{key}(key)", out, set(), pascal)
            _walk(shape.value, item, f"{path}/{key}", out, set(), pascal)
        return
    if kind == "string":
        if not isinstance(value, str):
            out.append(f"{where}: expected a string, got {value!r}")
            return
        _bounds(shape, len(value), where, out, "characters")
        enum = shape.enum
        if enum and value not in enum:
            out.append(
                f"{where}: {value!r} is not one of {', '.join(enum[:12])}"
                f"{'…' if len(enum) > 12 else ''}"
            )
        pattern = shape.metadata.get("pattern")
        if pattern and not re.search(pattern, value):
            out.append(f"{where}: {value!r} does not match {pattern}")
        return
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            out.append(f"{where}: expected an integer, got {value!r}")
            return
        _bounds(shape, value, where, out, "")
        return
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            out.append(f"{where}: expected a number, got {value!r}")
        return
    if kind == "boolean" and not isinstance(value, bool):
        out.append(f"{where}: expected true or false, got {value!r}")


def _bounds(shape: Any, n: int, where: str, out: list[str], unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    what = f"{n} {unit}".strip()
    if low is not None and n < low:
        out.append(f"{where}: {what} is below the minimum {low}")
    if high is not None and n > high:
        out.append(f"{where}: {what} is above the maximum {high}")


def _gets(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            return [value["Get"]]
        return [g for v in value.values() for g in _gets(v)]
    if isinstance(value, list):
        return [g for v in value for g in _gets(v)]
    return []


def validate_text(text: str) -> list[Problem]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [Problem(None, "/", f"not valid JSON: {exc}")]
    return validate_document(document)


def validate_document(document: Any) -> list[Problem]:
    """Every problem found in a parsed pipeline definition."""
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        return [Problem(None, "/Steps", "a pipeline definition is an object with a Steps list")]
    problems: list[Problem] = []
    version = document.get("Version")
    if version not in (None, "2020-12-01"):
        problems.append(Problem(None, "/Version", f"unknown version {version!r}"))
    params = set()
    for i, p in enumerate(document.get("Parameters", [])):
        if not isinstance(p, dict) or "Name" not in p:
            problems.append(Problem(None, f"/Parameters/{i}", "a parameter needs a Name"))
            continue
        params.add(p["Name"])
        if p.get("Type", "String") not in ("String", "Integer", "Float", "Boolean"):
            problems.append(
                Problem(
                    None,
                    f"/Parameters/{i}/Type",
                    f"{p.get('Type')!r} is not String, Integer, Float or Boolean",
                )
            )
    names: dict[str, int] = {}
    for i, step in enumerate(document["Steps"]):
        name = step.get("Name") if isinstance(step, dict) else None
        if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
            problems.append(
                Problem(
                    None,
                    f"/Steps/{i}/Name",
                    f"{name!r} is not a valid step name ([A-Za-z0-9-_], 1 to 256)",
                )
            )
            continue
        if name in names:
            problems.append(Problem(name, f"/Steps/{i}/Name", f"duplicate of /Steps/{names[name]}"))
        names[name] = i
    edges: dict[str, set[str]] = {n: set() for n in names}
    for i, step in enumerate(document["Steps"]):
        if not isinstance(step, dict) or step.get("Name") not in names:
            continue
        name = step["Name"]
        for dep in step.get("DependsOn", []):
            if dep not in names:
                problems.append(Problem(name, f"/Steps/{i}/DependsOn", f"unknown step {dep!r}"))
            else:
                edges[name].add(dep)
        for ref in _gets(step.get("Arguments", {})):
            head, _, rest = ref.partition(".")
            if head == "Parameters" and rest not in params:
                problems.append(
                    Problem(name, f"/Steps/{i}/Arguments", f"Get {ref!r}: no parameter {rest!r}")
                )
            elif head == "Steps":
                target = rest.split(".", 1)[0]
                if target not in names:
                    problems.append(
                        Problem(name, f"/Steps/{i}/Arguments", f"Get {ref!r}: no step {target!r}")
                    )
                else:
                    edges[name].add(target)
            elif head not in ("Parameters", "Steps", "Execution"):
                problems.append(
                    Problem(name, f"/Steps/{i}/Arguments", f"Get {ref!r}: unknown namespace")
                )
        operation = _OPERATIONS.get(step.get("Type", ""))
        if operation is not None:
            args = step.get("Arguments")
            if not isinstance(args, dict):
                problems.append(Problem(name, f"/Steps/{i}/Arguments", "must be an object"))
            else:
                for found in check_request(operation, args):
                    where, _, message = found.partition(": ")
                    path = f"/Steps/{i}/Arguments{where.rstrip('/')}"
                    problems.append(Problem(name, path, message))
        for j, policy in enumerate(step.get("RetryPolicies", [])):
            kinds = policy.get("ExceptionType")
            if not isinstance(kinds, list) or not kinds:
                problems.append(
                    Problem(
                        name,
                        f"/Steps/{i}/RetryPolicies/{j}/ExceptionType",
                        "must be a non-empty list",
                    )
                )
    problems += _cycles(edges)
    return problems


def _cycles(edges: dict[str, set[str]]) -> list[Problem]:
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[Problem] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                found.append(Problem(nxt, "/Steps", "cycle: " + " → ".join(cycle)))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return found
