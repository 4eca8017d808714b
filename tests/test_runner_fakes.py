"""Fakes and resume: a step reused on ``--resume`` must have been run by the same fake. A fake
is known by its module and qualified name (a ``functools.partial`` by its repr, arguments
included), so another fake, even one with the same function name, reruns the step."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Output
from pipecast.runner import Capacity, run_pipeline


def one_step():
    @dsl.container_component(image="r.example.com/w:1", command=["false"])
    def write(out: Output[Dataset]):
        """Writes a file (a fake does)."""

    @dsl.pipeline(name="faked")
    def faked():
        write().set_name("write")

    return faked


def run(tmp_path: Path, fake: Any, *, resume: bool):
    return run_pipeline(
        graph.check(one_step().spec),
        {},
        tmp_path / "runs",
        run_id="r1",
        resume=resume,
        fakes={"write": fake},
        capacity=Capacity(cpu=2, memory=8 * 1024**3, gpu=0),
        backoff_scale=0.0,
    )


def writer(text: str):
    def write(out):
        Path(out.path, "t.txt").write_text(text)

    return write


def test_a_fake_with_the_same_name_from_another_module_reruns_the_step(tmp_path):
    first, other = writer("first"), writer("other")
    other.__module__ = "elsewhere"  # same __qualname__, another module
    assert first.__qualname__ == other.__qualname__
    assert run(tmp_path, first, resume=False).succeeded
    again = run(tmp_path, first, resume=True)
    assert again["write"].status == "cached"
    result = run(tmp_path, other, resume=True)
    assert result["write"].status == "succeeded"
    assert (result.run_dir / "write" / "out" / "t.txt").read_text() == "other"


def write_text(text: str, out) -> None:
    Path(out.path, "t.txt").write_text(text)


def test_a_partial_fake_runs_and_another_partial_reruns_the_step(tmp_path):
    assert run(tmp_path, functools.partial(write_text, "one"), resume=False).succeeded
    again = run(tmp_path, functools.partial(write_text, "one"), resume=True)
    assert again["write"].status == "cached"
    result = run(tmp_path, functools.partial(write_text, "two"), resume=True)
    assert result["write"].status == "succeeded"
    assert (result.run_dir / "write" / "out" / "t.txt").read_text() == "two"
