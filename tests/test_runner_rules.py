"""Local runner rules a user relies on: a container gets the GPUs asked for and never more CPUs
than the machine has; a failed step's error ends with the last lines its process wrote; the
package's public names load lazily and unknown names fail like any module attribute."""

from __future__ import annotations

import os

import pytest

import pipecast.runner
from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output, Resources
from pipecast.runner._engine import Capacity, Runner
from pipecast.runner._inprocess import _tail


def _pipeline():
    @dsl.container_component(image="r.example.com/p:1", command=["prep"])
    def prep(out: Output[Dataset]):
        """Prepare."""

    @dsl.container_component(image="r.example.com/t:1", command=["train"])
    def train(data: Input[Dataset]):
        """Train."""

    @dsl.pipeline(name="gpu")
    def gpu():
        data = prep().output
        train(data=data).set_name("big").set_resources(Resources(cpu=10_000, memory="3GiB", gpu=2))

    return gpu


def test_container_resources_follow_the_step_within_the_machine(tmp_path):
    spec = _pipeline().spec
    runner = Runner(graph.check(spec), {}, tmp_path / "gpu" / "r", capacity=Capacity(4, 2**34, 2))
    step = spec.step("big")
    run = runner.container_run(step, *runner._values(step)[:2], attempt=2)
    assert run.gpus == 2
    assert run.cpus == float(os.cpu_count() or 1)  # engines refuse more CPUs than exist
    assert run.memory_bytes == 3 * 1024**3
    assert run.image == "r.example.com/t:1"
    assert run.name == "pipecast-gpu-r-big-2"
    prep = runner.container_run(spec.step("prep"), *runner._values(spec.step("prep"))[:2], 1)
    assert (prep.gpus, prep.cpus, prep.memory_bytes) == (0, None, None)


def test_error_tail_is_the_last_lines_written(tmp_path):
    log = tmp_path / "stderr.log"
    log.write_text("".join(f"line {i}\n" for i in range(1, 21)), encoding="utf-8")
    assert _tail(log) == "\n".join(f"line {i}" for i in range(6, 21))
    assert _tail(log, lines=2) == "line 19\nline 20"
    assert _tail(tmp_path / "missing.log") == ""
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert _tail(log) == "ok\n\ufffd\ufffd broken"


def test_public_names_load_lazily_and_unknown_names_fail():
    for name in pipecast.runner.__all__:
        assert getattr(pipecast.runner, name).__name__ == name
    with pytest.raises(AttributeError, match=r"module 'pipecast\.runner' has no attribute 'nope'"):
        _ = pipecast.runner.nope
