"""Validate any SageMaker pipeline definition (ours, hand-written or SDK-made) before it ships.

Checks the envelope, step names (unique, legal), ``DependsOn`` and ``Get`` references to steps
and parameters, cycles, and every Processing/Training step's ``Arguments`` against botocore's
model of the CreateProcessingJob / CreateTrainingJob request: types, required members, unknown
keys, enums, min/max lengths and values, patterns; plus the cross-field rule the model cannot
state (a managed spot job's MaxWaitTimeInSeconds is at least its MaxRuntimeInSeconds).
Expressions (``Get``, ``Std:Join``, ``Std:JsonGet``, JSONata ``{% ... %}`` strings) are replaced
by placeholders of the expected type, since their values exist only at run time. The request
models are botocore's, shipped as a slice (``_aws_models``), so the same checks run at compile
time without the ``aws`` extra.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from . import _aws_models

__all__ = ["Problem", "check_request", "validate_document", "validate_text"]

_STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
_OPERATIONS = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob"}
_SERVICE_MAX_RUNTIME = 86400  # the service's MaxRuntimeInSeconds when a request leaves it out
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


def check_request(
    operation: str,
    request: dict[str, Any],
    *,
    name_supplied: bool = False,
    service: str = "sagemaker",
    pascal_case: bool = False,
) -> list[str]:
    """Problems of ``request`` against the botocore input shape of ``operation`` of ``service``.

    The shapes come from botocore's model through the slice ``_aws_models`` ships (so this
    runs at compile time without botocore). The job name member is optional unless
    ``name_supplied`` (pipelines add it themselves). ``pascal_case``: member names as Step
    Functions' AWS SDK integrations spell them (``TaskToken`` for the API's ``taskToken``).
    """
    shape = _aws_models.input_shape(service, operation)
    if shape is None:
        raise ValueError(f"no request model for {service}:{operation} in compilers/data")
    problems: list[str] = []
    skip = set() if name_supplied else {_NAME_MEMBERS.get(operation)}
    _walk(_aws_models.shapes(service), shape, request, "", problems, skip, pascal_case)
    if service == "sagemaker" and operation == "CreateTrainingJob" and isinstance(request, dict):
        problems += _spot_wait(request)
    return problems


def _spot_wait(request: dict[str, Any]) -> list[str]:
    """A rule botocore's model cannot state: a managed spot job needs a MaxWaitTimeInSeconds of
    at least its MaxRuntimeInSeconds (default one day), or CreateTrainingJob refuses it."""
    if request.get("EnableManagedSpotTraining") is not True:
        return []
    stopping = request.get("StoppingCondition")
    stopping = stopping if isinstance(stopping, dict) else {}
    wait = stopping.get("MaxWaitTimeInSeconds")
    runtime = stopping.get("MaxRuntimeInSeconds", _SERVICE_MAX_RUNTIME)
    if wait is None:
        return ["/StoppingCondition: managed spot training needs MaxWaitTimeInSeconds"]
    if _is_expression(wait) or _is_expression(runtime):
        return []  # known only at run time
    if isinstance(wait, int) and isinstance(runtime, int) and wait < runtime:
        return [
            f"/StoppingCondition/MaxWaitTimeInSeconds: {wait} is below MaxRuntimeInSeconds "
            f"{runtime}; a spot job must be allowed to wait at least as long as it runs"
        ]
    return []


def _member_name(name: str, pascal_case: bool) -> str:
    return name[:1].upper() + name[1:] if pascal_case else name


_STRUCTURES: dict[tuple[int, str, bool], tuple[dict[str, str], tuple[str, ...]]] = {}


def _structure(
    table: dict[str, Any], name: str, pascal: bool
) -> tuple[dict[str, str], tuple[str, ...]]:
    """A structure's members and required members by the names documents use (computed once
    per shape: validating a 10,000-step document visits each shape thousands of times)."""
    key = (id(table), name, pascal)  # the tables are cached for the process: ids stay unique
    found = _STRUCTURES.get(key)
    if found is None:
        shape = table[name]
        found = _STRUCTURES[key] = (
            {_member_name(k, pascal): m for k, m in shape["members"].items()},
            tuple(_member_name(r, pascal) for r in shape["required"]),
        )
    return found


def _walk(
    table: dict[str, Any],
    name: str,
    value: Any,
    path: str,
    out: list[str],
    skip: set[str | None],
    pascal: bool = False,
) -> None:
    if _is_expression(value):
        return  # typed placeholder: a run-time value of the expected type
    shape = table[name]
    kind = shape["type"]
    where = path or "/"
    if kind == "structure":
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        members, required_members = _structure(table, name, pascal)
        for required in required_members:
            if required not in value and required not in skip:
                out.append(f"{where}: missing required '{required}'")
        for key, item in value.items():
            member = members.get(key)
            if member is None:
                out.append(f"{path}/{key}: unknown key (allowed: {', '.join(sorted(members))})")
                continue
            _walk(table, member, item, f"{path}/{key}", out, set(), pascal)
        return
    if kind == "list":
        if not isinstance(value, list):
            out.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        _bounds(shape, len(value), where, out, "items")
        for i, item in enumerate(value):
            _walk(table, shape["member"], item, f"{path}/{i}", out, set(), pascal)
        return
    if kind == "map":
        if not isinstance(value, dict):
            out.append(f"{where}: expected a map, got {type(value).__name__}")
            return
        _bounds(shape, len(value), where, out, "entries")
        for key, item in value.items():
            _walk(table, shape["key"], key, f"{path}/{key}(key)", out, set(), pascal)
            _walk(table, shape["value"], item, f"{path}/{key}", out, set(), pascal)
        return
    if kind == "string":
        if not isinstance(value, str):
            out.append(f"{where}: expected a string, got {value!r}")
            return
        _bounds(shape, len(value), where, out, "characters")
        enum = shape.get("enum")
        if enum and value not in enum:
            out.append(
                f"{where}: {value!r} is not one of {', '.join(enum[:12])}"
                f"{'…' if len(enum) > 12 else ''}"
            )
        pattern = shape.get("pattern")
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


def _bounds(shape: dict[str, Any], n: int, where: str, out: list[str], unit: str) -> None:
    low, high = shape.get("min"), shape.get("max")
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


_CONDITIONS = (
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
)


def _all_steps(steps: list[Any], path: str = "/Steps") -> list[tuple[str, Any, str | None]]:
    """Every step with its path and the Condition step it is in (``IfSteps``/``ElseSteps``
    hold whole steps, which share the pipeline's one name space)."""
    found: list[tuple[str, Any, str | None]] = []
    for i, step in enumerate(steps):
        found.append((f"{path}/{i}", step, None))
        if isinstance(step, dict) and step.get("Type") == "Condition":
            found_args = step.get("Arguments")
            args: dict[str, Any] = found_args if isinstance(found_args, dict) else {}
            for branch in ("IfSteps", "ElseSteps"):
                nested = args.get(branch, [])
                if isinstance(nested, list):
                    found += [
                        (p, st, parent or step.get("Name"))
                        for p, st, parent in _all_steps(nested, f"{path}/{i}/Arguments/{branch}")
                    ]
    return found


def _condition_problems(step: dict[str, Any], path: str) -> list[str]:
    """A Condition step's shape: a list of comparisons of known kinds, and branch lists."""
    args = step.get("Arguments")
    if not isinstance(args, dict):
        return [f"{path}/Arguments: must be an object"]
    out: list[str] = []
    conditions = args.get("Conditions")
    if not isinstance(conditions, list) or not conditions:
        out.append(f"{path}/Arguments/Conditions: must be a non-empty list")
        conditions = []
    for j, c in enumerate(conditions):
        where = f"{path}/Arguments/Conditions/{j}"
        if not isinstance(c, dict) or c.get("Type") not in _CONDITIONS:
            out.append(f"{where}: a comparison of type {', '.join(_CONDITIONS)}")
        elif set(c) != {"Type", "LeftValue", "RightValue"}:
            out.append(f"{where}: needs exactly Type, LeftValue and RightValue")
    for branch in ("IfSteps", "ElseSteps"):
        if not isinstance(args.get(branch, []), list):
            out.append(f"{path}/Arguments/{branch}: must be a list of steps")
    unknown = set(args) - {"Conditions", "IfSteps", "ElseSteps"}
    if unknown:
        out.append(f"{path}/Arguments: unknown keys {sorted(unknown)}")
    return out


def _json_gets(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        own = [value["Std:JsonGet"]] if "Std:JsonGet" in value else []
        return own + [g for v in value.values() for g in _json_gets(v)]
    if isinstance(value, list):
        return [g for v in value for g in _json_gets(v)]
    return []


def _json_get_problems(step: dict[str, Any], files: dict[str, set[str]]) -> list[str]:
    """``Std:JsonGet`` reads a declared PropertyFile of a step, or an S3 URI, at a Path."""
    out: list[str] = []
    for get in _json_gets(step.get("Arguments", {})):
        if not isinstance(get, dict) or not isinstance(get.get("Path"), str):
            out.append("Std:JsonGet needs a Path string")
            continue
        sources = set(get) - {"Path"}
        if sources not in ({"PropertyFile"}, {"S3Uri"}):
            out.append(f"Std:JsonGet reads a PropertyFile or an S3Uri, got {sorted(sources)}")
            continue
        ref = get.get("PropertyFile")
        if ref is None:
            continue
        target = ref.get("Get", "") if isinstance(ref, dict) else ""
        head, _, rest = str(target).partition(".")
        owner, _, tail = rest.partition(".PropertyFiles.")
        if head != "Steps" or not tail:
            out.append(f"Std:JsonGet PropertyFile {ref!r} is not Steps.<step>.PropertyFiles.<name>")
        elif tail not in files.get(owner, set()):
            out.append(f"Std:JsonGet reads property file {tail!r}, which step {owner!r} lacks")
    return out


def validate_text(text: str) -> list[Problem]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [Problem(None, "/", f"not valid JSON: {exc}")]
    return validate_document(document)


def _parameters(document: dict[str, Any], problems: list[Problem]) -> set[str]:
    """The declared parameter names; a nameless or mistyped one is a problem."""
    params: set[str] = set()
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
    return params


def _references(
    name: str, path: str, arguments: Any, params: set[str], names: dict[str, str]
) -> tuple[list[Problem], set[str]]:
    """Problems of the ``Get`` references in ``arguments``, and the steps they name."""
    problems: list[Problem] = []
    targets: set[str] = set()
    for ref in _gets(arguments):
        head, _, rest = ref.partition(".")
        if head == "Parameters" and rest not in params:
            problems.append(
                Problem(name, f"{path}/Arguments", f"Get {ref!r}: no parameter {rest!r}")
            )
        elif head == "Steps":
            target = rest.split(".", 1)[0]
            if target not in names:
                problems.append(
                    Problem(name, f"{path}/Arguments", f"Get {ref!r}: no step {target!r}")
                )
            else:
                targets.add(target)
        elif head not in ("Parameters", "Steps", "Execution"):
            problems.append(Problem(name, f"{path}/Arguments", f"Get {ref!r}: unknown namespace"))
    return problems, targets


def validate_document(document: Any) -> list[Problem]:
    """Every problem found in a parsed pipeline definition."""
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        return [Problem(None, "/Steps", "a pipeline definition is an object with a Steps list")]
    problems: list[Problem] = []
    version = document.get("Version")
    if version not in (None, "2020-12-01"):
        problems.append(Problem(None, "/Version", f"unknown version {version!r}"))
    params = _parameters(document, problems)
    every = _all_steps(document["Steps"])
    names: dict[str, str] = {}
    for path, step, _ in every:
        name = step.get("Name") if isinstance(step, dict) else None
        if not isinstance(name, str) or not _STEP_NAME.fullmatch(name):
            problems.append(
                Problem(
                    None,
                    f"{path}/Name",
                    f"{name!r} is not a valid step name ([A-Za-z0-9-_], 1 to 256)",
                )
            )
            continue
        if name in names:
            problems.append(Problem(name, f"{path}/Name", f"duplicate of {names[name]}"))
        names[name] = path
    files: dict[str, set[str]] = {
        step["Name"]: {
            str(f.get("PropertyFileName"))
            for f in step.get("PropertyFiles", [])
            if isinstance(f, dict)
        }
        for _, step, _ in every
        if isinstance(step, dict) and step.get("Name") in names and step.get("Type") == "Processing"
    }
    edges: dict[str, set[str]] = {n: set() for n in names}
    for path, step, parent in every:
        if not isinstance(step, dict) or step.get("Name") not in names:
            continue
        name = step["Name"]
        if parent is not None:
            edges[name].add(parent)
        for dep in step.get("DependsOn", []):
            if dep not in names:
                problems.append(Problem(name, f"{path}/DependsOn", f"unknown step {dep!r}"))
            else:
                edges[name].add(dep)
        arguments = step.get("Arguments", {})
        if step.get("Type") == "Condition":
            # the branches are checked as steps; Arguments that are no object are a problem
            arguments = arguments.get("Conditions", []) if isinstance(arguments, dict) else []
            problems += [
                Problem(name, where, message)
                for where, _, message in (
                    p.partition(": ") for p in _condition_problems(step, path)
                )
            ]
        wrong, targets = _references(name, path, arguments, params, names)
        problems += wrong
        edges[name] |= targets
        checked = {**step, "Arguments": arguments}
        problems += [
            Problem(name, f"{path}/Arguments", m) for m in _json_get_problems(checked, files)
        ]
        operation = _OPERATIONS.get(step.get("Type", ""))
        if operation is not None:
            args = step.get("Arguments")
            if not isinstance(args, dict):
                problems.append(Problem(name, f"{path}/Arguments", "must be an object"))
            else:
                for found in check_request(operation, args):
                    where, _, message = found.partition(": ")
                    problems.append(Problem(name, f"{path}/Arguments{where.rstrip('/')}", message))
        for j, policy in enumerate(step.get("RetryPolicies", [])):
            kinds = policy.get("ExceptionType")
            if not isinstance(kinds, list) or not kinds:
                problems.append(
                    Problem(
                        name,
                        f"{path}/RetryPolicies/{j}/ExceptionType",
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
