"""How SageMaker's flattening unrolls each shape of loop: the exact instances and values.

``_sagemaker_flow.plan`` turns every iteration of a step into a step of its own (``<id>-<i>``,
``<id>-<i>-<j>`` in nested loops) with its loop items as constants, reads in the same iteration
naming that iteration's step, and ``dsl.Collected`` naming every iteration it sees, in order.
A table of loop shapes pins the instances and their arguments; ``_Unroller.items`` is pinned on
the same shapes, and the compiled document carries the same names and values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import compile_text, marked_line, shown_path

from pipecast import dsl
from pipecast.compilers import _sagemaker_flow as flow
from pipecast.dsl import Dataset, Input, Output
from pipecast.dsl.spec import CollectedRef, Constant, OutputRef, PipelineSpec
from pipecast.errors import PipelineError

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["echo"])
def echo(out: Output[Dataset], value: str = "-", number: int = 0):
    """Record its arguments."""


@dsl.container_component(image=IMG, command=["count"])
def count(value: str, n: Output[int], frames: Output[Dataset]):
    """Count something in one item."""


@dsl.container_component(image=IMG, command=["total"])
def total(counts: list, frames: Input[Dataset]):
    """Fan in the counts and the folders."""


@dsl.pipeline(name="literals")
def literals():
    with dsl.ParallelFor(["a", "b", "c"]) as x:
        echo(value=x).set_name("lit")


@dsl.pipeline(name="dicts")
def dicts():
    with dsl.ParallelFor([{"cam": "a", "n": 1}, {"cam": "b", "n": 2}]) as it:
        echo(value=it["cam"], number=it["n"]).set_name("each")


@dsl.pipeline(name="nested")
def nested():
    with dsl.ParallelFor([{"cam": "a"}, {"cam": "b"}]) as it:
        with dsl.ParallelFor([7, 8]) as k:
            echo(value=it["cam"], number=k).set_name("pair")
        echo(value=it["cam"]).set_name("outer")


@dsl.pipeline(name="inner-of-item")
def inner_of_item():
    items = [{"cam": "z", "sizes": [1, 2, 3]}, {"cam": "y", "sizes": []}]
    with dsl.ParallelFor(items) as o, dsl.ParallelFor(o["sizes"]) as s:
        echo(value=o["cam"], number=s).set_name("size")


@dsl.pipeline(name="empty")
def empty():
    with dsl.ParallelFor([]) as e:
        echo(value=e).set_name("never")
    echo().set_name("after")


@dsl.pipeline(name="collected")
def collected():
    with dsl.ParallelFor(["u", "v"]) as w:
        counted = count(value=w)
        echo(number=counted.outputs["n"]).set_name("same-iteration")
    total(
        counts=dsl.Collected(counted.outputs["n"]), frames=dsl.Collected(counted.outputs["frames"])
    )


@dsl.pipeline(name="collected-nested")
def collected_nested():
    with dsl.ParallelFor(["p", "q"]):
        with dsl.ParallelFor(["u", "v"]) as w:
            counted = count(value=w)
        inner = dsl.Collected(counted.outputs["n"])
        total(counts=inner, frames=dsl.Collected(counted.outputs["frames"])).set_name("per-outer")
    every = dsl.Collected(counted.outputs["frames"])
    total(counts=dsl.Collected(counted.outputs["n"]), frames=every).set_name("all")


@dsl.pipeline(name="parameter")
def parameter(cams: list = ["p", "q"]):  # noqa: B006
    with dsl.ParallelFor(cams) as c:
        echo(value=c).set_name("param")


def _plan(spec: PipelineSpec) -> flow.Plan:
    return flow.plan(
        spec, tuple(s.id for s in spec.steps), {s.id: list(s.after) for s in spec.steps}
    )


def _shown(inst: flow.Instance) -> tuple[str, str, tuple[int, ...], dict[str, Any]]:
    """An instance as (id, step, index, arguments): constants as their values, a read as
    ``step.output``, a collected input as the instances it fans in."""
    args: dict[str, Any] = {}
    for name, b in inst.step.arguments:
        if isinstance(b, Constant):
            args[name] = b.value
        elif isinstance(b, OutputRef):
            args[name] = f"{b.step}.{b.output}"
        else:
            assert isinstance(b, CollectedRef)
            args[name] = inst.collected[name]
    return inst.step.id, inst.origin, inst.index, args


SHAPES: list[tuple[str, Any, list[tuple[str, str, tuple[int, ...], dict[str, Any]]]]] = [
    (
        "list-of-literals",
        literals,
        [
            ("lit-0", "lit", (0,), {"number": 0, "value": "a"}),
            ("lit-1", "lit", (1,), {"number": 0, "value": "b"}),
            ("lit-2", "lit", (2,), {"number": 0, "value": "c"}),
        ],
    ),
    (
        "list-of-dicts",
        dicts,
        [
            ("each-0", "each", (0,), {"number": 1, "value": "a"}),
            ("each-1", "each", (1,), {"number": 2, "value": "b"}),
        ],
    ),
    (
        "nested",
        nested,
        [
            ("pair-0-0", "pair", (0, 0), {"number": 7, "value": "a"}),
            ("pair-0-1", "pair", (0, 1), {"number": 8, "value": "a"}),
            ("pair-1-0", "pair", (1, 0), {"number": 7, "value": "b"}),
            ("pair-1-1", "pair", (1, 1), {"number": 8, "value": "b"}),
            ("outer-0", "outer", (0,), {"number": 0, "value": "a"}),
            ("outer-1", "outer", (1,), {"number": 0, "value": "b"}),
        ],
    ),
    (
        "inner-loop-over-an-item-key",  # the second item's list is empty: no instance
        inner_of_item,
        [
            ("size-0-0", "size", (0, 0), {"number": 1, "value": "z"}),
            ("size-0-1", "size", (0, 1), {"number": 2, "value": "z"}),
            ("size-0-2", "size", (0, 2), {"number": 3, "value": "z"}),
        ],
    ),
    ("empty-list", empty, [("after", "after", (), {"number": 0, "value": "-"})]),
    (
        "collected",
        collected,
        [
            ("count-0", "count", (0,), {"value": "u"}),
            ("count-1", "count", (1,), {"value": "v"}),
            ("same-iteration-0", "same-iteration", (0,), {"number": "count-0.n", "value": "-"}),
            ("same-iteration-1", "same-iteration", (1,), {"number": "count-1.n", "value": "-"}),
            (
                "total",
                "total",
                (),
                {"counts": ("count-0", "count-1"), "frames": ("count-0", "count-1")},
            ),
        ],
    ),
    (
        "collected-nested",  # inside the outer loop, one iteration's; outside, every one
        collected_nested,
        [
            ("count-0-0", "count", (0, 0), {"value": "u"}),
            ("count-0-1", "count", (0, 1), {"value": "v"}),
            ("count-1-0", "count", (1, 0), {"value": "u"}),
            ("count-1-1", "count", (1, 1), {"value": "v"}),
            (
                "per-outer-0",
                "per-outer",
                (0,),
                {"counts": ("count-0-0", "count-0-1"), "frames": ("count-0-0", "count-0-1")},
            ),
            (
                "per-outer-1",
                "per-outer",
                (1,),
                {"counts": ("count-1-0", "count-1-1"), "frames": ("count-1-0", "count-1-1")},
            ),
            (
                "all",
                "all",
                (),
                {"counts": ("count-0-0", "count-0-1", "count-1-0", "count-1-1")}
                | {"frames": ("count-0-0", "count-0-1", "count-1-0", "count-1-1")},
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [(pipeline, expected) for _, pipeline, expected in SHAPES],
    ids=[case for case, _, _ in SHAPES],
)
def test_each_loop_shape_unrolls_into_these_steps_and_values(
    pipeline: Any, expected: list[tuple[Any, ...]]
) -> None:
    found = _plan(pipeline.spec)
    assert [_shown(i) for i in found.instances] == expected
    assert [s.id for s in found.spec.steps] == [e[0] for e in expected]
    assert found.spec.groups == ()
    document = json.loads(compile_text(pipeline, "sagemaker"))
    assert sorted(s["Name"] for s in document["Steps"]) == sorted(e[0] for e in expected)


def test_the_compiled_steps_carry_each_iterations_values():
    document = json.loads(compile_text(nested, "sagemaker"))
    arguments = {
        s["Name"]: s["Arguments"]["AppSpecification"]["ContainerArguments"]
        for s in document["Steps"]
    }
    assert {name: args[:4] for name, args in arguments.items()} == {
        "outer-0": ["--value", "a", "--number", "0"],
        "outer-1": ["--value", "b", "--number", "0"],
        "pair-0-0": ["--value", "a", "--number", "7"],
        "pair-0-1": ["--value", "a", "--number", "8"],
        "pair-1-0": ["--value", "b", "--number", "7"],
        "pair-1-1": ["--value", "b", "--number", "8"],
    }
    assert {
        args[4:] == ["--out", "/opt/ml/processing/output/out"] for args in arguments.values()
    } == {True}


ITEMS: list[tuple[str, Any, str, tuple[int, ...], list[Any]]] = [
    ("literals", literals, "loop-1", (), ["a", "b", "c"]),
    ("dicts", dicts, "loop-1", (), [{"cam": "a", "n": 1}, {"cam": "b", "n": 2}]),
    ("nested-inner", nested, "loop-2", (1,), [7, 8]),
    ("item-key-first", inner_of_item, "loop-2", (0,), [1, 2, 3]),
    ("item-key-second", inner_of_item, "loop-2", (1,), []),
    ("empty", empty, "loop-1", (), []),
]


@pytest.mark.parametrize(
    ("pipeline", "loop", "outer", "expected"),
    [case[1:] for case in ITEMS],
    ids=[case[0] for case in ITEMS],
)
def test_the_items_of_each_loop(
    pipeline: Any, loop: str, outer: tuple[int, ...], expected: list[Any]
) -> None:
    spec = pipeline.spec
    assert flow._Unroller(spec).items(spec.group(loop), outer) == expected


def test_a_parameter_driven_loop_has_no_items_to_unroll():
    spec = parameter.spec
    with pytest.raises(flow._RunTimeItems) as info:
        flow._Unroller(spec).items(spec.group("loop-1"), ())
    assert info.value.loop is None  # a run-time value: the runtime_loops feature refuses it
    with pytest.raises(PipelineError) as refused:
        compile_text(parameter, "sagemaker")
    (d,) = refused.value.diagnostics  # the target's own checks run only on a clean graph
    assert (d.code, d.step) == ("PC008", "param")
    assert d.message.startswith("step 'param': runtime loops (dsl.ParallelFor over a list")


@dsl.pipeline(name="not-a-list")
def not_a_list():
    items = [{"cam": "z", "sizes": [1]}, {"cam": "y", "sizes": 3}]
    with dsl.ParallelFor(items) as o, dsl.ParallelFor(o["sizes"]) as s:  # not-a-list
        echo(value=o["cam"], number=s).set_name("size")


def test_an_item_that_is_not_a_list_in_some_iteration_is_refused_not_a_crash():
    spec = not_a_list.spec
    loop = spec.group("loop-2")
    assert flow._Unroller(spec).items(loop, (0,)) == [1]
    with pytest.raises(flow._RunTimeItems) as info:
        flow._Unroller(spec).items(loop, (1,))
    assert info.value.loop is loop and str(info.value) == "loop-2"
    with pytest.raises(PipelineError) as refused:
        compile_text(not_a_list, "sagemaker")
    (d,) = refused.value.diagnostics
    assert (d.code, d.message, d.hint, d.step, d.severity) == (
        "PC025",
        "loop 'loop-2' iterates over the item of loop 'loop-1' at 'sizes', which is not a list "
        "in every iteration",
        "make that value a list in every item of the enclosing loop's list literal",
        None,
        "error",
    )
    assert d.location is not None
    assert (d.location.file, d.location.line) == (
        shown_path(__file__),
        marked_line(__file__, "not-a-list"),
    )
