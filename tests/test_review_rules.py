"""What ``pipecast diff``/``plan`` show of each step: every target's ``describe`` on a fresh
compile reports the settings the pipeline asked for (the reviewer sees what will run).
"""

from __future__ import annotations

import json

import pytest
import yaml
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers import ir, kubeflow, sagemaker, stepfunctions
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
