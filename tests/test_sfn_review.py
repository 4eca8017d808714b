"""``stepfunctions.describe``: the review text of each kind of state, every field word for word,
on machines compiled here and on hand-written ones (a machine edited in the console, or written
by another tool, must be summarised too, never stop the review)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers import stepfunctions
from pipecast.compilers.diff import StepSummary
from pipecast.dsl import Dataset, Input, Model, Output, Retry, Spot

IMG = "r.example.com/x:1.0"
ROLE = "arn:aws:iam::123456789012:role/pipecast-jobs"  # examples/pipecast.toml
PROCESSING = "arn:aws:states:::sagemaker:createProcessingJob.sync"
TRAINING = "arn:aws:states:::sagemaker:createTrainingJob.sync"


@dsl.container_component(image=IMG, command=["make"], timeout="1h")
def make(data: Output[Dataset], n: int = 1):
    """A Processing job."""


@dsl.container_component(image=IMG, command=["fit", "--fast"], spot=Spot("2h"))
def fit(data: Input[Dataset], model: Output[Model], label: str = "x"):
    """A spot step: a Training job."""


@dsl.pipeline(name="rev")
def rev(n: int = 3, label: str = "cat"):
    made = make(n=n).set_retry(Retry(3, "10s", 2)).set_env(MODE="fast")
    fit(data=made.outputs["data"], label=label)


def test_every_field_of_a_processing_and_a_training_job() -> None:
    summary = stepfunctions.describe(json.loads(compile_text(rev, "stepfunctions")))
    assert (summary.target, summary.name) == ("stepfunctions", "rev")
    assert summary.parameters == {"label": {"default": "cat"}, "n": {"default": 3}}
    assert summary.steps == {
        "make": StepSummary(
            "make",
            "processing job",
            {
                "image": IMG,
                "instance type": "ml.t3.medium",
                "arguments": [
                    "--n",
                    "{% $string($states.input.params.`n`) %}",
                    "--data",
                    "/opt/ml/processing/output/data",
                ],
                "inputs": {},
                "spot": False,
                "retry": [
                    {
                        "BackoffRate": 2.0,
                        "ErrorEquals": ["SageMaker.AmazonSageMakerException", "States.TaskFailed"],
                        "IntervalSeconds": 10,
                        "MaxAttempts": 2,
                    }
                ],
                "timeout": 3600,
                "env": {"MODE": "fast"},
                "role": ROLE,
                "command": ["make"],
            },
        ),
        "fit": StepSummary(
            "fit",
            "training job (spot)",
            {
                "image": IMG,
                "instance type": "ml.t3.medium",
                "arguments": [
                    "--data",
                    "/opt/ml/input/data/data",
                    "--label",
                    "{% $states.input.params.`label` %}",
                    "--model",
                    "/opt/ml/model/model",
                ],
                "inputs": {
                    "data": '{% "s3://acme-ml/pipelines/rev/" & $states.context.Execution.Name'
                    ' & "/make/data/" %}'
                },
                "spot": True,
                "retry": None,
                "timeout": None,
                "env": {},
                "role": ROLE,
                "command": ["fit", "--fast"],
            },
        ),
    }


EMPTY_JOB = {
    "image": None,
    "instance type": None,
    "arguments": [],
    "inputs": {},
    "spot": False,
    "retry": None,
    "timeout": None,
    "env": {},
    "role": None,
    "command": None,
}


def _machine(**states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": next(iter(states)), "States": states}


@pytest.mark.parametrize(
    ("state", "kind", "fields"),
    [
        pytest.param(
            {"Type": "Task", "Resource": PROCESSING}, "processing job", EMPTY_JOB, id="processing"
        ),
        pytest.param(
            {"Type": "Task", "Resource": TRAINING}, "training job (spot)", EMPTY_JOB, id="training"
        ),
        pytest.param(
            {
                "Type": "Task",
                "Resource": PROCESSING,
                "Arguments": {"ProcessingResources": {}, "RoleArn": "arn:role/r"},
            },
            "processing job",
            {**EMPTY_JOB, "role": "arn:role/r"},
            id="processing-without-a-cluster",
        ),
        pytest.param(
            {
                "Type": "Task",
                "Resource": PROCESSING,
                "TimeoutSeconds": 60,
                "Arguments": {
                    "AppSpecification": {"ImageUri": "i", "ContainerEntrypoint": ["run"]},
                    "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large"}},
                    "ProcessingInputs": [{"InputName": "a", "S3Input": {"S3Uri": "s3://b/a"}}],
                    "Environment": {"K": "v"},
                },
            },
            "processing job",
            {
                **EMPTY_JOB,
                "image": "i",
                "command": ["run"],
                "instance type": "ml.m5.large",
                "inputs": {"a": "s3://b/a"},
                "env": {"K": "v"},
                "timeout": 60,
            },
            id="processing-by-hand",
        ),
        pytest.param(
            {
                "Type": "Task",
                "Resource": TRAINING,
                "Arguments": {
                    "AlgorithmSpecification": {
                        "TrainingImage": "t",
                        "ContainerArguments": ["--x"],
                        "ContainerEntrypoint": ["train"],
                    },
                    "ResourceConfig": {"InstanceType": "ml.g5.xlarge"},
                    "InputDataConfig": [
                        {"ChannelName": "c", "DataSource": {"S3DataSource": {"S3Uri": "s3://b/c"}}}
                    ],
                    "EnableManagedSpotTraining": True,
                    "RoleArn": "arn:role/t",
                },
            },
            "training job (spot)",
            {
                **EMPTY_JOB,
                "image": "t",
                "arguments": ["--x"],
                "command": ["train"],
                "instance type": "ml.g5.xlarge",
                "inputs": {"c": "s3://b/c"},
                "spot": True,
                "role": "arn:role/t",
            },
            id="training-by-hand",
        ),
    ],
)
def test_a_job_state_written_by_hand(state: dict[str, Any], kind: str, fields: Any) -> None:
    summary = stepfunctions.describe(_machine(job={**state, "End": True}))
    assert summary.steps == {"job": StepSummary("job", kind, fields)}


def test_only_sagemaker_tasks_are_jobs_and_they_are_found_in_branches_and_maps() -> None:
    job = {"Type": "Task", "Resource": PROCESSING, "End": True}
    machine = _machine(
        read={"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject", "Next": "p"},
        p={
            "Type": "Parallel",
            "Branches": [_machine(inner=job)],
            "Next": "m",
        },
        m={
            "Type": "Map",
            "ItemProcessor": _machine(each=job),
            "End": True,
        },
    )
    summary = stepfunctions.describe(machine)
    assert summary.steps == {
        "inner": StepSummary("inner", "processing job", EMPTY_JOB),
        "each": StepSummary("each", "processing job", EMPTY_JOB),
        "m": StepSummary("m", "loop (Map)", {"items": None, "parallelism": None, "mode": "inline"}),
    }
    assert summary.name == "state machine" and summary.parameters == {}


def _choice(*conditions: str) -> dict[str, Any]:
    return {
        "Type": "Choice",
        "Choices": [{"Condition": c, "Next": "done"} for c in conditions],
        "Default": "done",
    }


@pytest.mark.parametrize(
    ("state", "summary"),
    [
        pytest.param(
            _choice("{% ($states.input.values.`probe/level` > $states.input.params.`n`) %}"),
            StepSummary("g", "condition (Choice)", {"condition": "(probe.level > n)"}),
            id="condition-on-a-value-and-a-parameter",
        ),
        pytest.param(
            _choice("{% $states.input.loops.`loop-1`.item = 2 %}"),
            StepSummary("g", "condition (Choice)", {"condition": "item of loop-1 = 2"}),
            id="condition-on-a-loop-item",
        ),
        pytest.param(
            _choice("$.x"),
            StepSummary("g", "condition (Choice)", {"condition": "$.x"}),
            id="condition-not-jsonata-as-written",
        ),
        pytest.param(
            {"Type": "Choice", "Choices": [{"Variable": "$.x", "Next": "done"}]},
            StepSummary("g", "condition (Choice)", {"condition": None}),
            id="condition-jsonpath",
        ),
        pytest.param(_choice("{% a %}", "{% b %}"), None, id="choice-of-two-is-not-a-group"),
        pytest.param({"Type": "Choice"}, None, id="choice-without-choices"),
        pytest.param(
            {
                "Type": "Map",
                "Items": "{% $states.input.params.`cams` %}",
                "MaxConcurrency": 4,
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}},
            },
            StepSummary(
                "g", "loop (Map)", {"items": "cams", "parallelism": 4, "mode": "distributed"}
            ),
            id="loop-over-a-parameter",
        ),
        pytest.param(
            {
                "Type": "Map",
                "Items": [1],
                "ItemReader": {"Arguments": {"Key": "{% $states.input.run & '/k' %}"}},
                "MaxConcurrency": 0,
                "ItemProcessor": {},
            },
            StepSummary(
                "g",
                "loop (Map)",
                {"items": "$states.input.run & '/k'", "parallelism": None, "mode": "inline"},
            ),
            id="loop-reading-its-items",
        ),
        pytest.param(
            {"Type": "Map", "Items": [1], "ItemReader": {}, "ItemProcessor": {}},
            StepSummary("g", "loop (Map)", {"items": [1], "parallelism": None, "mode": "inline"}),
            id="loop-with-a-reader-without-key",
        ),
        pytest.param({"Type": "Map", "Iterator": {}}, None, id="map-without-item-processor"),
        pytest.param({"Type": "Pass"}, None, id="pass"),
    ],
)
def test_each_kind_of_group_state(state: dict[str, Any], summary: StepSummary | None) -> None:
    steps = stepfunctions.describe(_machine(g=state, done={"Type": "Succeed"})).steps
    assert steps == ({} if summary is None else {"g": summary})


def test_groups_nested_in_maps_and_branches_are_found() -> None:
    choice = _choice("{% true %}")
    inner_map = {"Type": "Map", "Items": [2], "ItemProcessor": _machine(c2=choice)}
    machine = _machine(
        p={"Type": "Parallel", "Branches": [_machine(c1=choice, m2=inner_map)]},
        m1={"Type": "Map", "Items": [1], "ItemProcessor": _machine(c3=choice)},
    )
    steps = stepfunctions.describe(machine).steps
    assert sorted(steps) == ["c1", "c2", "c3", "m1", "m2"]
    assert steps["c2"] == StepSummary("c2", "condition (Choice)", {"condition": "true"})


@pytest.mark.parametrize(
    ("start", "defaults"),
    [
        pytest.param(
            '{% {"params": $merge([{"a": 1, "b": "x"}, $states.input]), "uris": {}} %}',
            {"a": {"default": 1}, "b": {"default": "x"}},
            id="compiled",
        ),
        pytest.param(
            '{% {"params": $merge([{}, $states.input]), "uris": {}} %}', {}, id="no-defaults"
        ),
        pytest.param(
            '{% {"params": $merge([[1], $states.input]), "uris": {}} %}', {}, id="not-an-object"
        ),
        pytest.param(
            '{% {"params": $merge([{a}, $states.input]), "uris": {}} %}', {}, id="not-json"
        ),
        pytest.param("{% $states.input %}", {}, id="another-output"),
        pytest.param(None, {}, id="no-output"),
    ],
)
def test_parameter_defaults_read_off_the_start_state(start: str | None, defaults: Any) -> None:
    state: dict[str, Any] = {"Type": "Pass", "End": True}
    if start is not None:
        state["Output"] = start
    assert stepfunctions.parameter_defaults(_machine(start=state)) == defaults
    assert stepfunctions.parameter_defaults({"States": {}}) == {}


@pytest.mark.parametrize(
    ("comment", "name"),
    [
        ("pipecast pipeline rev", "rev"),
        ("written by hand", "written by hand"),
        ("pipecast pipeline ", "state machine"),
        (None, "state machine"),
    ],
)
def test_the_name_comes_from_the_comment(comment: str | None, name: str) -> None:
    machine = _machine(a={"Type": "Succeed"})
    if comment is not None:
        machine["Comment"] = comment
    assert stepfunctions.describe(machine).name == name


@pytest.mark.parametrize(
    ("document", "detected"),
    [
        ({"StartAt": "a", "States": {}}, True),
        ({"StartAt": "a"}, False),
        ({"States": {}}, False),
        ([{"StartAt": "a", "States": {}}], False),
    ],
)
def test_detect(document: Any, detected: bool) -> None:
    assert stepfunctions.detect(document) is detected
