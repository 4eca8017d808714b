"""The ``kubeflow`` target: a Kubeflow Pipelines v2 pipeline, compiled by the ``kfp`` SDK itself.

Each pipecast step becomes one kfp container component named after the step id, so KFP task
names are the pipecast step ids (not kfp's counters): adding a step changes only that step's part
of the YAML. Resources become requests/limits and accelerators; spot and ``set_instance_type``
become node selectors (and tolerations) through ``kfp-kubernetes``. ``pipeline_root`` is the
configured ``artifact_root``; the KFP backend itself places each output at
``{pipeline_root}/{pipeline}/{run_id}/{task}/{uuid}/{output}`` (its driver's layout; backends
before kubeflow/pipelines PR 11243 left out the per-execution ``{uuid}``).

Manifest inputs: Kubeflow has no manifest data type. The importer passes the manifest file itself
as the artifact; the step receives the manifest, not the objects it lists (a note says so at
compile time). Timeouts become the pod's active deadline (``kfp-kubernetes``). Disk sizes have no
KFP v2 equivalent: using one is a compile error for this target, never silently dropped. A
scaled-out step (``set_instances``) is a ``ParallelFor`` of shards plus a merge task per output
(``_kfp_shards``: why a shell prelude, and what it needs in the image).
``kfp`` is the optional extra ``kubeflow`` and is imported only inside :func:`compile`.

Values between steps and control flow (DESIGN §12) are kfp's own: output parameters are
``OutputPath(T)`` parameters (the process still gets ``--name <path>`` and writes JSON), and
:mod:`.kubeflow_flow` builds the tasks inside kfp's ``If``/``Elif``/``Else``, ``ParallelFor``
and ``ExitHandler`` blocks with ``Collected`` and ``OneOf``; :mod:`.kubeflow_status` gives a
Python exit task ``dsl.RUN_STATUS`` in pipecast's shape; :mod:`.kubeflow_review` reads the
documents back for ``diff``/``plan``; :mod:`._kfp_collected` turns the list of artifacts KFP
hands a step reading ``Collected`` of an artifact into pipecast's folder ``0/``, ``1/``, … (a
shell prelude in the step's container: why, and what the image needs); :mod:`._kfp_text` turns
the JSON string a step writes for a ``str`` output into the raw text KFP keeps. What KFP cannot
express is refused with PC008.

Speed: kfp spends most of a large compile in two places that do not shape the output (an
``inspect.stack()`` per resource setter, and re-sanitizing every task name once per task). While
kfp builds our pipeline they are made cheap (``_kfp_speedups``: why it is safe, which kfp
versions, and the ``PIPECAST_KFP_SPEEDUPS=0`` switch); the YAML is byte-for-byte what kfp writes
without them (tested), and at 1,000 steps the target takes about a third of the time kfp takes
for the same pipeline written in its own DSL (``benchmarks/kubeflow_vs_kfp.py``).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import (
    Constant,
    Placeholder,
    StepSpec,
    format_bytes,
    render_value,
)
from pipecast.errors import Diagnostic, MissingExtraError, PipecastError, PipelineError

from . import _kfp_collected as collected
from . import _kfp_shards as shards
from . import _kfp_text as text_outputs
from ._kfp_speedups import kfp_speedups, swap
from .kubeflow_flow import (
    FlowBuilder,
    flow_diagnostics,
    kfp_output_name,
    run_status_inputs,
)
from .kubeflow_review import describe, detect, resources_summary
from .kubeflow_status import adapted_command, status_note
from .target import Capabilities, Document, Limits, ReviewHooks, Target

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import ComponentSpec, PipelineSpec

    from .graph import CheckedPipeline

__all__ = [
    "DEFAULT_GPU_TYPE_LABEL",
    "GPU_RESOURCE",
    "K8S_EXPANDED",
    "KFP_REFERENCE_MARKERS",
    "KFP_STRUCTURED_ARG_PREFIXES",
    "TARGET",
    "compile",
    "describe",
    "detect",
    "diagnostics",
    "document_problems",
    "literal_diagnostics",
    "pod_text",
    "resources_summary",
    "spot_diagnostics",
]

_PY_TYPES: dict[str, type] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
}
# Open-source KFP uses the accelerator type as the pod's resource name, so it must be the device
# plugin's resource (Vertex AI names such as NVIDIA_A10G would leave the pod unschedulable). The
# GPU model becomes a node selector instead: EKS's well-known Karpenter label by default, whose
# values are lower-case model names ("a10g", "l4"); ``[kubeflow] gpu_type_label`` overrides it.
GPU_RESOURCE = "nvidia.com/gpu"
DEFAULT_GPU_TYPE_LABEL = "karpenter.k8s.aws/instance-gpu-name"
_SPOT_CONFIG_LINE = '[kubeflow] spot_node_selector = { "eks.amazonaws.com/capacityType" = "SPOT" }'


def _kfp() -> Any:
    try:
        import kfp
        import kfp.compiler
        import kfp.dsl
        import kfp.kubernetes
    except ImportError:
        raise MissingExtraError("kfp", "kubeflow") from None
    return kfp


@contextlib.contextmanager
def _header_comments_stay_comments() -> Iterator[None]:
    """kfp's header-comment writer, wrapped by :func:`_safe_header` for the duration.

    A correctness fix, not a speed-up: it stays on when ``PIPECAST_KFP_SPEEDUPS=0``."""
    with swap(
        "kfp.compiler.pipeline_spec_builder", "extract_comments_from_pipeline_spec", _safe_header
    ):
        yield


# YAML ends a comment at any of these; kfp writes parameter defaults into its header comment
# (``# Inputs: ... [Default: '...']``) as they are, so a default holding one would end the comment
# and turn the rest of the default into YAML content.
_YAML_LINE_BREAKS = {
    "\n": "\\n",
    "\r": "\\r",
    "\x85": "\\x85",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def _comment_safe(value: Any, in_default: bool = False) -> Any:
    """``value`` with line breaks escaped; inside a ``defaultValue``, dict keys also sorted:
    kfp prints a dict default in the order its protobuf Struct hands the keys over, which
    differs between kfp releases (2.14 and 2.17 disagree), and the bytes must not."""
    if isinstance(value, str):
        return "".join(_YAML_LINE_BREAKS.get(c, c) for c in value)
    if isinstance(value, dict):
        keys = sorted(value) if in_default else list(value)
        return {k: _comment_safe(value[k], in_default or k == "defaultValue") for k in keys}
    if isinstance(value, list):
        return [_comment_safe(v, in_default) for v in value]
    return value


def _safe_header(real: Callable[..., str]) -> Callable[..., str]:
    """kfp's header-comment writer, given defaults whose line breaks are written as escapes
    (and dict keys in sorted order). Only the comment changes (and only for such defaults);
    the document's values do not."""

    def header(pipeline_spec: dict[str, Any], pipeline_description: str) -> str:
        return real(_comment_safe(pipeline_spec), pipeline_description)

    return header


def _artifact_class(kfp: Any, type_name: str) -> Any:
    return {"Dataset": kfp.dsl.Dataset, "Model": kfp.dsl.Model}.get(type_name, kfp.dsl.Artifact)


def _parameter_type(kfp: Any, type_name: str) -> Any:
    """The Python annotation kfp maps to the KFP parameter type of a pipecast type."""
    return _PY_TYPES[type_name]


def _component(kfp: Any, comp: ComponentSpec, step: StepSpec) -> Any:
    """A kfp container component named after the step, with the component's interface.

    Output parameters are kfp ``OutputPath(T)`` parameters: the process gets the path of a file
    and writes the value there as JSON (DESIGN §12), which KFP's launcher reads back as the
    declared type. An input bound to ``dsl.RUN_STATUS`` is kfp's ``PipelineTaskFinalStatus``."""
    dsl = kfp.dsl
    status = set(run_status_inputs(step))
    lists = collected.collected_inputs(comp, step)  # a list of artifacts (``_kfp_collected``)
    texts = text_outputs.text_outputs(comp)
    params = []
    for inp in comp.inputs:
        if inp.kind == "artifact":
            cls = _artifact_class(kfp, inp.type)
            ann: Any = dsl.Input[list[cls]] if inp.name in lists else dsl.Input[cls]  # type: ignore[valid-type]
        elif inp.name in status:
            ann = dsl.PipelineTaskFinalStatus
        else:
            ann = _parameter_type(kfp, inp.type)
        params.append(
            inspect.Parameter(inp.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=ann)
        )
    for out in comp.outputs:
        if out.kind == "parameter":
            ann = dsl.OutputPath(_parameter_type(kfp, out.type))
        else:
            ann = dsl.Output[_artifact_class(kfp, out.type)]
        params.append(
            inspect.Parameter(
                kfp_output_name(comp, out.name),
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=ann,
            )
        )
    names = [i.name for i in comp.inputs] + [o.name for o in comp.outputs]
    parameter_outputs = {o.name for o in comp.outputs if o.kind == "parameter"}
    scaled = step.instances > 1  # one shard of a scaled-out step (``_kfp_shards``)
    if scaled:
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params.append(inspect.Parameter(shards.SHARD_INDEX, kind, annotation=int))
        names.append(shards.SHARD_INDEX)
    step_inputs = {name for name, _ in step.arguments}

    def body(*values: Any) -> Any:
        by_name = dict(zip(names, values, strict=True))
        args = []
        for arg in comp.args:
            text = ""
            for run in _runs(arg):
                if isinstance(run, str):
                    text += pod_text(run)
                    continue
                if isinstance(run, Placeholder):
                    part, value = run, by_name[run.name]
                    # kfp placeholders render as {{$...}} strings, which kfp parses back
                    if part.kind == "inputPath" and part.name in step.shard and scaled:
                        text += shards.view(part.name)
                    elif part.kind == "inputPath" and part.name in lists:
                        text += collected.view(part.name)
                    elif part.kind == "inputUri":
                        text += str(value.uri)
                    elif part.kind == "outputPath" and part.name in parameter_outputs:
                        text += str(value)  # {{$.outputs.parameters['x'].output_file}}
                    elif part.kind in ("inputPath", "outputPath"):
                        text += str(value.path)
                    else:
                        text += str(value)
            args.append(text)
        command = [pod_text(c) for c in comp.command]
        if len(status) == 1:  # RUN_STATUS in pipecast's shape (kubeflow_status)
            (name,) = status
            command = adapted_command(command, str(by_name[name])) or command
        if texts:  # JSON strings into KFP's raw text, after the program (_kfp_text)
            files = [str(by_name[n]) for n in texts]
            command = text_outputs.text_command(files, command, pod_text)
        if scaled:
            sources = [(n, str(by_name[n].path)) for n in step.shard if n in step_inputs]
            index = by_name[shards.SHARD_INDEX]
            command = shards.shard_command(index, step.instances, sources, command, pod_text)
        if lists:  # never with ``scaled`` (refused: _kfp_collected.diagnostics)
            command = collected.collected_command(lists, command, pod_text)
        return dsl.ContainerSpec(image=comp.image, command=command, args=args)

    body.__name__ = step.id
    body.__qualname__ = step.id
    body.__doc__ = comp.description
    body.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return dsl.container_component(body)


def _adapts_status(spec: PipelineSpec, step: StepSpec) -> bool:
    """Whether the step's command gets the RUN_STATUS adapter (one status input, Python)."""
    one = len(list(run_status_inputs(step))) == 1
    return one and adapted_command(spec.component(step.component).command, "") is not None


def _apply_settings(kfp: Any, task: Any, step: StepSpec, config: Config) -> None:
    r = step.resources
    if r is not None:
        task.set_cpu_request(f"{r.cpu:g}").set_cpu_limit(f"{r.cpu:g}")
        # Kubernetes quantities: binary suffixes without the B ("16Gi"), plain bytes otherwise
        spelled = format_bytes(r.memory_bytes)
        memory = spelled[:-1] if spelled.endswith("iB") else str(r.memory_bytes)
        task.set_memory_request(memory).set_memory_limit(memory)
        if r.gpu:
            task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(r.gpu)
            if r.gpu_type:
                label = config.get("kubeflow.gpu_type_label") or DEFAULT_GPU_TYPE_LABEL
                kfp.kubernetes.add_node_selector(
                    task, label_key=label, label_value=r.gpu_type.lower()
                )
    if step.retry is not None and step.retry.max_attempts > 1:
        task.set_retry(
            num_retries=step.retry.max_attempts - 1,
            backoff_duration=f"{step.retry.backoff_seconds}s",
            backoff_factor=step.retry.backoff_rate,
        )
    task.set_caching_options(bool(step.caching and step.caching.enabled))
    for key, value in step.env:
        task.set_env_variable(key, pod_text(value))
    k8s = kfp.kubernetes
    if step.spot is not None:
        for key, value in sorted((config.get("kubeflow.spot_node_selector") or {}).items()):
            k8s.add_node_selector(task, label_key=key, label_value=value)
        for tol in config.get("kubeflow.spot_tolerations") or []:
            k8s.add_toleration(
                task,
                key=tol["key"],
                operator=tol.get("operator", "Equal"),
                value=tol.get("value"),
                effect=tol.get("effect"),
            )
    if step.timeout_seconds is not None:
        k8s.set_timeout(task, step.timeout_seconds)
    if step.instance_type is not None:
        k8s.add_node_selector(
            task,
            label_key="node.kubernetes.io/instance-type",
            label_value=step.instance_type.removeprefix("ml."),
        )


def _scaled_out(
    kfp: Any,
    comp: ComponentSpec,
    step: StepSpec,
    kwargs: dict[str, Any],
    merged: dict[str, dict[str, Any]],
) -> Any:
    """A scaled-out step: its shards in a ``ParallelFor``, its outputs merged after it
    (``_kfp_shards``); returns the shard task (the one settings and ``.after`` apply to)."""
    indices = list(range(step.instances))
    with kfp.dsl.ParallelFor(indices, parallelism=step.instances, name=f"{step.id}-shards") as i:
        task = _component(kfp, comp, step)(**kwargs, **{shards.SHARD_INDEX: i})
    outputs = [(o.name, _artifact_class(kfp, o.type)) for o in comp.outputs]
    caching = bool(step.caching and step.caching.enabled)
    merged[step.id] = shards.merged_tasks(
        kfp, step.id, outputs, comp.image, task, pod_text, caching
    )
    return task


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """Build the pipeline with kfp's DSL from the IR and let kfp's compiler write the YAML."""
    kfp = _kfp()
    spec = checked.spec
    notes = tuple(
        f"note: importer '{i.id}' is a manifest file; on Kubeflow the steps receive the "
        "manifest itself, not the objects it lists"
        for i in spec.importers
        if i.manifest
    ) + tuple(
        status_note(s.id, _adapts_status(spec, s)) for s in spec.steps if any(run_status_inputs(s))
    )
    for step in spec.steps:
        comp = spec.component(step.component)
        if lists := collected.collected_inputs(comp, step):
            notes += (collected.collected_note(step.id, lists),)
        if texts := text_outputs.text_outputs(comp):
            notes += (text_outputs.text_note(step.id, texts),)

    names = [p.name for p in spec.parameters]

    def pipeline_body(*values: Any, **named: Any) -> None:
        params = {**dict(zip(names, values, strict=False)), **named}
        importers: dict[str, Any] = {}
        for imp in spec.importers:
            uri = imp.uri.value if isinstance(imp.uri, Constant) else params[imp.uri.name]
            task = kfp.dsl.importer(
                artifact_uri=uri,
                artifact_class=_artifact_class(kfp, imp.artifact_type),
                reimport=False,
            )
            task.set_display_name(imp.id)
            importers[imp.id] = task

        def make_task(step: StepSpec, kwargs: dict[str, Any]) -> Any:
            comp = spec.component(step.component)
            if step.instances > 1:
                task = _scaled_out(kfp, comp, step, kwargs, builder.merged)
            else:
                task = _component(kfp, comp, step)(**kwargs)
            for upstream in checked.explicit_only_predecessors(step.id):
                if checked.graph.edges[upstream, step.id].get("explicit"):
                    task.after(builder.tasks[upstream])
            _apply_settings(kfp, task, step, config)
            return task

        builder = FlowBuilder(kfp, checked, params, importers, make_task)
        builder.build()

    pipeline_body.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                p.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=_parameter_type(kfp, p.type),
                default=p.default if p.optional else inspect.Parameter.empty,
            )
            for p in spec.parameters
        ]
    )
    pipeline_body.__name__ = spec.name.replace("-", "_")
    with (
        kfp_speedups(kfp.__version__),
        _header_comments_stay_comments(),
        tempfile.TemporaryDirectory() as tmp,
    ):
        path = os.path.join(tmp, "pipeline.yaml")
        with _kfp_refusals(spec):
            pipeline = kfp.dsl.pipeline(
                name=spec.name, description=spec.description, pipeline_root=config.artifact_root
            )(pipeline_body)
            kfp.compiler.Compiler().compile(pipeline, path)
        with open(path, encoding="utf-8") as handle:
            text = _without_sdk_version(handle.read())
    return Document(
        "kubeflow", text if text.endswith("\n") else text + "\n", "kubeflow.yaml", notes
    )


@contextlib.contextmanager
def _kfp_refusals(spec: PipelineSpec) -> Iterator[None]:
    """kfp's own refusal of a pipeline the checks let through, as a diagnostic (PC008), never
    a traceback: the checks name every shape known to be refused, this is the safety net."""
    try:
        yield
    except PipecastError:
        raise
    except Exception as exc:  # kfp raises ValueError, TypeError, InvalidTopologyException, ...
        if not _raised_in_kfp(exc):
            raise  # a bug of ours stays a bug, with its traceback
        message = " ".join(str(exc).split())
        raise PipelineError(
            [
                Diagnostic(
                    "PC008",
                    f"kfp refuses to build this pipeline: {type(exc).__name__}: {message}",
                    spec.location,
                    "change the construct kfp names, or compile for another target; please "
                    "report it: pipecast should have said so before kfp did",
                )
            ],
            pipeline=spec.name,
        ) from None


def _raised_in_kfp(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is kfp's code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename if tb is not None else ""
    return f"{os.sep}kfp{os.sep}" in filename


def _without_sdk_version(text: str) -> str:
    """Drop kfp's ``sdkVersion: kfp-X.Y.Z`` line: the documents must be the same bytes for every
    kfp release the project allows (CI compares the oldest and the newest), and the field is
    informational (optional in KFP's PipelineSpec; neither the backend nor the loader needs it)."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("sdkVersion: kfp-"))


def spot_diagnostics(spec: PipelineSpec, config: Config) -> list[Diagnostic]:
    """``Target.check``: spot needs a node selector on Kubeflow; without one it would be dropped."""
    if config.get("kubeflow.spot_node_selector"):
        return []
    return [
        Diagnostic(
            "PC008",
            f"step '{step.id}': spot capacity on Kubeflow needs a node selector, and "
            "[kubeflow] spot_node_selector is not configured",
            step.location,
            f"add to pipecast.toml (with your cluster's spot label): {_SPOT_CONFIG_LINE}; "
            "or drop .set_spot() for this target",
            step=step.id,
        )
        for step in spec.steps
        if step.spot is not None
    ]


# ----- literals: what KFP and Kubernetes would read as references -----------------------------
# Kubernetes expands ``$(VAR)`` and reduces ``$$`` to ``$`` in a pod's command, args and env
# values; ``$$`` is its only escape. KFP's launcher replaces ``{{$...}}`` placeholders by plain
# text substitution in a random order (kubeflow/pipelines backend/src/v2/component/
# launcher_v2.go, ``executeV2``), its driver rewrites ``{{$.workspace_path}}`` and five exact
# ``{{$.pipeline_*}}`` constants, and the kfp SDK reads ``{{channel:...}}`` in a task argument as
# a reference to another value. None of these has an escape, so a user string containing one is
# refused (PC008) rather than emitted to change meaning at run time.
KFP_REFERENCE_MARKERS = ("{{$", "{{channel:")
KFP_STRUCTURED_ARG_PREFIXES = ('{"Concat"', '{"IfPresent"')
K8S_EXPANDED = ("$$", "$(")


def pod_text(text: str) -> str:
    """``text`` spelled so that Kubernetes' ``$(VAR)`` expansion of a pod's command, args and env
    gives back ``text`` exactly: unchanged unless it holds ``$$`` or ``$(``, else every ``$``
    doubled."""
    return text.replace("$", "$$") if any(m in text for m in K8S_EXPANDED) else text


def _runs(arg: tuple[Any, ...]) -> list[Any]:
    """An argument's parts with adjacent literal strings merged (escaping needs whole runs)."""
    runs: list[Any] = []
    for part in arg:
        if isinstance(part, str) and runs and isinstance(runs[-1], str):
            runs[-1] += part
        else:
            runs.append(part)
    return runs


def _unsafe_in_text(text: str) -> str | None:
    return next((m for m in KFP_REFERENCE_MARKERS if m in text), None)


def _unsafe_in_value(text: str) -> str | None:
    """A value KFP hands over inside its executor input (a pod command line argument)."""
    return _unsafe_in_text(text) or next((m for m in K8S_EXPANDED if m in text), None)


def _literal_problem(
    where: str, text: str, marker: str, location: Any, step: str | None
) -> Diagnostic:
    return Diagnostic(
        "PC008",
        f"{where} {text!r} contains {marker!r}, which Kubeflow would resolve at run time "
        "instead of passing it on: it cannot reach the job unchanged on this target",
        location,
        "KFP and Kubernetes have no escape for it; pass the text in an input file (an "
        "artifact); sagemaker and stepfunctions pass it as is",
        step=step,
    )


def _arg_known_text(step: StepSpec, arg: tuple[Any, ...]) -> str:
    """The argument as far as it is known at compile time (run-time values as NUL)."""
    text = ""
    for part in arg:
        if isinstance(part, str):
            text += part
            continue
        binding = step.argument(part.name)
        known = render_value(binding.value) if isinstance(binding, Constant) else None
        # an unsafe constant is reported once, as an argument value
        text += known if known is not None and not _unsafe_in_value(known) else "\0"
    return text


def literal_diagnostics(spec: PipelineSpec) -> list[Diagnostic]:
    """Every user string that KFP or Kubernetes would read as a reference (see above). Env values
    are copied into the pod as they are (only Kubernetes expands them: :func:`pod_text`)."""
    out: list[Diagnostic] = []
    for param in spec.parameters:
        if isinstance(param.default, str) and (m := _unsafe_in_value(param.default)):
            where = f"default of parameter '{param.name}'"
            out.append(_literal_problem(where, param.default, m, param.location, None))
    for imp in spec.importers:
        uri = imp.uri.value if isinstance(imp.uri, Constant) else None
        if isinstance(uri, str) and (m := _unsafe_in_value(uri)):
            out.append(_literal_problem(f"importer '{imp.id}' URI", uri, m, imp.location, None))
    for step in spec.steps:
        comp = spec.component(step.component)
        for name, binding in step.arguments:
            value = binding.value if isinstance(binding, Constant) else None
            if isinstance(value, str) and (m := _unsafe_in_value(value)):
                where = f"step '{step.id}': argument {name}"
                out.append(_literal_problem(where, value, m, step.location, step.id))
        texts = [("command entry", c) for c in comp.command]
        texts += [("argument", _arg_known_text(step, arg)) for arg in comp.args]
        for kind, text in texts:
            m = _unsafe_in_text(text) or next(
                (p for p in KFP_STRUCTURED_ARG_PREFIXES if text.startswith(p)), None
            )
            if m:
                shown = text.replace("\0", "…")
                where = f"step '{step.id}': {kind}"
                out.append(_literal_problem(where, shown, m, step.location, step.id))
    return out


def diagnostics(spec: PipelineSpec, config: Config) -> list[Diagnostic]:
    """``Target.check``: spot needs a node selector; literals must stay literal; control flow
    in the shapes kfp accepts; a manifest input cannot be sharded; a list of collected
    artifacts stays next to its loop and has no one URI."""
    return (
        spot_diagnostics(spec, config)
        + literal_diagnostics(spec)
        + flow_diagnostics(spec)
        + shards.manifest_diagnostics(spec)
        + list(collected.diagnostics(spec))
    )


def document_problems(text: str) -> list[tuple[str | None, str]]:
    """``Target.validate_document``: the document must load with kfp's own loader (the one
    ``kfp.components.load_component_from_file`` uses), as the KFP API server parses it."""
    try:
        from kfp.components import load_component_from_text
    except ImportError:
        raise MissingExtraError("kfp", "kubeflow") from None
    try:
        load_component_from_text(text)
    except Exception as exc:  # kfp raises many types (ParseError, ValueError, KeyError, ...)
        return [(None, f"kfp cannot load it: {type(exc).__name__}: {' '.join(str(exc).split())}")]
    return []


TARGET = Target(
    name="kubeflow",
    suffix="kubeflow.yaml",
    description="Kubeflow Pipelines v2 (KFP IR YAML written by the kfp compiler)",
    compile=compile,
    capabilities=Capabilities(
        unsupported={"disk"},
        supported={
            "output_parameters",
            "json_parameters",
            "conditions",
            "loops",
            "exit_handler",
            "scale_out",
        },
    ),
    limits=Limits(step_id_max_length=63),
    config_section={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "spot_node_selector": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Node labels that select spot capacity",
            },
            "gpu_type_label": {
                "type": "string",
                "minLength": 1,
                "description": "Node label whose value is the lower-case GPU model "
                "(Resources(gpu_type=...)); default karpenter.k8s.aws/instance-gpu-name",
            },
            "spot_tolerations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key"],
                    "properties": {
                        "key": {"type": "string"},
                        "operator": {"enum": ["Equal", "Exists"]},
                        "value": {"type": "string"},
                        "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
                    },
                },
            },
        },
    },
    required_config=("artifact_root",),
    check=diagnostics,
    review=ReviewHooks(detect=detect, summarize=describe),
    extra="kubeflow",
    extra_module="kfp",
    document_kind="Kubeflow pipeline (KFP IR YAML)",
    validate_document=document_problems,
    # kfp's compiler wrote the document; its loader takes as long again (1,000 steps: +17 s)
    validate_on_compile=False,
)
