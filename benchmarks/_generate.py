"""Generated pipelines for benchmarks: chain, fan-out and layered DAGs of N steps, via the DSL."""

from __future__ import annotations

import random
from collections.abc import Callable

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Resources

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/step:1.0.0"


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "bench.source"], resources=Resources(cpu=2, memory="4GiB")
)
def source(out: Output[Dataset], seed: int = 0):
    """Produce data."""


@dsl.container_component(
    image=IMAGE,
    command=["python", "-m", "bench.transform"],
    resources=Resources(cpu=2, memory="4GiB"),
)
def transform(data: Input[Dataset], out: Output[Dataset], factor: float = 1.0):
    """Transform one input."""


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "bench.join"], resources=Resources(cpu=2, memory="4GiB")
)
def join(left: Input[Dataset], right: Input[Dataset], out: Output[Dataset]):
    """Join two inputs."""


def chain(n: int) -> dsl.Pipeline:
    """source → transform → transform → … (n steps)."""

    @dsl.pipeline(name=f"chain-{n}")
    def pipeline(factor: float = 1.0) -> None:
        prev = source()
        for _ in range(n - 1):
            prev = transform(data=prev.output, factor=factor)

    return pipeline


def fan_out(n: int) -> dsl.Pipeline:
    """One source feeding n - 1 independent transforms."""

    @dsl.pipeline(name=f"fan-out-{n}")
    def pipeline(factor: float = 1.0) -> None:
        src = source()
        for _ in range(n - 1):
            transform(data=src.output, factor=factor)

    return pipeline


def layered(n: int, width: int = 10, seed: int = 7) -> dsl.Pipeline:
    """Layers of ``width`` steps; each step joins two random steps of the layer before."""
    rng = random.Random(seed)

    @dsl.pipeline(name=f"layered-{n}")
    def pipeline() -> None:
        layer = [source(seed=i) for i in range(min(width, n))]
        made = len(layer)
        while made < n:
            nxt = []
            for _ in range(min(width, n - made)):
                a, b = rng.sample(layer, 2) if len(layer) > 1 else (layer[0], layer[0])
                nxt.append(join(left=a.output, right=b.output))
            made += len(nxt)
            layer = nxt

    return pipeline


def loop(n: int, body: int = 10) -> dsl.Pipeline:
    """A literal ``dsl.ParallelFor`` of ``n // body`` items around a chain of ``body`` steps
    (n step runs: N = 1,000 is 100 iterations × 10 steps). The IR keeps the loop, so only the
    item list grows with N; targets that cannot express loops yet are skipped."""

    @dsl.pipeline(name=f"loop-{n}")
    def pipeline() -> None:
        with dsl.ParallelFor(list(range(max(1, n // body))), parallelism=8) as item:
            prev = source(seed=item)
            for _ in range(body - 1):
                prev = transform(data=prev.output)

    return pipeline


SHAPES: dict[str, Callable[[int], dsl.Pipeline]] = {
    "chain": chain,
    "fan-out": fan_out,
    "layered": layered,
    "loop": loop,
}
