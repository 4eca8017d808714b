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
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import CollectedRef, OutputRef, ParameterRef
from pipecast.errors import Diagnostic

from . import _sagemaker_flow as _flow
from . import _sagemaker_values as _sv
from . import aws_jobs as jobs
from .canonical import dumps_json
from .diff import DocumentSummary, StepSummary
from .target import Capabilities, Document, ReviewHooks, RunShape, Target

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import Binding, PipelineSpec, StepSpec

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
    "value_name",
]

S3_DEPLOY_NOTE_BYTES = 100 * 1024
RETRYABLE = ["SageMaker.CAPACITY_ERROR", "SageMaker.JOB_INTERNAL_ERROR", "SageMaker.RESOURCE_LIMIT"]
_PARAM_TYPES = {"str": "String", "int": "Integer", "float": "Float", "bool": "Boolean"}


class PipelineExpressions:
    """SageMaker Pipelines spelling of run-time values: ``Get`` and ``Std:Join``.

    ``values``: the run-time values of the flattened pipeline's arguments (output parameters
    read with ``Std:JsonGet``, collected lists) under names no pipeline parameter can have
    (:func:`value_name`), so the shared job builders pass them as they pass parameters.
    """

    def __init__(self, spec: PipelineSpec, values: dict[str, Any] | None = None) -> None:
        self._types = {p.name: p.type for p in spec.parameters}
        self._values = values or {}

    def run_id(self) -> Any:
        return {"Get": "Execution.PipelineExecutionId"}

    def parameter(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
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


def value_name(step_id: str, argument: str) -> str:
    """The name a run-time value is passed under: a NUL byte keeps it apart from every
    pipeline parameter (whose names are identifiers) and out of every document."""
    return f"\x00{step_id}\x00{argument}"


def _values(found: _flow.Plan, ex: PipelineExpressions) -> tuple[PipelineSpec, dict[str, Any]]:
    """The flattened spec with every run-time value argument renamed to its ``value_name``
    (and collected artifacts bound to their first iteration, expanded by ``_collect``), and
    the expressions for those names."""
    spec = found.spec
    table: dict[str, Any] = {}
    steps = []
    for inst in found.instances:
        comp = spec.component(inst.step.component)
        arguments: list[tuple[str, Binding]] = []
        for name, b in inst.step.arguments:
            inp = comp.input(name)
            artifact = inp is not None and inp.kind == "artifact"
            if isinstance(b, CollectedRef) and artifact:
                b = OutputRef(inst.collected[name][0], b.output)
            elif isinstance(b, CollectedRef):
                reads = [_read(spec, OutputRef(p, b.output), ex) for p in inst.collected[name]]
                parts: list[Any] = ["["]
                for i, value in enumerate(reads):
                    parts += [",", value] if i else [value]
                table[value_name(inst.step.id, name)] = ex.join([*parts, "]"])
                b = ParameterRef(value_name(inst.step.id, name))
            elif isinstance(b, OutputRef) and not artifact:
                read = _read(spec, b, ex)
                table[value_name(inst.step.id, name)] = {"Std:Join": {"On": "", "Values": [read]}}
                b = ParameterRef(value_name(inst.step.id, name))
            arguments.append((name, b))
        steps.append(replace(inst.step, arguments=tuple(arguments)))
    return replace(spec, steps=tuple(steps)), table


def _read(spec: PipelineSpec, ref: OutputRef, ex: PipelineExpressions) -> Any:
    """An output parameter's value: its PropertyFile (Processing), or its file under the
    uncompressed model folder (``<S3ModelArtifacts>/<output>/value.json``, spot Training)."""
    kind = jobs.job_kind(spec.step(ref.step))
    uri = ex.step_output(ref.step, kind, ref.output)
    if kind == "training":
        uri = {"Std:Join": {"On": "/", "Values": [*uri["Std:Join"]["Values"], jobs.PARAMETER_FILE]}}
    return _sv.json_get(ref.step, kind, ref.output, uri)


def _collect(
    request: dict[str, Any], inst: _flow.Instance, spec: PipelineSpec, ex: PipelineExpressions
) -> None:
    """A collected artifact input becomes one ProcessingInput per iteration, at
    ``<input>/0``, ``<input>/1``, ...: the folder layout of DESIGN §12."""
    for name, producers in inst.collected.items():
        inputs = request.get("ProcessingInputs", [])
        at = next((k for k, i in enumerate(inputs) if i["InputName"] == name), None)
        if at is None:
            continue  # a parameter: joined by _values
        template = inputs[at]
        binding = inst.step.argument(name)
        assert isinstance(binding, CollectedRef)
        expanded = []
        for i, producer in enumerate(producers):
            s3 = dict(template["S3Input"])
            kind = jobs.job_kind(spec.step(producer))
            s3["S3Uri"] = ex.step_output(producer, kind, binding.output)
            s3["LocalPath"] = f"{jobs.PROCESSING_IN}/{name}/{i}"
            expanded.append({"InputName": f"{name}-{i}", "S3Input": s3})
        inputs[at : at + 1] = expanded


def _step(
    checked: CheckedPipeline,
    inst: _flow.Instance,
    spec: PipelineSpec,
    config: Config,
    ex: PipelineExpressions,
) -> dict[str, Any]:
    step = spec.step(inst.step.id)
    instance = checked.placement[inst.origin]  # placed once by the graph check
    kind, request = jobs.request(
        spec, step, instance, config.artifact_root, config.require("sagemaker.role_arn"), ex
    )
    _collect(request, inst, spec, ex)
    out: dict[str, Any] = {
        "Name": step.id,
        "Type": "Training" if kind == "training" else "Processing",
        "Arguments": request,
    }
    if inst.after:
        out["DependsOn"] = list(inst.after)
    policies = retry_policies(step)
    if policies:
        out["RetryPolicies"] = policies
    if step.caching is not None and step.caching.enabled:
        out["CacheConfig"] = {
            "Enabled": True,
            "ExpireAfter": iso_duration(step.caching.expire_after_seconds or 30 * 86400),
        }
    parameters = [o.name for o in spec.component(step.component).outputs if o.kind == "parameter"]
    if parameters and kind == "processing":
        out["PropertyFiles"] = _sv.property_files(parameters, jobs.PARAMETER_FILE)
    return out


def _condition(
    found: _flow.Plan, cid: str, spec: PipelineSpec, ex: PipelineExpressions
) -> dict[str, Any]:
    def read(ref: OutputRef) -> Any:
        return _read(spec, ref, ex)

    return {
        "Name": cid,
        "Type": "Condition",
        "Arguments": {
            "Conditions": [_sv.comparison_json(c, read) for c in found.conjunction(cid)],
            "IfSteps": [],
            "ElseSteps": [],
        },
    }


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
    out = jobs.s3_diagnostics(spec, config) + _flow.flow_diagnostics(spec)
    for step in spec.steps:
        out += _env_diagnostics(step) + _retry_note(step) + _checkpoint_cache_note(step)
    return out


def _parameter(p: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": p.name, "Type": _PARAM_TYPES[p.type]}
    if p.optional:
        out["DefaultValue"] = p.default
    return out


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """The pipeline definition as canonical JSON: loops unrolled, conditions flattened into
    Condition steps (:mod:`._sagemaker_flow`)."""
    after = {s: checked.explicit_only_predecessors(s) for s in checked.order}
    found = _flow.plan(checked.spec, checked.order, after)
    ex = PipelineExpressions(checked.spec)
    spec, values = _values(found, ex)
    ex = PipelineExpressions(checked.spec, values)
    steps: list[dict[str, Any]] = []
    conditions: dict[str, dict[str, Any]] = {}
    for inst in found.instances:
        job = _step(checked, inst, spec, config, ex)
        if inst.condition is None:
            steps.append(job)
            continue
        if inst.condition not in conditions:
            conditions[inst.condition] = _condition(found, inst.condition, spec, ex)
            steps.append(conditions[inst.condition])
        conditions[inst.condition]["Arguments"]["IfSteps"].append(job)
    document = {
        "Version": "2020-12-01",
        "Metadata": {},
        "Parameters": [_parameter(p) for p in checked.spec.parameters],
        "Steps": steps,
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
    if isinstance(value, dict) and "Std:JsonGet" in value:
        return _sv.operand_text(value)
    if isinstance(value, list):
        return [expression_text(v) for v in value]
    if isinstance(value, dict):
        return {k: expression_text(v) for k, v in value.items()}
    return value


def describe(document: dict[str, Any]) -> DocumentSummary:
    """Per step: job kind, image, instance type, spot, inputs, arguments, settings."""
    steps: dict[str, StepSummary] = {}
    for step, runs_when in _flat_steps(document["Steps"], ()):
        args = step.get("Arguments", {})
        fields: dict[str, Any] = {"depends on": step.get("DependsOn", [])}
        if runs_when:
            fields["runs when"] = list(runs_when)
        if step.get("PropertyFiles"):
            fields["property files"] = {
                f.get("PropertyFileName"): f"{f.get('OutputName')}/{f.get('FilePath')}"
                for f in step["PropertyFiles"]
            }
        if step.get("Type") == "Condition":
            fields["conditions"] = [_sv.comparison_text(c) for c in args.get("Conditions", [])]
            for branch, label in (("IfSteps", "if steps"), ("ElseSteps", "else steps")):
                fields[label] = [s.get("Name") for s in args.get(branch, [])]
            steps[step["Name"]] = StepSummary(step["Name"], "condition step", fields)
            continue
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


def _flat_steps(
    steps: list[dict[str, Any]], runs_when: tuple[str, ...]
) -> Iterator[tuple[dict[str, Any], tuple[str, ...]]]:
    """Every step, those inside a Condition step's branches with the conditions they run
    under (``not (...)`` for an else branch), so a review shows them like top-level steps."""
    for step in steps:
        yield step, runs_when
        if step.get("Type") != "Condition":
            continue
        args = step.get("Arguments", {})
        text = " and ".join(_sv.comparison_text(c) for c in args.get("Conditions", []))
        yield from _flat_steps(args.get("IfSteps", []), (*runs_when, text))
        yield from _flat_steps(args.get("ElseSteps", []), (*runs_when, f"not ({text})"))


def pipeline_name(document: dict[str, Any]) -> str:
    """The pipeline's name as its outputs spell it (``{root}/{pipeline}/`` before the execution
    id: the definition carries no name field), or ``pipeline`` when no output says."""
    for step, _ in _flat_steps(document.get("Steps", []), ()):
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
    capabilities=Capabilities(
        supported=("output_parameters", "json_parameters", "conditions", "loops", "scale_out"),
        unsupported=("runtime_loops", "one_of"),
        hints={
            "runtime_loops": _flow.RUNTIME_LOOPS_HINT,
            "one_of": "SageMaker cannot join the outputs of exclusive branches (a step outside "
            "a ConditionStep cannot read a step that may not have run); on SageMaker read each "
            "output inside its own dsl.If block",
            "exit_handler": "SageMaker Pipelines stops at the first failed step and runs no exit "
            "task: on SageMaker drop the dsl.ExitHandler (the status task then runs only on "
            "success, as a last step) or watch the execution's status with an EventBridge rule",
        },
    ),
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
