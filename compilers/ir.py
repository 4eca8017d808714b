"""The ``ir`` target: the pipeline spec itself, as canonical JSON (for review and other tools)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import format_bytes

from .canonical import dumps_json
from .diff import DocumentSummary, StepSummary
from .target import Capabilities, Document, ReviewHooks, Target

if TYPE_CHECKING:
    from pipecast.config import Config

    from .graph import CheckedPipeline


__all__ = [
    "TARGET",
    "compile",
    "describe",
    "detect",
]


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """The IR document; it validates against ``schemas/pipeline.schema.json``."""
    return Document(target="ir", text=dumps_json(checked.spec.to_dict()), suffix="ir.json")


def detect(document: Any) -> bool:
    return isinstance(document, dict) and "ir_version" in document and "steps" in document


def _binding(binding: dict[str, Any], importers: dict[str, Any]) -> Any:
    """One binding as a reviewer reads it (``detect.count``, ``parameter cams``, ...)."""
    if "output" in binding:
        return f"{binding['output']['step']}.{binding['output']['name']}"
    if "parameter" in binding:
        return f"parameter {binding['parameter']}"
    if "importer" in binding:
        imp = importers.get(binding["importer"], {})
        uri = imp.get("uri", {})
        where = uri.get("constant", f"parameter {uri.get('parameter')}")
        return f"{'manifest ' if imp.get('manifest') else ''}{where}"
    if "loop_item" in binding:
        item = binding["loop_item"]
        key = f"[{item['key']!r}]" if item.get("key") is not None else ""
        return f"item of {item['loop']}{key}"
    if "collected" in binding:
        return f"collected {binding['collected']['step']}.{binding['collected']['name']}"
    if "one_of" in binding:
        return "one of " + ", ".join(f"{o['step']}.{o['name']}" for o in binding["one_of"])
    if "run_status" in binding:
        return "run status"
    return binding["constant"]


def _operand(binding: dict[str, Any], importers: dict[str, Any]) -> str:
    """A constant as JSON (so ``"0"`` and ``0`` differ), anything else as :func:`_binding`."""
    if "constant" in binding:
        return json.dumps(binding["constant"], ensure_ascii=False, sort_keys=True)
    return str(_binding(binding, importers))


def _comparison(c: dict[str, Any], importers: dict[str, Any]) -> str:
    return f"{_operand(c['left'], importers)} {c['op']} {_operand(c['right'], importers)}"


def _group(group: dict[str, Any], importers: dict[str, Any]) -> str:
    """A group as one line: what decides whether (and how often) its steps run."""
    if group["kind"] == "condition":
        when = [_comparison(c, importers) for c in group.get("when", [])]
        unless = [f"not ({_comparison(c, importers)})" for c in group.get("unless", [])]
        return f"{group['id']}: if " + " and ".join(when + unless or ["always"])
    if group["kind"] == "loop":
        items = _operand(group["items"], importers)
        limit = group.get("parallelism")
        return f"{group['id']}: for each of {items}" + (
            f", {limit} at a time" if limit is not None else ""
        )
    return f"{group['id']}: exit handler, then {group.get('exit_step')}"


def _enclosing(
    step: dict[str, Any], groups: dict[str, Any], importers: dict[str, Any]
) -> list[str]:
    """The groups around a step, outermost first (changing any changes when the step runs)."""
    chain: list[str] = []
    gid = step.get("group")
    while gid is not None and gid in groups:
        chain.append(_group(groups[gid], importers))
        gid = groups[gid].get("parent")
    return chain[::-1]


def describe(document: dict[str, Any]) -> DocumentSummary:
    """Per step: image, command, inputs, resources and settings, as the IR states them."""
    components = {c["name"]: c for c in document["components"]}
    importers = {i["id"]: i for i in document["importers"]}
    groups = {g["id"]: g for g in document.get("groups", [])}
    steps: dict[str, StepSummary] = {}
    for step in document["steps"]:
        comp = components[step["component"]]
        fields: dict[str, Any] = {
            "image": comp["image"],
            "command": comp["command"],
            "inputs": {k: _binding(v, importers) for k, v in step["arguments"].items()},
            "depends on": step["after"],
            "env": step["env"],
        }
        res = step.get("resources")
        if res:
            fields["resources"] = {
                "cpu": res["cpu"],
                "memory": format_bytes(res["memory"]),
                "gpu": res["gpu"],
                "gpu type": res["gpu_type"],
                "disk": None if res["disk"] is None else format_bytes(res["disk"]),
            }
        fields["spot"] = step["spot"]["max_wait_seconds"] if step.get("spot") else False
        fields["retry"] = step.get("retry")
        fields["timeout"] = step.get("timeout_seconds")
        fields["caching"] = step.get("caching")
        fields["instance type"] = step.get("instance_type")
        fields["instances"] = step.get("instances", 1)
        fields["shard"] = step.get("shard", [])
        fields["runs in"] = _enclosing(step, groups, importers)
        exits = [g["id"] for g in groups.values() if g.get("exit_step") == step["id"]]
        if exits:
            fields["exit task of"] = exits
        steps[step["id"]] = StepSummary(step["id"], "container step", fields)
    parameters = {
        p["name"]: {"type": p["type"], "default": p.get("default")} for p in document["parameters"]
    }
    return DocumentSummary("ir", document["name"], parameters, steps)


TARGET = Target(
    name="ir",
    suffix="ir.json",
    description="pipecast's own pipeline spec (JSON), the input of every other target",
    compile=compile,
    # the IR keeps everything the DSL can say, control flow included
    capabilities=Capabilities(
        requires_image=False,
        supported={"output_parameters", "json_parameters", "conditions", "loops", "exit_handler"},
        keeps_per_target=True,
    ),
    review=ReviewHooks(detect=detect, summarize=describe),
    document_kind="pipecast IR document",
)
