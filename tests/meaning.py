"""What a compiled document means, read the same way on every target, for table-driven tests.

sqlglot's ``validate_all`` states one SQL text and what each dialect must make of it; here a case
states one pipeline and, per target, the meaning the freshly compiled document must have::

    expect(
        pipeline,
        sagemaker=[at("detect", "Arguments.EnableManagedSpotTraining", True)],
        stepfunctions=[at("detect", "TimeoutSeconds", 7200)],
        kubeflow=[at("detect", "container.resources.accelerator.resourceCount", "4")],
    )

``expect`` (in ``helpers``) compiles the pipeline inside the test and hands each target's text to
:func:`check_all`; nothing here reads the committed goldens. A step is viewed per target as:

- ``sagemaker``: its entry of ``Steps`` (``Name``, ``Type``, ``Arguments``, ``DependsOn``, ...);
- ``stepfunctions``: its Task state, wherever it is nested (``Arguments``, ``Retry``, ...);
- ``kubeflow``: ``{"task": root.dag.tasks[id], "container": its executor's container,
  "platform": its kfp-kubernetes executor config ({} if none), "component": its component}``.

Paths are dotted keys, ``[n]`` list indices and ``[Key=value]`` selectors for lists of objects
(``Arguments.ProcessingInputs[InputName=video].S3Input.S3DataType``). An expected value is a
plain value (compared with ``==``), :data:`ABSENT`, or a predicate (``lambda v: v >= 60``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

__all__ = [
    "ABSENT",
    "Check",
    "at",
    "check_all",
    "doc",
    "holds",
    "parse",
    "resolve",
    "step_view",
    "task_states",
]


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()
_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]+)\]")


def parse(target: str, text: str) -> Any:
    """The parsed document: JSON for the AWS targets; for kubeflow ``{"main", "platform"}``
    (kfp writes the kfp-kubernetes platform config as a second YAML document)."""
    if target == "kubeflow":
        main, *rest = list(yaml.safe_load_all(text))
        platform = rest[0]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if rest else {}
        return {"main": main, "platform": platform}
    return json.loads(text)


def task_states(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Task state of a state machine, Parallel branches included, in document order."""
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from task_states(branch)


def step_view(target: str, document: Any, step_id: str) -> Any:
    """One step of a parsed document, as described in the module docstring."""
    if target == "sagemaker":
        found = [s for s in document["Steps"] if s["Name"] == step_id]
    elif target == "stepfunctions":
        found = [s for n, s in task_states(document) if n == step_id]
    elif target == "kubeflow":
        main = document["main"]
        task = main["root"]["dag"]["tasks"].get(step_id)
        found = []
        if task is not None:
            component = main["components"][task["componentRef"]["name"]]
            executor = component.get("executorLabel", "")
            found = [
                {
                    "task": task,
                    "component": component,
                    "container": main["deploymentSpec"]["executors"][executor].get("container"),
                    "platform": document["platform"].get(executor, {}),
                }
            ]
    else:
        raise AssertionError(f"no step view for target {target!r}")
    assert len(found) == 1, f"{target}: {len(found)} steps named {step_id!r}"
    return found[0]


def resolve(value: Any, path: str) -> Any:
    """The value at ``path`` (see the module docstring), or :data:`ABSENT`."""
    for key, selector in _TOKEN.findall(path):
        if selector:
            if not isinstance(value, list):
                return ABSENT
            if "=" in selector:
                field, _, wanted = selector.partition("=")
                matches = [v for v in value if isinstance(v, dict) and str(v.get(field)) == wanted]
                if len(matches) != 1:
                    return ABSENT
                value = matches[0]
            else:
                index = int(selector)
                if not -len(value) <= index < len(value):
                    return ABSENT
                value = value[index]
        else:
            if not isinstance(value, dict) or key not in value:
                return ABSENT
            value = value[key]
    return value


@dataclass(frozen=True)
class Check:
    """One expected fact about a compiled document; ``step`` None means the whole document."""

    step: str | None
    path: str
    expected: Any
    why: str = ""

    def run(self, target: str, document: Any) -> None:
        root = document if self.step is None else step_view(target, document, self.step)
        actual = resolve(root, self.path) if self.path else root
        where = f"{target}: {'document' if self.step is None else f'step {self.step!r}'}"
        where += f" {self.path or '(itself)'}"
        if self.why:
            where += f" ({self.why})"
        if callable(self.expected) and not isinstance(self.expected, _Absent):
            assert actual is not ABSENT, f"{where}: missing"
            assert self.expected(actual), f"{where}: {actual!r} does not hold"
        else:
            assert _same(actual, self.expected), (
                f"{where}: expected {self.expected!r}, got {actual!r}"
            )


def _same(actual: Any, expected: Any) -> bool:
    """``==`` that tells ``True`` from ``1`` (a bool rendered as a number is a bug)."""
    if type(actual) is bool or type(expected) is bool:
        return type(actual) is type(expected) and actual == expected
    if isinstance(expected, list) and isinstance(actual, list):
        return len(actual) == len(expected) and all(map(_same, actual, expected))
    if isinstance(expected, dict) and isinstance(actual, dict):
        return actual.keys() == expected.keys() and all(
            _same(actual[k], expected[k]) for k in expected
        )
    return bool(actual == expected)


def at(step: str, path: str, expected: Any, why: str = "") -> Check:
    """``expected`` (a value, :data:`ABSENT` or a predicate) at ``path`` of step ``step``."""
    return Check(step, path, expected, why)


def doc(path: str, expected: Any, why: str = "") -> Check:
    """``expected`` at ``path`` of the whole parsed document."""
    return Check(None, path, expected, why)


def holds(predicate: Callable[[Any], bool], why: str) -> Check:
    """``predicate(document)`` is true (for facts that span steps)."""
    return Check(None, "", predicate, why)


def check_all(target: str, text: str, checks: list[Check] | tuple[Check, ...]) -> Any:
    """Run every check on ``text`` compiled for ``target``; returns the parsed document."""
    assert checks, f"{target}: an empty list of checks checks nothing"
    document = parse(target, text)
    for check in checks:
        check.run(target, document)
    return document
