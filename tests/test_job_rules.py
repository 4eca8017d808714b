"""The SageMaker job requests both AWS targets build (``compilers/_aws_jobs.py``), compiled fresh.

The rules a user relies on: where inputs and outputs land in the container, which S3 URIs a step
reads and writes, how long a job may run and wait for spot capacity, on which instance it runs,
and that a request only carries the sections it needs (the service rejects empty lists).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from helpers import compile_text, only_diagnostic

from pipecast import dsl
from pipecast.compilers import _aws_models, graph, load_target
from pipecast.compilers import aws_jobs as _aws_jobs
from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot
from pipecast.dsl.spec import ResourceSpec, StepSpec
from pipecast.errors import PipelineError

IMG = "r.example.com/x:1.0"
ROOT = "s3://acme-ml/pipelines"  # examples/pipecast.toml


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset]):
    """Produce a dataset."""


@dsl.container_component(image=IMG, command=["fit"])
def fit(data: Input[Dataset], model: Output[Model], epochs: int = 3):
    """Default arguments: --name value."""


@dsl.container_component(
    image=IMG,
    command=["use", "--verbose"],
    args=[
        "--data",
        dsl.input_path("data"),
        "--model",
        dsl.input_path("model"),
        "--uri",
        dsl.input_uri("data"),
        ["--label=", dsl.param("label")],
        "--n",
        dsl.param("n"),
        "--out",
        dsl.output_path("report"),
    ],
)
def use(data: Input[Dataset], model: Input[Model], label: str, report: Output[Dataset], n: int = 2):
    """An explicit argument template with every placeholder kind."""


@dsl.container_component(image=IMG, command=["noop"])
def noop():
    """No inputs, no outputs, no arguments."""


@dsl.pipeline(name="jobs")
def jobs_pipeline(label: str = "cars", n: int = 4):
    data = make()
    model = fit(data=data.output).set_spot(Spot("3h", checkpoints=True)).set_timeout("1h")
    use(data=data.output, model=model.outputs["model"], label=label, n=n).set_name("use-it")
    use(data=data.output, model=model.outputs["model"], label="fixed").set_name(
        "use-spot"
    ).set_spot(Spot("30m"))


def _steps(text: str) -> dict[str, dict]:
    return {s["Name"]: s for s in json.loads(text)["Steps"]}


def _sagemaker(pipeline) -> dict[str, dict]:
    return _steps(compile_text(pipeline, "sagemaker"))


def _tasks(machine: dict) -> dict[str, dict]:
    found = {}
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(_tasks(branch))
    return found


def _sfn(pipeline) -> tuple[dict, dict[str, dict]]:
    machine = json.loads(compile_text(pipeline, "stepfunctions"))
    return machine, _tasks(machine)


def test_processing_request_paths_uris_and_sections():
    steps = _sagemaker(jobs_pipeline)
    make_args = steps["make"]["Arguments"]
    assert steps["make"]["Type"] == "Processing"
    assert make_args["AppSpecification"] == {
        "ImageUri": IMG,
        "ContainerEntrypoint": ["make"],
        "ContainerArguments": ["--data", "/opt/ml/processing/output/data"],
    }
    assert "ProcessingInputs" not in make_args
    assert make_args["ProcessingOutputConfig"] == {
        "Outputs": [
            {
                "OutputName": "data",
                "S3Output": {
                    "S3Uri": {
                        "Std:Join": {
                            "On": "",
                            "Values": [
                                f"{ROOT}/jobs/",
                                {"Get": "Execution.PipelineExecutionId"},
                                "/make/data/",
                            ],
                        }
                    },
                    "LocalPath": "/opt/ml/processing/output/data",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    }
    cluster = make_args["ProcessingResources"]["ClusterConfig"]
    assert cluster["InstanceCount"] == 1 and cluster["VolumeSizeInGB"] == 30
    assert make_args["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert make_args["RoleArn"].startswith("arn:aws:iam::")
    assert "Environment" not in make_args


def test_processing_inputs_from_processing_and_training_upstreams():
    use_it = _sagemaker(jobs_pipeline)["use-it"]["Arguments"]
    data, model = use_it["ProcessingInputs"]
    assert data == {
        "InputName": "data",
        "S3Input": {
            "S3Uri": {"Get": "Steps.make.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri"},
            "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }
    assert model["InputName"] == "model"
    assert model["S3Input"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [{"Get": "Steps.fit.ModelArtifacts.S3ModelArtifacts"}, "model"],
        }
    }
    assert model["S3Input"]["LocalPath"] == "/opt/ml/processing/input/model"


def test_argument_template_renders_each_placeholder_for_processing():
    args = _sagemaker(jobs_pipeline)["use-it"]["Arguments"]["AppSpecification"]
    assert args["ContainerEntrypoint"] == ["use", "--verbose"]
    assert args["ContainerArguments"] == [
        "--data",
        "/opt/ml/processing/input/data",
        "--model",
        "/opt/ml/processing/input/model",
        "--uri",
        {"Get": "Steps.make.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri"},
        {"Std:Join": {"On": "", "Values": ["--label=", {"Get": "Parameters.label"}]}},
        "--n",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.n"}]}},
        "--out",
        "/opt/ml/processing/output/report",
    ]


def test_training_request_paths_spot_and_checkpoints():
    fit_step = _sagemaker(jobs_pipeline)["fit"]
    assert fit_step["Type"] == "Training"
    args = fit_step["Arguments"]
    assert args["AlgorithmSpecification"] == {
        "TrainingImage": IMG,
        "TrainingInputMode": "File",
        "ContainerEntrypoint": ["fit"],
        "ContainerArguments": [
            "--data",
            "/opt/ml/input/data/data",
            "--epochs",
            "3",
            "--model",
            "/opt/ml/model/model",
        ],
    }
    assert args["InputDataConfig"] == [
        {
            "ChannelName": "data",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": {
                        "Get": "Steps.make.ProcessingOutputConfig.Outputs['data'].S3Output.S3Uri"
                    },
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "InputMode": "File",
        }
    ]
    run_prefix = ["s3://acme-ml/pipelines/jobs/", {"Get": "Execution.PipelineExecutionId"}]
    assert args["OutputDataConfig"] == {
        "S3OutputPath": {"Std:Join": {"On": "", "Values": [*run_prefix, "/fit/"]}},
        "CompressionType": "NONE",
    }
    assert args["CheckpointConfig"] == {
        "S3Uri": {"Std:Join": {"On": "", "Values": [*run_prefix, "/fit/_checkpoints/"]}},
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert args["EnableManagedSpotTraining"] is True
    assert args["ResourceConfig"]["InstanceCount"] == 1
    assert args["ResourceConfig"]["VolumeSizeInGB"] == 30
    assert args["RoleArn"].startswith("arn:aws:iam::")


def test_training_renders_the_template_with_training_paths():
    alg = _sagemaker(jobs_pipeline)["use-spot"]["Arguments"]["AlgorithmSpecification"]
    args = alg["ContainerArguments"]
    assert args[:4] == ["--data", "/opt/ml/input/data/data", "--model", "/opt/ml/input/data/model"]
    assert args[6] == "--label=fixed"
    assert args[7:] == ["--n", "2", "--out", "/opt/ml/model/report"]


@pytest.mark.parametrize(
    ("timeout", "wait", "runtime", "max_wait"),
    [
        (None, "2h", 86400, 86400),  # no timeout: SageMaker's 1-day default bounds the wait
        ("1h", "3h", 3600, 10800),
        ("2h", "2h", 7200, 7200),
    ],
)
def test_spot_stopping_condition(timeout, wait, runtime, max_wait):
    @dsl.pipeline(name="spot")
    def spot():
        task = make().set_spot(Spot(wait))
        if timeout:
            task.set_timeout(timeout)

    stop = _sagemaker(spot)["make"]["Arguments"]["StoppingCondition"]
    assert stop == {"MaxRuntimeInSeconds": runtime, "MaxWaitTimeInSeconds": max_wait}
    (task,) = _sfn(spot)[1].values()
    assert task["Arguments"]["StoppingCondition"] == stop


def test_spot_wait_shorter_than_the_timeout_is_pc007():
    @dsl.pipeline(name="spot")
    def spot():
        make().set_spot(Spot("1h")).set_timeout("4h")

    d = only_diagnostic(spot, "sagemaker")
    assert d.code == "PC007"
    assert "spot max_wait (3600s) is shorter than its timeout (14400s)" in d.message


def test_processing_timeout_is_the_max_runtime():
    @dsl.pipeline(name="t")
    def t():
        make().set_timeout("90m")

    stop = _sagemaker(t)["make"]["Arguments"]["StoppingCondition"]
    assert stop == {"MaxRuntimeInSeconds": 5400}


@pytest.mark.parametrize(
    ("disk", "gb"), [(None, 30), ("1B", 1), ("1GiB", 1), ("1025MiB", 2), ("100GiB", 100)]
)
def test_volume_size_rounds_disk_up_to_whole_gib(disk, gb):
    @dsl.pipeline(name="v")
    def v():
        make().set_resources(Resources(cpu=1, memory="2GiB", disk=disk))
        make().set_resources(Resources(cpu=1, memory="2GiB", disk=disk)).set_spot(Spot())

    first, second = _sagemaker(v).values()
    assert first["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == gb
    assert second["Arguments"]["ResourceConfig"]["VolumeSizeInGB"] == gb


def test_a_step_without_arguments_inputs_or_outputs_has_no_empty_sections():
    @dsl.pipeline(name="bare")
    def bare():
        noop()
        noop().set_spot(Spot())

    first, second = _sagemaker(bare).values()
    args = first["Arguments"]
    assert args["AppSpecification"] == {"ImageUri": IMG, "ContainerEntrypoint": ["noop"]}
    assert not {"ProcessingInputs", "ProcessingOutputConfig", "Environment"} & set(args)
    alg = second["Arguments"]["AlgorithmSpecification"]
    assert "ContainerArguments" not in alg
    assert not {"InputDataConfig", "Environment"} & set(second["Arguments"])


def test_environment_reaches_both_job_kinds():
    @dsl.pipeline(name="env")
    def env():
        make().set_env(MODE="fast", LEVEL="2")
        make().set_env(MODE="slow").set_spot(Spot())

    first, second = _sagemaker(env).values()
    assert first["Arguments"]["Environment"] == {"LEVEL": "2", "MODE": "fast"}
    assert second["Arguments"]["Environment"] == {"MODE": "slow"}


@dsl.container_component(image=IMG, command=["read"])
def read(video: Input[Dataset]):
    """Read an imported dataset."""


def test_importer_inputs_constant_parameter_and_manifest():
    @dsl.pipeline(name="imp")
    def imp(source: str = "s3://bucket/videos/"):
        read(
            video=dsl.importer(
                uri="s3://bucket/list.json", artifact_type=Dataset, manifest=True
            ).output
        )
        read(video=dsl.importer(uri=source, artifact_type=Dataset).output)
        read(video=dsl.importer(uri="s3://bucket/a/", artifact_type=Dataset).output).set_spot(
            Spot()
        )

    first, second, third = _sagemaker(imp).values()
    s3 = first["Arguments"]["ProcessingInputs"][0]["S3Input"]
    assert (s3["S3Uri"], s3["S3DataType"]) == ("s3://bucket/list.json", "ManifestFile")
    s3 = second["Arguments"]["ProcessingInputs"][0]["S3Input"]
    assert (s3["S3Uri"], s3["S3DataType"]) == ({"Get": "Parameters.source"}, "S3Prefix")
    source = third["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert (source["S3Uri"], source["S3DataType"]) == ("s3://bucket/a/", "S3Prefix")


def test_manifest_input_on_a_training_job():
    @dsl.pipeline(name="imp")
    def imp():
        read(
            video=dsl.importer(uri="s3://b/m.json", artifact_type=Dataset, manifest=True).output
        ).set_spot(Spot())

    (step,) = _sagemaker(imp).values()
    source = step["Arguments"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert source["S3DataType"] == "ManifestFile"


# ----- placement ---------------------------------------------------------------------------------


def _instance(resources: Resources | None, spot: bool = False) -> str:
    @dsl.pipeline(name="place")
    def place():
        task = make()
        if resources is not None:
            task.set_resources(resources)
        if spot:
            task.set_spot(Spot())

    (step,) = _sagemaker(place).values()
    args = step["Arguments"]
    if spot:
        return args["ResourceConfig"]["InstanceType"]
    return args["ProcessingResources"]["ClusterConfig"]["InstanceType"]


def _cheapest(kind: str, fits) -> str:
    rows = [it for it in _aws_jobs.catalogue() if kind in it.job_kinds and fits(it)]
    return min(rows, key=lambda it: (it.price_per_hour, it.type)).type


@pytest.mark.parametrize(
    ("resources", "fits"),
    [
        (None, lambda it: it.gpu == 0),
        (
            Resources(cpu=4, memory="8GiB"),
            lambda it: it.gpu == 0 and it.vcpu >= 4 and it.memory_gib >= 8,
        ),
        (
            Resources(cpu=2, memory="60GiB"),
            lambda it: it.gpu == 0 and it.vcpu >= 2 and it.memory_gib >= 60,
        ),
        (Resources(cpu=1, memory="1GiB", gpu=1), lambda it: it.gpu >= 1),
        (
            Resources(cpu=1, memory="1GiB", gpu=1, gpu_type="a10g"),
            lambda it: it.gpu >= 1 and (it.gpu_model or "").lower() == "a10g",
        ),
        (Resources(cpu=1, memory="1GiB", gpu=4), lambda it: it.gpu >= 4),
    ],
)
@pytest.mark.parametrize("spot", [False, True])
def test_the_cheapest_fitting_instance_is_chosen(resources, fits, spot):
    kind = "training" if spot else "processing"
    chosen = _instance(resources, spot)
    assert chosen == _cheapest(kind, fits)
    row = next(it for it in _aws_jobs.catalogue() if it.type == chosen)
    assert kind in row.job_kinds
    if resources is None or resources.gpu == 0:
        assert row.gpu == 0, "a CPU step must never pay for a GPU"


def test_exact_fit_is_accepted():
    # an instance whose vCPU and memory equal the request exactly fits it
    row = min(
        (it for it in _aws_jobs.catalogue() if "processing" in it.job_kinds and it.gpu == 0),
        key=lambda it: (it.price_per_hour, it.type),
    )
    memory = f"{int(row.memory_gib * 1024)}MiB"
    assert _instance(Resources(cpu=row.vcpu, memory=memory)) == row.type


def test_pinned_instance_type_wins_and_typos_get_a_suggestion():
    @dsl.pipeline(name="pin")
    def pin():
        make().set_instance_type("ml.m5.4xlarge")

    (step,) = _sagemaker(pin).values()
    assert (
        step["Arguments"]["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.4xlarge"
    )

    @dsl.pipeline(name="typo")
    def typo():
        make().set_instance_type("ml.m5.4xlarg")

    d = only_diagnostic(typo, "sagemaker")
    assert d.code == "PC006" and d.step == "make"
    assert "instance type 'ml.m5.4xlarg' is not available for processing jobs" in d.message
    assert "ml.m5.4xlarge" in d.message


def test_unsatisfiable_resources_name_the_request_and_the_closest_types():
    @dsl.pipeline(name="huge")
    def huge():
        make().set_resources(Resources(cpu=1000, memory="10TiB", gpu=64, gpu_type="H100"))

    for target in ("sagemaker", "stepfunctions"):
        d = only_diagnostic(huge, target)
        assert d.code == "PC006"
        assert "no processing instance has 1000 vCPU, 10240 GiB, 64 GPU H100" in d.message
        assert d.hint.startswith("closest types: ml.")
        assert d.hint.count("ml.") == 3
        assert "lower the request or pin .set_instance_type()" in d.hint


def test_closest_types_prefer_the_requested_gpu_model():
    @dsl.pipeline(name="gpu")
    def gpu():
        make().set_resources(Resources(cpu=1, memory="1GiB", gpu=64, gpu_type="A10G"))

    d = only_diagnostic(gpu, "sagemaker")
    closest = d.hint.removeprefix("closest types: ").split(";")[0].split("), ")
    # among the 8-GPU types (the largest), the one with the requested model comes first
    assert closest[0].startswith("ml.g5.48xlarge (192 vCPU, 768 GiB, 8 A10G GPU"), closest


def _closest(resources: Resources, spot: bool = False) -> list[str]:
    """The instance types the PC006 hint names for an unsatisfiable request, in order."""

    @dsl.pipeline(name="closest")
    def closest():
        task = make().set_resources(resources)
        if spot:
            task.set_spot(Spot())

    d = only_diagnostic(closest, "sagemaker")
    assert d.code == "PC006"
    listed = d.hint.removeprefix("closest types: ").split(";")[0]
    return [entry.split(" (")[0] for entry in listed.split("), ")]


def test_closest_types_rank_by_the_summed_shortfall_of_cpu_and_memory():
    # 100 vCPU and 500 GiB fit no CPU type. Relative shortfalls (cpu + memory): ml.g5.48xlarge
    # none (192 vCPU, 768 GiB; a GPU type, so only a pinned type would use it), ml.m5.24xlarge
    # 4 % + 23 % (96, 384), ml.p3.16xlarge 36 % + 2 % (64, 488), ml.r5.12xlarge 52 % + 23 %
    assert _closest(Resources(cpu=100, memory="500GiB")) == [
        "ml.g5.48xlarge",
        "ml.m5.24xlarge",
        "ml.p3.16xlarge",
    ]


@pytest.mark.parametrize("gpu_type", ["V100", "v100"])
def test_closest_types_have_the_requested_gpu_model_in_any_case(gpu_type: str) -> None:
    # no V100 type has 100 vCPU: the V100 types come first, the least short first, even though
    # ml.g5.48xlarge (192 vCPU, A10G) is short of nothing but the model
    @dsl.pipeline(name="v100")
    def v100():
        make().set_resources(Resources(cpu=100, memory="16GiB", gpu=1, gpu_type=gpu_type))

    d = only_diagnostic(v100, "sagemaker")
    assert (
        d.message == f"step 'make': no processing instance has 100 vCPU, 16 GiB, 1 GPU {gpu_type}"
    )
    assert d.hint == (
        "closest types: ml.p3.16xlarge (64 vCPU, 488 GiB, 8 V100 GPU), "
        "ml.p3.8xlarge (32 vCPU, 244 GiB, 4 V100 GPU), "
        "ml.p3.2xlarge (8 vCPU, 61 GiB, 1 V100 GPU); "
        "lower the request or pin .set_instance_type()"
    )


def _type(name: str, vcpu: int, memory_gib: float, price: float, **more: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": name,
        "vcpu": vcpu,
        "memory_gib": memory_gib,
        "gpu": 0,
        "gpu_model": None,
        "gpu_memory_gib": 0,
        "price_per_hour": price,
        "job_kinds": ["processing", "training"],
    }
    return {**row, **more}


# a catalogue as a prices file may give it (``pipecast cost`` places with cheapest_fit over it)
TYPES = _aws_jobs.instance_types(
    [
        _type("cpu.small", 2, 4, 0.1),
        _type("cpu.large", 8, 32, 0.4),
        _type("cpu.large.twin", 8, 32, 0.4),
        _type("gpu.t4", 4, 16, 0.7, gpu=1, gpu_model="T4", gpu_memory_gib=16),
        # cheaper than cpu.large, but a CPU step never pays for a GPU
        _type("gpu.l4", 16, 64, 0.3, gpu=1, gpu_model="L4", gpu_memory_gib=24),
        _type("gpu.a10g", 8, 32, 1.2, gpu=1, gpu_model="A10G", gpu_memory_gib=24),
        _type("gpu.quad", 48, 192, 5.0, gpu=4, gpu_model="T4", gpu_memory_gib=64),
        _type(
            "train.a100",
            96,
            1152,
            30.0,
            gpu=8,
            gpu_model="A100",
            gpu_memory_gib=320,
            job_kinds=["training"],
        ),
    ]
)
GIB = 1024**3


@pytest.mark.parametrize(
    ("kind", "resources", "chosen"),
    [
        ("processing", None, "cpu.small"),  # no request: the cheapest type without a GPU
        ("training", None, "cpu.small"),
        ("processing", ResourceSpec(cpu=2, memory_bytes=4 * GIB), "cpu.small"),  # exact fit
        ("processing", ResourceSpec(cpu=2, memory_bytes=4 * GIB + 1), "cpu.large"),
        ("processing", ResourceSpec(cpu=2.5, memory_bytes=GIB), "cpu.large"),
        # equal prices: the name decides, so placement never depends on the file's order
        ("processing", ResourceSpec(cpu=8, memory_bytes=32 * GIB), "cpu.large"),
        ("processing", ResourceSpec(cpu=9, memory_bytes=GIB), None),  # a CPU step never gets a GPU
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=1), "gpu.l4"),
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=1, gpu_type="t4"), "gpu.t4"),
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=1, gpu_type="a10g"), "gpu.a10g"),
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=1, gpu_type="A10G"), "gpu.a10g"),
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=2), "gpu.quad"),
        (
            "processing",
            ResourceSpec(cpu=1, memory_bytes=17 * GIB, gpu=1, gpu_type="T4"),
            "gpu.quad",
        ),
        ("processing", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=8), None),  # training only
        ("training", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=8), "train.a100"),
        ("training", ResourceSpec(cpu=1, memory_bytes=GIB, gpu=1, gpu_type="H100"), None),
    ],
)
def test_cheapest_fit_over_any_catalogue(
    kind: str, resources: ResourceSpec | None, chosen: str | None
) -> None:
    found = _aws_jobs.cheapest_fit(kind, resources, TYPES)
    assert (found.type if found else None) == chosen


def _step(resources: ResourceSpec | None) -> StepSpec:
    return StepSpec(id="s", component="c", arguments=(), resources=resources)


@pytest.mark.parametrize(
    ("resources", "distance"),
    [
        # what the step lacks: half its vCPUs, half its memory, one of two GPUs, the model
        (ResourceSpec(cpu=4, memory_bytes=8 * GIB, gpu=2, gpu_type="T4"), 0.5 + 0.5 + 2 + 1 + 0.5),
        (ResourceSpec(cpu=4, memory_bytes=8 * GIB, gpu=1, gpu_type="a10g"), 0.5 + 0.5 + 0.5),
        (ResourceSpec(cpu=1, memory_bytes=2 * GIB, gpu=0), 0.5),  # more than asked: no credit
        (ResourceSpec(cpu=8, memory_bytes=4 * GIB, gpu=5), 0.75 + 0 + 8 + 0.5),
        (None, 500.0),  # no request: the price alone
    ],
)
def test_the_distance_that_ranks_the_closest_types(
    resources: ResourceSpec | None, distance: float
) -> None:
    (it,) = _aws_jobs.instance_types(
        [_type("x", 2, 4, 500.0, gpu=1, gpu_model="A10G", gpu_memory_gib=24)]
    )
    assert _aws_jobs._distance(it, _step(resources)) == pytest.approx(distance, abs=1e-12)


# ----- the service limits both AWS targets check ---------------------------------------------


@pytest.mark.parametrize(("target", "step_id_length"), [("sagemaker", 64), ("stepfunctions", 48)])
def test_job_limits_are_the_job_requests_limits(target: str, step_id_length: int) -> None:
    """A step runs as a Processing or a Training job: each limit is the stricter of the two
    request models (botocore's, through the shipped slice), so no step is refused late."""
    shapes = _aws_models.shapes("sagemaker")

    def stricter(processing: str, training: str) -> int:
        return min(shapes[processing]["max"], shapes[training]["max"])

    limits = _aws_jobs.job_limits(step_id_length)
    assert limits.max_steps is None
    assert limits.max_inputs_per_step == stricter("ProcessingInputs", "InputDataConfig") == 10
    assert limits.max_outputs_per_step == shapes["ProcessingOutputs"]["max"] == 10
    assert limits.max_arg_count == stricter("ContainerArguments", "TrainingContainerArguments")
    assert limits.max_arg_length == stricter("ContainerArgument", "TrainingContainerArgument")
    assert limits.max_env_vars == stricter("ProcessingEnvironmentMap", "TrainingEnvironmentMap")
    assert limits.step_id_max_length == step_id_length
    # CreatePipeline's PipelineDefinition and CreateStateMachine's definition: 1 MiB each
    assert limits.max_document_bytes == 1_048_576
    # Training has no maximum in its model: the Processing one is assumed (aws_jobs)
    assert limits.max_instances == {
        "default": ("Processing job", shapes["ProcessingInstanceCount"]["max"]),
        "spot": ("Training job", shapes["ProcessingInstanceCount"]["max"]),
    }
    # argument lengths are checked with the longer (Processing) folders
    assert limits.placeholder_text == {
        "inputPath": "/opt/ml/processing/input/{name}",
        "outputPath": "/opt/ml/processing/output/{name}",
    }
    assert load_target(target).limits == limits  # what the target declares, with its id length


@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions"])
@pytest.mark.parametrize(("placeholder", "folder"), [("in", "input/data"), ("out", "output/out")])
def test_an_argument_is_measured_with_the_processing_folder(
    target: str, placeholder: str, folder: str
) -> None:
    """A path argument counts as the container sees it: 256 characters pass, 257 are PC009."""
    path = f"/opt/ml/processing/{folder}"
    limits = _aws_jobs.job_limits(64)
    checked = replace(load_target(target), limits=limits)  # limits as declared now

    def pipeline(length: int) -> Any:
        pad = "x" * (length - len(path))
        given = {"in": dsl.input_path("data"), "out": dsl.output_path("out")}
        args = [[pad, given.pop(placeholder)], *given.values()]

        @dsl.container_component(image=IMG, command=["long"], args=args)
        def long(data: Input[Dataset], out: Output[Dataset]):
            """One long path argument."""

        @dsl.pipeline(name="long")
        def long_pipeline():
            long(data=make().output)

        return long_pipeline.spec

    graph.check(pipeline(256), checked)
    with pytest.raises(PipelineError) as info:
        graph.check(pipeline(257), checked)
    (d,) = info.value.diagnostics
    assert (d.code, d.step) == ("PC009", "long")
    assert d.message == (
        f"step 'long': argument '{'x' * 57}...' is 257 characters; {target} allows 256"
    )


def test_retry_policy_counts_retries_not_attempts():
    @dsl.pipeline(name="r")
    def r():
        make().set_retry(Retry(3, "10s", 1.5))
        make().set_retry(Retry(1))

    first, second = _sagemaker(r).values()
    (policy,) = first["RetryPolicies"]
    assert (policy["MaxAttempts"], policy["IntervalSeconds"], policy["BackoffRate"]) == (2, 10, 1.5)
    assert "RetryPolicies" not in second
    tasks = _sfn(r)[1]
    (retry,) = tasks["make"]["Retry"]
    assert (retry["MaxAttempts"], retry["IntervalSeconds"], retry["BackoffRate"]) == (2, 10, 1.5)
    assert retry["ErrorEquals"] == ["SageMaker.AmazonSageMakerException", "States.TaskFailed"]
    assert "Retry" not in tasks["make-2"]
