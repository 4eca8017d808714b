"""The target contract: everything a target declares, in one place, as data.

A target is one module exposing ``TARGET = Target(...)``: its name and file suffix, the DSL
features it cannot express (:class:`Capabilities`, only what differs from the default), the
service's hard limits (:class:`Limits`, the document size limit included), the schema of its
section in ``pipecast.toml``, how it places steps on machines, its review hooks (``pipecast
diff``/``plan``/``compile --check``), its deploy backend, and ``compile(checked, config)``.

The graph compiler reads these tables to report every unsupported use and every limit breach
before any target code runs, the config schema is assembled from the sections, and the CLI,
``deploy`` and the docs read names and descriptions from the registry
(:mod:`pipecast.compilers`), so no shared code asks ``if target == ...``. See
``docs/adding-a-target.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import (
    CollectedRef,
    Constant,
    ImporterRef,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    PipelineSpec,
    RunStatusRef,
    StepSpec,
)

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.errors import Diagnostic

    from .diff import DocumentSummary
    from .graph import CheckedPipeline

__all__ = [
    "FEATURES",
    "Capabilities",
    "Charge",
    "Document",
    "Feature",
    "Limits",
    "Placement",
    "ReviewHooks",
    "RunShape",
    "Target",
]


def _manifest_inputs(spec: PipelineSpec, step: StepSpec) -> bool:
    return any(
        isinstance(b, ImporterRef)
        and (imp := spec.importer(b.importer)) is not None
        and imp.manifest
        for _, b in step.arguments
    )


def _in_group(kind: str) -> Callable[[PipelineSpec, StepSpec], bool]:
    def used(spec: PipelineSpec, step: StepSpec) -> bool:
        return any(g.kind == kind for g in spec.groups_of(step))

    return used


def _exit_handler(spec: PipelineSpec, step: StepSpec) -> bool:
    return (
        _in_group("exit_handler")(spec, step)
        or any(g.exit_step == step.id for g in spec.groups)
        or any(isinstance(b, RunStatusRef) for _, b in step.arguments)
    )


def _output_kind(spec: PipelineSpec, step_id: str, output: str) -> str | None:
    """``"parameter"`` or ``"artifact"`` for a step's output; None when the step or output is
    unknown (the reference checks report that)."""
    try:
        out = spec.component(spec.step(step_id).component).output(output)
    except KeyError:
        return None
    return None if out is None else out.kind


def _output_parameters(spec: PipelineSpec, step: StepSpec) -> bool:
    """The step writes an output parameter or reads one (directly, collected or joined)."""
    if any(o.kind == "parameter" for o in spec.component(step.component).outputs):
        return True
    for _, b in step.arguments:
        if isinstance(b, (CollectedRef, OneOfRef)):
            return True
        if isinstance(b, OutputRef) and _output_kind(spec, b.step, b.output) == "parameter":
            return True
    return False


def _collected_artifacts(spec: PipelineSpec, step: StepSpec) -> bool:
    """The step reads ``dsl.Collected`` of an artifact output (a folder per iteration)."""
    return any(
        isinstance(b, CollectedRef) and _output_kind(spec, b.step, b.output) == "artifact"
        for _, b in step.arguments
    )


def _text_output_parameters(spec: PipelineSpec, step: StepSpec) -> bool:
    return any(
        o.kind == "parameter" and o.type == "str" for o in spec.component(step.component).outputs
    )


def _runtime_loops(spec: PipelineSpec, step: StepSpec) -> bool:
    """The step is in a loop whose items are known only at run time (a list parameter or
    output, directly or through an enclosing loop's item): no compile-time unrolling."""
    for group in spec.groups_of(step):
        items, hops = group.items, 0
        while isinstance(items, LoopItemRef) and hops <= len(spec.groups):
            outer = spec.group(items.loop)  # an enclosing loop's item: look at its items
            items, hops = (None if outer is None else outer.items), hops + 1
        if group.kind == "loop" and not isinstance(items, Constant):
            return True
    return False


def _one_of(spec: PipelineSpec, step: StepSpec) -> bool:
    return any(isinstance(b, OneOfRef) for _, b in step.arguments)


def _json_parameters(spec: PipelineSpec, step: StepSpec) -> bool:
    comp = spec.component(step.component)
    types = [i.type for i in comp.inputs] + [o.type for o in comp.outputs]
    return "list" in types or "dict" in types


@dataclass(frozen=True)
class Feature:
    """A DSL feature a target may be unable to express: how a user asks for it (for messages)
    and whether a step uses it. A feature with ``default=False`` is one a target must declare
    it supports (``Capabilities(supported=...)``): a target written before the feature existed
    refuses it instead of silently dropping it. ``hint`` replaces the generic fix hint."""

    how: str
    used: Callable[[PipelineSpec, StepSpec], bool]
    default: bool = True
    hint: str | None = None
    # a finer part of another feature: a target lacking that one lacks this one too
    part_of: str | None = None


# the targets that express it are named before this, from the registry (``_features._hint``)
_LOCAL_RUNS_IT = (
    "the local runner (`pipecast run --local`) runs it and `--target ir` keeps it; compile for "
    "one of those, or leave the construct out for {target}"
)


# the one list of feature names: capabilities, messages and the graph check all read it
FEATURES: Mapping[str, Feature] = {
    "spot": Feature(".set_spot(Spot(...)) / spot=Spot(...)", lambda _, s: s.spot is not None),
    "gpu": Feature(
        "Resources(gpu=...)", lambda _, s: s.resources is not None and s.resources.gpu > 0
    ),
    "retry": Feature(
        ".set_retry(Retry(...))", lambda _, s: s.retry is not None and s.retry.max_attempts > 1
    ),
    "caching": Feature(
        ".set_caching(True)", lambda _, s: s.caching is not None and s.caching.enabled
    ),
    "timeout": Feature(".set_timeout(...)", lambda _, s: s.timeout_seconds is not None),
    "env": Feature(".set_env(...)", lambda _, s: bool(s.env)),
    "manifest_inputs": Feature("dsl.importer(..., manifest=True)", _manifest_inputs),
    "python_components": Feature(
        "@dsl.component", lambda spec, s: spec.component(s.component).python_function is not None
    ),
    "instance_type": Feature(".set_instance_type(...)", lambda _, s: s.instance_type is not None),
    "disk": Feature(
        "Resources(disk=...)",
        lambda _, s: s.resources is not None and s.resources.disk_bytes is not None,
    ),
    # values between steps and control flow (DESIGN §12): opt-in, see Feature.default
    "output_parameters": Feature(
        "Output[int] / a Python component's return value, read downstream",
        _output_parameters,
        default=False,
        hint=_LOCAL_RUNS_IT,
    ),
    "json_parameters": Feature(
        "a list or dict parameter", _json_parameters, default=False, hint=_LOCAL_RUNS_IT
    ),
    "conditions": Feature(
        "dsl.If / dsl.Elif / dsl.Else", _in_group("condition"), default=False, hint=_LOCAL_RUNS_IT
    ),
    "loops": Feature("dsl.ParallelFor", _in_group("loop"), default=False, hint=_LOCAL_RUNS_IT),
    "exit_handler": Feature(
        "dsl.ExitHandler / dsl.RUN_STATUS", _exit_handler, default=False, hint=_LOCAL_RUNS_IT
    ),
    # finer parts of the above that a target expressing them may still lack (default: it has them)
    "collected_artifacts": Feature(
        "dsl.Collected(...) of an artifact output",
        _collected_artifacts,
        hint="{target} cannot hand one step a folder of every iteration's artifact; collect an "
        "output parameter instead (e.g. each iteration's count or URI), or compile for a target "
        "that supports it (`pipecast run --local` does)",
    ),
    "text_output_parameters": Feature(
        "Output[str] / a Python component returning str",
        _text_output_parameters,
        hint="{target} keeps the text of the file as the value, so the JSON quotes the step "
        "writes would become part of it; return an int, float, bool, list or dict, or compile "
        "for a target that supports it (`pipecast run --local` does)",
    ),
    # scale-out of one step (DESIGN §13): opt-in, a target must express every machine's share
    "scale_out": Feature(
        ".set_instances(count, shard=[...])", lambda _, s: s.instances != 1, default=False
    ),
    "runtime_loops": Feature(
        "dsl.ParallelFor over a list parameter or output (items known only at run time)",
        _runtime_loops,
        part_of="loops",
    ),
    "one_of": Feature("dsl.OneOf(...)", _one_of, part_of="conditions"),
}


@dataclass(frozen=True)
class Capabilities:
    """Which DSL features a target can express: every one in :data:`FEATURES` except those in
    ``unsupported``; using one of those is a compile error (PC008), never silently dropped.

    ``requires_image``: every step runs in a container, so a component without an image
    (a ``@dsl.component`` without ``image=``) is an error (PC010). ``supported`` names the
    opt-in features (``Feature.default`` false: control flow, output parameters) it expresses.
    ``keeps_per_target``: the document keeps per-target settings (``targets=(...)``) as written
    instead of applying them (the IR, which every target is compiled from).
    ``hints``: the workaround on this target for a feature it refuses, where it knows a better
    one than the feature's generic hint (the targets that can are named anyway).
    """

    unsupported: frozenset[str] = frozenset()
    requires_image: bool = True
    supported: frozenset[str] = frozenset()
    keeps_per_target: bool = False
    hints: Mapping[str, str] = field(default_factory=dict)

    def __init__(
        self,
        unsupported: Iterable[str] = (),
        requires_image: bool = True,
        supported: Iterable[str] = (),
        keeps_per_target: bool = False,
        hints: Mapping[str, str] | None = None,
    ) -> None:
        names, opted, hinted = frozenset(unsupported), frozenset(supported), dict(hints or {})
        unknown = sorted((names | opted | set(hinted)) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; features: {', '.join(FEATURES)}")
        object.__setattr__(self, "unsupported", names)
        object.__setattr__(self, "requires_image", requires_image)
        object.__setattr__(self, "supported", opted)
        object.__setattr__(self, "keeps_per_target", keeps_per_target)
        object.__setattr__(self, "hints", hinted)

    def supports(self, feature: str) -> bool:
        if feature in self.unsupported:
            return False
        found = FEATURES.get(feature)
        if found is not None and found.part_of is not None and not self.supports(found.part_of):
            return False
        return found is None or found.default or feature in self.supported


@dataclass(frozen=True)
class Limits:
    """Hard limits of the service, checked before emitting (None: no limit)."""

    max_steps: int | None = None
    max_inputs_per_step: int | None = None
    max_outputs_per_step: int | None = None
    max_arg_count: int | None = None
    max_arg_length: int | None = None
    max_env_vars: int | None = None
    step_id_max_length: int | None = None
    max_document_bytes: int | None = None  # checked on the compiled text (PC009)
    # machines one step may run on at once (``set_instances``, PC040), by how the step runs:
    # ``"spot"`` for spot steps, ``"default"`` for the rest → (what the service calls that
    # job, for messages; the limit); a missing key: no limit
    max_instances: Mapping[str, tuple[str, int]] = field(default_factory=dict)
    # how each placeholder kind renders (for argument-length checks); ``{name}`` is replaced
    placeholder_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A compiled document: its exact text, the file suffix it is written with, and notes
    (precedences added by a layout, size remarks) shown to the user on stderr."""

    target: str
    text: str
    suffix: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewHooks:
    """How ``pipecast diff``/``plan``/``compile --check`` read this target's documents: recognise
    a parsed document (``detect``) and reduce it to a per-step summary (``summarize``, see
    :mod:`pipecast.compilers.diff`)."""

    detect: Callable[[Any], bool]
    summarize: Callable[[Any], DocumentSummary]


@dataclass(frozen=True)
class Charge:
    """A per-run charge of the orchestrator itself, besides the jobs (``pipecast cost``):
    ``count`` units at ``unit_price`` each (state transitions, S3 requests)."""

    item: str
    count: int
    unit_price: float


@dataclass(frozen=True)
class RunShape:
    """How a target runs a pipeline, for ``pipecast cost``: the run's makespan in seconds
    given each step's duration (the target's own layout decides it), the orchestrator's
    per-run charges, the date and source of their prices, and notes on what is left out."""

    makespan_seconds: float
    charges: tuple[Charge, ...] = ()
    prices_as_of: str | None = None
    notes: tuple[str, ...] = ()


# step id → instance type, and a diagnostic for every step that cannot be placed
Placement = tuple[Mapping[str, str], list["Diagnostic"]]


@dataclass(frozen=True)
class Target:
    """A compilation target; each target module exposes one as ``TARGET``.

    ``config_section`` is the JSON Schema of the target's ``[<name>]`` table in pipecast.toml
    (it may refer to ``#/$defs/role_arn`` and ``#/$defs/tags`` of the base schema);
    ``required_config`` the dotted keys compiling needs. ``place`` runs once in the graph check
    and its result rides on :attr:`CheckedPipeline.placement`; ``check`` adds the target's own
    diagnostics that depend on the configuration (what the declared tables cannot say).
    ``deploy`` is the module of the deploy backend (``fetch``/``upsert``/``start``/``validate``,
    see :mod:`pipecast.deploy`).
    """

    name: str
    suffix: str
    description: str
    compile: Callable[[CheckedPipeline, Config], Document]
    capabilities: Capabilities = field(default_factory=Capabilities)
    limits: Limits = field(default_factory=Limits)
    config_section: Mapping[str, Any] | None = None
    required_config: tuple[str, ...] = ()
    place: Callable[[PipelineSpec], Placement] | None = None
    check: Callable[[PipelineSpec, Config], list[Diagnostic]] | None = None
    review: ReviewHooks | None = None
    # the document checks ``deploy`` runs (service limits, API models), which ``compile`` and
    # ``validate`` run too: compiled text → (step id or None, problem) pairs
    validate_document: Callable[[str], list[tuple[str | None, str]]] | None = None
    # False: only ``validate --document`` runs them (a document the target's own SDK wrote, with
    # nothing deployed by pipecast, where they would repeat the SDK's work at its cost)
    validate_on_compile: bool = True
    document_kind: str = "document"  # what users call this target's documents, for messages
    deploy: str | None = None
    # ``pipecast cost``: the run's shape from the checked pipeline, the configuration and each
    # step's expected seconds; None: the target does not estimate costs
    run_shape: Callable[[CheckedPipeline, Config, Mapping[str, float]], RunShape] | None = None
    extra: str | None = None  # optional dependency group this target needs
    extra_module: str | None = None  # a module whose absence means the extra is missing

    def missing_extra(self) -> str | None:
        """The install hint when the optional dependency is absent, else None (no import)."""
        if self.extra_module is None:
            return None
        import importlib.util

        try:
            found = importlib.util.find_spec(self.extra_module) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"pip install 'pipecast[{self.extra}]'"

    def __repr__(self) -> str:
        return f"<pipecast target {self.name}>"
