"""The ``ir`` target: the pipeline spec itself, as canonical JSON (for review and other tools)."""

from __future__ import annotations

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
    if "output" in binding:
        return f"{binding['output']['step']}.{binding['output']['name']}"
    if "parameter" in binding:
        return f"parameter {binding['parameter']}"
    if "importer" in binding:
        imp = importers.get(binding["importer"], {})
        uri = imp.get("uri", {})
        where = uri.get("constant", f"parameter {uri.get('parameter')}")
        return f"{'manifest ' if imp.get('manifest') else ''}{where}"
    return binding["constant"]


def describe(document: dict[str, Any]) -> DocumentSummary:
    """Per step: image, command, inputs, resources and settings, as the IR states them."""
    components = {c["name"]: c for c in document["components"]}
    importers = {i["id"]: i for i in document["importers"]}
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
