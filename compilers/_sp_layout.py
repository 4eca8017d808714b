"""Lay a DAG out as nested sequences and parallel blocks (what ASL can express).

Exact where possible: a series split is taken only where every step before it is an ancestor of
every step after it, and independent parts (weakly connected components) run in parallel, so a
series-parallel DAG comes out with no added precedence at all. A block that is not
series-parallel is cut where ``critical path(before) + critical path(after)`` is smallest (step
durations optional, default 1), and the precedences this adds are returned so they can be
reported. Reachability uses bit sets: fine for the thousands of steps a pipeline has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx

__all__ = ["Layout", "Parallel", "Sequence", "layout", "makespan"]


@dataclass(frozen=True)
class Parallel:
    branches: tuple[Sequence, ...]


@dataclass(frozen=True)
class Sequence:
    items: tuple[str | Parallel, ...]


@dataclass(frozen=True)
class Layout:
    root: Sequence
    added: dict[str, set[str]] = field(default_factory=dict)  # step → extra predecessors


def layout(graph: nx.DiGraph, durations: Mapping[str, float] | None = None) -> Layout:
    """The nested layout of ``graph`` (use the transitive reduction for speed)."""
    order = list(nx.lexicographical_topological_sort(graph))
    index = {n: i for i, n in enumerate(order)}
    ancestors: dict[str, int] = {}
    for node in order:
        mask = 0
        for p in graph.predecessors(node):
            mask |= ancestors[p] | (1 << index[p])
        ancestors[node] = mask
    weight = {n: float((durations or {}).get(n, 1.0)) for n in order}
    added: dict[str, set[str]] = {}
    builder = _Builder(graph, order, index, ancestors, weight, added)
    return Layout(builder.sequence(order), added)


class _Builder:
    def __init__(
        self,
        graph: nx.DiGraph,
        order: list[str],
        index: dict[str, int],
        ancestors: dict[str, int],
        weight: dict[str, float],
        added: dict[str, set[str]],
    ) -> None:
        self.graph, self.order, self.index = graph, order, index
        self.ancestors, self.weight, self.added = ancestors, weight, added

    def sequence(self, nodes: list[str]) -> Sequence:
        """``nodes`` in topological order → a sequence of steps and parallel blocks."""
        if len(nodes) == 1:
            return Sequence((nodes[0],))
        parts = self._components(nodes)
        if len(parts) > 1:
            return Sequence((Parallel(tuple(self.sequence(p) for p in parts)),))
        k = self._series_split(nodes)
        if k is None:
            k = self._cheapest_cut(nodes)
            self._record(nodes[:k], nodes[k:])
        head, tail = self.sequence(nodes[:k]), self.sequence(nodes[k:])
        return Sequence(head.items + tail.items)

    def _components(self, nodes: list[str]) -> list[list[str]]:
        sub = self.graph.subgraph(nodes)
        comps = [sorted(c, key=self.index.__getitem__) for c in nx.weakly_connected_components(sub)]
        return sorted(comps, key=lambda c: self.index[c[0]])

    def _mask(self, nodes: list[str]) -> int:
        mask = 0
        for n in nodes:
            mask |= 1 << self.index[n]
        return mask

    def _series_split(self, nodes: list[str]) -> int | None:
        """Smallest k with every node of nodes[:k] an ancestor of every node of nodes[k:]."""
        within = self._mask(nodes)
        suffix_common = [within] * (len(nodes) + 1)
        common = within
        for i in range(len(nodes) - 1, 0, -1):
            common &= self.ancestors[nodes[i]]
            suffix_common[i] = common
        prefix = 0
        for k in range(1, len(nodes)):
            prefix |= 1 << self.index[nodes[k - 1]]
            if prefix & suffix_common[k] == prefix:
                return k
        return None

    def _critical(self, nodes: list[str]) -> float:
        inside = set(nodes)
        best: dict[str, float] = {}
        for n in nodes:
            preds = [best[p] for p in self.graph.predecessors(n) if p in inside]
            best[n] = self.weight[n] + max(preds, default=0.0)
        return max(best.values(), default=0.0)

    def _cheapest_cut(self, nodes: list[str]) -> int:
        costs = [
            (self._critical(nodes[:k]) + self._critical(nodes[k:]), k) for k in range(1, len(nodes))
        ]
        return min(costs)[1]

    def _record(self, before: list[str], after: list[str]) -> None:
        mask = self._mask(before)
        for b in after:
            missing = mask & ~self.ancestors[b]
            if missing:
                extra = {self.order[i] for i in range(len(self.order)) if missing >> i & 1}
                self.added.setdefault(b, set()).update(extra)


def makespan(
    item: Sequence | Parallel | str, durations: Mapping[str, float] | None = None
) -> float:
    """How long the layout takes when each step takes its duration (default 1)."""
    if isinstance(item, str):
        return float((durations or {}).get(item, 1.0))
    if isinstance(item, Parallel):
        return max(makespan(b, durations) for b in item.branches)
    return sum(makespan(i, durations) for i in item.items)
