"""The ``sagemaker`` target: a SageMaker Pipelines definition (Version 2020-12-01).

Each step is a Processing step, or, when it asks for spot, a Training step used as compute
(managed spot, uncompressed outputs). Downstream inputs reference upstream outputs with ``Get``
property references, so SageMaker infers the data dependencies; ``DependsOn`` is emitted only for
explicit ``.after()`` edges that carry no data, after transitive reduction. Requests come from the
shared builders in ``aws_jobs`` (the Step Functions target uses the same ones).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pipecast.errors import Diagnostic

from . import aws_jobs as jobs
from .canonical import dumps_json
from .diff import DocumentSummary, StepSummary
from .target import Document, ReviewHooks, RunShape, Target

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import PipelineSpec, StepSpec

    from .graph import CheckedPipeline

__all__ = [
    "CACHE_KEY_ATTRIBUTES",
    "RETRYABLE",
    "S3_DEPLOY_NOTE_BYTES",
    "TARGET",
    "PipelineExpressions",
    "compile",
    "describe",
    "detect",
    "diagnostics",
    "document_problems",
    "expression_text",
    "iso_duration",
    "pipeline_name",
    "retry_policies",
    "run_shape",
]

S3_DEPLOY_NOTE_BYTES = 100 * 1024
RETRYABLE = ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR", "SageMaker.RESOURCE_LIMIT"]
_PARAM_TYPES = {"str": "String", "int": "Integer", "float": "Float", "bool": "Boolean"}


class PipelineExpressions:
    """SageMaker Pipelines spelling of run-time values: ``Get`` and ``Std:Join``."""

    def __init__(self, spec: PipelineSpec) -> None:
        self._types = {p.name: p.type for p in spec.parameters}

    def run_id(self) -> Any:
        return {"Get": "Execution.PipelineExecutionId"}

    def parameter(self, name: str) -> Any:
        ref = {"Get": f"Parameters.{name}"}
        # arguments are strings: non-string parameters are converted by Std:Join
        return ref if self._types.get(name) == "str" else {"Std:Join": {"On": "", "Values": [ref]}}

    def join(self, parts: list[Any]) -> Any:
        values: list[Any] = []
        for part in parts:
            if isinstance(part, dict) and part.get("Std:Join", {}).get("On") == "":
                values.extend(part["Std:Join"]["Values"])
            elif isinstance(part, str) and values and isinstance(values[-1], str):
                values[-1] += part
            elif part != "":
                values.append(part)
        if len(values) == 1 and isinstance(values[0], str):
            return values[0]
        return {"Std:Join": {"On": "", "Values": values}}

    def step_output(self, step_id: str, kind: str, output: str) -> Any:
        if kind == "training":
            return {
                "Std:Join": {
                    "On": "/",
                    "Values": [{"Get": f"Steps.{step_id}.ModelArtifacts.S3ModelArtifacts"}, output],
                }
            }
        return {"Get": f"Steps.{step_id}.ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"}


def iso_duration(seconds: int) -> str:
    """ISO 8601 duration for CacheConfig.ExpireAfter (``P30D``, ``PT6H``, ``PT90S``)."""
    if seconds % 86400 == 0:
        return f"P{seconds // 86400}D"
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"


def retry_policies(step: StepSpec) -> list[dict[str, Any]]:
    if step.retry is None or step.retry.max_attempts <= 1:
        return []
    return [
        {
            "ExceptionType": RETRYABLE,
            "IntervalSeconds": step.retry.backoff_seconds,
            "BackoffRate": step.retry.backoff_rate,
            "MaxAttempts": step.retry.max_attempts - 1,
        }
    ]


def _step(
    checked: CheckedPipeline, step: StepSpec, config: Config, ex: PipelineExpressions
) -> dict[str, Any]:
    instance = checked.placement[step.id]  # placed once by the graph check
    kind, request = jobs.request(
        checked.spec, step, instance, config.artifact_root, config.require("sagemaker.role_arn"), ex
    )
    out: dict[str, Any] = {
        "Name": step.id,
        "Type": "Training" if kind == "training" else "Processing",
        "Arguments": request,
    }
    depends = checked.explicit_only_predecessors(step.id)
    if depends:
        out["DependsOn"] = depends
    policies = retry_policies(step)
    if policies:
        out["RetryPolicies"] = policies
    if step.caching is not None and step.caching.enabled:
        out["CacheConfig"] = {
            "Enabled": True,
            "ExpireAfter": iso_duration(step.caching.expire_after_seconds or 30 * 86400),
        }
    return out


# The definition language reads a JSON object as an expression when it has a ``Get`` key or a
# ``Std:`` function key (``Std:Join``, ``Std:JsonGet``); every other value, strings included, is
# data. The only user-chosen keys in a definition are env names: those must not be these.
EXPRESSION_KEY, FUNCTION_PREFIX = "Get", "Std:"
# what SageMaker hashes for a step's cache key ("Default cache key attributes by pipeline step
# type", SageMaker developer guide): nothing execution-scoped may be in these, or caching never hits
CACHE_KEY_ATTRIBUTES = {
    "Processing": ("AppSpecification", "Environment", "ProcessingInputs"),
    "Training": (
        "AlgorithmSpecification",
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "Environment",
        "HyperParameters",
        "InputDataConfig",
    ),
}


def _env_diagnostics(step: StepSpec) -> list[Diagnostic]:
    return [
        Diagnostic(
            "PC008",
            f"step '{step.id}': env name '{key}' is an expression keyword in SageMaker pipeline "
            "definitions: the Environment would be read as a reference, not passed to the job",
            step.location,
            f"rename the variable (e.g. {key.upper()}_VALUE); stepfunctions and kubeflow pass it "
            "as is",
            step=step.id,
        )
        for key, _ in step.env
        if key == EXPRESSION_KEY or key.startswith(FUNCTION_PREFIX)
    ]


def _retry_note(step: StepSpec) -> list[Diagnostic]:
    if step.retry is None or step.retry.max_attempts <= 1:
        return []
    return [
        Diagnostic(
            "PC008",
            f"step '{step.id}': on SageMaker, Retry({step.retry.max_attempts}) retries only "
            f"service faults ({', '.join(RETRYABLE)}); a container that exits with an error "
            "is not retried",
            step.location,
            "stepfunctions, kubeflow and the local runner retry any failure; make the "
            "container retry its own transient errors if it must on SageMaker",
            severity="warning",
            step=step.id,
        )
    ]


def _checkpoint_cache_note(step: StepSpec) -> list[Diagnostic]:
    cached = step.caching is not None and step.caching.enabled
    if not (cached and step.spot is not None and step.spot.checkpoints):
        return []
    return [
        Diagnostic(
            "PC008",
            f"step '{step.id}': caching will never hit: Spot(checkpoints=True) puts the run's "
            "checkpoint folder in CheckpointConfig, which SageMaker hashes into the cache key",
            step.location,
            "drop checkpoints=True (an interrupted job then restarts from the beginning) or "
            "caching for this step",
            severity="warning",
            step=step.id,
        )
    ]


def diagnostics(spec: PipelineSpec, config: Config) -> list[Diagnostic]:
    """``Target.check``: S3 locations, env names the definition reads as expressions (errors),
    and notes where SageMaker does less than the user probably means (warnings)."""
    out = jobs.s3_diagnostics(spec, config)
    for step in spec.steps:
        out += _env_diagnostics(step) + _retry_note(step) + _checkpoint_cache_note(step)
    return out


def _parameter(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": p.name, "Type": _PARAM_TYPES[p.type]}
    if p.optional:
        out["DefaultValue"] = p.default
    return out


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """The pipeline definition as canonical JSON."""
    ex = PipelineExpressions(checked.spec)
    document = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [_parameter(p) for p in checked.spec.parameters],
        "Steps": [_step(checked, s, config, ex) for s in checked.steps()],
    }
    text = dumps_json(document)
    notes: tuple[str, ...] = ()
    size = len(text.encode("utf-8"))
    if size > S3_DEPLOY_NOTE_BYTES:
        notes = (
            f"note: the definition is {size:,} bytes (over 100 KiB): pipecast deploy will "
            "pass it through S3 under the artifact root",
        )
    return Document("sagemaker", text, "sagemaker.json", notes)


# ----- review support -----------------------------------------------------------------------------


def detect(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("Version") == "2020-12-01"
        and "Steps" in document
    )


def expression_text(value: Any) -> Any:
    """``{"Get": "Parameters.x"}`` → ``{Parameters.x}``; joins flattened to text."""
    if isinstance(value, dict) and "Get" in value:
        return "{" + str(value["Get"]) + "}"
    if isinstance(value, dict) and "Std:Join" in value:
        join = value["Std:Join"]
        return str(join.get("On", "")).join(str(expression_text(v)) for v in join["Values"])
    if isinstance(value, list):
        return [expression_text(v) for v in value]
    if isinstance(value, dict):
        return {k: expression_text(v) for k, v in value.items()}
    return value


def describe(document: dict[str, Any]) -> DocumentSummary:
    """Per step: job kind, image, instance type, spot, inputs, arguments, settings."""
    steps: dict[str, StepSummary] = {}
    for step in document["Steps"]:
        args = step.get("Arguments", {})
        fields: dict[str, Any] = {"depends on": step.get("DependsOn", [])}
        if step.get("Type") == "Processing":
            app = args.get("AppSpecification", {})
            fields["image"] = app.get("ImageUri")
            fields["command"] = app.get("ContainerEntrypoint")
            fields["arguments"] = expression_text(app.get("ContainerArguments", []))
            fields["instance type"] = (
                args.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceType")
            )
            fields["inputs"] = {
                i["InputName"]: expression_text(i["S3Input"]["S3Uri"])
                for i in args.get("ProcessingInputs", [])
            }
            fields["spot"] = False
            fields["role"] = args.get("RoleArn")
            kind = "processing job"
        elif step.get("Type") == "Training":
            alg = args.get("AlgorithmSpecification", {})
            fields["image"] = alg.get("TrainingImage")
            fields["command"] = alg.get("ContainerEntrypoint")
            fields["arguments"] = expression_text(alg.get("ContainerArguments", []))
            fields["instance type"] = args.get("ResourceConfig", {}).get("InstanceType")
            fields["inputs"] = {
                c["ChannelName"]: expression_text(c["DataSource"]["S3DataSource"]["S3Uri"])
                for c in args.get("InputDataConfig", [])
            }
            fields["spot"] = bool(args.get("EnableManagedSpotTraining"))
            fields["role"] = args.get("RoleArn")
            kind = "training job (spot)" if fields["spot"] else "training job"
        else:
            kind = f"{str(step.get('Type', '?')).lower()} step"
        stopping = args.get("StoppingCondition", {})
        fields["timeout"] = stopping.get("MaxRuntimeInSeconds")
        if "MaxWaitTimeInSeconds" in stopping:
            fields["spot max wait"] = stopping["MaxWaitTimeInSeconds"]
        fields["env"] = args.get("Environment", {})
        fields["retry"] = step.get("RetryPolicies")
        fields["caching"] = step.get("CacheConfig")
        steps[step["Name"]] = StepSummary(step["Name"], kind, fields)
    parameters = {
        p["Name"]: {"type": p.get("Type"), "default": p.get("DefaultValue")}
        for p in document.get("Parameters", [])
    }
    name = document.get("PipelineExperimentConfig", {}).get("PipelineName")
    return DocumentSummary("sagemaker", str(name or pipeline_name(document)), parameters, steps)


def pipeline_name(document: dict[str, Any]) -> str:
    """The pipeline's name as its outputs spell it (``{root}/{pipeline}/`` before the execution
    id: the definition carries no name field), or ``pipeline`` when no output says."""
    for step in document.get("Steps", []):
        for value in _joins(step.get("Arguments", {})):
            for before, after in itertools.pairwise(value):
                if after == {"Get": "Execution.PipelineExecutionId"} and isinstance(before, str):
                    found = before.rstrip("/").rpartition("/")[2]
                    if found:
                        return found
    return "pipeline"


def _joins(value: Any) -> Iterator[list[Any]]:
    if isinstance(value, dict):
        join = value.get("Std:Join")
        if isinstance(join, dict) and isinstance(join.get("Values"), list):
            yield join["Values"]
        for item in value.values():
            yield from _joins(item)
    elif isinstance(value, list):
        for item in value:
            yield from _joins(item)


def run_shape(checked: CheckedPipeline, config: Config, seconds: Mapping[str, float]) -> RunShape:
    """``Target.run_shape``: SageMaker starts a step as soon as the steps it depends on are
    done, so a run takes its critical path; the service adds no charge beyond the jobs."""
    from .graph import critical_path

    span, _ = critical_path(checked.graph, seconds)
    return RunShape(span, notes=("SageMaker Pipelines adds no charge beyond its jobs",))


def document_problems(text: str) -> list[tuple[str | None, str]]:
    """``Target.validate_document``: the pipeline-definition validator (envelope, references,
    every job request against botocore's model), as (step, problem) pairs."""
    from . import sagemaker_validate

    return [(p.step, f"{p.path}: {p.message}") for p in sagemaker_validate.validate_text(text)]


TARGET = Target(
    name="sagemaker",
    suffix="sagemaker.json",
    description="SageMaker Pipelines definition: Processing steps, spot Training-as-compute",
    compile=compile,
    limits=jobs.job_limits(step_id_max_length=64),
    config_section={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "role_arn": {
                "$ref": "#/$defs/role_arn",
                "description": "IAM role the jobs run as (both AWS targets)",
            },
            "tags": {"$ref": "#/$defs/tags"},
        },
    },
    required_config=("artifact_root", "sagemaker.role_arn"),
    place=jobs.place,
    review=ReviewHooks(detect=detect, summarize=describe),
    deploy="pipecast.deploy.sagemaker",
    run_shape=run_shape,
    check=diagnostics,
    document_kind="SageMaker pipeline definition",
    validate_document=document_problems,
)
