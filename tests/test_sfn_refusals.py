"""Every refusal of the Step Functions target (``_sfn_scopes.flow_diagnostics`` and the step id
its start state takes), word for word:
the code, the whole message, the hint, the step and the line it points at.

Each refused pipeline is defined here, at module level, with the line the diagnostic must point
at marked ``# <case>``; the table lists what the user reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from helpers import only_diagnostic, points_at

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Spot

IMG = "r.example.com/x:1.0"
NOT_EXPRESSIBLE = "this is not expressible on stepfunctions; kubeflow and the local runner can"
COLLECT_HINT = "collect from a step without spot, or collect one loop level at a time"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], count: Output[int], n: int = 0):
    """A Processing job with an artifact and a value."""


@dsl.container_component(image=IMG, command=["make"], spot=Spot("1h"))
def spot_make(data: Output[Dataset], n: int = 0):
    """A spot step: a Training job on Step Functions."""


@dsl.container_component(image=IMG, command=["fan"])
def fan(data: Input[Dataset]):
    """Fan in every iteration's folder."""


@dsl.container_component(image=IMG, command=["notify"])
def notify(status: str):
    """An exit task."""


@dsl.pipeline(name="collect-spot")
def collect_spot():
    with dsl.ParallelFor([1, 2]) as i:
        s = spot_make(n=i)
    fan(data=dsl.Collected(s.outputs["data"]))  # collect-spot


@dsl.pipeline(name="collect-two-levels")
def collect_two_levels():
    with dsl.ParallelFor([1, 2]), dsl.ParallelFor([3, 4]) as j:
        s = make(n=j)
    fan(data=dsl.Collected(s.outputs["data"])).set_name("fan-in")  # collect-two-levels


@dsl.pipeline(name="exit-in-loop")
def exit_in_loop():
    with dsl.ParallelFor([1, 2]) as i:
        done = notify(status=dsl.RUN_STATUS)
        with dsl.ExitHandler(done):  # exit-in-loop
            make(n=i)


@dsl.pipeline(name="group-cycle")
def group_cycle():
    done = notify(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(done):
        b = make(n=1).set_name("b")
        c = make(n=2).set_name("c")
    x = make(n=3).set_name("x").after(b)  # reads what the group produced...
    c.after(x)  # ...and feeds the group


@dsl.pipeline(name="named-start")
def named_start():
    make().set_name("start")  # named-start


@dataclass(frozen=True)
class Refusal:
    pipeline: Any
    message: str
    hint: str
    step: str | None
    marker: str | None  # the line marked ``# marker`` in this file; None: no location
    code: str = "PC008"


REFUSALS = {
    "collected-of-a-spot-step": Refusal(
        collect_spot,
        "step 'fan': input 'data' is dsl.Collected of the output of a spot step (a Training "
        f"job puts its job name in the URI); {NOT_EXPRESSIBLE}",
        COLLECT_HINT,
        "fan",
        "collect-spot",
    ),
    "collected-across-two-loop-levels": Refusal(
        collect_two_levels,
        "step 'fan-in': input 'data' is dsl.Collected of an output collected across more than "
        f"one loop level; {NOT_EXPRESSIBLE}",
        COLLECT_HINT,
        "fan-in",
        "collect-two-levels",
    ),
    "exit-handler-in-a-loop": Refusal(
        exit_in_loop,
        "exit task 'notify' is inside a dsl.ParallelFor; an exit handler in a loop is not "
        "expressible on stepfunctions; kubeflow and the local runner can",
        "put the dsl.ExitHandler around the loop",
        None,
        "exit-in-loop",
    ),
    "a-step-feeds-and-reads-a-group": Refusal(
        group_cycle,
        "@exit-handler-1 → x: a step both feeds a group and reads what the group produced; Step "
        "Functions runs a group as one state, so this is not expressible on stepfunctions; "
        "kubeflow and the local runner can",
        "move the step into the group, or split the group in two",
        None,
        None,
    ),
    # the step's Task state once replaced the start state silently: no parameter defaults,
    # no payload for the steps after it
    "a-step-named-start": Refusal(
        named_start,
        "step id 'start' is the name of the state machine's first state on stepfunctions (it "
        "merges the parameter defaults into the execution input); state names must be unique",
        "rename the step with .set_name(...)",
        "start",
        "named-start",
        "PC005",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_each_refusal_of_the_stepfunctions_target(case: str) -> None:
    want = REFUSALS[case]
    diagnostic = only_diagnostic(want.pipeline, "stepfunctions")
    assert (diagnostic.code, diagnostic.severity) == (want.code, "error")
    assert diagnostic.message == want.message
    assert diagnostic.hint == want.hint
    assert diagnostic.step == want.step
    if want.marker is None:
        assert diagnostic.location is None
    else:
        assert points_at(diagnostic, __file__, want.marker), diagnostic.location
