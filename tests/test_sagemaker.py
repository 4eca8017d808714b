"""SageMaker target: documents the service accepts, checked against outside oracles.

Oracles: the official pipeline-definition JSON Schema (vendored in tests/data/), botocore's service
model for every job request, and moto's SageMaker API.

The official schema is stale; these overlay patches (built here, never in the file) accept what the
service and both SageMaker SDKs emit:
1. ``RetryPolicy.ExceptionType`` as a list (the schema wants one string);
2. ``Std:Join`` wherever a string argument is expected (the schema allows only literals/``Get``),
   and ``JoinFunction`` itself, whose inner object lacks ``type``/``properties`` so that its
   ``additionalProperties: false`` rejects the ``On`` key every join needs;
3. ``OutputDataConfig.CompressionType`` (needed for ``NONE``);
4. training ``Environment`` (the schema's TrainingStep arguments lack it);
5. ``AlgorithmSpecification.ContainerEntrypoint``/``ContainerArguments`` (in the CreateTrainingJob
   API since 2022; the schema predates them), without which a training job cannot run an
   arbitrary container command;
6. ``Std:JsonGet`` (reading a ``PropertyFile`` or, in newer definitions, an ``S3Uri``) wherever
   a value is expected: the schema has no JsonGet at all, though the SDKs emit it for every
   condition on a step's result;
7. ``PropertyFiles`` on a Processing step (what JsonGet reads; the schema's ProcessingStep lacks
   the key the SDK's ``ProcessingStep(property_files=...)`` writes).
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import jsonschema
import pytest
from helpers import (
    EXAMPLE_CONFIG,
    EXAMPLES,
    Unsupported,
    compile_text,
    examples_for,
    expect,
    load_example,
    run_cli,
    write_pipeline,
)

from pipecast import dsl
from pipecast.compilers import aws_jobs
from pipecast.compilers.sagemaker_validate import check_request, validate_document
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.errors import ConfigError

# vendored from ../shared/reference (source, commit and licence in its README.md)
SCHEMA_PATH = (
    Path(__file__).parent
    / "data"
    / "sagemaker-pipeline-definition"
    / "pipeline-definition.schema.json"
)
EXAMPLE_NAMES = examples_for("sagemaker")
IMG = "r.example.com/x:1.0"


@functools.cache
def fresh_text(example: str) -> str:
    """The example compiled here, now (the committed goldens are only checked byte for byte,
    in test_goldens.py: a regenerated golden must not hide a change of meaning)."""
    return compile_text(load_example(example), "sagemaker")


def fresh(example: str) -> dict:
    return json.loads(fresh_text(example))


def patched_schema() -> dict:
    schema = json.loads(SCHEMA_PATH.read_text())
    d = schema["definitions"]
    d["RetryPolicy"]["properties"]["ExceptionType"] = {
        "type": "array",
        "items": d["RetryPolicy"]["properties"]["ExceptionType"],
    }
    value = {
        "anyOf": [
            {"type": "string"},
            {"$ref": "#/definitions/GetFunction"},
            {"$ref": "#/definitions/JoinFunction"},
        ]
    }
    d["JoinFunction"] = {
        "type": "object",
        "required": ["Std:Join"],
        "additionalProperties": False,
        "properties": {
            "Std:Join": {
                "type": "object",
                "required": ["Values"],
                "additionalProperties": False,
                "properties": {
                    "On": {"type": "string"},
                    "Values": {"type": "array", "items": value},
                },
            }
        },
    }
    d["StringArgumentValue"] = {
        "anyOf": [d["StringArgumentValue"], {"$ref": "#/definitions/JoinFunction"}]
    }
    args = d["TrainingStep"]["properties"]["Arguments"]["properties"]
    args["OutputDataConfig"]["properties"]["CompressionType"] = {"enum": ["NONE", "GZIP"]}
    args["Environment"] = {"type": "object"}
    strings = {"type": "array", "items": {"$ref": "#/definitions/StringArgumentValue"}}
    alg = args["AlgorithmSpecification"]["properties"]
    alg["ContainerEntrypoint"] = strings
    alg["ContainerArguments"] = strings
    d["JsonGetFunction"] = {
        "type": "object",
        "required": ["Std:JsonGet"],
        "additionalProperties": False,
        "properties": {
            "Std:JsonGet": {
                "type": "object",
                "required": ["Path"],
                "additionalProperties": False,
                "properties": {
                    "Path": {"type": "string"},
                    "PropertyFile": {"$ref": "#/definitions/GetFunction"},
                    "S3Uri": {"$ref": "#/definitions/JoinFunction"},
                },
                "oneOf": [{"required": ["PropertyFile"]}, {"required": ["S3Uri"]}],
            }
        },
    }
    value["anyOf"].append({"$ref": "#/definitions/JsonGetFunction"})
    for kind in ("String", "Integer", "Float", "Boolean"):
        name = f"{kind}ArgumentValue"
        d[name] = {"anyOf": [d[name], {"$ref": "#/definitions/JsonGetFunction"}]}
    d["ProcessingStep"]["properties"]["PropertyFiles"] = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["PropertyFileName", "OutputName", "FilePath"],
            "additionalProperties": False,
            "properties": {
                k: {"type": "string"} for k in ("PropertyFileName", "OutputName", "FilePath")
            },
        },
    }
    return schema


def job_steps(steps: list) -> list:
    """Every Processing/Training step, those in a Condition step's branches included."""
    found = []
    for step in steps:
        if step["Type"] == "Condition":
            found += job_steps(step["Arguments"]["IfSteps"] + step["Arguments"]["ElseSteps"])
        else:
            found.append(step)
    return found


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_pass_the_official_schema_with_known_patches(example):
    document = fresh(example)
    validator = jsonschema.Draft7Validator(patched_schema())
    errors = list(validator.iter_errors(document))
    if errors:  # re-validate each failing step against its kind for a useful message
        d = patched_schema()
        for step in document["Steps"]:
            sub = {**d, "$ref": f"#/definitions/{step['Type']}Step"}
            for e in jsonschema.Draft7Validator(sub).iter_errors(step):
                pytest.fail(f"{step['Name']}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    assert not errors


def test_unpatched_schema_rejects_only_the_known_bugs():
    """Keeps the patch list honest: each patch is needed, and nothing else is."""
    document = fresh("multi_camera")
    raw = json.loads(SCHEMA_PATH.read_text())
    assert list(jsonschema.Draft7Validator(raw).iter_errors(document)), "schema bug fixed?"


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_pass_the_document_validator_and_botocore(example):
    document = fresh(example)
    assert [str(p) for p in validate_document(document)] == []
    for step in job_steps(document["Steps"]):
        op = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob"}[step["Type"]]
        assert check_request(op, step["Arguments"]) == [], step["Name"]


def test_flagship_places_each_step_on_its_own_kind_of_capacity():
    document = fresh("video_analysis")
    steps = {s["Name"]: s for s in document["Steps"]}
    detect = steps["detect-objects"]
    assert detect["Type"] == "Training"
    args = detect["Arguments"]
    assert args["EnableManagedSpotTraining"] is True
    assert args["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"
    assert args["OutputDataConfig"]["CompressionType"] == "NONE"
    stop = args["StoppingCondition"]
    assert stop["MaxWaitTimeInSeconds"] >= stop["MaxRuntimeInSeconds"] == 7200
    assert (
        args["CheckpointConfig"]["S3Uri"]["Std:Join"]["Values"][-1]
        == "/detect-objects/_checkpoints/"
    )
    assert args["AlgorithmSpecification"]["ContainerArguments"][:2] == [
        "--frames",
        "/opt/ml/input/data/frames",
    ]
    assert detect["RetryPolicies"][0]["MaxAttempts"] == 2
    images = set()
    for name in ("extract-frames", "track", "summarize"):
        step = steps[name]
        assert step["Type"] == "Processing"
        instance = step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"]
        gpu = next(t.gpu for t in aws_jobs.catalogue() if t.type == instance)
        assert gpu == 0, f"{name} on a GPU instance"
        images.add(step["Arguments"]["AppSpecification"]["ImageUri"])
    assert (
        steps["extract-frames"]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"]
        == "ml.c5.xlarge"
    )
    assert len(images | {args["AlgorithmSpecification"]["TrainingImage"]}) == 4
    track_in = steps["track"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert track_in == {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.detect-objects.ModelArtifacts.S3ModelArtifacts"},
                "detections",
            ],
        }
    }
    out = steps["extract-frames"]["Arguments"]["ProcessingOutputConfig"]["Outputs"][0]
    assert out["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "",
            "Values": [
                "s3://acme-ml/pipelines/video-analysis/",
                {"Get": "Execution.PipelineExecutionId"},
                "/extract-frames/frames/",
            ],
        }
    }


def test_manifest_inputs_depends_on_caching_and_gpu_type():
    document = fresh("multi_camera")
    steps = {s["Name"]: s for s in document["Steps"]}
    extract = steps["extract-frames"]
    assert extract["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3DataType"] == "ManifestFile"
    assert steps["summarize"]["DependsOn"] == ["quality-check"]
    assert "DependsOn" not in steps["merge"]  # data edges come from Get references
    east = steps["detect-east"]["Arguments"]
    assert east["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"  # A10G requested
    assert east["AlgorithmSpecification"]["ContainerArguments"][-3] == {
        "Std:Join": {"On": "", "Values": ["--threshold=", {"Get": "Parameters.threshold"}]}
    }
    assert steps["summarize"]["Arguments"]["Environment"] == {"REPORT_TITLE": "Multi-camera run"}


def test_catalogue_is_honest_against_botocore():
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    enums = {
        "processing": set(model.shape_for("ProcessingInstanceType").enum),
        "training": set(model.shape_for("TrainingInstanceType").enum),
    }
    families = {t.type.split(".")[1] for t in aws_jobs.catalogue()}
    assert {"g4dn", "g5", "g6", "g6e", "p3", "p4d", "p5", "m5", "c5", "r5"} <= families
    for it in aws_jobs.catalogue():
        assert it.job_kinds, it.type
        for kind in ("processing", "training"):
            assert (kind in it.job_kinds) == (it.type in enums[kind]), (it.type, kind)
        assert it.price_per_hour > 0 and it.vcpu > 0 and (it.gpu == 0) == (it.gpu_model is None)


@dsl.container_component(image=IMG, command=["run"])
def produce(out: Output[Dataset]):
    """x"""


@dsl.container_component(image=IMG, command=["run"])
def eleven(
    a: Input[Dataset],
    b: Input[Dataset],
    c: Input[Dataset],
    d: Input[Dataset],
    e: Input[Dataset],
    f: Input[Dataset],
    g: Input[Dataset],
    h: Input[Dataset],
    i: Input[Dataset],
    j: Input[Dataset],
    k: Input[Dataset],
):
    """x"""


def test_caching_is_a_cache_config_and_not_expressible_on_step_functions():
    @dsl.pipeline(name="cached")
    def cached():
        produce().set_caching(True, expire_after="7d")
        produce().set_caching(True, expire_after="90m")

    def check(text: str) -> None:
        first, second = json.loads(text)["Steps"]
        assert first["CacheConfig"] == {"Enabled": True, "ExpireAfter": "P7D"}
        assert second["CacheConfig"] == {"Enabled": True, "ExpireAfter": "PT90M"}

    def kfp_check(text: str) -> None:
        assert text.count("enableCache: true") == 2

    expect(
        cached, sagemaker=check, kubeflow=kfp_check, stepfunctions=Unsupported("PC008", "caching")
    )


def test_disk_becomes_the_volume_size():
    @dsl.pipeline(name="disk")
    def disk():
        produce().set_resources(Resources(cpu=2, memory="4GiB", disk="100GiB"))
        produce().set_resources(Resources(cpu=2, memory="4GiB", disk="1500MiB")).set_spot(Spot())

    def check(text: str) -> None:
        first, second = json.loads(text)["Steps"]
        assert first["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 100
        assert second["Arguments"]["ResourceConfig"]["VolumeSizeInGB"] == 2  # rounded up

    expect(disk, sagemaker=check, kubeflow=Unsupported("PC008", "disk"))


def test_limits_and_placement_errors_table():
    @dsl.pipeline(name="huge")
    def huge():
        produce().set_resources(Resources(cpu=500, memory="1GiB"))

    @dsl.pipeline(name="wide")
    def wide():
        src = produce().output
        eleven(**{n: src for n in "abcdefghijk"})

    @dsl.pipeline(name="typo")
    def typo():
        produce().set_instance_type("ml.g5.xlarg")

    @dsl.pipeline(name="gpu-on-p5-processing")
    def p5():
        produce().set_instance_type("ml.p5.48xlarge")

    expect(huge, sagemaker=Unsupported("PC006", "closest types: ml."))
    expect(wide, sagemaker=Unsupported("PC009", "11 artifact inputs exceed sagemaker's limit"))
    expect(typo, sagemaker=Unsupported("PC006", "did you mean 'ml.g5.xlarge'?"))
    expect(p5, sagemaker=Unsupported("PC006", "not available for processing jobs"))


BAD = {
    "spot wait": (
        '@dsl.container_component(image="r.example.com/a:1", command=["r"])\n'
        "def s(out: Output[Dataset]):\n    '''x'''\n\n"
        "@dsl.pipeline(name='p')\ndef p():\n"
        "    s().set_spot(Spot('30m')).set_timeout('2h')\n",
        "PC007",
    ),
    "long argument": (
        '@dsl.container_component(image="r.example.com/a:1", command=["r"])\n'
        "def s(out: Output[Dataset], note: str = 'x'):\n    '''x'''\n\n"
        "@dsl.pipeline(name='p')\ndef p():\n    s(note='" + "n" * 300 + "')\n",
        "sagemaker allows 256",
    ),
    "gpu model": (
        '@dsl.container_component(image="r.example.com/a:1", command=["r"])\n'
        "def s(out: Output[Dataset]):\n    '''x'''\n\n"
        "@dsl.pipeline(name='p')\ndef p():\n"
        "    s().set_resources(Resources(cpu=4, memory='8GiB', gpu=1, "
        "gpu_type='TPU'))\n",
        "no processing instance has 4 vCPU, 8 GiB, 1 GPU TPU",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_1_with_a_clear_message(case, tmp_path):
    body, fragment = BAD[case]
    path = write_pipeline(tmp_path, body)
    (tmp_path / "pipecast.toml").write_text((EXAMPLES / "pipecast.toml").read_text())
    result = run_cli("compile", str(path), "--target", "sagemaker", cwd=tmp_path)
    assert result.returncode == 1 and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "pipe.py:" in result.stderr


def test_missing_role_names_the_key_and_where_to_put_it():
    no_role = Config({"artifact_root": "s3://b/p"})
    with pytest.raises(ConfigError) as info:
        compile_text(load_example("video_analysis"), "sagemaker", no_role)
    message = str(info.value)
    assert "'sagemaker.role_arn'" in message and "the sagemaker target needs" in message
    assert "[sagemaker]" in message and "role_arn" in message  # where the key goes


def test_moto_create_and_describe_round_trip(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    text = fresh_text("video_analysis")
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        arn = sm.create_pipeline(
            PipelineName="video-analysis",
            PipelineDefinition=text,
            RoleArn=EXAMPLE_CONFIG.require("sagemaker.role_arn"),
        )["PipelineArn"]
        described = sm.describe_pipeline(PipelineName="video-analysis")
    assert described["PipelineArn"] == arn
    assert json.loads(described["PipelineDefinition"]) == json.loads(text)


def test_validate_document_cli(tmp_path):
    compiled = tmp_path / "video-analysis.sagemaker.json"
    compiled.write_text(fresh_text("video_analysis"))
    good = run_cli("validate", "--document", str(compiled))
    assert good.returncode == 0 and "valid SageMaker pipeline definition" in good.stdout
    document = fresh("video_analysis")
    broken = copy.deepcopy(document)
    broken["Steps"][0]["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] = "x"
    broken["Steps"][1]["DependsOn"] = ["ghost"]
    broken["Steps"][2]["Arguments"]["Bogus"] = 1
    broken["Steps"][0]["DependsOn"] = ["summarize"]  # summarize reads track ← … ← extract
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(broken))
    result = run_cli("validate", "--document", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for fragment in (
        "step 'extract-frames': /Steps/0/Arguments/ProcessingResources/ClusterConfig/"
        "InstanceType: 'x' is not one of",
        "unknown step 'ghost'",
        "/Steps/2/Arguments/Bogus: unknown key",
        "cycle: ",
    ):
        assert fragment in result.stderr, result.stderr


@pytest.mark.parametrize("timeout", [None, "1h"])
def test_validator_refuses_a_spot_wait_shorter_than_the_runtime(timeout):
    """Compiled here (a spot step with and without a timeout), then broken by hand."""

    @dsl.pipeline(name="spot")
    def spot():
        task = produce().set_name("s").set_spot(Spot("2h"))
        if timeout:
            task.set_timeout(timeout)

    document = json.loads(compile_text(spot, "sagemaker"))
    assert [str(p) for p in validate_document(document)] == []
    stopping = document["Steps"][0]["Arguments"]["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
    stopping["MaxWaitTimeInSeconds"] = stopping["MaxRuntimeInSeconds"] - 1
    assert [str(p) for p in validate_document(document)] == [
        "step 's': /Steps/0/Arguments/StoppingCondition/MaxWaitTimeInSeconds: "
        f"{stopping['MaxWaitTimeInSeconds']} is below MaxRuntimeInSeconds "
        f"{stopping['MaxRuntimeInSeconds']}; a spot job must be allowed to wait at least as "
        "long as it runs"
    ]
    del stopping["MaxWaitTimeInSeconds"]
    assert [str(p) for p in validate_document(document)] == [
        "step 's': /Steps/0/Arguments/StoppingCondition: managed spot training needs "
        "MaxWaitTimeInSeconds"
    ]
