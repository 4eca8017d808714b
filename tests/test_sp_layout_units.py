"""The pieces of the series-parallel layout (``_sp_layout._Builder``) on small graphs.

The layout as a whole is tested in test_stepfunctions.py (every edge enforced, added waits
reported); here the layering (one parallel block per topological generation, in document order)
and the candidate cuts are pinned exactly on graphs small enough to check by hand.
"""

from __future__ import annotations

import networkx as nx

from pipecast.compilers._sp_layout import Parallel, Sequence, _Builder


def _builder(
    edges: list[tuple[str, str]], weights: dict[str, float]
) -> tuple[_Builder, tuple[str, ...]]:
    """A builder set up as ``layout`` sets it up: lexicographic topological order, ancestor
    bit sets, durations."""
    g = nx.DiGraph(edges)
    order = list(nx.lexicographical_topological_sort(g))
    index = {n: i for i, n in enumerate(order)}
    ancestors: dict[str, int] = {}
    for node in order:
        mask = 0
        for p in g.predecessors(node):
            mask |= ancestors[p] | (1 << index[p])
        ancestors[node] = mask
    return _Builder(g, order, index, ancestors, {n: weights[n] for n in order}), tuple(order)


# a1 → b2, z1 → a2, a1 → a2, then both → m: document order a1, b2, z1, a2, m (not by name)
EDGES = [("a1", "b2"), ("z1", "a2"), ("a1", "a2"), ("b2", "m"), ("a2", "m")]
WEIGHTS = {"a1": 2.0, "z1": 1.0, "b2": 1.0, "a2": 3.0, "m": 1.0}


def test_layering_runs_each_generation_in_parallel_in_document_order() -> None:
    builder, nodes = _builder(EDGES, WEIGHTS)
    assert nodes == ("a1", "b2", "z1", "a2", "m")
    plan = builder._layering(nodes)
    assert plan.sequence == Sequence(
        (
            Parallel((Sequence(("a1",)), Sequence(("z1",)))),
            Parallel((Sequence(("b2",)), Sequence(("a2",)))),  # document order, not by name
            "m",  # a generation of one step is the step itself
        )
    )
    assert plan.added == {"b2": {"z1"}}  # b2 now waits for all of the generation before it
    assert plan.makespan == 2.0 + 3.0 + 1.0  # the longest step of each generation


def test_the_cheapest_cuts_first_with_their_heads_closed_under_predecessors() -> None:
    builder, nodes = _builder(EDGES, WEIGHTS)
    cuts = builder._cheapest_cuts(nodes, 10)
    # prefixes of the order, steps done by each finish time, steps due before each start time;
    # cost: critical path of the head + of the tail, ties by the head's bit set
    assert cuts == [
        (("a1", "z1"), ("b2", "a2", "m")),  # 2 + 4
        (("a1", "b2", "z1", "a2"), ("m",)),  # 5 + 1
        (("a1",), ("b2", "z1", "a2", "m")),  # 2 + 5
        (("z1",), ("a1", "b2", "a2", "m")),  # 1 + 6
        (("a1", "b2", "z1"), ("a2", "m")),  # 3 + 4
        (("a1", "z1", "a2"), ("b2", "m")),  # 5 + 2
        (("a1", "b2"), ("z1", "a2", "m")),  # 3 + 5
    ]
    for head, _ in cuts:
        assert all(p in head for n in head for p in builder.graph.predecessors(n))
    assert builder._cheapest_cuts(nodes, 2) == cuts[:2]
