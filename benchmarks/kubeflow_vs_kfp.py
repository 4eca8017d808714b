"""Kubeflow target against the kfp SDK: the same N-step pipeline compiled by pipecast's
``kubeflow`` target and written directly with ``kfp.dsl``, at N = 100, 500, 1,000.

pipecast's Kubeflow target builds kfp container components from the IR and runs kfp's own
compiler, so it does all of kfp's work plus its own; the question is what the translation costs
on top. Goal: ratio (pipecast / kfp) ≤ 1.2 at every N.

- pipecast: the pipeline from ``_generate.SHAPES[shape]`` is built outside the clock (its build
  time is shown for reference); the clock covers graph check + kubeflow compile, exactly as
  ``compile_scale.py`` measures a target.
- kfp: two container components (same image, command, ``--name value`` args with input/output
  artifact paths, same cpu/memory requests and limits, caching off as pipecast writes it) and an
  N-step pipeline calling them; the clock covers component + pipeline definition (kfp traces the
  pipeline function when it is decorated) and ``kfp.compiler.Compiler().compile`` to a temp file.

Both sides write the whole document to a file; times are the best of ``--repeat`` alternating
runs. The script also reports whether the two YAML documents are byte-identical (they are: that
is what makes the comparison like for like).

Where the time goes (cProfile, chain of 1,000, kfp 2.17): on both sides about 70% is kfp's
``PipelineTask._ensure_container_spec_exists``, which calls ``inspect.stack()`` on each of the four
``set_cpu/memory_request/limit`` calls per task (its cost grows with stack depth and with the
number of loaded modules), and most of the rest is kfp's compiler (a per-task list of every task
name in the DAG, quadratic in N) and YAML output. pipecast's own part (graph check and one kfp
component per step) is about 0.2 s at N = 1,000.

    python benchmarks/kubeflow_vs_kfp.py [--sizes 100,500,1000] [--shapes chain,fan-out]
"""

# no `from __future__ import annotations`: kfp reads the components' annotations as real types

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generate import IMAGE, SHAPES
from compile_scale import CONFIG, measure

from pipecast.compilers import graph
from pipecast.compilers.kubeflow import TARGET
from pipecast.compilers.target import Document

GOAL = 1.2
CPU = "2"
MEMORY = "4Gi"

try:
    from kfp import compiler as kfp_compiler
    from kfp import dsl as kfp_dsl
except ImportError:  # pragma: no cover - the benchmark needs the extra
    sys.exit("this benchmark needs kfp: pip install 'pipecast[kubeflow]'")


def _kfp_components() -> tuple[Any, Any]:
    """The two bench components, written the way a kfp user would (defined once, called N times)."""

    @kfp_dsl.container_component  # type: ignore[untyped-decorator]  # kfp is untyped
    def source(seed: int, out: kfp_dsl.Output[kfp_dsl.Dataset]) -> kfp_dsl.ContainerSpec:
        return kfp_dsl.ContainerSpec(
            image=IMAGE,
            command=["python", "-m", "bench.source"],
            args=["--seed", seed, "--out", out.path],
        )

    @kfp_dsl.container_component  # type: ignore[untyped-decorator]  # kfp is untyped
    def transform(
        data: kfp_dsl.Input[kfp_dsl.Dataset], factor: float, out: kfp_dsl.Output[kfp_dsl.Dataset]
    ) -> kfp_dsl.ContainerSpec:
        return kfp_dsl.ContainerSpec(
            image=IMAGE,
            command=["python", "-m", "bench.transform"],
            args=["--data", data.path, "--factor", factor, "--out", out.path],
        )

    return source, transform


def _sized(task: Any) -> Any:
    """The resources and caching pipecast sets on every task."""
    task.set_cpu_request(CPU).set_cpu_limit(CPU)
    task.set_memory_request(MEMORY).set_memory_limit(MEMORY)
    task.set_caching_options(False)
    return task


def kfp_chain(n: int) -> Any:
    """source → transform → … (n steps), in plain kfp."""
    source, transform = _kfp_components()

    @kfp_dsl.pipeline(name=f"chain-{n}", pipeline_root=CONFIG.artifact_root)  # type: ignore[untyped-decorator]  # kfp is untyped
    def chain(factor: float = 1.0) -> None:
        prev = _sized(source(seed=0))
        for _ in range(n - 1):
            prev = _sized(transform(data=prev.outputs["out"], factor=factor))

    return chain


def kfp_fan_out(n: int) -> Any:
    """One source feeding n - 1 independent transforms, in plain kfp."""
    source, transform = _kfp_components()

    @kfp_dsl.pipeline(name=f"fan-out-{n}", pipeline_root=CONFIG.artifact_root)  # type: ignore[untyped-decorator]  # kfp is untyped
    def fan_out(factor: float = 1.0) -> None:
        src = _sized(source(seed=0))
        for _ in range(n - 1):
            _sized(transform(data=src.outputs["out"], factor=factor))

    return fan_out


KFP_SHAPES: dict[str, Callable[[int], Any]] = {"chain": kfp_chain, "fan-out": kfp_fan_out}


def run_kfp(shape: str, n: int) -> str:
    """Define the pipeline with kfp and compile it to a temp file; returns the YAML."""
    pipeline = KFP_SHAPES[shape](n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pipeline.yaml")
        kfp_compiler.Compiler().compile(pipeline, path)
        text: str = Path(path).read_text(encoding="utf-8")
    return text


def run_pipecast(spec: Any) -> str:
    """Check and compile a built pipecast spec for Kubeflow; returns the YAML."""
    document: Document = TARGET.compile(graph.check(spec, TARGET, CONFIG), CONFIG)
    text: str = document.text
    return text


def interleaved(
    ours: Callable[[], Any], theirs: Callable[[], Any], repeat: int
) -> tuple[float, Any, float, Any]:
    """Best wall time of each side over ``repeat`` alternating runs, and each side's result.

    Alternating keeps a change in machine load from landing on one side only; each run is timed
    with compile_scale's ``measure``.
    """
    ours_times: list[float] = []
    theirs_times: list[float] = []
    ours_result: Any = None
    theirs_result: Any = None
    for _ in range(repeat):
        seconds, _, ours_result = measure(ours, False)
        ours_times.append(seconds)
        seconds, _, theirs_result = measure(theirs, False)
        theirs_times.append(seconds)
    return min(ours_times), ours_result, min(theirs_times), theirs_result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000")
    parser.add_argument("--shapes", default="chain,fan-out")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header = (
        f"{'shape':<8} {'N':>6} {'kfp s':>9} {'pipecast s':>11} {'ratio':>7}"
        f" {'(build s)':>10}  same YAML"
    )
    print(header)
    print("-" * len(header))
    # first calls pay for lazy imports (kfp.kubernetes, yaml emitters) on both sides
    for shape in args.shapes.split(","):
        run_pipecast(SHAPES[shape](2).spec)
        run_kfp(shape, 2)
    worst = 0.0
    for shape in args.shapes.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            build, _, built = measure(
                partial(lambda make, n: make(n).spec, SHAPES[shape], n), False
            )
            ours, ours_text, theirs, theirs_text = interleaved(
                partial(run_pipecast, built), partial(run_kfp, shape, n), args.repeat
            )
            ratio = ours / theirs
            worst = max(worst, ratio)
            same = "yes" if ours_text == theirs_text else "no"
            print(
                f"{shape:<8} {n:>6} {theirs:>9.3f} {ours:>11.3f} {ratio:>7.2f}"
                f" {build:>10.3f}  {same}"
            )
    verdict = "met" if worst <= GOAL else "NOT met"
    print(f"\nworst ratio {worst:.2f} (goal ≤ {GOAL}: {verdict})")


if __name__ == "__main__":
    main()
