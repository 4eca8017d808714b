"""Misusing ``dsl.If``/``Elif``/``Else``, ``dsl.ParallelFor`` and ``dsl.ExitHandler`` while the
pipeline function runs: each mistake is a diagnostic with its stable code, the exact message and
hint a user reads, and the user's line. The IR these constructs build, and the graph checks on
it, are tests/test_flow_dsl.py's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import marked_line, only_diagnostic, points_at

from pipecast import dsl
from pipecast.dsl import Dataset, Output
from pipecast.dsl.spec import Comparison, Constant, LoopItemRef, OutputRef, ParameterRef
from pipecast.errors import DefinitionError

IMG = "registry.example.com/x:1.0"
COMPARE_HINT = (
    "compare pipeline parameters, output parameters, loop items and constants "
    "(str, int, float, bool, list, dict)"
)
FOLLOW_HINT = "put it right after the `with dsl.If(...):` block it continues"


@dsl.container_component(image=IMG, command=["count"])
def count_motion(camera: str, count: Output[int], frames: Output[Dataset]):
    """Count moving objects."""


@dsl.container_component(image=IMG, command=["use"])
def use_int(n: int):
    """Take an int."""


def test_each_operand_of_a_condition_becomes_its_binding_in_the_ir() -> None:
    @dsl.pipeline(name="operands")
    def operands(n: int = 1) -> None:
        counted = count_motion(camera="a")
        with dsl.ParallelFor([{"cam": "a"}]) as item:
            with dsl.If(item["cam"] != "b"):
                use_int(n=1)
            with dsl.If(item < [1]):
                use_int(n=2)
        with dsl.If(counted.outputs["count"] >= n):
            use_int(n=3)
        with dsl.If(n <= {"k": 1}):
            use_int(n=4)

    assert [g.when for g in operands.spec.groups if g.kind == "condition"] == [
        (Comparison("!=", LoopItemRef("loop-1", "cam"), Constant("b")),),
        (Comparison("<", LoopItemRef("loop-1"), Constant([1])),),
        (Comparison(">=", OutputRef("count-motion", "count"), ParameterRef("n")),),
        (Comparison("<=", ParameterRef("n"), Constant({"k": 1})),),
    ]


def test_an_if_elif_else_chain_shares_the_if_and_excludes_the_earlier_branches() -> None:
    @dsl.pipeline(name="chain")
    def chain(n: int = 1) -> None:
        with dsl.If(n == 1):
            use_int(n=1)
        with dsl.Elif(n == 2):
            use_int(n=2)
        with dsl.Elif(n == 3):
            use_int(n=3)
        with dsl.Else():  # chain-else
            use_int(n=4)

    def equals(value: int) -> Comparison:
        return Comparison("==", ParameterRef("n"), Constant(value))

    assert [(g.id, g.kind, g.chain, g.when, g.unless) for g in chain.spec.groups] == [
        ("condition-1", "condition", "condition-1", (equals(1),), ()),
        ("condition-2", "condition", "condition-1", (equals(2),), (equals(1),)),
        ("condition-3", "condition", "condition-1", (equals(3),), (equals(1), equals(2))),
        ("condition-4", "condition", "condition-1", (), (equals(1), equals(2), equals(3))),
    ]
    else_location = chain.spec.groups[-1].location  # not part of a group's equality
    assert else_location is not None and else_location.line == marked_line(__file__, "chain-else")
    assert Path(else_location.file).resolve() == Path(__file__).resolve()


@pytest.mark.parametrize(
    ("construct", "use"),
    [
        ("dsl.If", lambda: dsl.If(1 == 1)),
        ("dsl.Elif", lambda: dsl.Elif(1 == 1)),
        ("dsl.Else", lambda: dsl.Else()),
        ("dsl.ParallelFor", lambda: dsl.ParallelFor([1])),
        ("dsl.ExitHandler", lambda: dsl.ExitHandler(None)),
    ],
)
def test_a_construct_outside_a_pipeline_is_pc102(construct: str, use: Callable[[], object]) -> None:
    with pytest.raises(DefinitionError) as info:
        use()
    d = info.value.diagnostic
    assert (d.code, d.message) == ("PC102", f"{construct} was used outside a pipeline")
    assert d.hint == "use it inside a @dsl.pipeline function"
    assert d.location is not None
    assert Path(d.location.file).resolve() == Path(__file__).resolve()


@pytest.mark.parametrize("construct", ["If", "Elif"])
def test_a_condition_must_be_a_comparison(construct: str) -> None:
    @dsl.pipeline(name="not-compared")
    def not_compared(n: int = 1) -> None:
        with dsl.If(n == 1):
            use_int(n=1)
        with getattr(dsl, construct)(n):  # not-compared
            use_int(n=2)

    d = only_diagnostic(not_compared)
    assert d.code == "PC140"
    assert d.message == f"dsl.{construct} takes a comparison, got <pipeline parameter n: int>"
    assert d.hint == (
        f"e.g. dsl.{construct}(task.outputs['count'] > 0) or dsl.{construct}(param == 'x')"
    )
    assert points_at(d, __file__, "not-compared")


@pytest.mark.parametrize(
    ("value", "shown"), [({1, 2}, "{1, 2}"), (dsl.RUN_STATUS, "dsl.RUN_STATUS")]
)
def test_an_operand_that_is_no_value_cannot_be_compared(value: object, shown: str) -> None:
    @dsl.pipeline(name="no-value")
    def no_value(n: int = 1) -> None:
        with dsl.If(n == value):  # no-value
            use_int(n=1)

    d = only_diagnostic(no_value)
    assert d.code == "PC140"
    assert d.message == f"{shown} cannot be compared in a condition"
    assert d.hint == COMPARE_HINT
    assert points_at(d, __file__, "no-value")


@pytest.mark.parametrize("construct", ["Elif", "Else"])
def test_elif_and_else_must_follow_an_if_directly(construct: str) -> None:
    @dsl.pipeline(name="no-if")
    def no_if(n: int = 1) -> None:
        with dsl.Elif(n == 1) if construct == "Elif" else dsl.Else():  # no-if
            use_int(n=1)

    @dsl.pipeline(name="step-between")
    def step_between(n: int = 1) -> None:
        with dsl.If(n == 1):
            use_int(n=1)
        use_int(n=2)  # a step between ends the chain
        with dsl.Elif(n == 1) if construct == "Elif" else dsl.Else():  # step-between
            use_int(n=3)

    @dsl.pipeline(name="after-else")
    def after_else(n: int = 1) -> None:
        with dsl.If(n == 1):
            use_int(n=1)
        with dsl.Else():
            use_int(n=2)
        with dsl.Elif(n == 1) if construct == "Elif" else dsl.Else():  # after-else
            use_int(n=3)

    @dsl.pipeline(name="other-level")
    def other_level(n: int = 1) -> None:
        with dsl.If(n == 1):
            use_int(n=1)
        with dsl.ParallelFor([1, 2]):  # noqa: SIM117 (the chain's If is a level up)
            with dsl.Elif(n == 1) if construct == "Elif" else dsl.Else():  # other-level
                use_int(n=3)

    for pipeline in (no_if, step_between, after_else, other_level):
        d = only_diagnostic(pipeline)
        assert d.code == "PC140"
        assert d.message == f"dsl.{construct} must follow a dsl.If or dsl.Elif block directly"
        assert d.hint == FOLLOW_HINT
        assert points_at(d, __file__, pipeline.name)


def test_parallel_for_loops_over_lists_only() -> None:
    @dsl.pipeline(name="over-int")
    def over_int(n: int = 1) -> None:
        with dsl.ParallelFor(n):  # over-int
            use_int(n=1)

    @dsl.pipeline(name="over-artifact")
    def over_artifact() -> None:
        counted = count_motion(camera="a")
        with dsl.ParallelFor(counted.outputs["frames"]):  # over-artifact
            use_int(n=1)

    @dsl.pipeline(name="over-count")
    def over_count() -> None:
        counted = count_motion(camera="a")
        with dsl.ParallelFor(counted.outputs["count"]):  # over-count
            use_int(n=1)

    hint = (
        "pass a list literal, a `list` pipeline parameter, a `list` output parameter or an "
        "enclosing loop's item"
    )
    for pipeline, shown in (
        (over_int, "<pipeline parameter n: int>"),
        (over_artifact, "<output count-motion.frames: Dataset>"),
        (over_count, "<output count-motion.count: int>"),
    ):
        d = only_diagnostic(pipeline)
        assert (d.code, d.message) == ("PC140", f"dsl.ParallelFor loops over a list, got {shown}")
        assert d.hint == hint
        assert points_at(d, __file__, pipeline.name)


@pytest.mark.parametrize("parallelism", [2.0, True, "4"])
def test_parallelism_must_be_a_whole_number(parallelism: object) -> None:
    @dsl.pipeline(name="parallelism")
    def bad_parallelism() -> None:
        with dsl.ParallelFor([1, 2], parallelism=parallelism):  # type: ignore[arg-type]  # parallelism
            use_int(n=1)

    d = only_diagnostic(bad_parallelism)
    assert d.code == "PC140"
    assert d.message == f"parallelism must be a whole number, got {parallelism!r}"
    assert d.hint == "e.g. dsl.ParallelFor(items, parallelism=4), or None for no limit"
    assert points_at(d, __file__, "parallelism")


def test_an_exit_handler_takes_a_task() -> None:
    @dsl.pipeline(name="exit-component")
    def exit_component() -> None:
        with dsl.ExitHandler(use_int):  # exit-component
            use_int(n=1)

    d = only_diagnostic(exit_component)
    assert d.code == "PC140"
    assert d.message == (
        f"dsl.ExitHandler takes the exit task, got <pipecast component 'use-int' image='{IMG}'>"
    )
    assert d.hint == (
        "create the task first: `report = post_status(status=dsl.RUN_STATUS)`, "
        "then `with dsl.ExitHandler(report):`"
    )
    assert points_at(d, __file__, "exit-component")
