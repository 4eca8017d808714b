"""Step Functions layout quality: makespan of the compiled layout ÷ the DAG's critical path,
against plain layering (one barrier per topological layer), on the same DAGs with the same random
step durations (fixed seeds). 1.00 means the layout loses nothing to ASL's nesting.

"layout vs layering" is the median makespan saved; "ceiling" the most any layout could save
(reaching the critical path, 1 - CP/layering); "overhead cut" the median share of layering's
loss over the critical path that the layout wins back.

    python benchmarks/asl_layout.py [--trials 50]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time

import networkx as nx

from pipecast.compilers._sp_layout import layout, makespan
from pipecast.compilers.graph import critical_path


def layering_makespan(g: nx.DiGraph, durations: dict[str, float]) -> float:
    return sum(max(durations[n] for n in layer) for layer in nx.topological_generations(g))


def inference_shaped(rng: random.Random) -> nx.DiGraph:
    """importer-less inference pipelines: chains with fan-out/fan-in and side branches."""
    g = nx.DiGraph()
    shards = rng.randint(2, 6)
    g.add_edge("extract", "prep")
    for i in range(shards):
        g.add_edge("prep", f"detect-{i}")
        g.add_edge(f"detect-{i}", f"track-{i}")
        g.add_edge(f"track-{i}", "merge")
    g.add_edge("extract", "quality")
    g.add_edge("quality", "report")
    g.add_edge("merge", "summarize")
    g.add_edge("summarize", "report")
    return g


def layered(rng: random.Random, layers: int, width: int) -> nx.DiGraph:
    g = nx.DiGraph()
    names = [[f"l{i}-{j}" for j in range(width)] for i in range(layers)]
    for row in names:
        g.add_nodes_from(row)
    for above, below in itertools.pairwise(names):
        for node in below:
            for src in rng.sample(above, rng.randint(1, min(3, width))):
                g.add_edge(src, node)
    return g


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=50)
    args = parser.parse_args()
    families = {
        "inference-shaped": lambda r: inference_shaped(r),
        "layered 5x4": lambda r: layered(r, 5, 4),
        "layered 10x10": lambda r: layered(r, 10, 10),
    }
    print(
        f"{'family':<18} {'layout/CP median':>17} {'p90':>6} {'layering/CP median':>19} "
        f"{'p90':>6} {'layout vs layering':>19} {'ceiling':>8} {'overhead cut':>13} {'ms/DAG':>7}"
    )
    for name, make in families.items():
        rng = random.Random(2026)
        ours, base, gain, ceiling, cut, took = [], [], [], [], [], []
        for _ in range(args.trials):
            g = make(rng)
            durations = {n: rng.uniform(1, 10) for n in g}
            cp, _ = critical_path(g, durations)
            start = time.perf_counter()
            plan = layout(nx.transitive_reduction(g), durations)
            took.append((time.perf_counter() - start) * 1000)
            m, lay = makespan(plan.root, durations), layering_makespan(g, durations)
            ours.append(m / cp)
            base.append(lay / cp)
            gain.append(1 - m / lay)
            ceiling.append(1 - cp / lay)  # the most any layout could gain: reaching the CP
            if lay > cp:
                cut.append((lay - m) / (lay - cp))  # share of layering's loss that is won back
        q = lambda xs: statistics.quantiles(xs, n=10)[-1]  # noqa: E731
        print(
            f"{name:<18} {statistics.median(ours):>17.3f} {q(ours):>6.3f} "
            f"{statistics.median(base):>19.3f} {q(base):>6.3f} "
            f"{statistics.median(gain) * 100:>17.1f} % {statistics.median(ceiling) * 100:>6.1f} % "
            f"{(statistics.median(cut) * 100 if cut else 0.0):>11.1f} % "
            f"{statistics.median(took):>7.2f}"
        )


if __name__ == "__main__":
    main()
