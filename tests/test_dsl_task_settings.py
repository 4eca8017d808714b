"""Per-target step settings in the DSL: ``targets=`` on ``set_caching``, ``set_spot``,
``set_retry`` and ``set_timeout`` keeps that one feature on the named targets only (the IR's
``only_on``), and a malformed ``targets=`` is a PC107 at the user's line that leaves the setting
out while the pipeline function runs on. The compiled side (notes, documents) is
tests/test_all_problems.py's; these run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import marked_line

from pipecast import dsl
from pipecast.dsl import Dataset, Output, Retry, Spot
from pipecast.dsl.spec import Caching, PipelineSpec, StepSpec
from pipecast.errors import Diagnostic, PipelineError

IMG = "registry.example.com/x:1.0"
TARGETS_HINT = 'e.g. targets=("sagemaker", "kubeflow")'


@dsl.container_component(image=IMG, command=["p"])
def produce(out: Output[Dataset]):
    """Produce a folder."""


def _left_out(pipeline: dsl.Pipeline) -> tuple[Diagnostic, StepSpec]:
    """The one diagnostic, and the step built without the setting it was about."""
    with pytest.raises(PipelineError) as info:
        pipeline.spec  # noqa: B018 (building the spec runs the function)
    (diagnostic,) = info.value.diagnostics
    spec = info.value.spec
    assert isinstance(spec, PipelineSpec)
    return diagnostic, spec.step("produce")


def test_each_setting_is_kept_on_the_named_targets_sorted_and_once() -> None:
    @dsl.pipeline(name="per-target")
    def per_target() -> None:
        task = produce()
        task.set_caching(True, "1d", targets=("sagemaker", "kubeflow", "sagemaker"))
        task.set_spot(Spot("1h"), targets=["sagemaker"])
        task.set_retry(Retry(max_attempts=4), targets=("stepfunctions", "sagemaker"))
        task.set_timeout("2h", targets=("kubeflow",))

    step = per_target.spec.step("produce")
    assert step.only_on == (
        ("caching", ("kubeflow", "sagemaker")),
        ("retry", ("sagemaker", "stepfunctions")),
        ("spot", ("sagemaker",)),
        ("timeout", ("kubeflow",)),
    )
    # the settings themselves are those asked for: targets= only says where they apply
    assert step.caching == Caching(True, 86400)
    assert step.spot is not None and step.spot.max_wait_seconds == 3600
    assert step.retry is not None and step.retry.max_attempts == 4
    assert step.timeout_seconds == 7200


def test_setting_again_without_targets_asks_every_target_again() -> None:
    @dsl.pipeline(name="everywhere-again")
    def everywhere_again() -> None:
        task = produce()
        task.set_caching(True, targets=("kubeflow",)).set_caching(True)
        task.set_spot(Spot(), targets=("sagemaker",)).set_spot(Spot())
        task.set_retry(Retry(), targets=("sagemaker",)).set_retry(Retry())
        task.set_timeout("1h", targets=("kubeflow",)).set_timeout("1h")

    assert everywhere_again.spec.step("produce").only_on == ()


@pytest.mark.parametrize(
    ("targets", "shown"),
    [
        ("sagemaker", "'sagemaker'"),  # a string is not a tuple of names, though it iterates
        (("sagemaker", ""), "('sagemaker', '')"),
        (("sagemaker", 1), "('sagemaker', 1)"),
    ],
)
def test_targets_must_be_a_tuple_of_names(targets: object, shown: str) -> None:
    @dsl.pipeline(name="bad-targets")
    def bad_targets() -> None:
        produce().set_caching(True, targets=targets)  # type: ignore[arg-type]  # bad-targets

    d, step = _left_out(bad_targets)
    assert d.code == "PC107"
    assert d.message == f"targets= takes a tuple of target names, got {shown}"
    assert d.hint == TARGETS_HINT
    assert d.location is not None and d.location.line == marked_line(__file__, "bad-targets")
    assert Path(d.location.file).resolve() == Path(__file__).resolve()
    assert step.caching is None and step.only_on == ()


@pytest.mark.parametrize("feature", ["caching", "spot", "retry", "timeout"])
def test_empty_targets_keep_the_feature_nowhere_and_say_which(feature: str) -> None:
    @dsl.pipeline(name="no-targets")
    def no_targets() -> None:
        task = produce()
        if feature == "caching":
            task.set_caching(True, targets=())  # no-targets caching
        elif feature == "spot":
            task.set_spot(Spot(), targets=())  # no-targets spot
        elif feature == "retry":
            task.set_retry(Retry(), targets=())  # no-targets retry
        else:
            task.set_timeout("1h", targets=())  # no-targets timeout

    d, step = _left_out(no_targets)
    assert d.code == "PC107"
    assert d.message == f"targets=() keeps {feature} on no target"
    assert d.hint == f"leave the {feature} setting out instead"
    assert d.location is not None and d.location.line == marked_line(
        __file__, f"no-targets {feature}"
    )
    assert (step.caching, step.spot, step.retry, step.timeout_seconds) == (None, None, None, None)
    assert step.only_on == ()


@pytest.mark.parametrize("setting", ["resources", "spot", "retry"])
def test_a_setting_of_the_wrong_class_is_pc107_and_left_out(setting: str) -> None:
    @dsl.pipeline(name="wrong-class")
    def wrong_class() -> None:
        getattr(produce(), f"set_{setting}")("4 cpus")  # wrong-class

    d, step = _left_out(wrong_class)
    cls = {"resources": "Resources", "spot": "Spot", "retry": "Retry"}[setting]
    assert (d.code, d.message) == ("PC107", f"expected {cls}(...), got '4 cpus'")
    assert d.hint == f"e.g. {cls}(...)"
    assert d.location is not None and d.location.line == marked_line(__file__, "wrong-class")
    assert Path(d.location.file).resolve() == Path(__file__).resolve()
    assert (step.resources, step.spot, step.retry) == (None, None, None)
