"""The graph compiler: the IR as an ``nx.DiGraph``, every check, and the passes targets share.

``check(spec, target, config)`` runs the table of checks (``_checks``: one small function per
rule) and the target's own config-dependent ``check``, collects every problem (stable code, the
user's file:line, a hint) and raises one :class:`~pipecast.errors.PipelineError` holding all of
them; warnings ride along on the returned :class:`CheckedPipeline`, together with what the
target needs computed once: the deterministic order and the target's placement of steps on
instance types. Checks are linear in steps + edges.
The codes and their meanings are in :data:`pipecast.errors.CODES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import networkx as nx

from pipecast.dsl.spec import OutputRef, PipelineSpec, StepSpec, binding_upstream
from pipecast.errors import Diagnostic, PipelineError

from ._checks import SPEC_CHECKS, TARGET_CHECKS, Index
from ._features import project
from ._flow_checks import FLOW_CHECKS, FLOW_TARGET_CHECKS, group_members

if TYPE_CHECKING:
    from pipecast.config import Config

    from .target import Target

__all__ = ["CheckedPipeline", "build_graph", "check", "critical_path", "diagnose"]


def build_graph(spec: PipelineSpec) -> nx.DiGraph:
    """Nodes: step ids (attribute ``spec``; ``groups``: the ids of the control-flow groups
    around it, outermost first); edges: ``data`` (outputs read) and/or ``explicit``, and for
    control flow ``control`` (a condition or loop reads the upstream output) and ``exit`` (an
    exit task waits for the steps its handler guards, whatever their outcome).

    References to unknown steps are left out here; :func:`diagnose` reports them.
    """
    graph = nx.DiGraph(name=spec.name)
    for step in spec.steps:
        graph.add_node(step.id, spec=step, groups=tuple(g.id for g in spec.groups_of(step)))
    for step in spec.steps:
        for _, binding in step.arguments:
            for ref in binding_upstream(binding):
                if ref.step not in graph:
                    continue
                data = graph.get_edge_data(ref.step, step.id) or {}
                outputs = tuple(sorted({*data.get("outputs", ()), ref.output}))
                graph.add_edge(
                    ref.step,
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
    if spec.groups:
        _group_edges(graph, spec)
    return graph


def _group_edges(graph: nx.DiGraph, spec: PipelineSpec) -> None:
    """Edges control flow implies: the producer of a value a condition compares or a loop
    iterates over precedes every step of the group; an exit task follows every step its
    handler guards."""
    members = group_members(spec)
    for group in spec.groups:
        refs: list[OutputRef] = []
        for c in (*group.when, *group.unless):
            refs += [*binding_upstream(c.left), *binding_upstream(c.right)]
        if group.items is not None:
            refs += binding_upstream(group.items)
        for ref in refs:
            for member in members.get(group.id, ()):
                if (
                    ref.step in graph
                    and ref.step != member
                    and not graph.has_edge(ref.step, member)
                ):
                    graph.add_edge(ref.step, member, control=True, data=False, explicit=False)
        exit_step = group.exit_step
        if group.kind == "exit_handler" and exit_step in graph:
            for member in members.get(group.id, ()):
                if member != exit_step:
                    data = graph.get_edge_data(member, exit_step) or {}
                    graph.add_edge(
                        member,
                        exit_step,
                        exit=True,
                        data=data.get("data", False),
                        outputs=data.get("outputs", ()),
                        explicit=data.get("explicit", False),
                    )


@dataclass(frozen=True)
class CheckedPipeline:
    """A pipeline that passed every check, with everything a target needs, computed once:
    spec, graph, deterministic order, warnings, and the target's ``placement`` (step id →
    instance type, for targets that place steps; empty otherwise)."""

    spec: PipelineSpec
    graph: nx.DiGraph
    order: tuple[str, ...]
    warnings: tuple[Diagnostic, ...] = ()
    target: str | None = None
    placement: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def steps(self) -> list[StepSpec]:
        """Steps in topological order with a name tie-break (the order documents use)."""
        return [self.spec.step(s) for s in self.order]

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
    spec: PipelineSpec, target: Target | None = None, config: Config | None = None
) -> CheckedPipeline:
    """Run every check (for ``target`` too, when given: its capabilities, limits and placement,
    and, with ``config``, its own ``check``); raise one PipelineError with all errors, or return
    the checked pipeline."""
    dropped: list[Diagnostic] = []
    if target is not None:  # what this target compiles: settings kept elsewhere are left out
        spec, dropped = project(spec, target)
    diagnostics, graph = diagnose(spec, [target] if target else [])
    diagnostics.extend(dropped)
    placement: Mapping[str, str] = {}
    if target is not None and not _has_errors(diagnostics):
        if target.place is not None:
            placement, problems = target.place(spec)
            diagnostics.extend(problems)
        if target.check is not None and config is not None:
            diagnostics.extend(target.check(spec, config))
    if _has_errors(diagnostics):
        raise PipelineError(diagnostics, pipeline=spec.name)
    order = tuple(nx.lexicographical_topological_sort(graph))
    warnings = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
    name = target.name if target else None
    return CheckedPipeline(spec, graph, order, warnings, name, MappingProxyType(dict(placement)))


def _has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def diagnose(
    spec: PipelineSpec, targets: list[Target] | tuple[Target, ...] = ()
) -> tuple[list[Diagnostic], nx.DiGraph]:
    """All diagnostics for ``spec``: the target-independent checks, cycles, and each target's
    capability and limit checks (:mod:`pipecast.compilers._checks`)."""
    index = Index.of(spec)
    out = [d for rule in (*SPEC_CHECKS, *FLOW_CHECKS) for d in rule(index)]
    graph = build_graph(spec)
    out.extend(_cycles(graph, index))
    for target in targets:
        out.extend(d for rule in (*TARGET_CHECKS, *FLOW_TARGET_CHECKS) for d in rule(index, target))
    return out, graph


def _cycles(graph: nx.DiGraph, ix: Index) -> list[Diagnostic]:
    """PC001, with the cycle's path (one per strongly connected component)."""
    found = []
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        if len(component) == 1:
            (node,) = component
            if not graph.has_edge(node, node):
                continue
        cycle = [u for u, _ in nx.find_cycle(graph.subgraph(component), source=min(component))]
        found.append(
            Diagnostic(
                "PC001",
                f"cycle: {' → '.join([*cycle, cycle[0]])}",
                ix.where(ix.spec.step(cycle[0])),
                "remove one of the .after() calls or data connections in the cycle",
            )
        )
    return found
