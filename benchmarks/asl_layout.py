"""Step Functions layout quality: makespan of the compiled layout ÷ the DAG's critical path,
against plain layering (one barrier per topological layer), on the same DAGs with the same random
step durations (fixed seeds). 1.00 means the layout loses nothing to ASL's nesting.

"nested" is the default layout (sequences and Parallel blocks only, waits added where the graph is
not series-parallel); "exact" is ``[stepfunctions] layout = "exact"``, where those edges become
run-time handshakes (counted as instant: a few state transitions against jobs of minutes).
"saved" is the median makespan saved against layering; "ceiling" the most any layout could save
(reaching the critical path, 1 - CP/layering); "overhead cut" the median share of layering's
loss over the critical path that the nested layout wins back; "handshakes" the median number of
edges the exact layout enforces at run time, and "auto" the same for ``layout = "auto"`` (which
takes the critical path too, but handshakes only blocks whose nested layout would be slower).

    python benchmarks/asl_layout.py [--trials 50]
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time

import networkx as nx

from pipecast.compilers._sp_layout import Handshakes, Parallel, Sequence, layout, makespan
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
        f"{'family':<18} {'nested/CP':>9} {'p90':>6} {'exact/CP':>8} {'layering/CP':>11} "
        f"{'nested saved':>12} {'exact saved':>11} {'ceiling':>8} {'overhead cut':>12} "
        f"{'handshakes':>10} {'auto':>5} {'ms nested':>9} {'ms exact':>8}"
    )
    for name, make in families.items():
        rng = random.Random(2026)
        rows: dict[str, list[float]] = {
            k: []
            for k in (
                "ours",
                "exact",
                "base",
                "gain",
                "exact_gain",
                "ceiling",
                "cut",
                "waits",
                "auto",
            )
        }
        took: dict[str, list[float]] = {"nested": [], "exact": []}
        for _ in range(args.trials):
            g = make(rng)
            durations = {n: rng.uniform(1, 10) for n in g}
            cp, _ = critical_path(g, durations)
            reduced = nx.transitive_reduction(g)
            start = time.perf_counter()
            plan = layout(reduced, durations)
            took["nested"].append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            exact = layout(reduced, durations, mode="exact")
            took["exact"].append((time.perf_counter() - start) * 1000)
            m, lay = makespan(plan.root, durations), layering_makespan(g, durations)
            e = makespan(exact.root, durations)
            rows["ours"].append(m / cp)
            rows["exact"].append(e / cp)
            rows["base"].append(lay / cp)
            rows["gain"].append(1 - m / lay)
            rows["exact_gain"].append(1 - e / lay)
            rows["ceiling"].append(1 - cp / lay)  # the most any layout could gain: the CP
            rows["waits"].append(float(handshakes(exact.root)))
            auto = layout(reduced, durations, mode="auto")
            assert abs(makespan(auto.root, durations) - cp) < 1e-6 * cp
            rows["auto"].append(float(handshakes(auto.root)))
            if lay > cp:
                rows["cut"].append((lay - m) / (lay - cp))  # share of layering's loss won back
        med = {k: statistics.median(v) if v else 0.0 for k, v in rows.items()}
        p90 = statistics.quantiles(rows["ours"], n=10)[-1]
        print(
            f"{name:<18} {med['ours']:>9.3f} {p90:>6.3f} {med['exact']:>8.3f} "
            f"{med['base']:>11.3f} {med['gain'] * 100:>10.1f} % {med['exact_gain'] * 100:>9.1f} % "
            f"{med['ceiling'] * 100:>6.1f} % {med['cut'] * 100:>10.1f} % {med['waits']:>10.0f} "
            f"{med['auto']:>5.0f} "
            f"{statistics.median(took['nested']):>9.2f} {statistics.median(took['exact']):>8.2f}"
        )


def handshakes(item: Sequence | Parallel | Handshakes | str) -> int:
    if isinstance(item, Handshakes):
        return len(item.waits)
    if isinstance(item, Parallel):
        return sum(handshakes(b) for b in item.branches)
    if isinstance(item, Sequence):
        return sum(handshakes(i) for i in item.items)
    return 0


if __name__ == "__main__":
    main()
