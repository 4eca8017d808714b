"""Values known only when the pipeline runs (``pipecast.dsl._values`` and pipeline parameters):
used in a Python ``if``/``for``, they are a PC120 that names the DSL construct to write instead,
at the user's line; their reprs are what error messages show, so they are pinned here too."""

from __future__ import annotations

from helpers import only_diagnostic, points_at

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output

IMG = "registry.example.com/x:1.0"
IF_HINT = "its value is only known when the pipeline runs: write `with dsl.If(value == ...):`"
FOR_HINT = (
    "its value is only known when the pipeline runs: write `with dsl.ParallelFor(value) as item:`"
)


@dsl.container_component(image=IMG, command=["count"])
def count_motion(camera: str, count: Output[int]):
    """Count moving objects."""


@dsl.container_component(image=IMG, command=["use"])
def use_text(text: str):
    """Take text."""


@dsl.container_component(image=IMG, command=["use"])
def use_frames(frames: Input[Dataset]):
    """Take a folder."""


# ----- Python control flow on run-time values: PC120 ---------------------------------------------


def test_a_pipeline_parameter_in_a_python_if_names_dsl_if_with_its_name() -> None:
    @dsl.pipeline(name="param-if")
    def param_if(camera: str = "a") -> None:
        if camera:  # param-if
            use_text(text="x")

    d = only_diagnostic(param_if)
    assert d.code == "PC120"
    assert d.message == "pipeline parameter 'camera' was used in a condition"
    assert d.hint == (
        "its value is only known when the pipeline runs; pass it to a component, "
        "or guard steps with `with dsl.If(camera == ...):`"
    )
    assert points_at(d, __file__, "param-if")


def test_a_pipeline_parameter_in_a_python_for_names_dsl_parallel_for() -> None:
    @dsl.pipeline(name="param-for")
    def param_for(cameras: list = ["a"]) -> None:  # noqa: B006
        for camera in cameras:  # param-for
            use_text(text=camera)

    d = only_diagnostic(param_for)
    assert d.code == "PC120"
    assert d.message == "pipeline parameter 'cameras' was used in a Python `for`"
    assert d.hint == FOR_HINT
    assert points_at(d, __file__, "param-for")


def test_an_output_parameter_in_a_python_if_names_the_output_and_dsl_if() -> None:
    @dsl.pipeline(name="output-if")
    def output_if() -> None:
        counted = count_motion(camera="a")
        if counted.outputs["count"]:  # output-if
            use_text(text="x")

    d = only_diagnostic(output_if)
    assert d.code == "PC120"
    assert d.message == "output 'count' of 'count-motion' was used in a Python `if`"
    assert d.hint == IF_HINT
    assert points_at(d, __file__, "output-if")


def test_a_loop_item_in_a_python_if_or_for_names_the_item() -> None:
    @dsl.pipeline(name="item-if")
    def item_if() -> None:
        with dsl.ParallelFor(["a", "b"]) as camera:
            if camera:  # item-if
                use_text(text=camera)

    @dsl.pipeline(name="field-if")
    def field_if() -> None:
        with dsl.ParallelFor([{"cam": "a"}]) as item:
            if item["cam"]:  # field-if
                use_text(text=item["cam"])

    @dsl.pipeline(name="item-for")
    def item_for() -> None:
        with dsl.ParallelFor([["a"]]) as cameras:
            for camera in cameras:  # item-for
                use_text(text=camera)

    d = only_diagnostic(item_if)
    assert (d.code, d.message, d.hint) == (
        "PC120",
        "a loop item was used in a Python `if`",
        IF_HINT,
    )
    assert points_at(d, __file__, "item-if")
    d = only_diagnostic(field_if)
    assert (d.code, d.message) == ("PC120", "a loop item ['cam'] was used in a Python `if`")
    assert points_at(d, __file__, "field-if")
    d = only_diagnostic(item_for)
    assert (d.code, d.message, d.hint) == (
        "PC120",
        "a loop item was used in a Python `for`",
        FOR_HINT,
    )
    assert points_at(d, __file__, "item-for")


def test_a_comparison_in_a_python_if_names_its_operator_at_the_comparison() -> None:
    @dsl.pipeline(name="comparison-if")
    def comparison_if() -> None:
        counted = count_motion(camera="a")
        if counted.outputs["count"] >= 3:  # comparison-if
            use_text(text="x")

    d = only_diagnostic(comparison_if)
    assert d.code == "PC120"
    assert d.message == "a comparison (>=) of run-time values was used in a Python condition"
    assert d.hint == "write `with dsl.If(a >= b):` around the steps it guards"
    assert points_at(d, __file__, "comparison-if")


# ----- reprs, as error messages show them ------------------------------------------------------


def test_a_loop_item_bound_to_an_artifact_input_is_shown_by_its_loop() -> None:
    @dsl.pipeline(name="item-artifact")
    def item_artifact() -> None:
        with dsl.ParallelFor(["a"]) as camera:
            use_frames(frames=camera)

    @dsl.pipeline(name="field-artifact")
    def field_artifact() -> None:
        with dsl.ParallelFor([{"cam": "a"}]) as item:
            use_frames(frames=item["cam"])

    d = only_diagnostic(item_artifact)
    assert d.code == "PC003"
    assert d.message == (
        "input 'frames' of 'use-frames' is an artifact (Dataset), got <loop item loop-1>"
    )
    d = only_diagnostic(field_artifact)
    assert d.message == (
        "input 'frames' of 'use-frames' is an artifact (Dataset), got <loop item loop-1['cam']>"
    )


def test_run_status_reads_as_what_the_user_wrote() -> None:
    assert repr(dsl.RUN_STATUS) == "dsl.RUN_STATUS"

    @dsl.pipeline(name="status-artifact")
    def status_artifact() -> None:
        use_frames(frames=dsl.RUN_STATUS)

    d = only_diagnostic(status_artifact)
    assert d.message == (
        "input 'frames' of 'use-frames' is an artifact (Dataset), got dsl.RUN_STATUS"
    )


def test_one_of_lists_the_outputs_it_joins() -> None:
    @dsl.pipeline(name="one-of-loop")
    def one_of_loop(n: int = 1) -> None:
        with dsl.If(n == 1):
            a = count_motion(camera="a")
        with dsl.Else():
            b = count_motion(camera="b")
        with dsl.ParallelFor(dsl.OneOf(a.outputs["count"], b.outputs["count"])):
            use_text(text="x")

    d = only_diagnostic(one_of_loop)
    assert d.code == "PC140"
    assert d.message == (
        "dsl.ParallelFor loops over a list, got "
        "<one of <output count-motion.count: int>, <output count-motion-2.count: int>>"
    )
