"""When the local runner starts a step: every step whose upstreams are done starts at once
(within capacity), even one listed after a step that must still wait."""

from __future__ import annotations

import threading

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.runner import Capacity
from pipecast.testing import run_offline


@dsl.container_component(image="r.example.com/x:1", command=["make"])
def make(out: Output[Dataset]):
    """Makes a dataset."""


@dsl.container_component(image="r.example.com/x:1", command=["use"])
def use(data: Input[Dataset], out: Output[Dataset]):
    """Uses a dataset."""


@dsl.pipeline(name="side-by-side")
def side_by_side():
    first = make().set_name("a")
    use(data=first.outputs["out"]).set_name("a-next")  # waits for 'a'; ordered before 'b'
    make().set_name("b")


def test_a_ready_step_starts_while_an_earlier_listed_one_still_waits(tmp_path):
    b_started = threading.Event()

    def a(out):
        # 'b' is independent: it must run alongside, not after 'a' and 'a-next'
        if not b_started.wait(20):
            raise RuntimeError("'b' did not start while 'a' ran")

    result = run_offline(
        side_by_side,
        tmp_path,
        fakes={"a": a, "b": lambda out: b_started.set(), "a-next": lambda data, out: None},
        capacity=Capacity(4, 2**34, 0),
    )
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
