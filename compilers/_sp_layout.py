"""Lay a DAG out as nested sequences and parallel blocks (what ASL can express).

Exact where possible: a series split is taken only where every step before it is an ancestor of
every step after it, and independent parts (weakly connected components) run in parallel, so a
series-parallel DAG comes out with no added precedence at all. A block that is not
series-parallel is cut where ``critical path(before) + critical path(after)`` is smallest (the
three best cuts are tried), or laid out in layers where that is shorter (step durations optional,
default 1); the precedences this adds are returned so they can be reported. Reachability uses
bit sets; subproblems are memoised.

With ``mode="exact"`` such a block is not serialised at all: it becomes :class:`Handshakes`, one
branch per chain of a minimum chain cover (a chain follows the block's own edges), with every
remaining edge enforced at run time by the target. The layout then adds no precedence and the
block takes exactly its critical path. ``mode="auto"`` keeps the nested layout when it takes the
graph's critical path anyway (its waits cost nothing), and otherwise uses handshakes only in the
blocks whose serialised layout would take longer than their own critical path.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import networkx as nx

__all__ = ["Handshakes", "Layout", "LayoutMode", "Parallel", "Sequence", "layout", "makespan"]

LayoutMode = Literal["nested", "exact", "auto"]


@dataclass(frozen=True)
class Parallel:
    branches: tuple[Sequence, ...]


@dataclass(frozen=True)
class Handshakes:
    """Steps run as parallel ``chains`` (each in order), where each ``(upstream, downstream)`` in
    ``waits`` is an edge between chains that the target enforces at run time."""

    chains: tuple[tuple[str, ...], ...]
    waits: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sequence:
    items: tuple[str | Parallel | Handshakes, ...]


@dataclass(frozen=True)
class Layout:
    root: Sequence
    added: dict[str, set[str]] = field(default_factory=dict)  # step → extra predecessors


def layout(
    graph: nx.DiGraph,
    durations: Mapping[str, float] | None = None,
    *,
    mode: LayoutMode = "nested",
) -> Layout:
    """The layout of ``graph`` (use the transitive reduction for speed); ``mode`` says which
    blocks that are not series-parallel become :class:`Handshakes` instead of being serialised:
    none, all, or those whose serialised layout would be slower than their critical path."""
    order = list(nx.lexicographical_topological_sort(graph))
    index = {n: i for i, n in enumerate(order)}
    ancestors: dict[str, int] = {}
    for node in order:
        mask = 0
        for p in graph.predecessors(node):
            mask |= ancestors[p] | (1 << index[p])
        ancestors[node] = mask
    weight = {n: float((durations or {}).get(n, 1.0)) for n in order}
    nodes = tuple(order)
    if mode == "auto":  # handshakes only if the nested layout as a whole would be slower
        builder = _Builder(graph, order, index, ancestors, weight)
        nested = builder.best(nodes)
        if nested.makespan <= builder._critical(nodes) * (1 + 1e-9):
            return Layout(nested.sequence, nested.added)
    plan = _Builder(graph, order, index, ancestors, weight, mode=mode).best(nodes)
    return Layout(plan.sequence, plan.added)


@dataclass(frozen=True)
class _Plan:
    sequence: Sequence
    added: dict[str, set[str]]
    makespan: float


def _merge(*maps: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in maps:
        for k, v in m.items():
            out.setdefault(k, set()).update(v)
    return out


class _Builder:
    CANDIDATE_CUTS = 3
    SCREENED_CUTS = 8  # cheapest by the critical-path bound, re-ranked by a greedy estimate
    SEARCH_LIMIT = 128  # larger non-series-parallel blocks are layered (the search is O(n³))

    def __init__(
        self,
        graph: nx.DiGraph,
        order: list[str],
        index: dict[str, int],
        ancestors: dict[str, int],
        weight: dict[str, float],
        *,
        mode: LayoutMode = "nested",
    ) -> None:
        self.graph, self.order, self.index = graph, order, index
        self.mode = mode
        self.ancestors, self.weight = ancestors, weight
        self.memo: dict[tuple[str, ...], _Plan] = {}
        # plain lists: the component search runs once per nesting level over the nodes below it
        self.neighbours = {n: [*graph.successors(n), *graph.predecessors(n)] for n in order}
        self.estimates: dict[tuple[str, ...], float] = {}

    def best(self, nodes: tuple[str, ...]) -> _Plan:
        """``nodes`` in topological order → the shortest layout this search finds."""
        if nodes not in self.memo:
            self.memo[nodes] = self._best(nodes)
        return self.memo[nodes]

    def _best(self, nodes: tuple[str, ...]) -> _Plan:
        if not nodes:  # a pipeline without steps: nothing to lay out, in every mode
            return _Plan(Sequence(()), {}, 0.0)
        if len(nodes) == 1:
            return _Plan(Sequence((nodes[0],)), {}, self.weight[nodes[0]])
        parts = self._components(nodes)
        if len(parts) > 1:
            plans = [self.best(tuple(p)) for p in parts]
            return _Plan(
                Sequence((Parallel(tuple(p.sequence for p in plans)),)),
                _merge(*(p.added for p in plans)),
                max(p.makespan for p in plans),
            )
        splits = self._series_splits(nodes)
        if splits:  # cut at every series point at once: a long chain needs no deep recursion
            bounds = [0, *splits, len(nodes)]
            plans = [self.best(nodes[a:b]) for a, b in itertools.pairwise(bounds)]
            items = tuple(item for p in plans for item in p.sequence.items)
            return _Plan(
                Sequence(items), _merge(*(p.added for p in plans)), sum(p.makespan for p in plans)
            )
        if self.mode == "exact":
            return self._exact(nodes)
        # not series-parallel: try the cheapest cuts and plain layering, keep the shortest
        options = [self._layering(nodes)]
        if len(nodes) <= self.SEARCH_LIMIT:
            cuts = self._cheapest_cuts(nodes, self.SCREENED_CUTS)
            cuts.sort(key=lambda c: self.estimate(c[0]) + self.estimate(c[1]))
            options += [
                self._series(head, tail, self._added(head, tail))
                for head, tail in cuts[: self.CANDIDATE_CUTS]
            ]
        nested = min(options, key=lambda p: (p.makespan, sum(len(v) for v in p.added.values())))
        if self.mode == "auto" and nested.makespan > self._critical(nodes) * (1 + 1e-9):
            return self._exact(nodes)
        return nested

    def _exact(self, nodes: tuple[str, ...]) -> _Plan:
        return _Plan(Sequence((self._handshakes(nodes),)), {}, self._critical(nodes))

    def estimate(self, nodes: tuple[str, ...]) -> float:
        """Makespan of a greedy layout (the single cheapest cut at each level): how good a cut
        really is, which the critical-path bound alone cannot tell."""
        if nodes in self.estimates:
            return self.estimates[nodes]
        if len(nodes) == 1:
            value = self.weight[nodes[0]]
        elif len(parts := self._components(nodes)) > 1:
            value = max(self.estimate(tuple(p)) for p in parts)
        elif splits := self._series_splits(nodes):
            bounds = [0, *splits, len(nodes)]
            value = sum(self.estimate(nodes[a:b]) for a, b in itertools.pairwise(bounds))
        else:
            layered = self._layering(nodes).makespan
            if len(nodes) > self.SEARCH_LIMIT:
                value = layered
            else:
                head, tail = self._cheapest_cuts(nodes, 1)[0]
                value = min(layered, self.estimate(head) + self.estimate(tail))
        self.estimates[nodes] = value
        return value

    def _series(
        self, first: tuple[str, ...], then: tuple[str, ...], extra: dict[str, set[str]]
    ) -> _Plan:
        head, tail = self.best(first), self.best(then)
        return _Plan(
            Sequence(head.sequence.items + tail.sequence.items),
            _merge(head.added, tail.added, extra),
            head.makespan + tail.makespan,
        )

    def _layering(self, nodes: tuple[str, ...]) -> _Plan:
        sub = self.graph.subgraph(nodes)
        items: list[str | Parallel] = []
        added: dict[str, set[str]] = {}
        # each layer waits for the whole layer before it, which (by induction) already waits
        # for everything earlier: naming only the previous layer's steps keeps the report
        # minimal and linear in size, and its closure is exactly the layout's precedence
        previous: list[str] = []
        total = 0.0
        for layer in nx.topological_generations(sub):
            layer = sorted(layer, key=self.index.__getitem__)
            for step, extra in self._missing(self._mask(previous), layer).items():
                added.setdefault(step, set()).update(extra)
            items.append(
                layer[0] if len(layer) == 1 else Parallel(tuple(Sequence((n,)) for n in layer))
            )
            total += max(self.weight[n] for n in layer)
            previous = layer
        return _Plan(Sequence(tuple(items)), added, total)

    def _handshakes(self, nodes: tuple[str, ...]) -> Handshakes:
        """Cover the block with as few chains as its edges allow (a maximum matching of each
        step to one successor), so that as few edges as possible need a run-time handshake;
        only edges of the block's transitive reduction are enforced (the rest follow)."""
        edges = sorted(
            self._reduced_edges(nodes), key=lambda e: (self.index[e[0]], self.index[e[1]])
        )
        following = _maximum_matching(list(nodes), edges)
        led = set(following.values())
        chains = []
        for head in nodes:
            if head in led:
                continue
            chain = [head]
            while chain[-1] in following:
                chain.append(following[chain[-1]])
            chains.append(tuple(chain))
        waits = tuple((u, v) for u, v in edges if following.get(u) != v)
        return Handshakes(tuple(chains), waits)

    def _reduced_edges(self, nodes: tuple[str, ...]) -> list[tuple[str, str]]:
        """The block's edges that no longer path implies: ``u → v`` is implied when ``u`` is an
        ancestor of another predecessor of ``v``. Blocks are convex (a path between two of its
        steps stays inside), so the graph-wide ancestor bit sets decide it in one pass."""
        inside = set(nodes)
        edges = []
        for v in nodes:
            preds = [u for u in self.graph.predecessors(v) if u in inside]
            implied = 0
            for u in preds:
                implied |= self.ancestors[u]
            edges += [(u, v) for u in preds if not implied >> self.index[u] & 1]
        return edges

    def _components(self, nodes: tuple[str, ...]) -> list[list[str]]:
        """Weakly connected parts of ``nodes``, each in topological order, ordered by first node.

        A plain search over the graph's own adjacency: networkx's component search on a
        subgraph view costs a filtered view per neighbour, which made deeply nested graphs
        quadratic with a large constant (a 1,000-level fan-out: 28 s of a 29 s layout)."""
        inside = set(nodes)
        seen: set[str] = set()
        parts: list[list[str]] = []
        neighbours = self.neighbours
        for start in nodes:  # topological order, so parts come out ordered by their first node
            if start in seen:
                continue
            seen.add(start)
            part, stack = [], [start]
            while stack:
                node = stack.pop()
                part.append(node)
                for other in neighbours[node]:
                    if other in inside and other not in seen:
                        seen.add(other)
                        stack.append(other)
            parts.append(sorted(part, key=self.index.__getitem__))
        return parts

    def _mask(self, nodes: tuple[str, ...] | list[str]) -> int:
        mask = 0
        for n in nodes:
            mask |= 1 << self.index[n]
        return mask

    def _series_splits(self, nodes: tuple[str, ...]) -> list[int]:
        """Every k with each node of nodes[:k] an ancestor of each node of nodes[k:]."""
        within = self._mask(nodes)
        suffix_common = [within] * (len(nodes) + 1)
        common = within
        for i in range(len(nodes) - 1, 0, -1):
            common &= self.ancestors[nodes[i]]
            suffix_common[i] = common
        prefix, splits = 0, []
        for k in range(1, len(nodes)):
            prefix |= 1 << self.index[nodes[k - 1]]
            if prefix & suffix_common[k] == prefix:
                splits.append(k)
        return splits

    def _critical(self, nodes: tuple[str, ...]) -> float:
        inside = set(nodes)
        best: dict[str, float] = {}
        for n in nodes:
            preds = [best[p] for p in self.graph.predecessors(n) if p in inside]
            best[n] = self.weight[n] + max(preds, default=0.0)
        return max(best.values(), default=0.0)

    def _schedule(self, nodes: tuple[str, ...]) -> tuple[dict[str, float], dict[str, float]]:
        """Earliest finish and latest start of each node in the block's unconstrained schedule."""
        inside = set(nodes)
        finish: dict[str, float] = {}
        for n in nodes:
            ready = max((finish[p] for p in self.graph.predecessors(n) if p in inside), default=0.0)
            finish[n] = ready + self.weight[n]
        end = max(finish.values(), default=0.0)
        start: dict[str, float] = {}
        for n in reversed(nodes):
            due = min((start[c] for c in self.graph.successors(n) if c in inside), default=end)
            start[n] = due - self.weight[n]
        return finish, start

    def _cheapest_cuts(
        self, nodes: tuple[str, ...], width: int
    ) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """Candidate (first, then) splits into a down-closed head and the rest, cheapest first.

        Candidates are the prefixes of the topological order and the cuts of the ideal schedule
        at each moment t: the steps that can finish by t, and the steps that must start before
        t. Both are closed under predecessors, so running the head first breaks no edge.
        """
        finish, start = self._schedule(nodes)
        heads: dict[int, tuple[str, ...]] = {}
        for k in range(1, len(nodes)):
            heads.setdefault(self._mask(nodes[:k]), nodes[:k])
        for moment in sorted(set(finish.values())):
            head = tuple(n for n in nodes if finish[n] <= moment)
            if 0 < len(head) < len(nodes):
                heads.setdefault(self._mask(head), head)
        for moment in sorted(set(start.values())):
            head = tuple(n for n in nodes if start[n] < moment)
            if 0 < len(head) < len(nodes):
                heads.setdefault(self._mask(head), head)
        costs = []
        for mask, head in heads.items():
            tail = tuple(n for n in nodes if not mask >> self.index[n] & 1)
            costs.append((self._critical(head) + self._critical(tail), mask, head, tail))
        costs.sort(key=lambda c: (c[0], c[1]))
        return [(head, tail) for _, _, head, tail in costs[:width]]

    def _added(self, before: tuple[str, ...], after: tuple[str, ...]) -> dict[str, set[str]]:
        """Waits that running all of ``before`` first adds to ``after`` (minimal: only the
        sinks of ``before`` are named; waiting for a sink implies waiting for its ancestors)."""
        inside = set(before)
        sinks = [n for n in before if not any(s in inside for s in self.graph.successors(n))]
        return self._missing(self._mask(sinks), after)

    def _missing(self, mask: int, after: tuple[str, ...] | list[str]) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for b in after:
            missing = mask & ~self.ancestors[b]
            names = set()
            while missing:
                low = missing & -missing
                names.add(self.order[low.bit_length() - 1])
                missing ^= low
            if names:
                out[b] = names
        return out


def _maximum_matching(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """Each step → at most one successor, each successor taken once, as many pairs as possible.

    Kuhn's augmenting paths over ordered adjacency lists (networkx's matchings iterate sets, so
    their answer could differ between runs); a greedy pass first leaves little to augment.
    """
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    for u, v in edges:
        successors[u].append(v)
    taken_by: dict[str, str] = {}  # successor → the step it follows
    following: dict[str, str] = {}
    for u in nodes:
        free = next((v for v in successors[u] if v not in taken_by), None)
        if free is not None:
            taken_by[free], following[u] = u, free
    for root in nodes:
        if root in following or not successors[root]:
            continue
        # iterative DFS for an augmenting path from root
        parent: dict[str, str] = {}  # successor → step that reached it
        seen: set[str] = set()
        stack = [(root, iter(successors[root]))]
        end: str | None = None
        while stack and end is None:
            u, options = stack[-1]
            reached = next((v for v in options if v not in seen), None)
            if reached is None:
                stack.pop()
                continue
            seen.add(reached)
            parent[reached] = u
            if reached not in taken_by:
                end = reached
            else:
                w = taken_by[reached]
                stack.append((w, iter(successors[w])))
        while end is not None:  # flip the path
            u = parent[end]
            previous = following.get(u)
            following[u], taken_by[end] = end, u
            end = previous if u != root else None
    return following


def makespan(
    item: Sequence | Parallel | Handshakes | str, durations: Mapping[str, float] | None = None
) -> float:
    """How long the layout takes when each step takes its duration (default 1); a handshake
    itself is counted as instant (seconds, against jobs of minutes)."""
    if isinstance(item, str):
        return float((durations or {}).get(item, 1.0))
    if isinstance(item, Handshakes):
        preds: dict[str, list[str]] = {step: [] for chain in item.chains for step in chain}
        for chain in item.chains:
            for before, after in itertools.pairwise(chain):
                preds[after].append(before)
        for before, after in item.waits:
            preds[after].append(before)
        sorter = graphlib.TopologicalSorter(preds)
        finish: dict[str, float] = {}
        for step in sorter.static_order():
            ready = max((finish[p] for p in preds.get(step, ())), default=0.0)
            finish[step] = ready + makespan(step, durations)
        return max(finish.values(), default=0.0)
    if isinstance(item, Parallel):
        return max(makespan(b, durations) for b in item.branches)
    return sum(makespan(i, durations) for i in item.items)
