"""What ``pipecast diff``/``plan`` show of each step: every target's ``describe`` on a fresh
compile reports the settings the pipeline asked for (the reviewer sees what will run).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers import _sagemaker_values, ir, kubeflow, sagemaker, stepfunctions
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

IMG = "r.example.com/x:1.0"
GPU_IMG = "r.example.com/gpu:2.0"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], n: int = 1):
    """Produce."""


@dsl.container_component(image=GPU_IMG, command=["use", "-q"])
def use(data: Input[Dataset], label: str):
    """Consume."""


@dsl.pipeline(name="review")
def review(label: str = "cars", n: int = 3):
    a = make(n=n).set_env(MODE="fast").set_retry(Retry(3, "10s")).set_timeout("1h")
    use(data=a.output, label=label).set_resources(
        Resources(cpu=4, memory="16GiB", gpu=1, gpu_type="T4")
    ).set_spot(Spot("2h"))
    use(
        data=dsl.importer(uri="s3://b/list.json", artifact_type=Dataset, manifest=True).output,
        label="x",
    ).set_name("imported").after(a)


def test_ir_summary():
    summary = ir.describe(json.loads(compile_text(review, "ir")))
    assert (summary.target, summary.name) == ("ir", "review")
    assert summary.parameters == {
        "label": {"type": "str", "default": "cars"},
        "n": {"type": "int", "default": 3},
    }
    make_step = summary.steps["make"].fields
    assert make_step["image"] == IMG and make_step["command"] == ["make"]
    assert make_step["inputs"] == {"n": "parameter n"}
    assert make_step["env"] == {"MODE": "fast"}
    assert make_step["timeout"] == 3600
    assert make_step["spot"] is False
    assert make_step["retry"]["max_attempts"] == 3
    assert "resources" not in make_step
    use_step = summary.steps["use"].fields
    assert use_step["inputs"] == {"data": "make.data", "label": "parameter label"}
    assert use_step["resources"] == {
        "cpu": 4,
        "memory": "16GiB",
        "gpu": 1,
        "gpu type": "T4",
        "disk": None,
    }
    assert use_step["spot"] == 7200
    imported = summary.steps["imported"].fields
    assert imported["inputs"] == {"data": "manifest s3://b/list.json", "label": "x"}
    assert imported["depends on"] == ["make"]
    assert summary.steps["imported"].kind == "container step"


def test_ir_summary_names_a_parameter_importer_and_disk():
    @dsl.pipeline(name="p")
    def p(src: str = "s3://b/"):
        use(data=dsl.importer(uri=src, artifact_type=Dataset).output, label="x").set_resources(
            Resources(cpu=1, memory="1GiB", disk="20GiB")
        )

    fields = ir.describe(json.loads(compile_text(p, "ir"))).steps["use"].fields
    assert fields["inputs"]["data"] == "parameter src"
    assert fields["resources"]["disk"] == "20GiB"


def test_sagemaker_summary():
    summary = sagemaker.describe(json.loads(compile_text(review, "sagemaker")))
    assert summary.target == "sagemaker"
    assert summary.parameters == {
        "label": {"type": "String", "default": "cars"},
        "n": {"type": "Integer", "default": 3},
    }
    make_step = summary.steps["make"]
    assert make_step.kind == "processing job"
    f = make_step.fields
    assert (f["image"], f["command"], f["spot"]) == (IMG, ["make"], False)
    assert f["arguments"] == ["--n", "{Parameters.n}", "--data", "/opt/ml/processing/output/data"]
    assert f["timeout"] == 3600 and "spot max wait" not in f
    assert f["env"] == {"MODE": "fast"}
    assert f["retry"][0]["MaxAttempts"] == 2
    assert f["instance type"].startswith("ml.")
    use_step = summary.steps["use"]
    assert use_step.kind == "training job (spot)"
    f = use_step.fields
    assert (f["image"], f["command"], f["spot"]) == (GPU_IMG, ["use", "-q"], True)
    assert f["spot max wait"] == 86400 and f["timeout"] == 86400
    assert f["inputs"] == {
        "data": "{Steps.make.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri}"
    }
    assert f["arguments"][-2:] == ["--label", "{Parameters.label}"]
    assert summary.steps["imported"].fields["depends on"] == ["make"]
    assert summary.steps["imported"].fields["inputs"] == {"data": "s3://b/list.json"}


def test_sagemaker_expression_text_flattens_joins():
    assert sagemaker.expression_text({"Get": "Parameters.x"}) == "{Parameters.x}"
    join = {"Std:Join": {"On": "/", "Values": [{"Get": "Steps.a.X"}, "out"]}}
    assert sagemaker.expression_text(join) == "{Steps.a.X}/out"
    assert sagemaker.expression_text({"Std:Join": {"Values": ["a", "b"]}}) == "ab"
    assert sagemaker.expression_text([join, {"k": join}, 3]) == [
        "{Steps.a.X}/out",
        {"k": "{Steps.a.X}/out"},
        3,
    ]


def test_sagemaker_summary_of_other_step_kinds():
    document = {
        "Version": "2020-12-01",
        "Steps": [
            {"Name": "t", "Type": "Training", "Arguments": {}},
            {"Name": "c", "Type": "Condition", "Arguments": {}},
        ],
        "PipelineExperimentConfig": {"PipelineName": "named"},
    }
    summary = sagemaker.describe(document)
    assert summary.name == "named"
    assert summary.steps["t"].kind == "training job"
    assert summary.steps["c"].kind == "condition step"
    assert sagemaker.describe({"Version": "2020-12-01", "Steps": []}).name == "pipeline"


# ----- conditions on SageMaker: what runs when ---------------------------------------------------


@dsl.container_component(image=IMG, command=["count"])
def count(camera: str, frames: Output[Dataset], moving: Output[int]):
    """Frames and how many of them move (an output parameter: a Processing PropertyFile)."""


@dsl.container_component(image=IMG, command=["score"], spot=Spot("1h"))
def score(frames: Input[Dataset], best: Output[float]):
    """A spot step's output parameter: read from its model folder on S3."""


@dsl.pipeline(name="gate")
def gate(min_moving: int = 1, label: str = "cars"):
    counted = count(camera="lobby")
    scored = score(frames=counted.outputs["frames"])
    with dsl.If(counted.outputs["moving"] >= min_moving):
        use(data=counted.outputs["frames"], label=label).set_name("busy")
        with dsl.If(scored.outputs["best"] != 0.5):
            use(data=counted.outputs["frames"], label="odd").set_name("odd")
    with dsl.Else():
        use(data=counted.outputs["frames"], label="none").set_name("quiet")


def test_sagemaker_summary_says_under_which_conditions_each_step_runs():
    summary = sagemaker.describe(json.loads(compile_text(gate, "sagemaker")))
    moving = "{Steps.count.PropertyFiles.moving} >= {Parameters.min_moving}"
    still = "{Steps.count.PropertyFiles.moving} < {Parameters.min_moving}"  # the Else
    best = "{json at {Steps.score.ModelArtifacts.S3ModelArtifacts}/best/value.json} != 0.5"
    conditions = {
        tuple(s.fields["if steps"]): s.fields
        for s in summary.steps.values()
        if s.kind == "condition step"
    }
    # a condition step shows its conditions and branches, not job settings
    assert conditions == {
        ("busy",): {
            "depends on": [],
            "conditions": [moving],
            "if steps": ["busy"],
            "else steps": [],
        },
        ("odd",): {
            "depends on": [],
            "conditions": [moving, best],
            "if steps": ["odd"],
            "else steps": [],
        },
        ("quiet",): {
            "depends on": [],
            "conditions": [still],
            "if steps": ["quiet"],
            "else steps": [],
        },
    }
    runs_when = {name: s.fields.get("runs when") for name, s in summary.steps.items()}
    assert {k: v for k, v in runs_when.items() if k in ("busy", "odd", "quiet", "count")} == {
        "busy": [moving],
        "odd": [f"{moving} and {best}"],
        "quiet": [still],
        "count": None,  # outside every condition: no such field
    }
    assert summary.steps["count"].fields["property files"] == {"moving": "moving/value.json"}
    assert "property files" not in summary.steps["score"].fields  # read from S3, not a file


def test_sagemaker_summary_of_else_steps_or_and_not():
    """A definition written elsewhere (the SageMaker Python SDK's ``ConditionOr``,
    ``ConditionNot``, ``ElseSteps``): every branch is shown with the conditions it runs under."""
    train_uri = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.train.ModelArtifacts.S3ModelArtifacts"},
                "score",
                "value.json",
            ],
        }
    }
    either = {
        "Type": "Or",
        "Conditions": [
            {"Type": "Equals", "LeftValue": {"Get": "Parameters.mode"}, "RightValue": "fast"},
            {
                "Type": "GreaterThan",
                "LeftValue": {"Std:JsonGet": {"S3Uri": train_uri, "Path": "$"}},
                "RightValue": {"Get": "Parameters.floor"},
            },
        ],
    }
    negated = {
        "Type": "Not",
        "Expression": {"Type": "LessThanOrEqualTo", "LeftValue": 3, "RightValue": 2},
    }
    document = {
        "Version": "2020-12-01",
        "Steps": [
            {
                "Name": "gate",
                "Type": "Condition",
                "DependsOn": ["train"],
                "Arguments": {
                    "Conditions": [either, negated],
                    "IfSteps": [{"Name": "fast", "Type": "Processing", "Arguments": {}}],
                    "ElseSteps": [
                        {"Name": "slow", "Type": "Training", "Arguments": {}},
                        {"Name": "stop", "Type": "Fail", "Arguments": {}},
                    ],
                },
            }
        ],
    }
    shown_either = (
        '({Parameters.mode} == "fast") or '
        "({json at {Steps.train.ModelArtifacts.S3ModelArtifacts}/score/value.json} "
        "> {Parameters.floor})"
    )
    both = f"{shown_either} and not (3 <= 2)"
    summary = sagemaker.describe(document)
    assert summary.steps["gate"].fields == {
        "depends on": ["train"],
        "conditions": [shown_either, "not (3 <= 2)"],
        "if steps": ["fast"],
        "else steps": ["slow", "stop"],
    }
    assert summary.steps["fast"].fields["runs when"] == [both]
    assert summary.steps["slow"].fields["runs when"] == [f"not ({both})"]
    assert summary.steps["stop"].fields["runs when"] == [f"not ({both})"]
    assert summary.steps["stop"].kind == "fail step"


@pytest.mark.parametrize(
    ("kind", "symbol"),
    [
        ("Equals", "=="),
        ("NotEquals", "!="),
        ("LessThan", "<"),
        ("LessThanOrEqualTo", "<="),
        ("GreaterThan", ">"),
        ("GreaterThanOrEqualTo", ">="),
    ],
)
def test_each_sagemaker_comparison_reads_as_its_operator(kind: str, symbol: str) -> None:
    condition = {"Type": kind, "LeftValue": {"Get": "Parameters.n"}, "RightValue": 2}
    assert _sagemaker_values.comparison_text(condition) == f"{{Parameters.n}} {symbol} 2"


def test_other_sagemaker_conditions_read_as_they_are_written():
    text = _sagemaker_values.comparison_text
    equals = {"Type": "Equals", "LeftValue": 1, "RightValue": 2}
    # ``Condition`` is accepted for the negated condition as well as the SDK's ``Expression``
    assert text({"Type": "Not", "Condition": equals}) == "not (1 == 2)"
    assert text({"Type": "Not", "Expression": {"Type": "Or", "Conditions": [equals]}}) == (
        "not ((1 == 2))"
    )
    # a kind without a symbol (``In``) is shown whole, never dropped
    within = {"Type": "In", "QueryValue": {"Get": "Parameters.mode"}, "Values": ["a", "b"]}
    assert text(within) == f"In {within}"
    assert text("Parameters.x") == "'Parameters.x'"  # not a condition object: as it is
    assert text({"Type": "Or"}) == ""  # a malformed Or reads as nothing, never stops the review


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        # constants as JSON: a string is quoted, so it never reads as a reference
        ("fast", '"fast"'),
        ("caméra", '"caméra"'),
        ("{Parameters.p}", '"{Parameters.p}"'),
        (3, "3"),
        (0.5, "0.5"),
        (True, "true"),
        (None, "null"),
        ([1, "a"], '[1, "a"]'),
        ({"Get": "Execution.PipelineExecutionId"}, "{Execution.PipelineExecutionId}"),
        (
            {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.a.PropertyFiles.n"}, "Path": "$"}},
            "{Steps.a.PropertyFiles.n}",
        ),
        (
            {"Std:JsonGet": {"S3Uri": "s3://b/runs/a/n/value.json", "Path": "$"}},
            "{json at s3://b/runs/a/n/value.json}",
        ),
        (
            {"Std:Join": {"On": "-", "Values": ["run", {"Get": "Parameters.p"}, 2]}},
            "run-{Parameters.p}-2",
        ),
        ({"Std:Join": {"Values": ["a", "b"]}}, "ab"),
        ({"Std:Join": {"On": "/"}}, ""),
    ],
)
def test_sagemaker_operands_as_review_text(value: Any, shown: str) -> None:
    assert _sagemaker_values.operand_text(value) == shown


def test_stepfunctions_summary():
    summary = stepfunctions.describe(json.loads(compile_text(review, "stepfunctions")))
    assert (summary.target, summary.name) == ("stepfunctions", "review")
    make_step = summary.steps["make"]
    assert make_step.kind == "processing job"
    f = make_step.fields
    assert f["image"] == IMG and f["spot"] is False
    assert f["timeout"] == 3600
    assert f["env"] == {"MODE": "fast"}
    assert f["retry"][0]["MaxAttempts"] == 2
    assert f["arguments"][0] == "--n"
    use_step = summary.steps["use"]
    assert use_step.kind == "training job (spot)"
    f = use_step.fields
    assert f["image"] == GPU_IMG and f["spot"] is True
    assert f["instance type"].startswith("ml.g4dn.")  # T4
    assert set(f["inputs"]) == {"data"}
    assert summary.steps["imported"].fields["inputs"] == {"data": "s3://b/list.json"}
    assert set(summary.steps) == {"make", "use", "imported"}  # no Pass/Fail/Parallel state
    unnamed = stepfunctions.describe({"StartAt": "a", "States": {}})
    assert unnamed.name == "state machine"


@dsl.container_component(image=IMG, command=["names"])
def names(out: Output[list]):
    """A list known only at run time."""


@dsl.pipeline(name="loops")
def loops(cams: list = ["lobby", "gate"]):  # noqa: B006
    listed = names()
    with dsl.ParallelFor(listed.outputs["out"], parallelism=3) as name:
        count(camera=name).set_name("per-name")
    with dsl.ParallelFor(["x", "y"]):
        make().set_name("per-letter")
    with (
        dsl.ParallelFor(cams, parallelism=2) as cam,
        dsl.ParallelFor(["day", "night"], parallelism=1) as shift,
    ):
        counted = count(camera=cam).set_name("per-shift")
        use(data=counted.outputs["frames"], label=shift).set_name("per-shift-use")
        with dsl.If(counted.outputs["moving"] >= 1):
            make().set_name("moving")


def test_stepfunctions_summary_shows_each_loop_and_condition_once():
    """A Map over a run-time list reads its items from S3 (Distributed); one over a literal or a
    parameter runs Inline; nested groups are found inside Maps and Parallel branches."""
    summary = stepfunctions.describe(json.loads(compile_text(loops, "stepfunctions")))
    groups = {
        name: (s.kind, s.fields)
        for name, s in summary.steps.items()
        if s.kind in ("loop (Map)", "condition (Choice)")
    }
    # the list is the value.json the step wrote under the run's prefix (artifact_root
    # s3://acme-ml/pipelines in examples/pipecast.toml)
    key = '"pipelines/loops/" & $states.input.run & "/names/out/" & "value.json"'
    assert groups == {
        "loop-1": ("loop (Map)", {"items": key, "parallelism": 3, "mode": "distributed"}),
        "loop-2": ("loop (Map)", {"items": ["x", "y"], "parallelism": None, "mode": "inline"}),
        "loop-3": ("loop (Map)", {"items": "cams", "parallelism": 2, "mode": "inline"}),
        "loop-4": ("loop (Map)", {"items": ["day", "night"], "parallelism": 1, "mode": "inline"}),
        "condition-5": ("condition (Choice)", {"condition": "(per-shift.moving >= 1)"}),
    }


def test_a_map_without_processor_config_runs_inline():
    """ASL's default ``ProcessorConfig.Mode`` is INLINE (a machine written elsewhere)."""
    body = {"StartAt": "work", "States": {"work": {"Type": "Pass", "End": True}}}
    machine = {
        "StartAt": "each",
        "States": {"each": {"Type": "Map", "Items": [1, 2], "ItemProcessor": body, "End": True}},
    }
    each = stepfunctions.describe(machine).steps["each"]
    assert (each.kind, each.fields) == (
        "loop (Map)",
        {"items": [1, 2], "parallelism": None, "mode": "inline"},
    )


def test_detect_tells_the_targets_apart():
    documents = {
        "ir": json.loads(compile_text(review, "ir")),
        "sagemaker": json.loads(compile_text(review, "sagemaker")),
        "stepfunctions": json.loads(compile_text(review, "stepfunctions")),
    }
    modules = {"ir": ir, "sagemaker": sagemaker, "stepfunctions": stepfunctions}
    for name, module in modules.items():
        for other, document in documents.items():
            assert module.detect(document) is (name == other), (name, other)
        assert module.detect([]) is False


@pytest.fixture
def kubeflow_document():
    pytest.importorskip("kfp")
    return list(yaml.safe_load_all(compile_text(review, "kubeflow")))


def test_kubeflow_summary(kubeflow_document):
    assert kubeflow.detect(kubeflow_document) and kubeflow.detect(kubeflow_document[0])
    assert not kubeflow.detect({"pipelineInfo": {}})
    summary = kubeflow.describe(kubeflow_document)
    assert (summary.target, summary.name) == ("kubeflow", "review")
    assert summary.parameters["label"] == {"type": "STRING", "default": "cars"}
    assert summary.parameters["n"] == {"type": "NUMBER_INTEGER", "default": 3}
    assert set(summary.steps) == {"make", "use", "imported"}  # the importer is not a step
    f = summary.steps["make"].fields
    assert (f["image"], f["command"]) == (IMG, ["make"])
    assert f["env"] == {"MODE": "fast"}
    assert f["retry"]["maxRetryCount"] == 2
    assert f["inputs"] == {"n": "n"}
    assert f["spot"] is None and f["node selector"] is None
    f = summary.steps["use"].fields
    assert f["inputs"] == {"data": "make.data", "label": "label"}
    assert f["resources"] == {"cpu": "4", "memory": "16Gi", "accelerator": "1 × nvidia.com/gpu"}
    assert f["spot"] is True
    assert f["node selector"] == {
        "eks.amazonaws.com/capacityType": "SPOT",
        "karpenter.k8s.aws/instance-gpu-name": "t4",
    }
    imported = summary.steps["imported"].fields
    assert imported["depends on"] == ["importer", "make"]
    assert imported["inputs"]["label"] == "x"
    assert summary.steps["imported"].kind == "container task"
