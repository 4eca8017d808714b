"""The DSL's remaining diagnostics, each with its code, the user's line and the exact hint: the
survivors of the dsl sample (docs/mutation.md, fourth pass) were messages, hints and locations
that no test read. Components are declared inside the tests, so that the decorators run while a
mutant is switched on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest
from helpers import marked_line, shown_path

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import DefinitionError, Diagnostic, PipelineError

IMG = "r.example.com/x:1.0"
# this file as locations show it: relative to the working directory when below it
SHOWN = shown_path(__file__)


def _definition_error(fn: Callable[[], Any]) -> Diagnostic:
    with pytest.raises(DefinitionError) as caught:
        fn()
    return caught.value.diagnostic


def _pipeline_errors(fn: Callable[[], Any]) -> list[Diagnostic]:
    with pytest.raises(PipelineError) as caught:
        fn()
    return [d for d in caught.value.diagnostics if d.severity == "error"]


def _at(diagnostic: Diagnostic, fn: Callable[..., Any], marker: str) -> None:
    assert diagnostic.location is not None
    assert diagnostic.location.file == SHOWN
    assert diagnostic.location.line == marked_line(fn, marker)


def test_env_of_other_than_strings_is_pc107_at_the_decorator() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"], env={"LEVEL": 3})  # here
        def step() -> None:
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC107",
        "env must map strings to strings, got {'LEVEL': 3}",
        "e.g. env={'LOG_LEVEL': 'info'}",
    )
    _at(d, declare, "here")


def test_an_input_name_that_is_no_name_is_pc105() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])  # here
        def step(_hidden: int = 1) -> None:
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC105",
        "input name '_hidden' is not valid",
        "names start with a letter: letters, digits, _ (≤ 63)",
    )
    _at(d, declare, "here")


def test_a_default_of_another_type_is_pc105_at_the_decorator() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])  # here
        def step(n: int = "three") -> None:  # type: ignore[assignment]
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC105",
        "default 'three' of 'n' is not a int",
        "give 'n' a int default",
    )
    _at(d, declare, "here")


def test_unreadable_type_hints_are_pc105_with_the_types_allowed() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])
        def step(n: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
            """x"""

    d = _definition_error(declare)
    assert d.code == "PC105"
    assert d.message.startswith("cannot read the type hints of 'step': ")
    assert d.hint == "annotate parameters with str/int/float/bool or Input[Dataset]/Output[Dataset]"


def test_an_output_parameter_of_a_python_component_says_to_return_it() -> None:
    def declare() -> None:
        @dsl.component(image=IMG)
        def count(total: Output[int]) -> None:
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC105",
        "'total' of Python component 'count' is an output parameter",
        "return the value instead: def count(...) -> int",
    )


def test_an_unsupported_type_lists_every_type_allowed() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])
        def step(n: set) -> None:  # type: ignore[type-arg]
            """x"""

    d = _definition_error(declare)
    assert d.code == "PC105"
    assert d.message == "'n' of 'step' has unsupported type <class 'set'>"
    assert d.hint is not None
    assert d.hint.startswith(
        "parameters are str, int, float, bool, list or dict; artifacts are Input[T]"
    )
    assert d.hint.endswith("; output parameters are Output[int] (or str, float, bool, list, dict)")


def test_a_bad_pipeline_name_is_pc104_at_the_decorator() -> None:
    def declare() -> None:
        @dsl.pipeline(name="Not_Valid")  # here
        def p() -> None:
            pass

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC104",
        "pipeline name 'Not_Valid' is not valid",
        "lowercase letters, digits and hyphens, starting with a letter, at most 48 characters",
    )
    _at(d, declare, "here")


def _components() -> tuple[Any, Any, Any]:
    @dsl.container_component(image=IMG, command=["make"])
    def make(data: Output[Dataset], n: Output[int]) -> None:
        """Writes a dataset and a count."""

    @dsl.container_component(image=IMG, command=["use"])
    def use(data: Input[Dataset]) -> None:
        """Reads a dataset."""

    @dsl.container_component(image=IMG, command=["take"])
    def take(n: int) -> None:
        """Takes a number."""

    return make, use, take


def test_an_output_parameter_given_to_an_artifact_input_says_where_artifacts_come_from() -> None:
    make, use, _ = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            made = make()
            use(data=made.outputs["n"])  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert d.code == "PC003"
    assert d.message.endswith("is an artifact (Dataset), got output parameter 'n' (int)")
    assert d.hint == "artifacts come from Output[...] artifacts or dsl.importer"
    _at(d, build, "here")


def test_a_task_given_to_a_parameter_input_is_named_a_task() -> None:
    make, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            take(n=make())  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert d.code == "PC003"
    assert d.message.endswith("is a int parameter, got an artifact (task)")
    assert d.hint == "artifacts go to Input[...] inputs; pass a value or pipeline parameter"
    _at(d, build, "here")


@pytest.mark.parametrize("join", ["Collected", "OneOf"])
def test_a_join_of_no_task_output_names_the_join(join: str) -> None:
    _, use, _ = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            with dsl.ParallelFor([1, 2]) as item:
                joined = dsl.Collected(item) if join == "Collected" else dsl.OneOf(item)
            use(data=joined)  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    errors = _pipeline_errors(build)
    (d,) = [e for e in errors if e.message.startswith(f"dsl.{join} takes task outputs")]
    assert d.code == "PC003"
    assert d.hint == f"e.g. dsl.{join}(task.outputs['name'])"
    _at(d, build, "here")


def test_an_unknown_output_lists_the_outputs_there_are() -> None:
    make, use, _ = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            use(data=make().outputs["dat"])  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert d.code == "PC121"
    assert d.hint == "its outputs: data, n"
    _at(d, build, "here")


def test_a_field_of_a_loop_item_read_in_the_wrong_place_is_pc100_with_the_rule() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            with dsl.ParallelFor([{"n": 1}]) as item:
                take(n=item["n"]["deeper"])  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert d.code == "PC100"
    assert d.message == "loop item field 'deeper' cannot be read here"
    assert d.hint == "items of a loop are values or dicts: item['key'] reads one field"
    _at(d, build, "here")


def test_a_loop_over_numbers_gives_items_of_that_type() -> None:
    @dsl.container_component(image=IMG, command=["say"])
    def say(word: str) -> None:
        """Says a word."""

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            with dsl.ParallelFor([1, 2, 3]) as item:
                say(word=item)  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.hint) == ("PC003", "loop over str values")
    assert d.message.endswith("is str, but the loop's items are int")
    _at(d, build, "here")


def test_duplicate_step_ids_point_at_the_name_given_and_say_how_to_fix_it() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            first = take(n=1)
            first.set_name("same")  # first
            take(n=2).set_name("same")  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    errors = _pipeline_errors(build)
    (d,) = [e for e in errors if "same" in e.message]
    assert (d.code, d.message, d.hint) == (
        "PC005",
        f"duplicate step id 'same' (first defined at {SHOWN}:{marked_line(build, 'first')})",
        "give each step a unique id with .set_name('...')",
    )
    _at(d, build, "here")


def test_a_pipeline_error_names_its_pipeline() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="named-one")
        def p() -> None:
            take(n="x")

        p.spec  # noqa: B018 (building the spec is what reports)

    with pytest.raises(PipelineError) as caught:
        build()
    assert caught.value.pipeline == "named-one"


def test_a_condition_group_records_the_line_of_its_with() -> None:
    _, _, take = _components()

    @dsl.pipeline(name="p")
    def p(x: int = 1) -> None:
        with dsl.If(x > 0):  # here
            take(n=x)

    (group,) = p.spec.groups
    assert group.location is not None
    line = marked_line(test_a_condition_group_records_the_line_of_its_with, "here")
    assert (group.location.file, group.location.line) == (SHOWN, line)


class _Two(NamedTuple):
    a: int
    b: str


def test_comparing_with_an_unsupported_operand_is_pc140_with_the_kinds_allowed() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p(x: int = 1) -> None:
            with dsl.If(x == _Two(1, "b")):  # here
                take(n=x)

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.message) == ("PC140", "_Two(a=1, b='b') cannot be compared in a condition")
    _at(d, build, "here")
    assert d.hint == (
        "compare pipeline parameters, output parameters, loop items and constants "
        "(str, int, float, bool, list, dict)"
    )


def test_a_pipeline_parameter_of_another_type_is_pc003_with_the_declaration_to_write() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p(word: str = "a") -> None:
            take(n=word)  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.hint) == ("PC003", "declare 'word: int' or pass a int")
    assert d.message.endswith("is int, but pipeline parameter 'word' is str")
    _at(d, build, "here")


def test_a_literal_of_another_type_is_pc003_at_the_call() -> None:
    _, _, take = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            take(n="three")  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.message, d.hint) == (
        "PC003",
        "input 'n' of 'take' is int, got 'three'",
        "pass a int value",
    )
    _at(d, build, "here")


def test_an_artifact_type_without_a_direction_is_pc105_at_the_function() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])  # here
        def step(data: Dataset) -> None:
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC105",
        "'data' of 'step' is annotated Dataset without a direction",
        "write Input[Dataset] or Output[Dataset]",
    )
    _at(d, declare, "here")


def test_a_component_name_that_is_not_valid_is_pc104_with_the_rule() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])  # here
        def Bad_Name() -> None:
            """x"""

    d = _definition_error(declare)
    assert (d.code, d.message, d.hint) == (
        "PC104",
        "component name 'Bad-Name' is not valid",
        "use lowercase letters, digits and hyphens, starting with a letter (at most 63 characters)",
    )
    _at(d, declare, "here")


def test_unreadable_type_hints_point_at_the_function() -> None:
    def declare() -> None:
        @dsl.container_component(image=IMG, command=["run"])  # here
        def step(n: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
            """x"""

    _at(_definition_error(declare), declare, "here")


SIZES = "write sizes as '512MiB', '16GiB' or '1.5TiB' (GB/MB are decimal)"
DURATIONS = "write durations as '90s', '30m', '2h', '1d' or a number of seconds"


def _units(case: str) -> None:
    """Each bad unit value on a line of its own, marked with its case name."""
    from pipecast.dsl import Resources, Retry, Spot

    if case == "memory":
        Resources(cpu=1, memory="16 gigs")  # memory
    elif case == "disk":
        Resources(cpu=1, disk="lots")  # disk
    elif case == "cpu":
        Resources(cpu=0)  # cpu
    elif case == "gpu":
        Resources(cpu=1, gpu=0.5)  # type: ignore[arg-type]  # gpu
    elif case == "gpu_type":
        Resources(cpu=1, gpu=1, gpu_type="")  # gpu_type
    elif case == "gpu_type without gpu":
        Resources(cpu=1, gpu_type="A10G")  # gpu_type without gpu
    elif case == "spot":
        Spot(max_wait=-5)  # spot
    elif case == "retry":
        Retry(max_attempts=0)  # retry
    elif case == "backoff":
        Retry(backoff="1 fortnight")  # backoff
    elif case == "backoff_rate":
        Retry(backoff_rate=0.5)  # backoff_rate


UNIT_CASES = {
    "memory": ("Resources.memory '16 gigs' is not a size", SIZES),
    "disk": ("Resources.disk 'lots' is not a size", SIZES),
    "cpu": (
        "Resources.cpu must be a positive number, got 0",
        "e.g. Resources(cpu=4, memory='16GiB')",
    ),
    "gpu": (
        "Resources.gpu must be a whole number >= 0, got 0.5",
        "e.g. Resources(cpu=4, memory='16GiB', gpu=1)",
    ),
    "gpu_type": (
        "Resources.gpu_type must be a GPU model name, got ''",
        "e.g. gpu_type='A10G' (SageMaker) or 'nvidia.com/gpu' (Kubeflow)",
    ),
    "gpu_type without gpu": ("Resources.gpu_type is set but gpu=0", "set gpu=1 (or more) as well"),
    "spot": ("Spot.max_wait must be positive, got -5", "give a duration such as '30m'"),
    "retry": (
        "Retry.max_attempts must be a whole number from 1 to 20, got 0",
        "e.g. Retry(max_attempts=3)",
    ),
    "backoff": ("Retry.backoff '1 fortnight' is not a duration", DURATIONS),
    "backoff_rate": (
        "Retry.backoff_rate must be from 1 to 10, got 0.5",
        "e.g. Retry(max_attempts=3, backoff='30s', backoff_rate=2)",
    ),
}


@pytest.mark.parametrize("case", list(UNIT_CASES))
def test_each_bad_unit_is_pc101_with_its_rule_at_the_users_line(case: str) -> None:
    d = _definition_error(lambda: _units(case))
    assert (d.code, d.message, d.hint) == ("PC101", *UNIT_CASES[case])
    _at(d, _units, case)


def test_a_component_called_outside_a_pipeline_is_pc102_saying_where_to_call_it() -> None:
    _, _, take = _components()

    def call() -> None:
        take(n=1)  # here

    d = _definition_error(call)
    assert (d.code, d.message, d.hint) == (
        "PC102",
        "component 'take' was called outside a pipeline",
        "call components inside a function decorated with @dsl.pipeline",
    )
    _at(d, call, "here")


def test_two_components_of_one_name_are_pc126_saying_how_to_rename() -> None:
    def build() -> None:
        @dsl.container_component(image=IMG, command=["a"])
        def twin(n: int) -> None:
            """One."""

        first = twin

        @dsl.container_component(image="r.example.com/other:2", command=["b"])
        def twin(n: int) -> None:  # type: ignore[no-redef]
            """Another."""

        @dsl.pipeline(name="p")
        def p() -> None:
            first(n=1)
            twin(n=2)  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.message, d.hint) == (
        "PC126",
        "two different components are named 'twin'",
        "give one of them another name with name=... in its decorator",
    )
    _at(d, build, "here")


def test_an_output_passed_in_is_pc004_at_the_call() -> None:
    make, _, _ = _components()

    def build() -> None:
        @dsl.pipeline(name="p")
        def p() -> None:
            make(n=3)  # here

        p.spec  # noqa: B018 (building the spec is what reports)

    (d,) = _pipeline_errors(build)
    assert (d.code, d.message) == ("PC004", "'n' is an output of 'make', not an input")
    assert d.hint == "outputs are not passed in; read them from task.outputs['n'] after the call"
    _at(d, build, "here")


def test_a_pipeline_keeps_the_description_it_was_given_over_its_docstring() -> None:
    @dsl.pipeline(name="described", description="Told.")
    def described() -> None:
        """Docstring."""

    @dsl.pipeline(name="documented")
    def documented() -> None:
        """Docstring."""

    assert (described.spec.description, documented.spec.description) == ("Told.", "Docstring.")
