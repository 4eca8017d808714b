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


def test_a_step_bigger_than_the_machine_waits_to_run_alone_without_holding_up_others(tmp_path):
    """'b' asks for more CPUs than the machine has: it runs once nothing else does, and the
    steps listed after it still start meanwhile."""
    c_started = threading.Event()
    running: list[set[str]] = []
    lock = threading.Lock()
    now: set[str] = set()

    def step(name: str, wait_for: threading.Event | None = None):
        def run(out):
            with lock:
                now.add(name)
                running.append(set(now))
            if name == "c":
                c_started.set()
            if wait_for is not None and not wait_for.wait(20):
                raise RuntimeError(f"'{name}' waited in vain")
            with lock:
                now.discard(name)

        return run

    @dsl.pipeline(name="alone")
    def alone():
        make().set_name("a")
        make().set_name("b").set_resources(dsl.Resources(cpu=8, memory="1GiB"))
        make().set_name("c")

    result = run_offline(
        alone,
        tmp_path,
        fakes={"a": step("a", c_started), "b": step("b"), "c": step("c")},
        capacity=Capacity(2, 2**34, 0),
    )
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
    assert {"b"} in running  # alone
    assert not any("b" in seen and len(seen) > 1 for seen in running)
