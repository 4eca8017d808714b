"""A structural validator for Amazon States Language documents, used before every deploy.

The test suite also runs the external validators (``statelint``, ``asl-validator``). This module
is the always-available guard in the product itself: ``pipecast deploy`` refuses a state machine
that fails it. It checks the envelope, every state's fields for its type and query language, that
every ``Next``/``Default``/``Catch`` target exists in its scope, that state names are unique across
the whole machine and at most 80 characters, that every state is reachable, Retry/Catch shapes,
the numeric limits (seconds and attempts at most 99,999,999),
and every SageMaker Task's ``Arguments`` against botocore's
CreateProcessingJob / CreateTrainingJob request model (with its spot rule: the wait covers the
runtime), and every S3 / Step Functions AWS SDK Task's
(the handshakes of ``layout = "exact"``) against its operation's request model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_NAME", "MAX_WHOLE", "Problem", "validate_document", "validate_text"]

MAX_NAME = 80
_TYPES = {"Task", "Parallel", "Map", "Pass", "Wait", "Choice", "Succeed", "Fail"}
_TERMINAL = {"Succeed", "Fail"}
_NEEDS_NEXT_OR_END = {"Task", "Parallel", "Map", "Pass", "Wait"}
_JSONPATH_ONLY = {"Parameters", "ResultPath", "ResultSelector", "InputPath", "OutputPath"}
_JSONATA_ONLY = {"Arguments", "Output"}
_SDK_SERVICES = {"s3": "s3", "sfn": "stepfunctions"}  # the AWS SDK integrations pipecast emits
_SAGEMAKER_OPERATIONS = {
    "createProcessingJob": "CreateProcessingJob",
    "createTrainingJob": "CreateTrainingJob",
}


@dataclass(frozen=True)
class Problem:
    """One problem, with the JSON path of the offending value."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validate_text(text: str) -> list[Problem]:
    """Parse and validate; a document over 1 MB or not JSON is one problem."""
    from . import load_target  # the size limit is declared once, by the target

    size = len(text.encode("utf-8"))
    limit = load_target("stepfunctions").limits.max_document_bytes
    if limit is not None and size > limit:
        return [Problem("/", f"definition is {size:,} bytes; Step Functions accepts {limit:,}")]
    try:
        document = json.loads(text)
    except ValueError as exc:
        return [Problem("/", f"not valid JSON: {exc}")]
    return validate_document(document)


def validate_document(document: Any) -> list[Problem]:
    """Every problem found in a parsed state machine definition."""
    if not isinstance(document, dict):
        return [Problem("/", "a state machine definition is a JSON object")]
    problems: list[Problem] = []
    language = document.get("QueryLanguage", "JSONPath")
    if language not in ("JSONata", "JSONPath"):
        problems.append(Problem("/QueryLanguage", f"must be JSONata or JSONPath, not {language!r}"))
    seen: dict[str, str] = {}
    problems += _machine(document, "", language, seen)
    return problems


def _machine(
    machine: dict[str, Any], path: str, language: str, seen: dict[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    states = machine.get("States")
    start = machine.get("StartAt")
    if not isinstance(states, dict) or not states:
        return [Problem(f"{path}/States", "must be a non-empty object of states")]
    if not isinstance(start, str) or start not in states:
        problems.append(Problem(f"{path}/StartAt", f"{start!r} is not a state in this scope"))
    for name, state in states.items():
        where = f"{path}/States/{name}"
        if len(name) > MAX_NAME:
            problems.append(
                Problem(where, f"state name is {len(name)} characters (max {MAX_NAME})")
            )
        if name in seen:
            problems.append(
                Problem(
                    where,
                    f"state name also used at {seen[name]}; names must be "
                    "unique across the whole state machine",
                )
            )
        seen[name] = where
        if not isinstance(state, dict):
            problems.append(Problem(where, "a state is a JSON object"))
            continue
        problems += _state(name, state, where, states, language, seen)
    if isinstance(start, str) and start in states:
        reachable = set(_reachable(start, states))
        for name in states:
            if name not in reachable:
                problems.append(Problem(f"{path}/States/{name}", "unreachable from StartAt"))
    return problems


def _targets(state: dict[str, Any]) -> Iterator[str]:
    if isinstance(state.get("Next"), str):
        yield state["Next"]
    if isinstance(state.get("Default"), str):
        yield state["Default"]
    for key in ("Choices", "Catch"):
        for item in state.get(key, []) if isinstance(state.get(key), list) else []:
            if isinstance(item, dict) and isinstance(item.get("Next"), str):
                yield item["Next"]


def _reachable(start: str, states: dict[str, Any]) -> Iterator[str]:
    stack, done = [start], set()
    while stack:
        name = stack.pop()
        if name in done or name not in states:
            continue
        done.add(name)
        yield name
        if isinstance(states[name], dict):
            stack.extend(_targets(states[name]))


def _state(
    name: str,
    state: dict[str, Any],
    where: str,
    scope: dict[str, Any],
    language: str,
    seen: dict[str, str],
) -> list[Problem]:
    problems: list[Problem] = []
    kind = state.get("Type")
    if kind not in _TYPES:
        return [Problem(f"{where}/Type", f"unknown state type {kind!r}")]
    lang = state.get("QueryLanguage", language)
    forbidden = _JSONPATH_ONLY if lang == "JSONata" else _JSONATA_ONLY
    for key in sorted(forbidden & set(state)):
        problems.append(Problem(f"{where}/{key}", f"not allowed with QueryLanguage {lang}"))
    if kind in _NEEDS_NEXT_OR_END:
        has_next, has_end = "Next" in state, state.get("End") is True
        if has_next == has_end:
            problems.append(Problem(where, f"a {kind} state needs exactly one of Next or End"))
    if kind in _TERMINAL and ("Next" in state or "End" in state):
        problems.append(Problem(where, f"a {kind} state cannot have Next or End"))
    for target in _targets(state):
        if target not in scope:
            problems.append(Problem(where, f"goes to {target!r}, which is not a state in scope"))
    problems += _retry_catch(state, where)
    if kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            problems.append(Problem(f"{where}/Branches", "a Parallel state needs branches"))
        else:
            for i, branch in enumerate(branches):
                if not isinstance(branch, dict):
                    problems.append(Problem(f"{where}/Branches/{i}", "a branch is an object"))
                    continue
                problems += _machine(branch, f"{where}/Branches/{i}", lang, seen)
    if kind == "Map":
        processor = state.get("ItemProcessor")
        if not isinstance(processor, dict):
            problems.append(Problem(f"{where}/ItemProcessor", "a Map state needs ItemProcessor"))
        else:
            problems += _machine(processor, f"{where}/ItemProcessor", lang, seen)
    if kind == "Task":
        problems += _task(state, where)
    if kind == "Choice" and not isinstance(state.get("Choices"), list):
        problems.append(Problem(f"{where}/Choices", "a Choice state needs Choices"))
    return problems


# the largest value Step Functions accepts for its whole-second and count fields (ASL spec:
# "a positive integer, at most 99999999")
MAX_WHOLE = 99_999_999
_STATE_LIMITS = ("TimeoutSeconds", "HeartbeatSeconds")
_RETRY_LIMITS = ("IntervalSeconds", "MaxDelaySeconds")  # MaxAttempts: checked below


def _limits(node: dict[str, Any], keys: tuple[str, ...], at: str) -> list[Problem]:
    return [
        Problem(f"{at}/{key}", f"{node[key]:,} is above the maximum {MAX_WHOLE:,}")
        for key in keys
        if isinstance(node.get(key), int) and node[key] > MAX_WHOLE
    ]


def _retry_catch(state: dict[str, Any], where: str) -> list[Problem]:
    problems: list[Problem] = _limits(state, _STATE_LIMITS, where)
    for i, rule in enumerate(state.get("Retry", []) or []):
        at = f"{where}/Retry/{i}"
        problems += _limits(rule, _RETRY_LIMITS, at)
        if not isinstance(rule.get("ErrorEquals"), list) or not rule.get("ErrorEquals"):
            problems.append(Problem(at, "ErrorEquals must be a non-empty list"))
        attempts = rule.get("MaxAttempts", 3)
        if not isinstance(attempts, int) or attempts < 0 or attempts > 99999999:
            problems.append(Problem(at, f"MaxAttempts {attempts!r} is not a whole number >= 0"))
        rate = rule.get("BackoffRate", 2.0)
        if not isinstance(rate, (int, float)) or rate < 1:
            problems.append(Problem(at, f"BackoffRate {rate!r} must be >= 1.0"))
        interval = rule.get("IntervalSeconds", 1)
        if not isinstance(interval, int) or interval < 1:
            problems.append(
                Problem(at, f"IntervalSeconds {interval!r} must be a whole number >= 1")
            )
    for i, rule in enumerate(state.get("Catch", []) or []):
        at = f"{where}/Catch/{i}"
        if not isinstance(rule.get("ErrorEquals"), list) or not rule.get("ErrorEquals"):
            problems.append(Problem(at, "ErrorEquals must be a non-empty list"))
        if not isinstance(rule.get("Next"), str):
            problems.append(Problem(at, "Catch needs Next"))
    return problems


def _task(state: dict[str, Any], where: str) -> list[Problem]:
    resource = state.get("Resource")
    if not isinstance(resource, str) or not resource.startswith("arn:"):
        return [Problem(f"{where}/Resource", f"{resource!r} is not an ARN")]
    key = "Arguments" if "Arguments" in state else "Parameters"  # JSONata, JSONPath
    arguments = state.get(key)
    checked = _operation(resource)
    if checked is None or not isinstance(arguments, dict):
        return []
    service, operation = checked
    from pipecast.compilers.sagemaker_validate import check_request

    problems = check_request(
        operation, arguments, service=service, pascal_case=service != "sagemaker"
    )
    return [Problem(f"{where}/{key}", str(p)) for p in problems]


def _operation(resource: str) -> tuple[str, str] | None:
    """(botocore service, operation) of a SageMaker or AWS SDK integration we can check."""
    sagemaker = "arn:aws:states:::sagemaker:"
    sdk = "arn:aws:states:::aws-sdk:"
    action = resource.removesuffix(".sync").removesuffix(".waitForTaskToken")
    if action.startswith(sagemaker):
        operation = _SAGEMAKER_OPERATIONS.get(action[len(sagemaker) :])
        return None if operation is None else ("sagemaker", operation)
    if action.startswith(sdk):
        service, _, call = action[len(sdk) :].partition(":")
        if service in _SDK_SERVICES and call:
            return _SDK_SERVICES[service], call[0].upper() + call[1:]
    return None
