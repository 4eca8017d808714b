"""SageMaker job requests, shared by the SageMaker Pipelines and Step Functions targets.

One implementation of the container contract (DESIGN §6) on AWS: a step without spot is a
CreateProcessingJob request; a spot step is a CreateTrainingJob request used as plain compute
(managed spot, uncompressed output; with ``Spot(checkpoints=True)`` a checkpoint folder under
the run prefix). The same container command
and arguments run in both; only the rendered local paths differ. Requests are built WITHOUT a job
name (the caller adds one where needed).

Values known only at run time (the run id, pipeline parameters, upstream output URIs) are spelled
differently per target, so builders take an :class:`Expressions` object:

- ``run_id()``: the execution id/name that scopes every output;
- ``parameter(name)``: a pipeline parameter's value, as a string;
- ``join(parts)``: string concatenation of literal strings and expressions;
- ``step_output(step_id, kind, output)``: the S3 URI an upstream step wrote ``output`` to
  (``kind`` is ``"processing"`` or ``"training"``).

Placement also lives here: the cheapest catalogue instance satisfying a step's Resources.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources
from typing import Any, Protocol

from pipecast.dsl.spec import (
    Constant,
    ImporterRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    Placeholder,
    ResourceSpec,
    StepSpec,
    render_value,
)
from pipecast.errors import ConfigError, Diagnostic, did_you_mean

from .target import Limits, Placement

__all__ = [
    "CHECKPOINTS",
    "DEFAULT_MAX_RUNTIME",
    "DEFAULT_VOLUME_GB",
    "MAX_PROCESSING_INSTANCES",
    "MAX_TRAINING_INSTANCES",
    "PARAMETER_FILE",
    "PROCESSING_IN",
    "PROCESSING_OUT",
    "TRAINING_IN",
    "TRAINING_OUT",
    "Expressions",
    "InstanceType",
    "catalogue",
    "catalogue_info",
    "cheapest_fit",
    "choose_instance",
    "input_uri",
    "instance_types",
    "job_kind",
    "job_limits",
    "output_uri",
    "place",
    "processing_request",
    "render_args",
    "request",
    "s3_diagnostics",
    "service_prices",
    "service_prices_as_of",
    "training_request",
]

DEFAULT_MAX_RUNTIME = 86400  # SageMaker's default MaxRuntimeInSeconds (1 day)
DEFAULT_VOLUME_GB = 30
PROCESSING_IN, PROCESSING_OUT = "/opt/ml/processing/input", "/opt/ml/processing/output"
TRAINING_IN, TRAINING_OUT = "/opt/ml/input/data", "/opt/ml/model"
CHECKPOINTS = "/opt/ml/checkpoints"
# machines per job (``set_instances``): Processing's is botocore's ``ProcessingInstanceCount``
# maximum; Training's model has no maximum (only account quotas, which differ per account and
# instance type), so the same figure is assumed, to refuse an obvious typo offline
MAX_PROCESSING_INSTANCES = 100
MAX_TRAINING_INSTANCES = 100
# an output parameter (DESIGN §12) is a file inside its output folder: SageMaker uploads folders
PARAMETER_FILE = "value.json"


def job_limits(step_id_max_length: int) -> Limits:
    """SageMaker job limits (CreateProcessingJob/CreateTrainingJob), shared by both AWS targets,
    with the target's own step id length and its 1 MiB definition size."""
    return Limits(
        max_inputs_per_step=10,
        max_outputs_per_step=10,
        max_arg_count=100,
        max_arg_length=256,
        max_env_vars=100,
        step_id_max_length=step_id_max_length,
        max_document_bytes=1024 * 1024,
        max_instances={
            "default": ("Processing job", MAX_PROCESSING_INSTANCES),
            "spot": ("Training job", MAX_TRAINING_INSTANCES),
        },
        placeholder_text={
            "inputPath": f"{PROCESSING_IN}/{{name}}",
            "outputPath": f"{PROCESSING_OUT}/{{name}}",
        },
    )


def place(spec: PipelineSpec) -> Placement:
    """``Target.place`` for both AWS targets: each step's instance type, chosen once, or a
    PC006 diagnostic for each step no catalogue type fits."""
    placement: dict[str, str] = {}
    problems: list[Diagnostic] = []
    for step in spec.steps:
        instance, problem = choose_instance(step)
        if instance is not None:
            placement[step.id] = instance
        if problem is not None:
            problems.append(problem)
    return placement, problems


# what CreateProcessingJob / CreateTrainingJob accept as an input's S3Uri (botocore's pattern)
_S3_URI = re.compile(r"^(https|s3)://([^/]+)/?(.*)$")


def s3_diagnostics(spec: PipelineSpec, config: Any) -> list[Diagnostic]:
    """``Target.check`` for both AWS targets: outputs go to S3 and importers read from S3
    (instance types are ``place``'s).

    A non-S3 ``artifact_root`` is a configuration error (the jobs write nowhere else); an
    importer with a constant URI that is not S3 is reported at the importer's line, before the
    job request that would carry it is refused by the service.
    """
    root = str(config.require("artifact_root"))
    if not root.startswith("s3://"):
        raise ConfigError(
            f"artifact_root = {root!r} ({config.source or 'configuration'}): SageMaker jobs "
            "write their outputs to S3, so the AWS targets need an s3://bucket/prefix URI "
            "(or --artifact-root s3://...)"
        )
    found: list[Diagnostic] = []
    for imp in spec.importers:
        if isinstance(imp.uri, Constant) and not _S3_URI.match(str(imp.uri.value)):
            found.append(
                Diagnostic(
                    "PC011",
                    f"importer '{imp.id}' reads {imp.uri.value!r}, but SageMaker jobs read inputs "
                    "from S3 only (s3://bucket/prefix or an https:// S3 URL)",
                    imp.location,
                    "copy the data to S3 and import that URI, or make the URI a pipeline "
                    "parameter; local paths work with pipecast run --local",
                )
            )
    return found


class Expressions(Protocol):
    """How a target spells run-time values (see the module docstring)."""

    def run_id(self) -> Any: ...

    def parameter(self, name: str) -> Any: ...

    def join(self, parts: list[Any]) -> Any: ...

    def step_output(self, step_id: str, kind: str, output: str) -> Any: ...


@dataclass(frozen=True)
class InstanceType:
    type: str
    vcpu: int
    memory_gib: float
    gpu: int
    gpu_model: str | None
    gpu_memory_gib: float
    price_per_hour: float
    job_kinds: tuple[str, ...]


@cache
def _data(name: str) -> dict[str, Any]:
    text = (importlib_resources.files("pipecast.compilers") / "data" / name).read_text(
        encoding="utf-8"
    )
    data: dict[str, Any] = json.loads(text)
    return data


def instance_types(rows: list[dict[str, Any]]) -> tuple[InstanceType, ...]:
    """Catalogue rows (``schemas/price_catalogue.schema.json``) as :class:`InstanceType`."""
    return tuple(InstanceType(**{**r, "job_kinds": tuple(r["job_kinds"])}) for r in rows)


@cache
def catalogue() -> tuple[InstanceType, ...]:
    """The shipped, dated instance catalogue (compilers/data/sagemaker_instances.json)."""
    return instance_types(_data("sagemaker_instances.json")["instance_types"])


def catalogue_info() -> dict[str, str]:
    """The shipped catalogue's ``as_of`` date, ``currency``, ``region`` and ``source``: prices
    are only meaningful with them (``pipecast cost`` prints them)."""
    data = _data("sagemaker_instances.json")
    return {k: str(data[k]) for k in ("as_of", "currency", "region", "source")}


def service_prices() -> dict[str, float]:
    """Per-request prices of the services around the jobs (Step Functions state transitions,
    S3 requests), from compilers/data/aws_service_prices.json."""
    return dict(_data("aws_service_prices.json")["prices"])


def service_prices_as_of() -> str:
    """The date of :func:`service_prices` (printed with every estimate that uses them)."""
    return str(_data("aws_service_prices.json")["as_of"])


def cheapest_fit(
    kind: str, resources: ResourceSpec | None, types: tuple[InstanceType, ...]
) -> InstanceType | None:
    """The cheapest of ``types`` for ``kind`` jobs that satisfies ``resources`` (the rule
    placement uses, over any catalogue: ``pipecast cost`` prices a monolith with it)."""
    fitting = [it for it in types if kind in it.job_kinds and _fits(it, resources)]
    return min(fitting, key=lambda it: (it.price_per_hour, it.type)) if fitting else None


def job_kind(step: StepSpec) -> str:
    """``training`` (spot, Training-as-compute) or ``processing``."""
    return "training" if step.spot is not None else "processing"


def _fits(it: InstanceType, r: ResourceSpec | None) -> bool:
    if r is None:
        return it.gpu == 0
    if it.vcpu < r.cpu or it.memory_gib * 1024**3 < r.memory_bytes or it.gpu < r.gpu:
        return False
    if r.gpu == 0 and it.gpu > 0:
        return False
    return not (r.gpu_type and (it.gpu_model or "").lower() != r.gpu_type.lower())


@cache
def _cheapest(kind: str, resources: ResourceSpec | None) -> str | None:
    """The cheapest fitting type (steps share a few resource shapes: one scan per shape)."""
    fitting = [it for it in catalogue() if kind in it.job_kinds and _fits(it, resources)]
    return min(fitting, key=lambda it: (it.price_per_hour, it.type)).type if fitting else None


def choose_instance(step: StepSpec) -> tuple[str | None, Diagnostic | None]:
    """The cheapest catalogue type for this step and job kind, or a PC006 diagnostic."""
    kind = job_kind(step)
    usable = [it for it in catalogue() if kind in it.job_kinds]
    if step.instance_type is not None:
        names = {it.type for it in usable}
        if step.instance_type in names:
            return step.instance_type, None
        return None, Diagnostic(
            "PC006",
            f"step '{step.id}': instance type '{step.instance_type}' is not available "
            f"for {kind} jobs{did_you_mean(step.instance_type, names)}",
            step.location,
            "pick a type from compilers/data/sagemaker_instances.json",
            step=step.id,
        )
    cheapest = _cheapest(kind, step.resources)
    if cheapest is not None:
        return cheapest, None
    r = step.resources
    want = (
        (
            f"{r.cpu:g} vCPU, {r.memory_bytes / 1024**3:g} GiB, {r.gpu} GPU"
            f"{' ' + r.gpu_type if r and r.gpu_type else ''}"
        )
        if r
        else "default"
    )
    near = sorted(usable, key=lambda it: _distance(it, step))[:3]
    listed = ", ".join(
        f"{it.type} ({it.vcpu} vCPU, {it.memory_gib:g} GiB, {it.gpu} {it.gpu_model or 'no'} GPU)"
        for it in near
    )
    return None, Diagnostic(
        "PC006",
        f"step '{step.id}': no {kind} instance has {want}",
        step.location,
        f"closest types: {listed}; lower the request or pin .set_instance_type()",
        step=step.id,
    )


def _distance(it: InstanceType, step: StepSpec) -> float:
    """How far ``it`` is from the step's request, to name the closest types when none fits: the
    share of the requested vCPUs and of the memory it lacks (0 to 1 each), 2 per missing GPU, 1
    for another GPU model, plus a thousandth of its hourly price (of two equally close types,
    the cheaper first). Without a request: its price."""
    r = step.resources
    if r is None:
        return it.price_per_hour
    short = (
        max(0.0, r.cpu - it.vcpu) / r.cpu
        + max(0.0, r.memory_bytes / 1024**3 - it.memory_gib) / (r.memory_bytes / 1024**3)
        + max(0, r.gpu - it.gpu) * 2.0
    )
    model = 0 if not r.gpu_type or (it.gpu_model or "").lower() == r.gpu_type.lower() else 1
    return short + model + it.price_per_hour / 1000


# ----- URIs and argument rendering ---------------------------------------------------------


def _step_prefix(spec: PipelineSpec, root: str, step_id: str, ex: Expressions) -> Any:
    return ex.join([f"{root}/{spec.name}/", ex.run_id(), f"/{step_id}/"])


def output_uri(spec: PipelineSpec, root: str, step_id: str, output: str, ex: Expressions) -> Any:
    """``{root}/{pipeline}/{run_id}/{step}/{output}/`` (where the service lets us choose)."""
    return ex.join([f"{root}/{spec.name}/", ex.run_id(), f"/{step_id}/{output}/"])


def input_uri(spec: PipelineSpec, step: StepSpec, name: str, ex: Expressions) -> tuple[Any, bool]:
    """(S3 URI of an artifact input, is it a manifest file)."""
    binding = step.argument(name)
    if isinstance(binding, OutputRef):
        upstream = spec.step(binding.step)
        return ex.step_output(upstream.id, job_kind(upstream), binding.output), False
    assert isinstance(binding, ImporterRef)
    imp = spec.importer(binding.importer)
    assert imp is not None
    uri = imp.uri.value if isinstance(imp.uri, Constant) else ex.parameter(imp.uri.name)
    return uri, imp.manifest


def _value(step: StepSpec, name: str, ex: Expressions) -> Any:
    binding = step.argument(name)
    if isinstance(binding, ParameterRef):
        return ex.parameter(binding.name)
    assert isinstance(binding, Constant)
    return render_value(binding.value)


def render_args(spec: PipelineSpec, step: StepSpec, kind: str, ex: Expressions) -> list[Any]:
    """The container arguments with placeholders replaced by this job kind's paths."""
    comp = spec.component(step.component)
    base_in = TRAINING_IN if kind == "training" else PROCESSING_IN
    base_out = TRAINING_OUT if kind == "training" else PROCESSING_OUT
    rendered: list[Any] = []
    for arg in comp.args:
        parts: list[Any] = []
        for part in arg:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Placeholder):
                if part.kind == "inputPath":
                    parts.append(f"{base_in}/{part.name}")
                elif part.kind == "outputPath":
                    out = comp.output(part.name)
                    folder = f"{base_out}/{part.name}"
                    parameter = out is not None and out.kind == "parameter"
                    parts.append(f"{folder}/{PARAMETER_FILE}" if parameter else folder)
                elif part.kind == "inputUri":
                    parts.append(input_uri(spec, step, part.name, ex)[0])
                else:
                    parts.append(_value(step, part.name, ex))
        if all(isinstance(p, str) for p in parts):
            rendered.append("".join(parts))
        else:
            rendered.append(parts[0] if len(parts) == 1 else ex.join(parts))
    return rendered


def _distribution(step: StepSpec, name: str) -> str:
    """How the service spreads an input over the step's machines (DESIGN §13): split by S3 key
    for the inputs named in ``shard`` (every object to exactly one machine), a full copy on
    every machine for the rest (and for every input of a one-machine step)."""
    return "ShardedByS3Key" if step.instances > 1 and name in step.shard else "FullyReplicated"


def _common(step: StepSpec) -> tuple[dict[str, Any], int]:
    runtime = step.timeout_seconds or DEFAULT_MAX_RUNTIME
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": runtime}
    return stopping, runtime


def _volume_gb(step: StepSpec) -> int:
    disk = step.resources.disk_bytes if step.resources else None
    return DEFAULT_VOLUME_GB if disk is None else max(1, -(-disk // 1024**3))


def processing_request(
    spec: PipelineSpec, step: StepSpec, instance: str, root: str, role: str, ex: Expressions
) -> dict[str, Any]:
    """CreateProcessingJob request (without ProcessingJobName)."""
    comp = spec.component(step.component)
    inputs = []
    for inp in comp.inputs:
        if inp.kind != "artifact":
            continue
        uri, manifest = input_uri(spec, step, inp.name, ex)
        inputs.append(
            {
                "InputName": inp.name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"{PROCESSING_IN}/{inp.name}",
                    "S3DataType": "ManifestFile" if manifest else "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": _distribution(step, inp.name),
                },
            }
        )
    outputs = [
        {
            "OutputName": o.name,
            "S3Output": {
                "S3Uri": output_uri(spec, root, step.id, o.name, ex),
                "LocalPath": f"{PROCESSING_OUT}/{o.name}",
                "S3UploadMode": "EndOfJob",
            },
        }
        for o in comp.outputs
    ]
    stopping, _ = _common(step)
    request: dict[str, Any] = {
        "AppSpecification": {
            "ImageUri": comp.image,
            "ContainerEntrypoint": list(comp.command),
            "ContainerArguments": render_args(spec, step, "processing", ex),
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": step.instances,
                "InstanceType": instance,
                "VolumeSizeInGB": _volume_gb(step),
            }
        },
        "StoppingCondition": stopping,
        "RoleArn": role,
    }
    if not request["AppSpecification"]["ContainerArguments"]:
        del request["AppSpecification"]["ContainerArguments"]
    if inputs:
        request["ProcessingInputs"] = inputs
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": outputs}
    if step.env:
        request["Environment"] = dict(step.env)
    return request


def training_request(
    spec: PipelineSpec, step: StepSpec, instance: str, root: str, role: str, ex: Expressions
) -> dict[str, Any]:
    """CreateTrainingJob request used as spot compute (without TrainingJobName)."""
    assert step.spot is not None
    comp = spec.component(step.component)
    channels = []
    for inp in comp.inputs:
        if inp.kind != "artifact":
            continue
        uri, manifest = input_uri(spec, step, inp.name, ex)
        channels.append(
            {
                "ChannelName": inp.name,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "ManifestFile" if manifest else "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": _distribution(step, inp.name),
                    }
                },
                "InputMode": "File",
            }
        )
    stopping, runtime = _common(step)
    stopping["MaxWaitTimeInSeconds"] = max(step.spot.max_wait_seconds, runtime)
    spec_alg: dict[str, Any] = {
        "TrainingImage": comp.image,
        "TrainingInputMode": "File",
        "ContainerEntrypoint": list(comp.command),
    }
    args = render_args(spec, step, "training", ex)
    if args:
        spec_alg["ContainerArguments"] = args
    request: dict[str, Any] = {
        "AlgorithmSpecification": spec_alg,
        "OutputDataConfig": {
            "S3OutputPath": _step_prefix(spec, root, step.id, ex),
            "CompressionType": "NONE",
        },
        "ResourceConfig": {
            "InstanceType": instance,
            "InstanceCount": step.instances,
            "VolumeSizeInGB": _volume_gb(step),
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": True,
        "RoleArn": role,
    }
    if step.spot.checkpoints:  # only on request: SageMaker hashes it into the cache key
        request["CheckpointConfig"] = {
            "S3Uri": ex.join([f"{root}/{spec.name}/", ex.run_id(), f"/{step.id}/_checkpoints/"]),
            "LocalPath": CHECKPOINTS,
        }
    if channels:
        request["InputDataConfig"] = channels
    if step.env:
        request["Environment"] = dict(step.env)
    return request


def request(
    spec: PipelineSpec, step: StepSpec, instance: str, root: str, role: str, ex: Expressions
) -> tuple[str, dict[str, Any]]:
    """(``"processing"``|``"training"``, request) for a step."""
    kind = job_kind(step)
    build = training_request if kind == "training" else processing_request
    return kind, build(spec, step, instance, root, role, ex)
