"""The graph checker's table of checks: one small function per rule, each yielding diagnostics.

:data:`SPEC_CHECKS` run on every spec, :data:`TARGET_CHECKS` once per target against its declared
capabilities and limits. Every check sees the same :class:`Index` (lookups built once) and never
raises, so all problems are collected and reported together. The codes and their meanings are
in :data:`pipecast.errors.CODES`. The rules on values (which constant, parameter or artifact
fits an input) are the IR's own (:mod:`pipecast.dsl.spec`), shared with the DSL, which reports
the same rule under the same code when it finds it first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pipecast.dsl.spec import (
    ARTIFACT_TYPES,
    PARAMETER_TYPES,
    Binding,
    ComponentSpec,
    Constant,
    ImporterRef,
    ImporterSpec,
    InputSpec,
    OutputRef,
    ParameterRef,
    ParameterSpec,
    PipelineSpec,
    Placeholder,
    StepSpec,
    artifact_fits,
    parameter_fits,
    render_value,
    value_matches,
)
from pipecast.errors import Diagnostic, SourceLocation

from . import _features
from ._flow_checks import flow_binding_problem
from .target import Target

STEP_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_ENV_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# names that usually carry credentials: a TOKEN/SECRET/PASSWD word, PASSWORD anywhere, *_KEY
# (words, so that TOKENIZERS_PARALLELISM or MONKEY do not warn)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWD)S?(?:_|$)|PASSWORD|(?:^|_)KEY$", re.IGNORECASE
)
_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")
# names that usually carry credentials: a TOKEN/SECRET/PASSWD word, PASSWORD anywhere, *_KEY
# (words, so that TOKENIZERS_PARALLELISM or MONKEY do not warn)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWD)S?(?:_|$)|PASSWORD|(?:^|_)KEY$", re.IGNORECASE
)

Found = Iterator[Diagnostic]


@dataclass(frozen=True)
class Index:
    """Lookups every check shares, built once per spec."""

    spec: PipelineSpec
    components: Mapping[str, ComponentSpec]
    steps: Mapping[str, StepSpec]
    parameters: Mapping[str, ParameterSpec]
    importers: Mapping[str, ImporterSpec]

    @classmethod
    def of(cls, spec: PipelineSpec) -> Index:
        return cls(
            spec,
            {c.name: c for c in spec.components},
            {s.id: s for s in spec.steps},
            {p.name: p for p in spec.parameters},
            {i.id: i for i in spec.importers},
        )

    def where(self, step: StepSpec | None) -> SourceLocation | None:
        """The step's location, else the pipeline's."""
        return step.location if step is not None and step.location else self.spec.location

    def wired_steps(self) -> Iterator[tuple[StepSpec, ComponentSpec]]:
        """Steps whose component exists (the others are reported once, by ``step_components``)."""
        for step in self.spec.steps:
            comp = self.components.get(step.component)
            if comp is not None:
                yield step, comp


# ----- names, types and images ------------------------------------------------------------------


def legal_names(ix: Index) -> Found:
    """PC005: step and importer ids are lowercase-hyphen names; parameters are identifiers."""
    spec = ix.spec
    named = (
        *(("parameter", p.name, p.location, _NAME_RE) for p in spec.parameters),
        *(("importer", i.id, i.location, STEP_ID_RE) for i in spec.importers),
        *(("step", s.id, s.location, STEP_ID_RE) for s in spec.steps),
    )
    for kind, name, loc, pattern in named:
        if not pattern.fullmatch(name):
            yield Diagnostic(
                "PC005",
                f"{kind} name '{name}' is not valid",
                loc or spec.location,
                "step ids: lowercase letters, digits, hyphens, starting with a "
                "letter; parameters: Python identifiers",
            )


def unique_names(ix: Index) -> Found:
    """PC005: step and importer ids share one namespace; parameter names are unique."""
    spec = ix.spec
    seen: dict[str, str] = {}
    ids = (*(("importer", i.id, i.location) for i in spec.importers),)
    for kind, name, loc in (*ids, *(("step", s.id, s.location) for s in spec.steps)):
        if name in seen:
            yield Diagnostic(
                "PC005",
                f"duplicate id '{name}' ({seen[name]} and {kind})",
                loc or spec.location,
                "give each step a unique .set_name()",
            )
        seen[name] = kind
    names = [p.name for p in spec.parameters]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        yield Diagnostic(
            "PC005", f"duplicate pipeline parameter '{dup}'", spec.location, "rename one of them"
        )


def parameter_types(ix: Index) -> Found:
    """PC003: pipeline parameters have a known type and a default of that type."""
    for p in ix.spec.parameters:
        if p.type not in PARAMETER_TYPES:
            yield Diagnostic(
                "PC003",
                f"parameter '{p.name}' has unknown type '{p.type}'",
                ix.spec.location,
                f"one of {', '.join(PARAMETER_TYPES)}",
            )
        elif p.optional and not value_matches(p.type, p.default):
            yield Diagnostic(
                "PC003",
                f"default {p.default!r} of parameter '{p.name}' is not a {p.type}",
                ix.spec.location,
                f"give a {p.type} default",
            )


def component_types(ix: Index) -> Found:
    """PC003: component inputs and outputs have known types."""
    for comp in ix.spec.components:
        for inp in comp.inputs:
            types = ARTIFACT_TYPES if inp.kind == "artifact" else PARAMETER_TYPES
            if inp.type not in types:
                yield Diagnostic(
                    "PC003",
                    f"input '{inp.name}' of component '{comp.name}' has unknown type '{inp.type}'",
                    comp.location,
                    f"one of {', '.join(types)}",
                )
        for o in comp.outputs:
            types = ARTIFACT_TYPES if o.kind == "artifact" else PARAMETER_TYPES
            if o.type not in types:
                yield Diagnostic(
                    "PC003",
                    f"output '{o.name}' of component '{comp.name}' has unknown type '{o.type}'",
                    comp.location,
                    f"one of {', '.join(types)}",
                )


def pinned_images(ix: Index) -> Found:
    """PC010: an image names a tag or digest; ``:latest`` is a warning. (A missing image is a
    target question: see ``images_present``.)"""
    for comp in ix.spec.components:
        image, last = comp.image, comp.image.rsplit("/", 1)[-1]
        if not image or _DIGEST_RE.search(image):
            continue
        if ":" not in last:
            yield Diagnostic(
                "PC010",
                f"image '{image}' of component '{comp.name}' has no tag or digest",
                comp.location,
                "pin a version (':1.2.3') or a digest ('@sha256:...') so every "
                "run uses the same code",
            )
        elif last.endswith(":latest"):
            yield Diagnostic(
                "PC010",
                f"image '{image}' of component '{comp.name}' uses ':latest'",
                comp.location,
                "pin a version so runs are reproducible",
                severity="warning",
            )


# ----- references and bindings ------------------------------------------------------------------


def importers(ix: Index) -> Found:
    """PC003/PC004: an importer has a known artifact type and a known ``str`` URI parameter."""
    for imp in ix.spec.importers:
        loc = imp.location or ix.spec.location
        if imp.artifact_type not in ARTIFACT_TYPES:
            yield Diagnostic(
                "PC003",
                f"importer '{imp.id}' has unknown artifact type '{imp.artifact_type}'",
                loc,
                f"one of {', '.join(ARTIFACT_TYPES)}",
            )
        if not isinstance(imp.uri, ParameterRef):
            continue
        p = ix.parameters.get(imp.uri.name)
        if p is None:
            yield Diagnostic(
                "PC004",
                f"importer '{imp.id}' uses unknown parameter '{imp.uri.name}'",
                loc,
                "declare it as a pipeline parameter",
            )
        elif p.type != "str":
            yield Diagnostic(
                "PC003",
                f"importer '{imp.id}' uri parameter '{p.name}' is {p.type}, not str",
                imp.location,
                "declare it as str",
            )


def step_components(ix: Index) -> Found:
    """PC004: every step uses a component of the spec."""
    for step in ix.spec.steps:
        if step.component not in ix.components:
            yield Diagnostic(
                "PC004",
                f"step '{step.id}' uses unknown component '{step.component}'",
                ix.where(step),
                "add the component to the spec",
            )


def step_arguments(ix: Index) -> Found:
    """PC003/PC004: every argument names an input of the component and fits its type."""
    for step, comp in ix.wired_steps():
        for name, binding in step.arguments:
            inp = comp.input(name)
            if inp is None:
                yield Diagnostic(
                    "PC004",
                    f"step '{step.id}' passes unknown input '{name}'",
                    ix.where(step),
                    f"'{comp.name}' takes: {', '.join(i.name for i in comp.inputs) or 'nothing'}",
                )
                continue
            problem = _binding_problem(ix, inp, binding, f"input '{name}' of step '{step.id}'")
            if problem is not None:
                code, message, hint = problem
                yield Diagnostic(code, message, ix.where(step), hint)


Problem = tuple[str, str, str]  # code, message, hint


def _binding_problem(ix: Index, inp: InputSpec, binding: Binding, where: str) -> Problem | None:
    handled, problem = flow_binding_problem(ix, inp, binding, where)
    if handled:
        return problem
    if isinstance(binding, Constant):
        if inp.kind == "artifact":
            return (
                "PC003",
                f"{where} is an artifact, got a constant",
                "use dsl.importer(uri=...).output",
            )
        if not value_matches(inp.type, binding.value):
            return "PC003", f"{where} is {inp.type}, got {binding.value!r}", f"pass a {inp.type}"
        return None
    if isinstance(binding, ParameterRef):
        return _parameter_problem(ix, inp, binding, where)
    assert isinstance(binding, (ImporterRef, OutputRef))  # the others: flow_binding_problem
    produced = _produced_type(ix, binding, where)
    if isinstance(produced, tuple):  # an unknown step, output or importer: say that first
        return produced
    if inp.kind != "artifact":
        return (
            "PC003",
            f"{where} is a {inp.type} parameter, got an artifact",
            "pass a value or a parameter",
        )
    if not artifact_fits(inp.type, produced):
        return (
            "PC003",
            f"{where} expects {inp.type}, got {produced}",
            f"connect an output of type {inp.type}",
        )
    return None


def _parameter_problem(ix: Index, inp: InputSpec, ref: ParameterRef, where: str) -> Problem | None:
    p = ix.parameters.get(ref.name)
    if p is None:
        return (
            "PC004",
            f"{where} uses unknown parameter '{ref.name}'",
            "declare it as a pipeline parameter",
        )
    if inp.kind == "artifact":
        return (
            "PC003",
            f"{where} is an artifact, got parameter '{p.name}'",
            "use dsl.importer(uri=param)",
        )
    if not parameter_fits(p.type, inp.type):
        return (
            "PC003",
            f"{where} is {inp.type}, parameter '{p.name}' is {p.type}",
            f"declare '{p.name}' as {inp.type}",
        )
    return None


def _produced_type(ix: Index, binding: ImporterRef | OutputRef, where: str) -> str | Problem:
    """The artifact type an importer or upstream output provides, or the PC004 problem."""
    if isinstance(binding, ImporterRef):
        found = ix.importers.get(binding.importer)
        if found is None:
            return "PC004", f"{where} uses unknown importer '{binding.importer}'", "declare it"
        return found.artifact_type
    up = ix.steps.get(binding.step)
    up_comp = ix.components.get(up.component) if up else None
    if up is None or up_comp is None:
        return "PC004", f"{where} reads from unknown step '{binding.step}'", "check the step id"
    up_out = up_comp.output(binding.output)
    if up_out is None:
        return (
            "PC004",
            f"{where} reads unknown output '{binding.output}' of step '{up.id}'",
            f"outputs: {', '.join(o.name for o in up_comp.outputs)}"
            if up_comp.outputs
            else f"'{up.id}' has no outputs",
        )
    return up_out.type


def bound_inputs(ix: Index) -> Found:
    """PC002: every input of a step's component is bound (defaults are bound by the DSL)."""
    for step, comp in ix.wired_steps():
        bound = {name for name, _ in step.arguments}
        for inp in comp.inputs:
            if inp.name not in bound:
                yield Diagnostic(
                    "PC002",
                    f"input '{inp.name}' of step '{step.id}' is not bound",
                    ix.where(step),
                    f"pass {inp.name}=... when calling '{comp.name}'",
                )


def known_after(ix: Index) -> Found:
    """PC004: ``.after()`` names existing steps."""
    for step, _ in ix.wired_steps():
        for after_id in step.after:
            if after_id not in ix.steps:
                yield Diagnostic(
                    "PC004",
                    f"step '{step.id}' runs after unknown step '{after_id}'",
                    ix.where(step),
                    "check the step id",
                )


# ----- step settings ------------------------------------------------------------------------------


def spot_waits(ix: Index) -> Found:
    """PC007: spot ``max_wait`` covers queueing plus running, so it is at least the timeout."""
    for step in ix.spec.steps:
        spot, timeout = step.spot, step.timeout_seconds
        if spot is not None and timeout is not None and spot.max_wait_seconds < timeout:
            yield Diagnostic(
                "PC007",
                f"step '{step.id}': spot max_wait ({spot.max_wait_seconds}s) is "
                f"shorter than its timeout ({timeout}s)",
                ix.where(step),
                "max_wait covers waiting for capacity plus running: make it at least the "
                "timeout, e.g. Spot(max_wait='2h') with .set_timeout('1h')",
            )


def env_names(ix: Index) -> Found:
    """PC011: environment variable names are identifiers; PC012 (a warning): a name that looks
    like a secret, whose value every compiled document would carry in plain text."""
    for step in ix.spec.steps:
        for key, _ in step.env:
            if not _ENV_RE.fullmatch(key):
                yield Diagnostic(
                    "PC011",
                    f"step '{step.id}': env name '{key}' is not valid",
                    ix.where(step),
                    "use letters, digits and _, not starting with a digit",
                )
            elif _SECRET_NAME.search(key):
                yield Diagnostic(
                    "PC012",
                    f"step '{step.id}': env '{key}' looks like a secret; its value is stored "
                    "in plain text in every compiled document (and in code review)",
                    ix.where(step),
                    "pass a reference instead (an AWS Secrets Manager or SSM parameter name the "
                    "step reads at run time, or a Kubernetes secret), not the secret itself",
                    severity="warning",
                    step=step.id,
                )


SpecCheck = Callable[[Index], Found]


# every target-independent check, in the order they run (diagnostics are sorted afterwards)
def per_target_names(ix: Index) -> Found:
    """PC004: ``targets=(...)`` of a step setting names registered targets (see ``_features``)."""
    yield from _features.per_target_names(ix.spec, ix.where)


SPEC_CHECKS: tuple[SpecCheck, ...] = (
    legal_names,
    unique_names,
    parameter_types,
    component_types,
    pinned_images,
    importers,
    step_components,
    step_arguments,
    bound_inputs,
    known_after,
    spot_waits,
    env_names,
    per_target_names,
)


# ----- what a target declares --------------------------------------------------------------------


def step_count(ix: Index, target: Target) -> Found:
    """PC009: the service's limit on steps per pipeline."""
    limit = target.limits.max_steps
    if limit is not None and len(ix.spec.steps) > limit:
        yield Diagnostic(
            "PC009",
            f"{len(ix.spec.steps)} steps exceed {target.name}'s limit of {limit}",
            ix.spec.location,
            "split the pipeline into smaller ones",
        )


def features(ix: Index, target: Target) -> Found:
    """PC008: every feature a step uses is one the target can express (see ``_features``)."""
    yield from _features.features(ix.spec, (s for s, _ in ix.wired_steps()), target, ix.where)


def images_present(ix: Index, target: Target) -> Found:
    """PC010: a target that runs every step in a container needs every component's image."""
    if not target.capabilities.requires_image:
        return
    for step, comp in ix.wired_steps():
        if not comp.image:
            yield Diagnostic(
                "PC010",
                f"component '{comp.name}' has no image; "
                f"{target.name} runs every step in a container",
                comp.location or ix.where(step),
                "build an image with pipecast and your module installed and "
                "pass image=... to @dsl.component",
                step=step.id,
            )


def step_limits(ix: Index, target: Target) -> Found:
    """PC009: per-step counts (inputs, outputs, arguments, env) and the step id's length."""
    limits = target.limits
    for step, comp in ix.wired_steps():
        counts = (
            (
                "artifact inputs",
                sum(1 for i in comp.inputs if i.kind == "artifact"),
                limits.max_inputs_per_step,
                "merge inputs into one artifact directory",
            ),
            (
                "outputs",
                len(comp.outputs),
                limits.max_outputs_per_step,
                "write several results into one output directory",
            ),
            (
                "container arguments",
                len(comp.args),
                limits.max_arg_count,
                "pass fewer arguments, e.g. a config file artifact",
            ),
            ("environment variables", len(step.env), limits.max_env_vars, "pass fewer variables"),
        )
        for what, n, limit, hint in counts:
            if limit is not None and n > limit:
                yield Diagnostic(
                    "PC009",
                    f"step '{step.id}': {n} {what} exceed {target.name}'s limit of {limit}",
                    ix.where(step),
                    hint,
                    step=step.id,
                )
        longest = limits.step_id_max_length
        if longest is not None and len(step.id) > longest:
            yield Diagnostic(
                "PC009",
                f"step id '{step.id}' is longer than {longest} characters ({target.name})",
                ix.where(step),
                "choose a shorter .set_name()",
                step=step.id,
            )


def argument_lengths(ix: Index, target: Target) -> Found:
    """PC009: each container argument, as the target renders it, fits the service's limit."""
    limit = target.limits.max_arg_length
    if limit is None:
        return
    for step, comp in ix.wired_steps():
        for arg in comp.args:
            text = _render_for_length(arg, step, target.limits.placeholder_text)
            if len(text) > limit:
                shown = text if len(text) <= 60 else text[:57] + "..."
                yield Diagnostic(
                    "PC009",
                    f"step '{step.id}': argument '{shown}' is {len(text)} characters; "
                    f"{target.name} allows {limit}",
                    ix.where(step),
                    "pass long values in an input artifact instead",
                    step=step.id,
                )


def _render_for_length(arg: tuple[Any, ...], step: StepSpec, templates: Mapping[str, str]) -> str:
    parts: list[str] = []
    for part in arg:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, Placeholder):
            binding = step.argument(part.name)
            if part.kind == "value" and isinstance(binding, Constant):
                parts.append(render_value(binding.value))
            else:
                parts.append(templates.get(part.kind, "").format(name=part.name, step=step.id))
    return "".join(parts)


TargetCheck = Callable[[Index, Target], Found]

# every check of a target's declared capabilities and limits
TARGET_CHECKS: tuple[TargetCheck, ...] = (
    step_count,
    features,
    images_present,
    step_limits,
    argument_lengths,
)
