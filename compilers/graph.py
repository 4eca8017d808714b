"""The graph compiler: the IR as an ``nx.DiGraph``, every check, and the passes targets share.

``check(spec, target, config)`` collects every problem (stable code, the user's file:line, a
hint) and raises one :class:`~pipecast.errors.PipelineError` holding all of them; warnings ride
along on the returned :class:`CheckedPipeline`. Checks are linear in steps + edges; the transitive
reduction (not linear) is computed lazily, only by targets that need it.

Diagnostic codes (stable):
    PC001 cycle · PC002 unbound input · PC003 type mismatch · PC004 unknown reference ·
    PC005 duplicate or illegal name · PC006 unsatisfiable resources (targets) ·
    PC007 spot wait shorter than the timeout · PC008 feature the target cannot express ·
    PC009 target limit · PC010 image without tag or digest (``:latest`` warns) ·
    PC011 bad value · PC012 env value that looks like a secret (warning) ·
    PC013 the compiled document fails the service's checks (``pipecast._api``)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx

from pipecast.dsl._component import value_matches
from pipecast.dsl._spec import (
    ARTIFACT_TYPES,
    PARAMETER_TYPES,
    ComponentSpec,
    Constant,
    ImporterRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    Placeholder,
    StepSpec,
    render_value,
)
from pipecast.errors import Diagnostic, PipelineError, SourceLocation

from ._target import FEATURES, Target

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = ["CheckedPipeline", "build_graph", "check", "critical_path", "diagnose"]

# names that usually carry credentials: a TOKEN/SECRET/PASSWD word, PASSWORD anywhere, *_KEY
# (words, so that TOKENIZERS_PARALLELISM or MONKEY do not warn)
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWD)S?(?:_|$)|PASSWORD|(?:^|_)KEY$", re.IGNORECASE
)
STEP_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DIGEST_RE = re.compile(r"@sha256:[0-9a-f]{64}$")


def build_graph(spec: PipelineSpec) -> nx.DiGraph:
    """Nodes: step ids (attribute ``spec``); edges: ``data`` (outputs read) and/or ``explicit``.

    References to unknown steps are left out here; :func:`diagnose` reports them.
    """
    graph = nx.DiGraph(name=spec.name)
    for step in spec.steps:
        graph.add_node(step.id, spec=step)
    for step in spec.steps:
        for _, binding in step.arguments:
            if isinstance(binding, OutputRef) and binding.step in graph:
                data = graph.get_edge_data(binding.step, step.id) or {}
                outputs = tuple(sorted({*data.get("outputs", ()), binding.output}))
                graph.add_edge(
                    binding.step,
                    step.id,
                    data=True,
                    outputs=outputs,
                    explicit=data.get("explicit", False),
                )
        for upstream in step.after:
            if upstream in graph:
                data = graph.get_edge_data(upstream, step.id) or {}
                graph.add_edge(
                    upstream,
                    step.id,
                    explicit=True,
                    data=data.get("data", False),
                    outputs=data.get("outputs", ()),
                )
    return graph


@dataclass(frozen=True)
class CheckedPipeline:
    """A pipeline that passed every check: spec, graph, deterministic order, warnings."""

    spec: PipelineSpec
    graph: nx.DiGraph
    order: tuple[str, ...]
    warnings: tuple[Diagnostic, ...] = ()
    target: str | None = None

    @cached_property
    def reduced(self) -> nx.DiGraph:
        """Transitive reduction: the minimal edges that keep the same ordering."""
        reduced = nx.transitive_reduction(self.graph)
        reduced.add_nodes_from(self.graph.nodes(data=True))
        for u, v in reduced.edges:
            reduced.edges[u, v].update(self.graph.edges[u, v])
        return reduced

    def steps(self) -> list[StepSpec]:
        """Steps in topological order with a name tie-break (the order documents use)."""
        return [self.spec.step(s) for s in self.order]

    def component(self, step: StepSpec) -> ComponentSpec:
        return self.spec.component(step.component)

    def predecessors(self, step_id: str) -> list[str]:
        return sorted(self.graph.predecessors(step_id))

    def explicit_only_predecessors(self, step_id: str) -> list[str]:
        """Upstream steps this one waits for without reading their data, and that no other path
        already orders before it (what the transitive reduction would keep).

        Only ``.after()`` edges are examined, each with a search bounded by topological
        position, so this stays cheap where a full transitive reduction would be O(n·m).
        """
        position = self._positions()
        kept = []
        for u in sorted(self.graph.predecessors(step_id)):
            if self.graph.edges[u, step_id].get("data"):
                continue
            if not self._other_path(u, step_id, position):
                kept.append(u)
        return kept

    def _positions(self) -> dict[str, int]:
        cached: dict[str, int] | None = self.__dict__.get("_position")
        if cached is None:
            cached = {s: i for i, s in enumerate(self.order)}
            self.__dict__["_position"] = cached
        return cached

    def _other_path(self, u: str, v: str, position: dict[str, int]) -> bool:
        """Whether ``v`` is reachable from ``u`` without the direct edge ``u → v``."""
        limit = position[v]
        stack = [w for w in self.graph.successors(u) if w != v and position[w] < limit]
        seen = set(stack)
        while stack:
            node = stack.pop()
            for w in self.graph.successors(node):
                if w == v:
                    return True
                if w not in seen and position[w] < limit:
                    seen.add(w)
                    stack.append(w)
        return False


def critical_path(
    graph: nx.DiGraph, durations: Mapping[str, float] | None = None
) -> tuple[float, list[str]]:
    """Length and steps of the longest path, weighting each step by its duration (default 1).

    Linear in steps + edges (one pass in topological order).
    """
    weight = dict.fromkeys(graph.nodes, 1.0)
    if durations:
        weight.update({k: float(v) for k, v in durations.items() if k in weight})
    best: dict[str, float] = {}
    prev: dict[str, str | None] = {}
    for node in nx.lexicographical_topological_sort(graph):
        preds = list(graph.predecessors(node))
        top = max(preds, key=lambda p: (best[p], p), default=None)
        best[node] = weight[node] + (best[top] if top is not None else 0.0)
        prev[node] = top
    if not best:
        return 0.0, []
    end = max(best, key=lambda n: (best[n], n))
    path = [end]
    while (p := prev[path[-1]]) is not None:
        path.append(p)
    return best[end], path[::-1]


def check(
    spec: PipelineSpec,
    target: Target | None = None,
    config: Config | None = None,
    *,
    targets: Iterable[Target] = (),
) -> CheckedPipeline:
    """Run every check; raise one PipelineError with all errors, or return the checked pipeline."""
    all_targets = [t for t in ([target] if target else []) + list(targets)]
    diagnostics, graph = diagnose(spec, all_targets)
    order: tuple[str, ...] = ()
    if not any(d.severity == "error" for d in diagnostics):
        order = tuple(nx.lexicographical_topological_sort(graph))
    checked = CheckedPipeline(spec, graph, order, target=target.name if target else None)
    if not any(d.severity == "error" for d in diagnostics) and config is not None:
        for t in all_targets:
            if t.check is not None:
                diagnostics.extend(t.check(checked, config))
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise PipelineError(diagnostics, pipeline=spec.name)
    warnings = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
    return CheckedPipeline(spec, graph, order, warnings, checked.target)


def diagnose(
    spec: PipelineSpec, targets: Iterable[Target] = ()
) -> tuple[list[Diagnostic], nx.DiGraph]:
    """All diagnostics for ``spec`` (target-independent ones plus each target's data checks)."""
    out: list[Diagnostic] = []
    _check_names(spec, out)
    _check_components(spec, out)
    _check_bindings(spec, out)
    graph = build_graph(spec)
    _check_cycles(graph, spec, out)
    for step in spec.steps:
        _check_step_settings(spec, step, out)
    for target in targets:
        _check_target(spec, target, out)
    return out, graph


# ----- individual checks -------------------------------------------------------------------------


def _loc(step: StepSpec | None, spec: PipelineSpec) -> SourceLocation | None:
    return step.location if step is not None and step.location else spec.location


def _check_names(spec: PipelineSpec, out: list[Diagnostic]) -> None:
    seen: dict[str, str] = {}
    for kind, name, loc in (
        *(("parameter", p.name, p.location) for p in spec.parameters),
        *(("importer", i.id, i.location) for i in spec.importers),
        *(("step", s.id, s.location) for s in spec.steps),
    ):
        legal = _NAME_RE.fullmatch(name) if kind == "parameter" else STEP_ID_RE.fullmatch(name)
        if not legal:
            out.append(
                Diagnostic(
                    "PC005",
                    f"{kind} name '{name}' is not valid",
                    loc or spec.location,
                    "step ids: lowercase letters, digits, hyphens, starting with a "
                    "letter; parameters: Python identifiers",
                )
            )
        if kind != "parameter":
            if name in seen:
                out.append(
                    Diagnostic(
                        "PC005",
                        f"duplicate id '{name}' ({seen[name]} and {kind})",
                        loc or spec.location,
                        "give each step a unique .set_name()",
                    )
                )
            seen[name] = kind
    names = [p.name for p in spec.parameters]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        out.append(
            Diagnostic(
                "PC005",
                f"duplicate pipeline parameter '{dup}'",
                spec.location,
                "rename one of them",
            )
        )
    for p in spec.parameters:
        if p.type not in PARAMETER_TYPES:
            out.append(
                Diagnostic(
                    "PC003",
                    f"parameter '{p.name}' has unknown type '{p.type}'",
                    spec.location,
                    f"one of {', '.join(PARAMETER_TYPES)}",
                )
            )
        elif p.optional and not value_matches(p.type, p.default):
            out.append(
                Diagnostic(
                    "PC003",
                    f"default {p.default!r} of parameter '{p.name}' is not a {p.type}",
                    spec.location,
                    f"give a {p.type} default",
                )
            )


def _check_components(spec: PipelineSpec, out: list[Diagnostic]) -> None:
    for comp in spec.components:
        for inp in comp.inputs:
            types = ARTIFACT_TYPES if inp.kind == "artifact" else PARAMETER_TYPES
            if inp.type not in types:
                out.append(
                    Diagnostic(
                        "PC003",
                        f"input '{inp.name}' of component '{comp.name}' "
                        f"has unknown type '{inp.type}'",
                        comp.location,
                        f"one of {', '.join(types)}",
                    )
                )
        for o in comp.outputs:
            if o.type not in ARTIFACT_TYPES:
                out.append(
                    Diagnostic(
                        "PC003",
                        f"output '{o.name}' of component '{comp.name}' has unknown type '{o.type}'",
                        comp.location,
                        f"one of {', '.join(ARTIFACT_TYPES)}",
                    )
                )
        _check_image(comp, out)


def _check_image(comp: ComponentSpec, out: list[Diagnostic]) -> None:
    image = comp.image
    if not image:
        return  # reported per target (requires_image) in _check_target
    last = image.rsplit("/", 1)[-1]
    if _DIGEST_RE.search(image):
        return
    if ":" not in last:
        out.append(
            Diagnostic(
                "PC010",
                f"image '{image}' of component '{comp.name}' has no tag or digest",
                comp.location,
                "pin a version (':1.2.3') or a digest ('@sha256:...') so every "
                "run uses the same code",
            )
        )
    elif last.endswith(":latest"):
        out.append(
            Diagnostic(
                "PC010",
                f"image '{image}' of component '{comp.name}' uses ':latest'",
                comp.location,
                "pin a version so runs are reproducible",
                severity="warning",
            )
        )


def _check_bindings(spec: PipelineSpec, out: list[Diagnostic]) -> None:
    comps = {c.name: c for c in spec.components}
    steps = {s.id: s for s in spec.steps}
    params = {p.name: p for p in spec.parameters}
    importers = {i.id: i for i in spec.importers}
    for imp in spec.importers:
        if imp.artifact_type not in ARTIFACT_TYPES:
            out.append(
                Diagnostic(
                    "PC003",
                    f"importer '{imp.id}' has unknown artifact type '{imp.artifact_type}'",
                    imp.location or spec.location,
                    f"one of {', '.join(ARTIFACT_TYPES)}",
                )
            )
        if isinstance(imp.uri, ParameterRef):
            p = params.get(imp.uri.name)
            if p is None:
                out.append(
                    Diagnostic(
                        "PC004",
                        f"importer '{imp.id}' uses unknown parameter '{imp.uri.name}'",
                        imp.location or spec.location,
                        "declare it as a pipeline parameter",
                    )
                )
            elif p.type != "str":
                out.append(
                    Diagnostic(
                        "PC003",
                        f"importer '{imp.id}' uri parameter '{p.name}' is {p.type}, not str",
                        imp.location,
                        "declare it as str",
                    )
                )
    for step in spec.steps:
        loc = _loc(step, spec)
        comp = comps.get(step.component)
        if comp is None:
            out.append(
                Diagnostic(
                    "PC004",
                    f"step '{step.id}' uses unknown component '{step.component}'",
                    loc,
                    "add the component to the spec",
                )
            )
            continue
        bound = {name for name, _ in step.arguments}
        for name, binding in step.arguments:
            inp = comp.input(name)
            if inp is None:
                out.append(
                    Diagnostic(
                        "PC004",
                        f"step '{step.id}' passes unknown input '{name}'",
                        loc,
                        f"'{comp.name}' takes: "
                        f"{', '.join(i.name for i in comp.inputs) or 'nothing'}",
                    )
                )
                continue
            where = f"input '{name}' of step '{step.id}'"
            if isinstance(binding, Constant):
                if inp.kind == "artifact":
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} is an artifact, got a constant",
                            loc,
                            "use dsl.importer(uri=...).output",
                        )
                    )
                elif not value_matches(inp.type, binding.value):
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} is {inp.type}, got {binding.value!r}",
                            loc,
                            f"pass a {inp.type}",
                        )
                    )
            elif isinstance(binding, ParameterRef):
                p = params.get(binding.name)
                if p is None:
                    out.append(
                        Diagnostic(
                            "PC004",
                            f"{where} uses unknown parameter '{binding.name}'",
                            loc,
                            "declare it as a pipeline parameter",
                        )
                    )
                elif inp.kind == "artifact":
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} is an artifact, got parameter '{p.name}'",
                            loc,
                            "use dsl.importer(uri=param)",
                        )
                    )
                elif p.type != inp.type and not (p.type == "int" and inp.type == "float"):
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} is {inp.type}, parameter '{p.name}' is {p.type}",
                            loc,
                            f"declare '{p.name}' as {inp.type}",
                        )
                    )
            else:
                if inp.kind != "artifact":
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} is a {inp.type} parameter, got an artifact",
                            loc,
                            "pass a value or a parameter",
                        )
                    )
                    continue
                if isinstance(binding, ImporterRef):
                    found = importers.get(binding.importer)
                    if found is None:
                        out.append(
                            Diagnostic(
                                "PC004",
                                f"{where} uses unknown importer '{binding.importer}'",
                                loc,
                                "declare it",
                            )
                        )
                        continue
                    produced = found.artifact_type
                else:
                    up = steps.get(binding.step)
                    up_comp = comps.get(up.component) if up else None
                    if up is None or up_comp is None:
                        out.append(
                            Diagnostic(
                                "PC004",
                                f"{where} reads from unknown step '{binding.step}'",
                                loc,
                                "check the step id",
                            )
                        )
                        continue
                    up_out = up_comp.output(binding.output)
                    if up_out is None:
                        out.append(
                            Diagnostic(
                                "PC004",
                                f"{where} reads unknown output "
                                f"'{binding.output}' of step '{up.id}'",
                                loc,
                                f"outputs: {', '.join(o.name for o in up_comp.outputs)}",
                            )
                        )
                        continue
                    produced = up_out.type
                if "Artifact" not in (inp.type, produced) and produced != inp.type:
                    out.append(
                        Diagnostic(
                            "PC003",
                            f"{where} expects {inp.type}, got {produced}",
                            loc,
                            f"connect an output of type {inp.type}",
                        )
                    )
        for inp in comp.inputs:
            if inp.name not in bound:
                out.append(
                    Diagnostic(
                        "PC002",
                        f"input '{inp.name}' of step '{step.id}' is not bound",
                        loc,
                        f"pass {inp.name}=... when calling '{comp.name}'",
                    )
                )
        for after_id in step.after:
            if after_id not in steps:
                out.append(
                    Diagnostic(
                        "PC004",
                        f"step '{step.id}' runs after unknown step '{after_id}'",
                        loc,
                        "check the step id",
                    )
                )


def _check_cycles(graph: nx.DiGraph, spec: PipelineSpec, out: list[Diagnostic]) -> None:
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        if len(component) == 1:
            (node,) = component
            if not graph.has_edge(node, node):
                continue
        sub = graph.subgraph(component)
        start = min(component)
        cycle = [u for u, _ in nx.find_cycle(sub, source=start)]
        path = " → ".join([*cycle, cycle[0]])
        step = spec.step(cycle[0])
        out.append(
            Diagnostic(
                "PC001",
                f"cycle: {path}",
                _loc(step, spec),
                "remove one of the .after() calls or data connections in the cycle",
            )
        )


def _check_step_settings(spec: PipelineSpec, step: StepSpec, out: list[Diagnostic]) -> None:
    loc = _loc(step, spec)
    spot, timeout = step.spot, step.timeout_seconds
    if spot is not None and timeout is not None and spot.max_wait_seconds < timeout:
        out.append(
            Diagnostic(
                "PC007",
                f"step '{step.id}': spot max_wait ({spot.max_wait_seconds}s) is "
                f"shorter than its timeout ({timeout}s)",
                loc,
                "max_wait covers waiting for capacity plus running: make it at least the "
                "timeout, e.g. Spot(max_wait='2h') with .set_timeout('1h')",
            )
        )
    for key, _ in step.env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            out.append(
                Diagnostic(
                    "PC011",
                    f"step '{step.id}': env name '{key}' is not valid",
                    loc,
                    "use letters, digits and _, not starting with a digit",
                )
            )
        elif _SECRET_NAME.search(key):
            out.append(
                Diagnostic(
                    "PC012",
                    f"step '{step.id}': env '{key}' looks like a secret; its value is stored "
                    "in plain text in every compiled document (and in code review)",
                    loc,
                    "pass a reference instead (an AWS Secrets Manager or SSM parameter name the "
                    "step reads at run time, or a Kubernetes secret), not the secret itself",
                    severity="warning",
                    step=step.id,
                )
            )


def _used_features(spec: PipelineSpec, step: StepSpec) -> dict[str, bool]:
    comp = spec.component(step.component)
    manifest = any(
        isinstance(b, ImporterRef)
        and (imp := spec.importer(b.importer)) is not None
        and imp.manifest
        for _, b in step.arguments
    )
    return {
        "spot": step.spot is not None,
        "gpu": step.resources is not None and step.resources.gpu > 0,
        "retry": step.retry is not None and step.retry.max_attempts > 1,
        "caching": step.caching is not None and step.caching.enabled,
        "timeout": step.timeout_seconds is not None,
        "env": bool(step.env),
        "manifest_inputs": manifest,
        "python_components": comp.python_function is not None,
        "instance_type": step.instance_type is not None,
        "disk": step.resources is not None and step.resources.disk is not None,
    }


def _check_target(spec: PipelineSpec, target: Target, out: list[Diagnostic]) -> None:
    caps, limits = target.capabilities, target.limits
    comps = {c.name: c for c in spec.components}
    if limits.max_steps is not None and len(spec.steps) > limits.max_steps:
        out.append(
            Diagnostic(
                "PC009",
                f"{len(spec.steps)} steps exceed {target.name}'s limit of {limits.max_steps}",
                spec.location,
                "split the pipeline into smaller ones",
            )
        )
    for step in spec.steps:
        comp = comps.get(step.component)
        if comp is None:
            continue
        loc = _loc(step, spec)
        for feature, used in _used_features(spec, step).items():
            if used and not caps.supports(feature):
                out.append(
                    Diagnostic(
                        "PC008",
                        f"step '{step.id}': {feature.replace('_', ' ')} "
                        f"({FEATURES[feature]}) is not expressible on "
                        f"{target.name}",
                        loc,
                        f"remove it for {target.name}, or compile for a target that supports it",
                        step=step.id,
                    )
                )
        if caps.requires_image and not comp.image:
            out.append(
                Diagnostic(
                    "PC010",
                    f"component '{comp.name}' has no image; "
                    f"{target.name} runs every step in a container",
                    comp.location or loc,
                    "build an image with pipecast and your module installed and "
                    "pass image=... to @dsl.component",
                    step=step.id,
                )
            )
        _check_limits(spec, step, comp, target, out)


def _check_limits(
    spec: PipelineSpec, step: StepSpec, comp: ComponentSpec, target: Target, out: list[Diagnostic]
) -> None:
    limits = target.limits
    loc = _loc(step, spec)
    n_in = sum(1 for i in comp.inputs if i.kind == "artifact")

    def over(what: str, n: int, limit: int | None, hint: str) -> None:
        if limit is not None and n > limit:
            out.append(
                Diagnostic(
                    "PC009",
                    f"step '{step.id}': {n} {what} exceed {target.name}'s limit of {limit}",
                    loc,
                    hint,
                    step=step.id,
                )
            )

    over(
        "artifact inputs",
        n_in,
        limits.max_inputs_per_step,
        "merge inputs into one artifact directory",
    )
    over(
        "outputs",
        len(comp.outputs),
        limits.max_outputs_per_step,
        "write several results into one output directory",
    )
    over(
        "container arguments",
        len(comp.args),
        limits.max_arg_count,
        "pass fewer arguments, e.g. a config file artifact",
    )
    over("environment variables", len(step.env), limits.max_env_vars, "pass fewer variables")
    if limits.step_id_max_length is not None and len(step.id) > limits.step_id_max_length:
        out.append(
            Diagnostic(
                "PC009",
                f"step id '{step.id}' is longer than "
                f"{limits.step_id_max_length} characters ({target.name})",
                loc,
                "choose a shorter .set_name()",
                step=step.id,
            )
        )
    if limits.max_arg_length is not None:
        for arg in comp.args:
            text = _render_for_length(arg, step, limits.placeholder_text)
            if len(text) > limits.max_arg_length:
                shown = text if len(text) <= 60 else text[:57] + "..."
                out.append(
                    Diagnostic(
                        "PC009",
                        f"step '{step.id}': argument '{shown}' is "
                        f"{len(text)} characters; {target.name} allows "
                        f"{limits.max_arg_length}",
                        loc,
                        "pass long values in an input artifact instead",
                        step=step.id,
                    )
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
