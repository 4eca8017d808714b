"""Review support for Kubeflow documents: what ``pipecast diff``/``plan``/``compile --check``
show of a KFP pipeline, task by task.

Container tasks are summarized wherever they are (kfp nests the tasks of a condition, loop or
exit handler in the DAG of a group component). Each control-flow group is an entry of its own,
so that a changed condition, loop items or parallelism reads as one line: ``condition`` is the
``triggerPolicy.condition`` with kfp's ``inputs.parameter_values['pipelinechannel--x']`` spelled
``x``; a loop shows its ``items`` (the literal list, or the value it iterates over) and its
``parallelism``; an exit task shows the group whose end it waits for.
"""

from __future__ import annotations

import re
from typing import Any

from .diff import DocumentSummary, StepSummary

__all__ = ["describe", "detect", "readable_condition", "resources_summary"]


def _main(document: Any) -> dict[str, Any]:
    main: dict[str, Any] = document[0] if isinstance(document, list) else document
    return main


def detect(document: Any) -> bool:
    main = _main(document)
    return isinstance(main, dict) and "pipelineInfo" in main and "deploymentSpec" in main


# KFP writes each quantity twice (``memoryLimit: 8.589934592`` in GB and ``resourceMemoryLimit:
# 8Gi``), as limit and request: (summary name, user's-units field, its pairs)
_QUANTITIES = (
    ("cpu", "resourceCpuLimit", ("resourceCpuRequest",), ("cpuLimit", "cpuRequest")),
    ("memory", "resourceMemoryLimit", ("resourceMemoryRequest",), ("memoryLimit", "memoryRequest")),
)


def resources_summary(resources: dict[str, Any]) -> dict[str, Any]:
    """A task's resources once, in the user's units (``memory: 8Gi``, ``cpu: '4'``).

    A quantity whose copies agree is one value; copies that disagree (a hand-edited document)
    are all shown, so a change to any one of them is visible in the summary.
    """
    out: dict[str, Any] = {}
    used: set[str] = set()
    for name, main, same, numeric in _QUANTITIES:
        if main not in resources and not any(k in resources for k in (*same, *numeric)):
            continue
        used.update((main, *same, *numeric))
        value = resources.get(main)
        copies = [resources.get(k) for k in same]
        numbers = [resources.get(k) for k in numeric]
        expected = _as_number(value, name)
        if all(c == value for c in copies) and all(
            type(n) is float and expected is not None and abs(n - expected) < 1e-9 for n in numbers
        ):
            out[name] = value
        else:
            out[name] = {k: resources.get(k) for k in (main, *same, *numeric)}
    accelerator = resources.get("accelerator")
    if accelerator is not None:
        used.add("accelerator")
        count, kind = accelerator.get("resourceCount"), accelerator.get("resourceType")
        twice = {"count": count, "resourceCount": count, "type": kind, "resourceType": kind}
        if accelerator == twice:
            out["accelerator"] = f"{count} × {kind}"
        else:
            out["accelerator"] = accelerator
    out.update({k: v for k, v in resources.items() if k not in used})
    return out


def _as_number(value: Any, name: str) -> float | None:
    """``'4'`` → 4.0 (CPUs); ``'8Gi'`` → 8.589934592 (GB, as KFP's ``memoryLimit``)."""
    if not isinstance(value, str):
        return None
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "K": 10**3,
        "M": 10**6,
        "G": 10**9,
        "T": 10**12,
        "m": 1e-3,
    }
    number, factor = value, 1.0
    for suffix, scale in units.items():
        if value.endswith(suffix):
            number, factor = value[: -len(suffix)], float(scale)
            break
    try:
        amount = float(number) * factor
    except ValueError:
        return None
    return amount / 1e9 if name == "memory" else amount


_CHANNEL = re.compile(r"inputs\.parameter_values\['(?:pipelinechannel--)?([^']*)'\]")


def readable_condition(condition: str) -> str:
    """A CEL trigger condition with each parameter reference as its bare name."""
    return _CHANNEL.sub(lambda m: m.group(1), condition)


def _channel(name: Any) -> Any:
    return name.removeprefix("pipelinechannel--") if isinstance(name, str) else name


def _parameter_source(value: dict[str, Any]) -> Any:
    """Where a task's parameter comes from, in one value (a constant stays itself)."""
    if "runtimeValue" in value:
        return value["runtimeValue"].get("constant")
    if "componentInputParameter" in value:
        source = value["componentInputParameter"]
        if not source.startswith("pipelinechannel--"):
            return source
        shown = _channel(source)
    elif "taskOutputParameter" in value:
        out = value["taskOutputParameter"]
        shown = f"{out.get('producerTask')}.{out.get('outputParameterKey')}"
    elif "taskFinalStatus" in value:
        shown = f"final status of {value['taskFinalStatus'].get('producerTask')}"
    else:
        return value
    selector = value.get("parameterExpressionSelector")
    return f"{shown} | {selector}" if selector else shown


def _artifact_source(value: dict[str, Any]) -> Any:
    if "taskOutputArtifact" in value:
        upstream = value["taskOutputArtifact"]
        return f"{upstream.get('producerTask')}.{upstream.get('outputArtifactKey')}"
    if "componentInputArtifact" in value:
        return _channel(value["componentInputArtifact"])
    return value


def _inputs(task: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for key, value in task.get("inputs", {}).get("artifacts", {}).items():
        inputs[key] = _artifact_source(value)
    for key, value in task.get("inputs", {}).get("parameters", {}).items():
        inputs[key] = _parameter_source(value)
    return inputs


def _group_summary(name: str, task: dict[str, Any], path: str) -> StepSummary:
    """One control-flow group: its condition, or its loop items and parallelism."""
    fields: dict[str, Any] = {"in": path or None}
    if "triggerPolicy" in task and "condition" in task["triggerPolicy"]:
        fields["condition"] = readable_condition(task["triggerPolicy"]["condition"])
    iterator = task.get("parameterIterator") or task.get("artifactIterator")
    if iterator is not None:
        items = iterator.get("items", {})
        # a literal list, or the parameter (artifact list, for an artifactIterator) it reads
        read = items.get("inputParameter", items.get("inputArtifact"))
        fields["items"] = items.get("raw", _channel(read))
        fields["parallelism"] = task.get("iteratorPolicy", {}).get("parallelismLimit")
    fields["depends on"] = sorted(task.get("dependentTasks", []))
    kind = "loop" if iterator is not None else "condition" if "condition" in fields else "group"
    return StepSummary(name, kind, fields)


def describe(document: Any) -> DocumentSummary:
    """Per container task: image, command, args, resources, accelerator, node selectors,
    inputs; per control-flow group: its condition, or its loop items and parallelism."""
    main = _main(document)
    platform = document[1] if isinstance(document, list) and len(document) > 1 else {}
    executors = main["deploymentSpec"]["executors"]
    components = main["components"]
    k8s = (
        platform.get("platforms", {})
        .get("kubernetes", {})
        .get("deploymentSpec", {})
        .get("executors", {})
    )
    steps: dict[str, StepSummary] = {}

    def walk(tasks: dict[str, Any], path: str, seen: frozenset[str]) -> None:
        for name, task in tasks.items():
            ref = task["componentRef"]["name"]
            comp = components[ref]
            executor_label = comp.get("executorLabel")
            if executor_label is None:
                if "dag" in comp and ref not in seen:  # a group: summarize it, then go in
                    steps[name] = _group_summary(name, task, path)
                    inner = f"{path}/{name}" if path else name
                    walk(comp["dag"].get("tasks", {}), inner, seen | {ref})
                continue
            if "importer" in executors[executor_label]:
                continue
            placement = k8s.get(executor_label, {})
            steps[name] = _container_summary(name, task, executors[executor_label], path, placement)

    walk(main["root"]["dag"]["tasks"], "", frozenset())
    params = {
        k: {"type": v.get("parameterType"), "default": v.get("defaultValue")}
        for k, v in main.get("root", {}).get("inputDefinitions", {}).get("parameters", {}).items()
    }
    return DocumentSummary("kubeflow", main["pipelineInfo"]["name"], params, steps)


def _container_summary(
    name: str,
    task: dict[str, Any],
    executor: dict[str, Any],
    path: str,
    placement: dict[str, Any],
) -> StepSummary:
    container = executor.get("container", {})
    fields = {
        "image": container.get("image"),
        "command": container.get("command"),
        "arguments": container.get("args"),
        "resources": resources_summary(container.get("resources", {})),
        "inputs": _inputs(task),
        "depends on": sorted(task.get("dependentTasks", [])),
        "retry": task.get("retryPolicy"),
        "caching": task.get("cachingOptions"),
        "env": {e["name"]: e["value"] for e in container.get("env", [])},
        "node selector": placement.get("nodeSelector", {}).get("labels"),
        "spot": bool(placement.get("tolerations")) or None,
    }
    if path:  # only inside a group: documents without control flow summarize as before
        fields["in"] = path
    trigger = task.get("triggerPolicy", {}).get("strategy")
    if trigger:
        fields["runs when"] = trigger
    return StepSummary(name, "container task", fields)
