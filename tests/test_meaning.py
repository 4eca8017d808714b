"""What each setting means on every target, checked on documents compiled in the test.

One case, one pipeline, the expected meaning per target (``expect`` + ``meaning``, in the style of
sqlglot's ``validate_all``). The expectations come from the DSL's contract (DESIGN §5, §6, §8),
the shipped instance catalogue read independently of the compiler, or the IR's own DAG; never
from a compiled document. The committed goldens are not read here: ``tests/test_goldens.py``
checks their bytes, these tests check what the bytes mean, so regenerating a golden cannot hide
a change of meaning.
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pytest
from asl_interpreter import ExecutionFailed, execute
from helpers import (
    EXAMPLE_CONFIG,
    Unsupported,
    compile_document,
    compile_text,
    expect,
    job_step_part,
    package_dir,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from meaning import ABSENT, at, doc, holds, parse, step_view, task_states

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

IMG = "r.example.com/x:1.0"
ROLE = "arn:aws:iam::123456789012:role/pipecast-jobs"  # examples/pipecast.toml
ROOT_URI = "s3://acme-ml/pipelines"
NESTED = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "nested"})
KFP = importlib.util.find_spec("kfp") is not None
DEFAULT_MAX_RUNTIME = 86400  # CreateTrainingJob/CreateProcessingJob's documented default: 1 day


@dsl.container_component(image=IMG, command=["run"])
def src(out: Output[Dataset]) -> None:
    """Produce one artifact."""


@dsl.container_component(image=IMG, command=["run"])
def work(data: Input[Dataset], out: Output[Dataset]) -> None:
    """Read one artifact, write one."""


@dsl.container_component(image=IMG, command=["run"])
def show(flag: bool, ratio: float, count: int, label: str, out: Output[Dataset]) -> None:
    """Take one parameter of each type."""


def one_step(configure: Any, name: str = "one") -> dsl.Pipeline:
    """A pipeline of one ``src`` step called ``s``, configured by ``configure(task)``."""

    @dsl.pipeline(name=name)
    def pipeline() -> None:
        configure(src().set_name("s"))

    return pipeline


def on_kubeflow(*checks: Any) -> dict[str, list[Any]]:
    """``kubeflow=checks`` where the optional ``kfp`` extra is installed, nothing elsewhere."""
    return {"kubeflow": list(checks)} if KFP else {}


def both_aws(*checks: Any) -> dict[str, list[Any]]:
    """The same Arguments checks for SageMaker's step and Step Functions' Task (one builder
    makes both requests, so both must carry the same meaning)."""
    return {"sagemaker": list(checks), "stepfunctions": list(checks)}


# ----- the instance catalogue, read without the compiler ---------------------------------------

CATALOGUE = json.loads(
    (package_dir("compilers") / "data" / "sagemaker_instances.json").read_text()
)["instance_types"]


def cheapest(kind: str, cpu: float, memory: int, gpu: int = 0, model: str | None = None) -> str:
    """DESIGN §5: the cheapest catalogue type of this job kind that satisfies the need (GPU
    types only for GPU needs), ties broken by name."""
    fitting = [
        it
        for it in CATALOGUE
        if kind in it["job_kinds"]
        and it["vcpu"] >= cpu
        and it["memory_gib"] * 1024**3 >= memory
        and it["gpu"] >= gpu
        and (gpu > 0 or it["gpu"] == 0)
        and (model is None or (it["gpu_model"] or "").lower() == model.lower())
    ]
    return min(fitting, key=lambda it: (it["price_per_hour"], it["type"]))["type"]


GiB, GB = 1024**3, 1000**3

# (cpu, memory, gpu, gpu_type) → the type named here, checked once against the catalogue below
PLACEMENT = [
    ((1, "2GiB", 0, None), "ml.t3.medium"),
    ((2, "4GiB", 0, None), "ml.t3.medium"),
    ((2, "4200MB", 0, None), "ml.t3.medium"),  # 3.9 GiB: decimal megabytes
    ((2, "4200MiB", 0, None), "ml.m5.large"),  # 4.1 GiB: over the t3.medium
    ((4, "8GiB", 0, None), "ml.c5.xlarge"),
    ((4, "16GiB", 0, None), "ml.m5.xlarge"),
    ((4, "16GiB", 1, None), "ml.g4dn.xlarge"),
    ((4, "16GiB", 1, "A10G"), "ml.g5.xlarge"),
    ((8, "32GiB", 4, None), "ml.g4dn.12xlarge"),
    ((8, "32GiB", 4, "V100"), "ml.p3.8xlarge"),
]


@pytest.mark.parametrize(("need", "instance"), PLACEMENT, ids=[str(n) for n, _ in PLACEMENT])
def test_each_need_gets_the_cheapest_fitting_instance_on_both_aws_targets(need, instance):
    cpu, memory, gpu, model = need
    resources = Resources(cpu=cpu, memory=memory, gpu=gpu, gpu_type=model)
    assert instance == cheapest("processing", cpu, resources.memory_bytes, gpu, model)
    path = "Arguments.ProcessingResources.ClusterConfig.InstanceType"
    expect(
        one_step(lambda t: t.set_resources(resources)),
        **both_aws(at("s", path, instance)),
    )


def test_a_cpu_need_never_lands_on_a_gpu_type():
    """128 vCPU: only GPU types have that many; a CPU step must not pay for idle GPUs."""
    assert max(it["vcpu"] for it in CATALOGUE if it["gpu"] == 0) < 128
    assert max(it["vcpu"] for it in CATALOGUE if it["gpu"] > 0) >= 128
    big = one_step(lambda t: t.set_resources(Resources(cpu=128, memory="64GiB")))
    expect(
        big,
        sagemaker=Unsupported("PC006", "no processing instance has 128 vCPU"),
        stepfunctions=Unsupported("PC006", "closest types: "),
    )


def test_spot_places_a_training_job_on_the_cheapest_training_type():
    resources = Resources(cpu=8, memory="32GiB", gpu=1)
    instance = cheapest("training", 8, 32 * GiB, 1)
    expect(
        one_step(lambda t: t.set_resources(resources).set_spot(Spot("2h"))),
        **both_aws(at("s", "Arguments.ResourceConfig.InstanceType", instance)),
    )


def test_an_explicit_instance_type_wins_everywhere():
    pinned = one_step(
        lambda t: t.set_resources(Resources(cpu=1, memory="1GiB")).set_instance_type(
            "ml.c5.2xlarge"
        )
    )
    expect(
        pinned,
        **both_aws(
            at("s", "Arguments.ProcessingResources.ClusterConfig.InstanceType", "ml.c5.2xlarge")
        ),
        **on_kubeflow(
            at(
                "s",
                "platform.nodeSelector.labels",
                {"node.kubernetes.io/instance-type": "c5.2xlarge"},
            )
        ),
    )


# ----- Kubeflow resources: requests = limits, accelerators -------------------------------------

GPU_LABEL = "karpenter.k8s.aws/instance-gpu-name"  # [kubeflow] gpu_type_label's default
KFP_RESOURCES = [
    # (Resources kwargs, cpu, memory, accelerator count, GPU model node selector)
    (dict(cpu=2, memory="4GiB"), "2", "4Gi", None, None),
    (dict(cpu=0.5, memory="512MiB"), "0.5", "512Mi", None, None),
    (dict(cpu=1, memory="512MB"), "1", "500000Ki", None, None),  # decimal: 512×10⁶ bytes
    (dict(cpu=1, memory="1.5GB"), "1", "1500000000", None, None),  # not a multiple of 1 KiB
    (dict(cpu=1, memory="1G"), "1", "1000000000", None, None),
    (dict(cpu=8, memory="32GiB", gpu=4), "8", "32Gi", "4", None),
    (dict(cpu=4, memory="16GiB", gpu=2, gpu_type="A10G"), "4", "16Gi", "2", "a10g"),
    (dict(cpu=4, memory="16GiB", gpu=1, gpu_type="T4"), "4", "16Gi", "1", "t4"),
]


def _kfp_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in bytes (the suffixes kfp accepts)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?", quantity)
    assert match, quantity
    factor = {None: 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    factor.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
    return int(float(match.group(1)) * factor[match.group(2)])


@pytest.mark.parametrize(
    ("kwargs", "cpu", "memory", "count", "model"),
    KFP_RESOURCES,
    ids=[str(sorted(k.items())) for k, *_ in KFP_RESOURCES],
)
def test_kubeflow_requests_limits_and_accelerators(kwargs, cpu, memory, count, model):
    """Requests equal limits; ``gpu=n`` is n of the device plugin's ``nvidia.com/gpu``; a GPU
    model is a node selector (the accelerator type is the pod's resource name on Kubeflow)."""
    pytest.importorskip("kfp")
    resources = Resources(**kwargs)
    r = "container.resources."
    checks = [
        at("s", r + "resourceCpuRequest", cpu),
        at("s", r + "resourceCpuLimit", cpu),
        at("s", r + "resourceMemoryRequest", lambda q: _kfp_bytes(q) == resources.memory_bytes),
        at("s", r + "resourceMemoryLimit", lambda q: _kfp_bytes(q) == resources.memory_bytes),
        at("s", r + "resourceMemoryLimit", memory),
        at("s", r + "accelerator.resourceType", "nvidia.com/gpu" if count else ABSENT),
        at("s", r + "accelerator.resourceCount", count if count else ABSENT),
        at("s", "platform.nodeSelector.labels", {GPU_LABEL: model} if model else ABSENT),
    ]
    expect(one_step(lambda t: t.set_resources(resources)), **on_kubeflow(*checks))


SIZES = [
    ("512B", 512),
    ("512KB", 512 * 10**3),
    ("512kb", 512 * 10**3),
    ("512MB", 512 * 10**6),
    ("512M", 512 * 10**6),
    ("2GB", 2 * 10**9),
    ("1.5GB", 15 * 10**8),
    ("1TB", 10**12),
    ("512KiB", 512 * 2**10),
    ("512MiB", 512 * 2**20),
    ("512Mi", 512 * 2**20),
    ("16GiB", 16 * 2**30),
    ("16 GiB", 16 * 2**30),
    ("1.5GiB", 3 * 2**29),
    ("1TiB", 2**40),
]


@pytest.mark.parametrize(("text", "size"), SIZES, ids=[str(t) for t, _ in SIZES])
def test_size_units_decimal_and_binary(text, size):
    """``MB``/``GB`` are powers of 1000, ``MiB``/``GiB`` powers of 1024 (DESIGN §4)."""
    assert Resources(cpu=1, memory=text).memory_bytes == size
    assert Resources(cpu=1, memory="1GiB", disk=text).disk_bytes == size


# ----- spot -------------------------------------------------------------------------------------


def spot_checks(runtime: int, wait: int) -> list[Any]:
    s = "Arguments.StoppingCondition"
    return [
        at("s", "Arguments.EnableManagedSpotTraining", True),
        at("s", s + ".MaxRuntimeInSeconds", runtime),
        at("s", s + ".MaxWaitTimeInSeconds", wait),
        at(
            "s",
            s,
            lambda c: c["MaxWaitTimeInSeconds"] >= c["MaxRuntimeInSeconds"],
            "the service rejects a spot job whose wait is shorter than its runtime",
        ),
        at("s", "Arguments.OutputDataConfig.CompressionType", "NONE"),
        # checkpoints only when the component asks (Spot(checkpoints=True)): nothing run-scoped
        # in what SageMaker hashes for the cache key (tests/test_spot_caching.py)
        at("s", "Arguments.CheckpointConfig", ABSENT),
        at(
            "s",
            "Arguments.AlgorithmSpecification.ContainerArguments",
            ["--out", "/opt/ml/model/out"],
        ),
    ]


SPOT_CASES = [
    # (spot, timeout, MaxRuntimeInSeconds, MaxWaitTimeInSeconds, Step Functions TimeoutSeconds)
    (Spot("2h"), None, DEFAULT_MAX_RUNTIME, DEFAULT_MAX_RUNTIME, ABSENT),  # no timeout: 1 day
    (Spot("30m"), None, DEFAULT_MAX_RUNTIME, DEFAULT_MAX_RUNTIME, ABSENT),
    (Spot(2 * DEFAULT_MAX_RUNTIME), None, DEFAULT_MAX_RUNTIME, 2 * DEFAULT_MAX_RUNTIME, ABSENT),
    (Spot("3h"), "1h", 3600, 3 * 3600, 3 * 3600),
    (Spot("1h"), "1h", 3600, 3600, 3600),
]


@pytest.mark.parametrize(
    ("spot", "timeout", "runtime", "wait", "sfn_timeout"),
    SPOT_CASES,
    ids=[f"wait{c[0].max_wait_seconds}-timeout{c[1]}" for c in SPOT_CASES],
)
def test_spot_is_managed_spot_training_with_a_wait_covering_the_runtime(
    spot, timeout, runtime, wait, sfn_timeout
):
    def configure(task: dsl.Task) -> None:
        task.set_spot(spot)
        if timeout:
            task.set_timeout(timeout)

    pipeline = one_step(configure)
    checks = spot_checks(runtime, wait)
    platform = {
        "nodeSelector": {"labels": {"eks.amazonaws.com/capacityType": "SPOT"}},
        "tolerations": [{"effect": "NoSchedule", "key": "spot", "operator": "Exists"}],
    }
    if timeout:
        platform["activeDeadlineSeconds"] = str(runtime)
    texts = expect(
        pipeline,
        sagemaker=[
            *checks,
            at("s", "Type", "Training"),
        ],
        stepfunctions=[
            *checks,
            at("s", "Resource", "arn:aws:states:::sagemaker:createTrainingJob.sync"),
            at("s", "TimeoutSeconds", sfn_timeout, "the Task may wait as long as its job"),
        ],
        **on_kubeflow(at("s", "platform", platform)),
    )
    # Step Functions: the checkpoint prefix is the run's, evaluated as the service would
    _, player = execute(json.loads(texts["stepfunctions"]), {}, execution_name="exec-7")
    (job,) = player.jobs
    assert "CheckpointConfig" not in job.request
    assert job.request["OutputDataConfig"]["S3OutputPath"] == f"{ROOT_URI}/one/exec-7/s/"


def test_no_spot_means_a_processing_job_and_no_spot_placement():
    expect(
        one_step(lambda t: t),
        sagemaker=[
            at("s", "Type", "Processing"),
            at("s", "Arguments.EnableManagedSpotTraining", ABSENT),
            at("s", "Arguments.StoppingCondition", {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME}),
        ],
        stepfunctions=[
            at("s", "Resource", "arn:aws:states:::sagemaker:createProcessingJob.sync"),
            at("s", "TimeoutSeconds", ABSENT),
        ],
        **on_kubeflow(at("s", "platform", {})),
    )


# ----- timeouts --------------------------------------------------------------------------------

TIMEOUTS = [("90s", 90), ("30m", 1800), ("1.5h", 5400), ("1d", 86400), (600, 600)]


@pytest.mark.parametrize(("timeout", "seconds"), TIMEOUTS, ids=[str(t) for t, _ in TIMEOUTS])
def test_a_timeout_bounds_the_job_the_state_and_the_pod(timeout, seconds):
    pipeline = one_step(lambda t: t.set_timeout(timeout))
    expect(
        pipeline,
        sagemaker=[at("s", "Arguments.StoppingCondition", {"MaxRuntimeInSeconds": seconds})],
        stepfunctions=[
            at("s", "Arguments.StoppingCondition", {"MaxRuntimeInSeconds": seconds}),
            at("s", "TimeoutSeconds", seconds),
        ],
        **on_kubeflow(at("s", "platform.activeDeadlineSeconds", str(seconds))),
    )


# ----- retries ----------------------------------------------------------------------------------

RETRIES = [
    (Retry(max_attempts=4, backoff="10s", backoff_rate=3), 3, 10, 3.0),
    (Retry(max_attempts=2), 1, 30, 2.0),
    (Retry(max_attempts=3, backoff="1m"), 2, 60, 2.0),
]


@pytest.mark.parametrize(("retry", "retries", "interval", "rate"), RETRIES)
def test_retry_counts_retries_not_attempts_on_every_target(retry, retries, interval, rate):
    """``Retry(max_attempts=n)`` is n attempts in total: n - 1 retries everywhere."""
    pipeline = one_step(lambda t: t.set_retry(retry))
    expect(
        pipeline,
        sagemaker=[
            at("s", "RetryPolicies[0].MaxAttempts", retries),
            at("s", "RetryPolicies[0].IntervalSeconds", interval),
            at("s", "RetryPolicies[0].BackoffRate", rate),
            at("s", "RetryPolicies[0].ExceptionType", lambda e: isinstance(e, list) and e),
            at("s", "RetryPolicies", lambda p: len(p) == 1),
        ],
        stepfunctions=[
            at("s", "Retry[0].MaxAttempts", retries),
            at("s", "Retry[0].IntervalSeconds", interval),
            at("s", "Retry[0].BackoffRate", rate),
            at("s", "Retry[0].ErrorEquals", lambda e: "States.TaskFailed" in e),
        ],
        **on_kubeflow(
            at("s", "task.retryPolicy.maxRetryCount", retries),
            at("s", "task.retryPolicy.backoffDuration", f"{interval}s"),
            at("s", "task.retryPolicy.backoffFactor", rate),
        ),
    )
    # Step Functions: a job failing every time runs exactly max_attempts times
    text = compile_text(pipeline, "stepfunctions")
    with pytest.raises(ExecutionFailed) as failed:
        execute(json.loads(text), {}, failures={"s": 99})
    assert failed.value.error == "StepFailed"
    _, player = execute(json.loads(text), {}, failures={"s": retries})
    assert len(player.jobs) == retry.max_attempts


def test_a_single_attempt_has_no_retry_anywhere():
    expect(
        one_step(lambda t: t.set_retry(Retry(max_attempts=1))),
        sagemaker=[at("s", "RetryPolicies", ABSENT)],
        stepfunctions=[at("s", "Retry", ABSENT)],
        **on_kubeflow(at("s", "task.retryPolicy", ABSENT)),
    )


# ----- caching ----------------------------------------------------------------------------------


def test_caching_on_off_and_default():
    @dsl.pipeline(name="cache")
    def cache() -> None:
        src().set_name("on").set_caching(True, expire_after="2h")
        src().set_name("off").set_caching(False)
        src().set_name("unset")

    kfp_off = lambda c: c.get("enableCache", False) is False  # noqa: E731 (proto default: false)
    expect(
        cache,
        sagemaker=[
            at("on", "CacheConfig", {"Enabled": True, "ExpireAfter": "PT2H"}),
            at("off", "CacheConfig", ABSENT),
            at("unset", "CacheConfig", ABSENT),
        ],
        stepfunctions=Unsupported("PC008", "caching"),
        **on_kubeflow(
            at("on", "task.cachingOptions.enableCache", True),
            at("off", "task.cachingOptions", kfp_off, "set_caching(False) must disable the cache"),
            at("unset", "task.cachingOptions", kfp_off, "caching is off unless asked for"),
        ),
    )

    @dsl.pipeline(name="cache-off")
    def cache_off() -> None:
        src().set_name("off").set_caching(False)

    expect(cache_off, stepfunctions=True)  # turning caching off needs no caching support


# ----- environment ------------------------------------------------------------------------------


def test_env_reaches_the_job_and_the_container():
    pipeline = one_step(lambda t: t.set_env(B="2", A="x y"))
    expect(
        pipeline,
        **both_aws(at("s", "Arguments.Environment", {"A": "x y", "B": "2"})),
        **on_kubeflow(
            at(
                "s",
                "container.env",
                lambda env: (
                    sorted((e["name"], e["value"]) for e in env) == [("A", "x y"), ("B", "2")]
                ),
            )
        ),
    )


# ----- parameter values on the command line (DESIGN §6) ------------------------------------------

CONSTANTS = {"flag": True, "ratio": 0.5, "count": 3, "label": "x y"}
RENDERED = ["--flag", "true", "--ratio", "0.5", "--count", "3", "--label", "x y"]
OFF = {"flag": False, "ratio": 0.25, "count": 7, "label": "hello"}
RENDERED_OFF = ["--flag", "false", "--ratio", "0.25", "--count", "7", "--label", "hello"]


@dsl.pipeline(name="values")
def constants() -> None:
    show(**CONSTANTS).set_name("c")
    show(**OFF).set_name("d")


@dsl.pipeline(name="params")
def parameters(flag: bool = False, ratio: float = 0.25, count: int = 7, label: str = "hello"):
    show(flag=flag, ratio=ratio, count=count, label=label).set_name("p")


def test_constants_are_rendered_as_the_container_contract_says():
    """bool → ``true``/``false`` (never Python's ``True``), float/int/str as written."""
    args = {
        "sagemaker": "Arguments.AppSpecification.ContainerArguments",
        "stepfunctions": "Arguments.AppSpecification.ContainerArguments",
    }
    out = "/opt/ml/processing/output/out"
    kfp_types = {"flag": "BOOLEAN", "ratio": "NUMBER_DOUBLE", "count": "NUMBER_INTEGER"}
    kfp_types["label"] = "STRING"
    kubeflow: list[Any] = []
    for step, values in (("c", CONSTANTS), ("d", OFF)):
        for name, value in values.items():
            kubeflow.append(at(step, f"task.inputs.parameters.{name}.runtimeValue.constant", value))
            kubeflow.append(
                at(
                    step,
                    f"component.inputDefinitions.parameters.{name}.parameterType",
                    kfp_types[name],
                )
            )
        kubeflow.append(
            at(
                step,
                "container.args",
                [a for n in values for a in (f"--{n}", f"{{{{$.inputs.parameters['{n}']}}}}")]
                + ["--out", "{{$.outputs.artifacts['out'].path}}"],
            )
        )
    expect(
        constants,
        **{
            t: [at("c", p, [*RENDERED, "--out", out]), at("d", p, [*RENDERED_OFF, "--out", out])]
            for t, p in args.items()
        },
        **on_kubeflow(*kubeflow),
    )


def test_pipeline_parameters_keep_their_type_and_default_on_every_target():
    get = {n: {"Get": f"Parameters.{n}"} for n in OFF}

    def joined(name: str) -> dict[str, Any]:
        return {"Std:Join": {"On": "", "Values": [get[name]]}}  # typed value → string

    types = {"flag": "Boolean", "ratio": "Float", "count": "Integer", "label": "String"}
    kfp_types = {"flag": "BOOLEAN", "ratio": "NUMBER_DOUBLE", "count": "NUMBER_INTEGER"}
    kfp_types["label"] = "STRING"
    root = "root.inputDefinitions.parameters"
    texts = expect(
        parameters,
        sagemaker=[
            doc(
                "Parameters",
                [{"DefaultValue": OFF[n], "Name": n, "Type": types[n]} for n in OFF],
            ),
            at(
                "p",
                "Arguments.AppSpecification.ContainerArguments",
                [
                    *("--flag", joined("flag"), "--ratio", joined("ratio")),
                    *("--count", joined("count"), "--label", get["label"]),
                    *("--out", "/opt/ml/processing/output/out"),
                ],
            ),
        ],
        stepfunctions=True,
        **on_kubeflow(
            *(doc(f"main.{root}.{n}.parameterType", kfp_types[n]) for n in OFF),
            *(doc(f"main.{root}.{n}.defaultValue", OFF[n]) for n in OFF),
            *(at("p", f"task.inputs.parameters.{n}.componentInputParameter", n) for n in OFF),
        ),
    )
    # Step Functions renders at run time: execute it with the defaults and with given values
    machine = json.loads(texts["stepfunctions"])
    for values, rendered in (({}, RENDERED_OFF), (CONSTANTS, RENDERED)):
        _, player = execute(machine, values)
        (job,) = player.jobs
        args = job.request["AppSpecification"]["ContainerArguments"]
        assert args == [*rendered, "--out", "/opt/ml/processing/output/out"], values


# ----- data references and job names -------------------------------------------------------------


@pytest.mark.parametrize("upstream_spot", [False, True], ids=["processing", "training"])
def test_a_downstream_input_is_the_upstream_output_by_reference(upstream_spot):
    @dsl.pipeline(name="refs")
    def refs() -> None:
        a = src().set_name("a")
        if upstream_spot:
            a.set_spot(Spot("2h"))
        work(data=a.output).set_name("b")

    inputs = "Arguments.ProcessingInputs[InputName=data].S3Input"
    if upstream_spot:
        reference = {
            "Std:Join": {
                "On": "/",
                "Values": [{"Get": "Steps.a.ModelArtifacts.S3ModelArtifacts"}, "out"],
            }
        }
    else:
        reference = {"Get": "Steps.a.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"}
    texts = expect(
        refs,
        sagemaker=[
            at("b", inputs + ".S3Uri", reference),
            at("b", inputs + ".LocalPath", "/opt/ml/processing/input/data"),
            at("b", "DependsOn", ABSENT, "a Get reference is the dependency"),
        ],
        stepfunctions=True,
        **on_kubeflow(
            at(
                "b",
                "task.inputs.artifacts.data.taskOutputArtifact",
                {"outputArtifactKey": "out", "producerTask": "a"},
            ),
            at("b", "task.dependentTasks", ["a"]),
        ),
    )
    _, player = execute(json.loads(texts["stepfunctions"]), {}, execution_name="run-9")
    jobs = {j.state: j for j in player.jobs}
    if upstream_spot:  # the service puts the job name in a Training job's output
        expected = f"{ROOT_URI}/refs/run-9/a/{jobs['a'].name}/output/model/out"
    else:
        expected = f"{ROOT_URI}/refs/run-9/a/out/"
    got = jobs["b"].request["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert got == expected


JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateProcessingJob's pattern


@pytest.mark.parametrize("step_id", ["s", "detect-objects", "a" * 48])
def test_step_ids_name_steps_tasks_and_jobs(step_id):
    @dsl.pipeline(name="names")
    def names() -> None:
        src().set_name(step_id).set_retry(Retry(max_attempts=2))

    texts = expect(
        names,
        sagemaker=[
            at(step_id, "Name", step_id),
            at(step_id, "Arguments.ProcessingJobName", ABSENT, "the pipeline names its jobs"),
        ],
        stepfunctions=[at(step_id, "Type", "Task")],
        **on_kubeflow(at(step_id, "task.taskInfo.name", step_id)),
    )
    machine = json.loads(texts["stepfunctions"])
    runs = []
    for execution in ("nightly-2026-11-25-" + "x" * 40, "nightly-2026-11-25-" + "x" * 39 + "y"):
        _, player = execute(machine, {}, execution_name=execution, failures={step_id: 1})
        runs.append([j.name for j in player.jobs])
    for names_ in runs:
        assert len(names_) == 2 and len(set(names_)) == 2  # a retry gets a new name
        for name in names_:
            assert JOB_NAME.match(name) and name.startswith(job_step_part(step_id) + "-"), name
    assert set(runs[0]).isdisjoint(runs[1])  # executions sharing a long prefix


# ----- dependencies: the transitive reduction at any depth --------------------------------------


def chain(length: int, data: bool) -> dsl.Pipeline:
    """s0 → s1 → … → s{length-1} (data edges, or ``.after()`` only), plus ``.after(s0)`` on the
    last step: implied by the chain, so no target may keep it as an explicit dependency."""

    @dsl.pipeline(name=f"chain-{length}")
    def pipeline() -> None:
        tasks = [src().set_name("s0")]
        for i in range(1, length):
            if data:
                tasks.append(work(data=tasks[-1].output).set_name(f"s{i}"))
            else:
                tasks.append(src().set_name(f"s{i}").after(tasks[-1]))
        tasks[-1].after(tasks[0])

    return pipeline


@pytest.mark.parametrize("data", [True, False], ids=["data", "after"])
@pytest.mark.parametrize("length", [3, 4, 5, 6, 8])
def test_a_dependency_implied_at_any_depth_is_not_kept(length, data):
    last, before = f"s{length - 1}", f"s{length - 2}"
    pipeline = chain(length, data)
    assert pipeline.graph.has_edge("s0", last)  # the IR keeps what the user wrote
    kept = ABSENT if data else [before]
    expect(
        pipeline,
        sagemaker=[at(last, "DependsOn", kept)],
        **on_kubeflow(at(last, "task.dependentTasks", [before])),
        stepfunctions=[
            holds(
                lambda m: (
                    [n for n, _ in task_states(m)] == [f"s{i}" for i in range(length)]
                    and all(s["Type"] != "Parallel" for s in m["States"].values())
                ),
                "a chain is one sequence of Tasks",
            )
        ],
    )


def test_an_explicit_dependency_without_another_path_is_kept():
    @dsl.pipeline(name="side")
    def side() -> None:
        a = src().set_name("a")
        b = work(data=a.output).set_name("b")
        src().set_name("c").after(b)
        src().set_name("d").after(a)

    expect(
        side,
        sagemaker=[at("c", "DependsOn", ["b"]), at("d", "DependsOn", ["a"])],
        **on_kubeflow(at("c", "task.dependentTasks", ["b"]), at("d", "task.dependentTasks", ["a"])),
    )


# ----- Step Functions layout, with the IR's DAG as the oracle ------------------------------------


def finished_before(
    machine: dict[str, Any], before: frozenset[str] = frozenset()
) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """For each SageMaker Task: the Tasks the state machine has finished when it starts (Next
    chains run in order; a Parallel state ends when every branch has)."""
    out: dict[str, frozenset[str]] = {}
    name: str | None = machine["StartAt"]
    while name is not None:
        state = machine["States"][name]
        if state["Type"] == "Task" and ":sagemaker:" in state["Resource"]:
            out[name] = before
            before = before | {name}
        elif state["Type"] == "Parallel":
            done = set(before)
            for branch in state["Branches"]:
                sub, finished = finished_before(branch, before)
                out.update(sub)
                done |= finished
            before = frozenset(done)
        name = state.get("Next")
    return out, before


def parallel_order_is_topological(machine: dict[str, Any], index: dict[str, int]) -> bool:
    """Branches of every Parallel state come in the order of their first step in the
    pipeline's topological order (name tie-break): the layout is deterministic."""
    for state in machine["States"].values():
        branches = state.get("Branches", [])
        firsts = [index[next(n for n, _ in task_states(b))] for b in branches]
        if firsts != sorted(firsts):
            return False
        if not all(parallel_order_is_topological(b, index) for b in branches):
            return False
    return True


def reported_waits(notes: tuple[str, ...]) -> dict[str, set[str]]:
    """``{step: steps}`` from the compiler's "step 'x' now also waits for a, b" notes."""
    reported: dict[str, set[str]] = {}
    for note in notes:
        found = re.match(r"note: step '([^']+)' now also waits for ([^:]+):", note)
        if found:
            reported[found.group(1)] = set(found.group(2).split(", "))
    return reported


def assert_layout_matches(
    g: nx.DiGraph, before: dict[str, frozenset[str]], reported: dict[str, set[str]]
) -> None:
    """Every IR edge holds; each reported wait is one the DAG does not have and the layout
    does; and the DAG plus the reported waits imply exactly what the layout enforces (nothing
    added goes unreported)."""
    assert set(before) == set(g.nodes)
    implied = g.copy()
    implied.add_edges_from((u, v) for v, extra in reported.items() for u in extra)
    for v in g:
        ancestors = nx.ancestors(g, v)
        assert ancestors <= before[v], f"{v} may start before {ancestors - before[v]}"
        extra = reported.get(v, set())
        assert extra <= before[v] and not extra & ancestors, (v, extra)
        assert before[v] == nx.ancestors(implied, v), f"{v}: unreported waits"


@dataclass(frozen=True)
class Shape:
    name: str
    edges: tuple[tuple[str, str], ...]
    nodes: tuple[str, ...] = ()


SHAPES = [
    Shape("diamond", (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"))),
    Shape(
        "fan-out-in", tuple([("a", f"m{i}") for i in range(4)] + [(f"m{i}", "z") for i in range(4)])
    ),
    Shape("two-chains", (("a", "b"), ("b", "c"), ("x", "y"))),
    Shape(
        "nested",
        (
            ("a", "b"),
            ("a", "c"),
            ("c", "d"),
            ("c", "e"),
            ("d", "f"),
            ("e", "f"),
            ("b", "g"),
            ("f", "g"),
        ),
    ),
    Shape("isolated", (), ("p", "q", "r")),
    Shape("n-graph", (("a", "c"), ("b", "c"), ("b", "d"))),  # not series-parallel
    Shape("w-graph", (("a", "x"), ("b", "x"), ("b", "y"), ("c", "y"), ("c", "z"))),
]


def shape_pipeline(shape: Shape) -> dsl.Pipeline:
    """The DAG as a pipeline: a step reads its first predecessor's output and runs
    ``.after()`` the others."""
    g = nx.DiGraph(shape.edges)
    g.add_nodes_from(shape.nodes)

    @dsl.pipeline(name=shape.name)
    def pipeline() -> None:
        tasks: dict[str, dsl.Task] = {}
        for node in nx.lexicographical_topological_sort(g):
            preds = sorted(g.predecessors(node))
            task = (work(data=tasks[preds[0]].output) if preds else src()).set_name(node)
            if len(preds) > 1:
                task.after(*(tasks[p] for p in preds[1:]))
            tasks[node] = task

    return pipeline


def _series_parallel(g: nx.DiGraph) -> bool:
    """Whether the DAG's order is N-free (series-parallel): no a<c, b<c, b<d with a, d
    unrelated, a, b unrelated and c, d unrelated."""
    closure = nx.transitive_closure_dag(g)

    def unrelated(x: str, y: str) -> bool:
        return not closure.has_edge(x, y) and not closure.has_edge(y, x)

    return not any(
        len({a, b, c, d}) == 4 and unrelated(a, b) and unrelated(a, d) and unrelated(c, d)
        for b, c in closure.edges
        for a in closure.predecessors(c)
        for d in closure.successors(b)
    )


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_step_functions_layout_keeps_every_ir_edge_and_only_reported_waits(shape):
    pipeline = shape_pipeline(shape)
    g = pipeline.graph
    index = {n: i for i, n in enumerate(nx.lexicographical_topological_sort(g))}
    document = compile_document(pipeline, "stepfunctions", NESTED)
    machine = json.loads(document.text)
    before, _ = finished_before(machine)
    reported = reported_waits(document.notes)
    assert_layout_matches(g, before, reported)
    if _series_parallel(g):
        assert reported == {}
    else:
        assert reported, "a non-series-parallel graph cannot be nested without a wait"
    assert parallel_order_is_topological(machine, index)
    # SageMaker lists the steps in the IR's topological order, name tie-break
    sagemaker = json.loads(compile_text(pipeline, "sagemaker"))
    assert [s["Name"] for s in sagemaker["Steps"]] == sorted(index, key=index.__getitem__)


@st.composite
def random_dags(draw: Any) -> Shape:
    n = draw(st.integers(1, 9))
    pairs = [(f"n{u}", f"n{v}") for v in range(n) for u in range(v)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=14)) if pairs else []
    return Shape("random", tuple(edges), tuple(f"n{i}" for i in range(n)))


@settings(max_examples=40, deadline=None)
@given(random_dags())
def test_random_dags_compile_to_a_layout_that_holds_every_ir_edge(shape):
    """The same oracle on random DAGs written with the DSL and compiled to Step Functions."""
    pipeline = shape_pipeline(shape)
    g = pipeline.graph
    document = compile_document(pipeline, "stepfunctions", NESTED)
    before, _ = finished_before(json.loads(document.text))
    reported = reported_waits(document.notes)
    assert_layout_matches(g, before, reported)
    assert not reported or not _series_parallel(g)


def test_series_parallel_oracle_knows_the_n_graph():
    assert not _series_parallel(nx.DiGraph([("a", "c"), ("b", "c"), ("b", "d")]))
    assert _series_parallel(nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))


def test_step_view_finds_nested_tasks():
    machine = parse("stepfunctions", compile_text(shape_pipeline(SHAPES[1]), "stepfunctions"))
    assert step_view("stepfunctions", machine, "m3")["Type"] == "Task"


def test_the_checks_themselves_fail_on_a_different_meaning():
    """The oracle can fail: a wrong value, a missing path, a bool for a string, a false
    predicate, an empty list of checks."""
    from meaning import check_all, resolve

    text = compile_text(one_step(lambda t: t.set_timeout("1h")), "sagemaker")
    path = "Arguments.StoppingCondition.MaxRuntimeInSeconds"
    check_all("sagemaker", text, [at("s", path, 3600)])
    for wrong in (
        at("s", path, 3601),
        at("s", path, ABSENT),
        at("s", "Arguments.Nope", lambda v: True),
        at("s", path, lambda v: v > 3600),
        at("missing-step", path, 3600),
        doc("Steps[0].Arguments.EnableManagedSpotTraining", True),
    ):
        with pytest.raises(AssertionError):
            check_all("sagemaker", text, [wrong])
    with pytest.raises(AssertionError):
        check_all("sagemaker", text, [])
    data = {"a": [{"k": "x", "v": True}, {"k": "y", "v": 1}]}
    assert resolve(data, "a[k=x].v") is True and resolve(data, "a[-1].v") == 1
    assert resolve(data, "a[k=z].v") is ABSENT and resolve(data, "a[2]") is ABSENT
    with pytest.raises(AssertionError):
        check_all("sagemaker", json.dumps({"Steps": [{"Name": "s", "X": 1}]}), [at("s", "X", True)])
