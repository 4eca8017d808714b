"""Kubeflow control flow against the kfp SDK: G sibling ``dsl.If`` groups (two steps each, after
one step whose output parameter every condition reads), compiled by pipecast's ``kubeflow``
target and written directly with ``kfp.dsl``, at G = 10, 50, 250.

The question is what pipecast's translation (ordering the tasks into kfp's ``with`` blocks, one
kfp component per step) costs on top of kfp's own compiler, which does the same work on both
sides. pipecast's clock covers graph check + kubeflow compile; kfp's covers component and
pipeline definition and ``Compiler().compile`` to a temp file. Best of ``--repeat`` runs.

    python benchmarks/kubeflow_flow.py [--groups 10,50,250] [--repeat 2]
"""

# no `from __future__ import annotations`: kfp reads the components' annotations as real types

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IMAGE = "registry.example.com/bench:1.0"


def pipecast_pipeline(groups: int) -> Any:
    from pipecast import dsl
    from pipecast.dsl import Output

    @dsl.container_component(image=IMAGE, command=["count"])
    def count(camera: str, moving: Output[int]):
        """Count."""

    @dsl.container_component(image=IMAGE, command=["use"])
    def use(value: int):
        """Use."""

    @dsl.pipeline(name="many-conditions")
    def pipeline() -> None:
        counted = count(camera="x")
        for i in range(groups):
            with dsl.If(counted.outputs["moving"] > i):
                first = use(value=i).set_name(f"a-{i}")
                use(value=i).set_name(f"b-{i}").after(first)

    return pipeline


def compile_pipecast(groups: int) -> float:
    from pipecast.compilers import graph, load_target
    from pipecast.config import load_config

    config = load_config(Path(__file__).resolve().parent.parent / "examples" / "pipecast.toml")
    target = load_target("kubeflow")
    spec = pipecast_pipeline(groups).spec  # built outside the clock
    start = time.perf_counter()
    target.compile(graph.check(spec, target, config), config)
    return time.perf_counter() - start


def compile_kfp(groups: int) -> float:
    from kfp import compiler, dsl

    start = time.perf_counter()

    @dsl.container_component
    def count(camera: str, moving: dsl.OutputPath(int)):
        return dsl.ContainerSpec(
            image=IMAGE, command=["count"], args=["--camera", camera, "--moving", moving]
        )

    @dsl.container_component
    def use(value: int):
        return dsl.ContainerSpec(image=IMAGE, command=["use"], args=["--value", value])

    @dsl.pipeline(name="many-conditions", pipeline_root="s3://bench/pipelines")
    def pipeline() -> None:
        counted = count(camera="x").set_caching_options(False)
        for i in range(groups):
            with dsl.If(counted.outputs["moving"] > i):
                first = use(value=i).set_caching_options(False)
                use(value=i).set_caching_options(False).after(first)

    with tempfile.TemporaryDirectory() as tmp:
        compiler.Compiler().compile(pipeline, os.path.join(tmp, "p.yaml"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", default="10,50,250")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    compile_kfp(1), compile_pipecast(1)  # imports outside the clock
    print(f"{'groups':>6} {'steps':>6} {'pipecast s':>11} {'kfp s':>8} {'ratio':>6}")
    for groups in (int(g) for g in args.groups.split(",")):
        ours = min(compile_pipecast(groups) for _ in range(args.repeat))
        theirs = min(compile_kfp(groups) for _ in range(args.repeat))
        print(f"{groups:>6} {2 * groups + 1:>6} {ours:>11.2f} {theirs:>8.2f} {ours / theirs:>6.2f}")


if __name__ == "__main__":
    main()
