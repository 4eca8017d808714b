"""What Step Functions cannot express of control flow, and the scopes the flow layout nests:
each group is one node of its parent's graph (``_sfn_flow`` lays each scope out like a DAG).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

from pipecast.dsl.spec import CollectedRef, GroupSpec, OutputRef, StepSpec
from pipecast.errors import Diagnostic

from . import aws_jobs as jobs

if TYPE_CHECKING:
    from pipecast.dsl.spec import PipelineSpec

__all__ = [
    "distributed",
    "flow_diagnostics",
    "representative",
    "scope_graph",
    "shared",
]


def distributed(spec: PipelineSpec, group: GroupSpec) -> bool:
    """A loop over a step's list output runs as a Distributed Map (items read from S3)."""
    return group.kind == "loop" and isinstance(group.items, OutputRef)


# ----- what the target refuses -------------------------------------------------------------------


def flow_diagnostics(spec: PipelineSpec) -> list[Diagnostic]:
    """PC008 for the control-flow uses Step Functions cannot express faithfully."""
    found: list[Diagnostic] = []
    loops = {s.id: [g.id for g in spec.groups_of(s) if g.kind == "loop"] for s in spec.steps}
    for step in spec.steps:
        for name, binding in step.arguments:
            if not isinstance(binding, CollectedRef) or binding.step not in loops:
                continue
            producer = spec.step(binding.step)
            extra = len(loops[producer.id]) - shared(loops[producer.id], loops[step.id])
            if jobs.job_kind(producer) == "training":
                why = "the output of a spot step (a Training job puts its job name in the URI)"
            elif extra > 1:
                why = "an output collected across more than one loop level"
            else:
                continue
            found.append(
                Diagnostic(
                    "PC008",
                    f"step '{step.id}': input '{name}' is dsl.Collected of {why}; this is not "
                    "expressible on stepfunctions; kubeflow and the local runner can",
                    step.location,
                    "collect from a step without spot, or collect one loop level at a time",
                    step=step.id,
                )
            )
    for group in spec.groups:
        if group.kind == "exit_handler" and group.exit_step in loops and loops[group.exit_step]:
            found.append(
                Diagnostic(
                    "PC008",
                    f"exit task '{group.exit_step}' is inside a dsl.ParallelFor; an exit handler "
                    "in a loop is not expressible on stepfunctions; kubeflow and the local "
                    "runner can",
                    group.location,
                    "put the dsl.ExitHandler around the loop",
                )
            )
    for scope in [None, *(g.id for g in spec.groups)]:
        graph = scope_graph(spec, _graph_of(spec), scope)
        if not nx.is_directed_acyclic_graph(graph):
            cycle = " → ".join(u for u, _ in nx.find_cycle(graph))
            found.append(
                Diagnostic(
                    "PC008",
                    f"{cycle}: a step both feeds a group and reads what the group produced; "
                    "Step Functions runs a group as one state, so this is not expressible on "
                    "stepfunctions; kubeflow and the local runner can",
                    None,
                    "move the step into the group, or split the group in two",
                )
            )
    return found


def _graph_of(spec: PipelineSpec) -> nx.DiGraph:
    from .graph import build_graph

    return build_graph(spec)


def shared(mine: list[str], theirs: list[str]) -> int:
    shared = 0
    for a, b in zip(mine, theirs, strict=False):
        if a != b:
            break
        shared += 1
    return shared


def _group_node(group_id: str) -> str:
    return "@" + group_id  # step ids are [a-z0-9-], so never equal to a group node


def representative(spec: PipelineSpec, step: StepSpec, scope: str | None) -> str | None:
    """The child of ``scope`` that holds ``step`` (the step, or a group node), None outside."""
    chain = [g.id for g in spec.groups_of(step)]
    if scope is None:
        return _group_node(chain[0]) if chain else step.id
    if scope not in chain:
        return None
    at = chain.index(scope)
    return step.id if at == len(chain) - 1 else _group_node(chain[at + 1])


def scope_graph(spec: PipelineSpec, graph: nx.DiGraph, scope: str | None) -> nx.DiGraph:
    """The graph of one scope: its steps and child groups, with every edge between them."""
    reps = {s.id: representative(spec, s, scope) for s in spec.steps}
    out = nx.DiGraph()
    out.add_nodes_from(sorted({r for r in reps.values() if r is not None}))
    for u, v in graph.edges:
        ru, rv = reps.get(u), reps.get(v)
        if ru is not None and rv is not None and ru != rv:
            out.add_edge(ru, rv)
    return out
