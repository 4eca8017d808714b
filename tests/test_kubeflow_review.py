"""``kubeflow_review.describe`` word for word: what ``diff``/``plan`` show of each kind of KFP
task, control-flow group and parameter or artifact source.

Hand-written documents name one construct each (the shapes kfp writes); one pipeline compiled
in the test checks the whole summary of a real document.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers.diff import StepSummary
from pipecast.compilers.kubeflow_review import describe, detect
from pipecast.dsl import Dataset, Input, Output, Retry, Spot

IMG = "registry.example.com/review:1.0"


def _container_component(label: str) -> dict[str, Any]:
    return {"executorLabel": label}


def document(
    tasks: dict[str, Any],
    components: dict[str, Any] | None = None,
    executors: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A KFP pipeline document (the main one) holding ``tasks``; each task whose component is
    not given runs the container component ``comp-<task>`` (executor ``exec-<task>``)."""
    components = dict(components or {})
    executors = dict(executors or {})
    for name, task in tasks.items():
        ref = task.setdefault("componentRef", {"name": f"comp-{name}"})["name"]
        if ref not in components:
            components[ref] = _container_component(f"exec-{name}")
            executors.setdefault(f"exec-{name}", {"container": {"image": IMG}})
    root: dict[str, Any] = {"dag": {"tasks": tasks}}
    if parameters is not None:
        root["inputDefinitions"] = {"parameters": parameters}
    return {
        "pipelineInfo": {"name": "reviewed"},
        "deploymentSpec": {"executors": executors},
        "components": components,
        "root": root,
    }


def plain_fields(**changes: Any) -> dict[str, Any]:
    """The fields of a container task that says nothing but its image."""
    return {
        "image": IMG,
        "command": None,
        "arguments": None,
        "resources": {},
        "inputs": {},
        "depends on": [],
        "retry": None,
        "caching": None,
        "env": {},
        "node selector": None,
        "spot": None,
        **changes,
    }


# ----- where a task's parameters and artifacts come from ----------------------------------------

SELECTOR = 'parseJson(string_value)["a"]'
PARAMETER_SOURCES = {
    "a constant": ({"runtimeValue": {"constant": 3}}, 3),
    "a constant text": ({"runtimeValue": {"constant": "x y"}}, "x y"),
    "no constant": ({"runtimeValue": {}}, None),
    "a pipeline parameter": ({"componentInputParameter": "k"}, "k"),
    "a parameter of the group": ({"componentInputParameter": "pipelinechannel--k"}, "k"),
    "a parameter of the group, selected": (
        {"componentInputParameter": "pipelinechannel--k", "parameterExpressionSelector": SELECTOR},
        f"k | {SELECTOR}",
    ),
    "a pipeline parameter, selector not shown": (
        {"componentInputParameter": "k", "parameterExpressionSelector": SELECTOR},
        "k",
    ),
    "a task's output": (
        {"taskOutputParameter": {"producerTask": "make", "outputParameterKey": "n"}},
        "make.n",
    ),
    "a task's output, selected": (
        {
            "taskOutputParameter": {"producerTask": "make", "outputParameterKey": "n"},
            "parameterExpressionSelector": SELECTOR,
        },
        f"make.n | {SELECTOR}",
    ),
    "a task's output, empty selector": (
        {
            "taskOutputParameter": {"producerTask": "make", "outputParameterKey": "n"},
            "parameterExpressionSelector": "",
        },
        "make.n",
    ),
    "a final status": (
        {"taskFinalStatus": {"producerTask": "exit-handler-1"}},
        "final status of exit-handler-1",
    ),
    "a final status, selected": (
        {"taskFinalStatus": {"producerTask": "exit-handler-1"}, "parameterExpressionSelector": "s"},
        "final status of exit-handler-1 | s",
    ),
    "anything else, as written": ({"somethingNew": {"a": 1}}, {"somethingNew": {"a": 1}}),
}


@pytest.mark.parametrize(
    ("source", "shown"), PARAMETER_SOURCES.values(), ids=PARAMETER_SOURCES.keys()
)
def test_each_parameter_source_reads_as_one_value(source: dict[str, Any], shown: Any) -> None:
    task = {"inputs": {"parameters": {"x": source}}}
    summary = describe(document({"use": task}))
    assert summary.steps["use"] == StepSummary(
        "use", "container task", plain_fields(inputs={"x": shown})
    )


ARTIFACT_SOURCES = {
    "a task's artifact": (
        {"taskOutputArtifact": {"producerTask": "make", "outputArtifactKey": "data"}},
        "make.data",
    ),
    "an artifact of the group": ({"componentInputArtifact": "pipelinechannel--data"}, "data"),
    "a pipeline artifact": ({"componentInputArtifact": "data"}, "data"),
    "anything else, as written": ({"somethingNew": 1}, {"somethingNew": 1}),
}


@pytest.mark.parametrize(
    ("source", "shown"), ARTIFACT_SOURCES.values(), ids=ARTIFACT_SOURCES.keys()
)
def test_each_artifact_source_reads_as_one_value(source: dict[str, Any], shown: Any) -> None:
    task = {
        "inputs": {
            "artifacts": {"data": source},
            "parameters": {"n": {"runtimeValue": {"constant": 1}}},
        }
    }
    summary = describe(document({"use": task}))
    assert summary.steps["use"].fields["inputs"] == {"data": shown, "n": 1}


# ----- a container task: every field -------------------------------------------------------------


def test_a_container_task_shows_every_setting_and_its_placement() -> None:
    container = {
        "image": IMG,
        "command": ["run"],
        "args": ["--n", "{{$.inputs.parameters['n']}}"],
        "resources": {
            "resourceCpuLimit": "2",
            "resourceCpuRequest": "2",
            "cpuLimit": 2.0,
            "cpuRequest": 2.0,
        },
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": ""}],
    }
    task = {
        "dependentTasks": ["z", "a"],
        "retryPolicy": {"maxRetryCount": 2},
        "cachingOptions": {"enableCache": True},
        "triggerPolicy": {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"},
    }
    main = document({"work": task}, executors={"exec-work": {"container": container}})
    platform = {
        "platforms": {
            "kubernetes": {
                "deploymentSpec": {
                    "executors": {
                        "exec-work": {
                            "nodeSelector": {"labels": {"pool": "spot"}},
                            "tolerations": [{"key": "spot"}],
                        }
                    }
                }
            }
        }
    }
    assert describe([main, platform]).steps["work"] == StepSummary(
        "work",
        "container task",
        {
            "image": IMG,
            "command": ["run"],
            "arguments": ["--n", "{{$.inputs.parameters['n']}}"],
            "resources": {"cpu": "2"},
            "inputs": {},
            "depends on": ["a", "z"],
            "retry": {"maxRetryCount": 2},
            "caching": {"enableCache": True},
            "env": {"A": "1", "B": ""},
            "node selector": {"pool": "spot"},
            "spot": True,
            "runs when": "ALL_UPSTREAM_TASKS_COMPLETED",
        },
    )
    # the same task without a platform document, or with a placement without tolerations
    assert describe(main).steps["work"].fields["node selector"] is None
    assert describe([main]).steps["work"].fields["spot"] is None
    platform_executor = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    del platform_executor["exec-work"]["tolerations"]
    fields = describe([main, platform]).steps["work"].fields
    assert (fields["spot"], fields["node selector"]) == (None, {"pool": "spot"})


def test_importers_are_not_steps_and_parameters_keep_type_and_default() -> None:
    main = document(
        {"importer": {"componentRef": {"name": "comp-importer"}}, "use": {}},
        components={"comp-importer": _container_component("exec-importer")},
        executors={"exec-importer": {"importer": {"artifactUri": {"constant": "s3://b/"}}}},
        parameters={
            "k": {"parameterType": "NUMBER_INTEGER", "defaultValue": 2},
            "mode": {"parameterType": "STRING"},
        },
    )
    summary = describe(main)
    assert (summary.target, summary.name) == ("kubeflow", "reviewed")
    assert list(summary.steps) == ["use"]
    assert summary.parameters == {
        "k": {"type": "NUMBER_INTEGER", "default": 2},
        "mode": {"type": "STRING", "default": None},
    }


@pytest.mark.parametrize(
    "root", [{}, {"inputDefinitions": {}}], ids=["no definitions", "no parameters"]
)
def test_a_pipeline_without_parameters_has_none(root: dict[str, Any]) -> None:
    main = document({"use": {}})
    main["root"].update(root)
    assert describe(main).parameters == {}


# ----- control-flow groups -----------------------------------------------------------------------


def _group(dag_tasks: dict[str, Any]) -> dict[str, Any]:
    return {"dag": {"tasks": dag_tasks}}


def _inner(name: str) -> dict[str, Any]:
    return {name: {"componentRef": {"name": f"comp-{name}"}}}


GROUPS = {
    "a condition": (
        {
            "triggerPolicy": {
                "condition": "inputs.parameter_values['pipelinechannel--mode'] == 'a' && "
                "int(inputs.parameter_values['pipelinechannel--make-n']) > 1"
            },
            "dependentTasks": ["make"],
        },
        "condition",
        {"in": None, "condition": "mode == 'a' && int(make-n) > 1", "depends on": ["make"]},
    ),
    "a trigger policy without a condition": (
        {"triggerPolicy": {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}},
        "group",
        {"in": None, "depends on": []},
    ),
    "a loop over a literal list": (
        {
            "parameterIterator": {"items": {"raw": "[1, 2]"}},
            "iteratorPolicy": {"parallelismLimit": 3},
        },
        "loop",
        {"in": None, "items": "[1, 2]", "parallelism": 3, "depends on": []},
    ),
    "a loop over a parameter": (
        {"parameterIterator": {"items": {"inputParameter": "pipelinechannel--cams"}}},
        "loop",
        {"in": None, "items": "cams", "parallelism": None, "depends on": []},
    ),
    "a loop over artifacts": (
        {
            "artifactIterator": {"items": {"inputArtifact": "pipelinechannel--parts"}},
            "iteratorPolicy": {"parallelismLimit": 2},
        },
        "loop",
        {"in": None, "items": "parts", "parallelism": 2, "depends on": []},
    ),
    "a loop inside a condition": (
        {
            "triggerPolicy": {"condition": "inputs.parameter_values['pipelinechannel--k'] > 1"},
            "parameterIterator": {"items": {"raw": "[1]"}},
        },
        "loop",
        {"in": None, "condition": "k > 1", "items": "[1]", "parallelism": None, "depends on": []},
    ),
    "an exit handler": (
        {"dependentTasks": ["b", "a"]},
        "group",
        {"in": None, "depends on": ["a", "b"]},
    ),
}


@pytest.mark.parametrize(("task", "kind", "fields"), GROUPS.values(), ids=GROUPS.keys())
def test_each_group_is_one_entry_with_its_condition_or_loop(
    task: dict[str, Any], kind: str, fields: dict[str, Any]
) -> None:
    main = document(
        {"group-1": {**task, "componentRef": {"name": "comp-group-1"}}},
        components={"comp-group-1": _group(_inner("inside"))},
    )
    main["components"]["comp-inside"] = _container_component("exec-inside")
    main["deploymentSpec"]["executors"]["exec-inside"] = {"container": {"image": IMG}}
    summary = describe(main)
    assert summary.steps == {
        "group-1": StepSummary("group-1", kind, fields),
        "inside": StepSummary("inside", "container task", plain_fields(**{"in": "group-1"})),
    }


def test_nested_groups_say_where_they_sit_and_odd_components_end_the_walk() -> None:
    """A group inside a group names its path; a component that is neither a container nor a
    group is skipped, and a group that holds itself (a hand-edited document) is read once."""
    components = {
        "comp-outer": _group({"inner": {"componentRef": {"name": "comp-inner"}}}),
        "comp-inner": _group(
            {
                "leaf": {"componentRef": {"name": "comp-leaf"}},
                "odd": {"componentRef": {"name": "comp-odd"}},
                "again": {"componentRef": {"name": "comp-inner"}},
            }
        ),
        "comp-odd": {"inputDefinitions": {}},
        "comp-leaf": _container_component("exec-leaf"),
    }
    main = document(
        {"outer": {"componentRef": {"name": "comp-outer"}}},
        components=components,
        executors={"exec-leaf": {"container": {"image": IMG}}},
    )
    steps = describe(main).steps
    assert steps == {
        "outer": StepSummary("outer", "group", {"in": None, "depends on": []}),
        "inner": StepSummary("inner", "group", {"in": "outer", "depends on": []}),
        "leaf": StepSummary("leaf", "container task", plain_fields(**{"in": "outer/inner"})),
    }


def test_detect_knows_a_kubeflow_document() -> None:
    main = document({"use": {}})
    assert detect(main) and detect([main, {"platforms": {}}])
    assert not detect({"pipelineInfo": {}}) and not detect({"deploymentSpec": {}})
    assert not detect(["not a mapping"]) and not detect({"StartAt": "x", "States": {}})


# ----- a document compiled in the test ---------------------------------------------------------


@dsl.container_component(image=IMG, command=["make"])
def make(count: int, data: Output[Dataset], n: Output[int]):
    """Writes an artifact and a number."""


@dsl.container_component(image=IMG, command=["use"])
def use(data: Input[Dataset], label: str):
    """Reads an artifact and a text."""


@dsl.container_component(image=IMG, command=["report"])
def report(status: str):
    """Reports how the run ended."""


@dsl.pipeline(name="reviewed")
def reviewed(cams: list = ["a"], k: int = 2, mode: str = "x"):  # noqa: B006
    done = report(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(done):
        made = make(count=k).set_retry(Retry(max_attempts=2)).set_spot(Spot("1h"))
        with dsl.If(mode == "a"):
            use(data=made.outputs["data"], label="if").set_name("in-if")
        with dsl.Elif(made.outputs["n"] > 3):
            use(data=made.outputs["data"], label="elif").set_name("in-elif")
        with dsl.Else():
            use(data=made.outputs["data"], label="else").set_name("in-else")
        with dsl.ParallelFor(cams, parallelism=2) as cam:
            use(data=made.outputs["data"], label=cam).set_name("in-loop")


def test_a_compiled_document_reads_as_its_groups_and_tasks() -> None:
    summary = describe(list(yaml.safe_load_all(compile_text(reviewed, "kubeflow"))))
    assert summary.parameters == {
        "cams": {"type": "LIST", "default": ["a"]},
        "k": {"type": "NUMBER_INTEGER", "default": 2.0},
        "mode": {"type": "STRING", "default": "x"},
    }
    handler, branches = "exit-handler-1", "exit-handler-1/condition-branches-2"

    def user(label: str, where: str, shown: str | None = None) -> StepSummary:
        fields = plain_fields(
            command=["use"],
            arguments=[
                "--data",
                "{{$.inputs.artifacts['data'].path}}",
                "--label",
                "{{$.inputs.parameters['label']}}",
            ],
            caching={},
            inputs={"data": "make-data", "label": shown or label},
        )
        return StepSummary(f"in-{label}", "container task", {**fields, "in": where})

    assert dict(summary.steps) == {
        handler: StepSummary(handler, "group", {"in": None, "depends on": []}),
        "report": StepSummary(
            "report",
            "container task",
            plain_fields(
                command=["report"],
                arguments=["--status", "{{$.inputs.parameters['status']}}"],
                caching={},
                inputs={"status": f"final status of {handler}"},
                **{"depends on": [handler], "runs when": "ALL_UPSTREAM_TASKS_COMPLETED"},
            ),
        ),
        "make": StepSummary(
            "make",
            "container task",
            plain_fields(
                command=["make"],
                arguments=[
                    "--count",
                    "{{$.inputs.parameters['count']}}",
                    "--data",
                    "{{$.outputs.artifacts['data'].path}}",
                    "--n",
                    "{{$.outputs.parameters['n'].output_file}}",
                ],
                caching={},
                inputs={"count": "k"},
                retry={
                    "backoffDuration": "30s",
                    "backoffFactor": 2.0,
                    "backoffMaxDuration": "3600s",
                    "maxRetryCount": 1,
                },
                spot=True,
                **{
                    "node selector": {"eks.amazonaws.com/capacityType": "SPOT"},
                    "in": handler,
                },
            ),
        ),
        "condition-branches-2": StepSummary(
            "condition-branches-2", "group", {"in": handler, "depends on": ["make"]}
        ),
        "condition-3": StepSummary(
            "condition-3",
            "condition",
            {"in": branches, "condition": "mode == 'a'", "depends on": []},
        ),
        "in-if": user("if", f"{branches}/condition-3"),
        "condition-4": StepSummary(
            "condition-4",
            "condition",
            {"in": branches, "condition": "!(mode == 'a') && int(make-n) > 3", "depends on": []},
        ),
        "in-elif": user("elif", f"{branches}/condition-4"),
        "condition-5": StepSummary(
            "condition-5",
            "condition",
            {
                "in": branches,
                "condition": "!(mode == 'a') && !(int(make-n) > 3)",
                "depends on": [],
            },
        ),
        "in-else": user("else", f"{branches}/condition-5"),
        "for-loop-6": StepSummary(
            "for-loop-6",
            "loop",
            {"in": handler, "items": "cams", "parallelism": 2, "depends on": ["make"]},
        ),
        "in-loop": user("loop", f"{handler}/for-loop-6", shown="cams-loop-item"),
    }


# ----- resources whose copies cannot be read as one quantity ------------------------------------


def _cpu(limit: Any, number: Any) -> dict[str, Any]:
    return {
        "resourceCpuLimit": limit,
        "resourceCpuRequest": limit,
        "cpuLimit": number,
        "cpuRequest": number,
    }


@pytest.mark.parametrize(
    "resources",
    [
        _cpu("lots", 1.0),  # not a quantity
        _cpu("2x", 2.0),
        _cpu(2, 2.0),  # not text
        _cpu("2", 2),  # KFP writes the number as a float
        _cpu("2", 2.5),
    ],
    ids=["not a quantity", "unknown suffix", "not text", "an int number", "another number"],
)
def test_copies_that_are_not_one_quantity_are_all_shown(resources: dict[str, Any]) -> None:
    from pipecast.compilers.kubeflow_review import resources_summary

    assert resources_summary(resources) == {"cpu": resources}
