"""What the decorators record, and the diagnostics the DSL raises: each has its stable code, the
user's own line, and a hint that says what to do instead."""

from __future__ import annotations

import inspect

import pytest
from helpers import shown_path

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot
from pipecast.dsl.spec import PipelineSpec, Placeholder
from pipecast.errors import DefinitionError, PipelineError, SourceLocation

IMG = "r.example.com/x:1.0"
HERE = __file__
# this file as locations show it: relative to the working directory when below it
SHOWN = shown_path(HERE)


def _line(marker: str) -> int:
    lines = inspect.getsource(inspect.getmodule(_line)).splitlines()  # type: ignore[arg-type]
    return next(i for i, text in enumerate(lines, 1) if text.rstrip().endswith(marker))


RES = Resources(cpu=2, memory="4GiB")
SPOT = Spot("3h")
RETRY = Retry(4, "20s")


@dsl.component
def bare(x: int = 1):
    """A bare python component (module level: the runtime imports it by name)."""


def _build_defaults():
    """Components and pipeline defined at call time: the decorators run inside each test (a
    module-level definition would run once, before mutation testing forks its workers)."""

    @dsl.component(  # MARK-python-decorator
        image=IMG,
        resources=RES,
        spot=SPOT,
        retry=RETRY,
        timeout="1h",
        env={"MODE": "fast"},
        name="adder",
        instance_type="ml.m5.large",
        expected_duration="5m",
    )
    def add(a: int, b: int, total: Output[Dataset]):
        """Add two numbers."""

    @dsl.container_component(  # MARK-container-decorator
        image=IMG,
        command=["run"],
        resources=RES,
        spot=SPOT,
        retry=RETRY,
        timeout="2h",
        env={"LEVEL": "2"},
        name="runner",
        instance_type="ml.c5.xlarge",
        expected_duration="10m",
    )
    def run(data: Input[Dataset]):
        """Run on a dataset."""

    @dsl.pipeline(name="defaults")
    def defaults():
        total = add(a=1, b=2)
        run(data=total.output)
        bare()

    return defaults.spec


def test_python_component_settings_become_step_defaults():
    SPEC = _build_defaults()
    step = SPEC.step("adder")
    assert (step.resources, step.spot, step.retry) == (
        RES.to_spec(),
        SPOT.to_spec(),
        RETRY.to_spec(),
    )
    assert (step.timeout_seconds, step.expected_seconds) == (3600, 300)
    assert step.env == (("MODE", "fast"),)
    assert step.instance_type == "ml.m5.large"
    comp = SPEC.component("adder")
    assert comp.image == IMG
    assert comp.command[:3] == ("python", "-m", "pipecast.runtime")
    assert comp.command[3] == f"{__name__}:_build_defaults.<locals>.add"
    assert comp.python_function == f"{__name__}:_build_defaults.<locals>.add"
    assert comp.location.line == _line("# MARK-python-decorator")
    assert comp.description == "Add two numbers."


def test_container_component_settings_become_step_defaults():
    SPEC = _build_defaults()
    step = SPEC.step("runner")
    assert (step.resources, step.spot, step.retry) == (
        RES.to_spec(),
        SPOT.to_spec(),
        RETRY.to_spec(),
    )
    assert (step.timeout_seconds, step.expected_seconds) == (7200, 600)
    assert step.env == (("LEVEL", "2"),)
    assert step.instance_type == "ml.c5.xlarge"
    comp = SPEC.component("runner")
    assert (comp.image, comp.command, comp.python_function) == (IMG, ("run",), None)
    assert comp.location.line == _line("# MARK-container-decorator")


def test_bare_python_component_has_no_image_and_no_settings():
    SPEC = _build_defaults()
    step = SPEC.step("bare")

    @dsl.component
    def inner(x: int = 1):
        """Defined here, so the decorator runs inside the test."""

    assert inner.spec.image == "" and inner.spec.python_function.endswith("<locals>.inner")
    assert (step.resources, step.spot, step.retry, step.timeout_seconds) == (None,) * 4
    assert step.env == () and step.instance_type is None
    comp = SPEC.component("bare")
    assert comp.image == "" and comp.name == "bare"
    assert comp.command[-1].endswith(":bare")


def test_a_python_component_records_the_users_file_and_line() -> None:
    @dsl.component(image=IMG)  # MARK-python-location
    def located(n: int = 1) -> int:
        return n

    here = SourceLocation(SHOWN, _line("# MARK-python-location"))
    assert located.spec.location == here


def test_a_python_component_scales_out_from_its_decorator() -> None:
    @dsl.component(image=IMG, instances=3, shard=["frames", "frames"])
    def sharded(frames: Input[Dataset], reference: Input[Dataset], out: Output[Dataset]):
        """Every machine sees a third of the frames and all of the reference."""

    assert (sharded.defaults.instances, sharded.defaults.shard) == (3, ("frames",))


def test_a_python_component_returning_no_parameter_type_is_pc105_at_its_def() -> None:
    def define() -> dsl.Component:
        @dsl.component(image=IMG)  # MARK-returns-set
        def returns_set() -> set:
            return set()

        return returns_set

    d = _diagnostic(define).diagnostic
    assert d.code == "PC105"
    assert d.message == "'returns_set' returns <class 'set'>, which is not a parameter type"
    assert d.hint == (
        "return str, int, float, bool, list or dict, or a typing.NamedTuple of them; "
        "write artifacts into an Output[Dataset] argument"
    )
    assert d.location == SourceLocation(SHOWN, _line("# MARK-returns-set"))


def test_without_args_inputs_then_outputs_are_passed_as_name_value_pairs() -> None:
    @dsl.container_component(image=IMG, command=["run"])
    def four(
        frames: Input[Dataset],
        model: Input[Model],
        size: int,
        label: str,
        out: Output[Dataset],
        log: Output[Dataset],
    ):
        """Two of each kind."""

    assert four.spec.args == (
        ("--frames",),
        (Placeholder("inputPath", "frames"),),
        ("--model",),
        (Placeholder("inputPath", "model"),),
        ("--size",),
        (Placeholder("value", "size"),),
        ("--label",),
        (Placeholder("value", "label"),),
        ("--out",),
        (Placeholder("outputPath", "out"),),
        ("--log",),
        (Placeholder("outputPath", "log"),),
    )


def test_with_image_on_a_python_component_changes_only_the_image() -> None:
    pinned = bare.with_image("r.example.com/py:2")
    assert pinned.spec.image == "r.example.com/py:2"
    assert (pinned.spec.command, pinned.spec.python_function) == (
        bare.spec.command,
        bare.spec.python_function,
    )
    error = _diagnostic(lambda: bare.with_image(IMG, command=["x"]))  # MARK-python-command
    d = error.diagnostic
    assert d.code == "PC103"
    assert d.message == "'bare' is a Python function component: its command runs the function"
    assert d.hint == "change only the image (it must have the function's module installed)"
    assert d.location == SourceLocation(SHOWN, _line("# MARK-python-command"))


def test_with_image_shows_a_valid_image() -> None:
    d = _diagnostic(lambda: bare.with_image("a b")).diagnostic
    assert (d.code, d.message) == (
        "PC103",
        "image must be a non-empty string without spaces, got 'a b'",
    )
    assert d.hint == "e.g. .with_image('123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1.0')"


def test_a_container_component_records_the_users_file_and_line() -> None:
    @dsl.container_component(image=IMG, command=["run"])  # MARK-container-location
    def located(n: int = 1):
        """Located."""

    assert located.spec.location == SourceLocation(SHOWN, _line("# MARK-container-location"))


def test_a_bad_image_or_command_shows_a_valid_one_at_the_decorator() -> None:
    def no_image() -> object:
        return dsl.container_component(image=" ", command=["run"])  # MARK-no-image

    def no_command() -> object:
        return dsl.container_component(image=IMG, command=[])  # MARK-no-command

    d = _diagnostic(no_image).diagnostic
    assert (d.code, d.message) == ("PC103", "image must be a non-empty string, got ' '")
    assert d.hint == "e.g. image='123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1.0'"
    assert d.location == SourceLocation(SHOWN, _line("# MARK-no-image"))
    d = _diagnostic(no_command).diagnostic
    assert (d.code, d.message) == ("PC103", "command must be a non-empty list of strings, got []")
    assert d.hint == "e.g. command=['python', '-m', 'detector']"
    assert d.location == SourceLocation(SHOWN, _line("# MARK-no-command"))
    d = _diagnostic(lambda: dsl.container_component(image=IMG, command=["run", 3])).diagnostic
    assert d.message == "command must be a non-empty list of strings, got ['run', 3]"


def test_input_uri_placeholder_names_its_input():
    placeholder = dsl.input_uri("video")
    assert (placeholder.kind, placeholder.name) == ("inputUri", "video")
    assert placeholder.to_dict() == {"inputUri": "video"}
    assert (dsl.input_path("a").kind, dsl.output_path("b").kind, dsl.param("c").kind) == (
        "inputPath",
        "outputPath",
        "value",
    )


def _diagnostic(make) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        make()
    return info.value


def test_calling_a_pipeline_directly_is_pc127_at_the_call():
    @dsl.pipeline(name="direct")
    def direct():
        pass

    error = _diagnostic(lambda: direct())  # MARK-call-pipeline
    d = error.diagnostic
    assert d.code == "PC127"
    assert d.location.file.endswith("test_dsl_rules.py")
    assert d.location.line == _line("# MARK-call-pipeline")
    assert d.hint == "compile it (pipecast.compile) or run it (pipecast run --local)"


def test_formatting_a_parameter_into_text_is_reported_with_the_reason():
    @dsl.pipeline(name="fmt")
    def fmt(label: str = "x"):
        bare(x=f"{label}")  # MARK-format

    with pytest.raises(PipelineError) as info:
        _ = fmt.spec
    (d,) = info.value.diagnostics
    assert d.code == "PC120"
    assert d.message == "pipeline parameter 'label' was used as text"
    assert d.location.line == _line("# MARK-format")
    assert d.hint == (
        "pass the parameter itself to a component input; formatting it into a string "
        "is not possible because its value is only known when the pipeline runs"
    )


@pytest.mark.parametrize(
    ("make", "code", "fragment"),
    [
        (lambda: dsl.container_component(image="", command=["x"]), "PC103", "image must be"),
        (lambda: dsl.container_component(image="  ", command=["x"]), "PC103", "image must be"),
        (lambda: Resources(cpu=0), "PC101", "Resources.cpu"),
    ],
)
def test_definition_errors_point_at_the_users_line_with_a_hint(make, code, fragment):
    d = _diagnostic(make).diagnostic
    assert d.code == code and fragment in d.message
    assert d.location is not None and d.location.file.endswith("test_dsl_rules.py")
    assert d.hint


def _pipeline_error(body) -> list:
    @dsl.pipeline(name="bad")
    def bad():
        body()

    with pytest.raises(PipelineError) as info:
        _ = bad.spec
    return info.value.diagnostics


@pytest.mark.parametrize(
    ("body", "code", "message", "hint"),
    [
        (
            lambda: bare().set_caching("yes"),
            "PC107",
            "set_caching takes True or False, got 'yes'",
            "e.g. .set_caching(True)",
        ),
        (
            lambda: bare().set_instance_type("g5.xlarge"),
            "PC125",
            "instance type 'g5.xlarge' is not an ml.* type",
            "e.g. .set_instance_type('ml.g5.xlarge')",
        ),
        (lambda: bare().set_timeout("soon"), "PC101", "timeout 'soon' is not a duration", None),
        (
            lambda: bare().set_caching(True, expire_after="later"),
            "PC101",
            "expire_after 'later' is not a duration",
            None,
        ),
        (
            lambda: bare().after("bare"),
            "PC123",
            ".after() takes tasks, got 'bare'",
            "pass the value a component call returned",
        ),
        (
            lambda: bare().set_env(LEVEL=2),
            "PC107",
            "env LEVEL=2 is not a string",
            "write LEVEL=str(...)",
        ),
        (
            lambda: bare().set_name("Bad_Name"),
            "PC124",
            "step id 'Bad_Name' is not valid",
            None,
        ),
        (
            lambda: bare().set_expected_duration(0),
            "PC101",
            "expected_duration must be positive, got 0",
            None,
        ),
    ],
)
def test_task_setter_mistakes_are_reported_at_the_call(body, code, message, hint):
    (d,) = _pipeline_error(body)
    assert d.code == code
    assert d.message == message
    assert d.location.file.endswith("test_dsl_rules.py")
    if hint:
        assert d.hint == hint


def test_setting_mistakes_are_all_collected_and_the_rest_of_the_pipeline_is_built() -> None:
    """Issue #15 item 7: a bad duration does not stop the pipeline function, so a second one is
    reported too, and the spec is still built (without the bad settings) for the graph check."""

    @dsl.pipeline(name="typos")
    def typos():
        bare().set_name("first").set_timeout("soon")  # first typo
        bare().set_name("second").set_caching(True, expire_after="later")  # second typo

    with pytest.raises(PipelineError) as info:
        _ = typos.spec
    found = [(d.code, d.message, d.location.line) for d in info.value.diagnostics]
    assert found == [
        ("PC101", "timeout 'soon' is not a duration", _line("# first typo")),
        ("PC101", "expire_after 'later' is not a duration", _line("# second typo")),
    ]
    spec = info.value.spec
    assert isinstance(spec, PipelineSpec)
    assert [s.id for s in spec.steps] == ["first", "second"]
    assert spec.step("first").timeout_seconds is None
    assert spec.step("second").caching is None


def test_caching_settings():
    @dsl.pipeline(name="cache")
    def cache():
        bare().set_name("on").set_caching()
        bare().set_name("short").set_caching(True, expire_after="6h")
        bare().set_name("off").set_caching(False, expire_after="6h")

    spec = cache.spec
    on, short, off = (spec.step(s).caching for s in ("on", "short", "off"))
    assert (on.enabled, on.expire_after_seconds) == (True, 30 * 86400)
    assert (short.enabled, short.expire_after_seconds) == (True, 6 * 3600)
    assert (off.enabled, off.expire_after_seconds) == (False, None)
    assert on.to_dict() == {"enabled": True, "expire_after_seconds": 2592000}
    assert off.to_dict() == {"enabled": False, "expire_after_seconds": None}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (86400, "P1D"),
        (30 * 86400, "P30D"),
        (21600, "PT6H"),
        (3600, "PT1H"),
        (5400, "PT90M"),
        (60, "PT1M"),
        (45, "PT45S"),
        (3601, "PT3601S"),
    ],
)
def test_sagemaker_cache_expiry_is_iso_8601(seconds, text):
    from pipecast.compilers.sagemaker import iso_duration

    assert iso_duration(seconds) == text


def _container(**kwargs):
    def define():
        @dsl.container_component(image=IMG, command=["run"], **kwargs)
        def step(data: Input[Dataset], n: int, out: Output[Dataset]):
            """Templated."""

        return step

    return define


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (
            "--data",
            "args must be a list, not a string",
            "e.g. args=['--frames', dsl.input_path('frames')]",
        ),
        (
            ["--x", {"path": "data"}],
            "argument part {'path': 'data'} is neither text nor a placeholder",
            "use dsl.input_path/input_uri/output_path/param",
        ),
        (
            [dsl.input_path("dat")],
            "placeholder inputPath('dat') names no such input; did you mean 'data'?",
            "declared: data",
        ),
        ([dsl.param("data")], "placeholder value('data') names no such input", "declared: n"),
        (
            [dsl.input_path("data"), dsl.output_path("out")],
            "args never pass 'n' to the container",
            "add a placeholder for each input/output, or remove it from the signature",
        ),
        (
            [dsl.output_path("data")],
            "placeholder outputPath('data') names no such output",
            "declared: out",
        ),
    ],
)
def test_argument_template_mistakes_are_pc106(args, message, hint):
    d = _diagnostic(_container(args=args)).diagnostic
    assert d.code == "PC106"
    assert d.message == message
    assert d.hint == hint
    assert d.location.file.endswith("test_dsl_rules.py")


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        ([], "args never pass 'a', 'b' to the container", None),
        (
            [dsl.input_path("a"), dsl.input_uri("c")],
            "placeholder inputUri('c') names no such input",
            "declared: a, b",
        ),
        (
            [dsl.input_path("a"), dsl.input_path("b"), dsl.param("a")],
            "placeholder value('a') names no such input",
            "declared: none",
        ),
        (
            [dsl.input_path("a"), dsl.input_path("b"), dsl.output_path("a")],
            "placeholder outputPath('a') names no such output",
            "declared: none",
        ),
    ],
)
def test_template_mistakes_list_every_name_or_none(
    args: list[object], message: str, hint: str | None
) -> None:
    def define() -> dsl.Component:
        @dsl.container_component(image=IMG, command=["run"], args=args)  # type: ignore[arg-type]
        def two_inputs(a: Input[Dataset], b: Input[Dataset]):
            """Two folders in, no parameters, no outputs."""

        return two_inputs

    d = _diagnostic(define).diagnostic
    assert d.code == "PC106"
    assert d.message == message
    if hint is not None:
        assert d.hint == hint


def test_argument_template_numbers_become_text():
    step = _container(
        args=[
            "--k",
            3,
            ["--r=", 0.5],
            dsl.input_path("data"),
            dsl.param("n"),
            dsl.output_path("out"),
        ]
    )()
    args = step.spec.args
    assert args[:3] == (("--k",), ("3",), ("--r=", "0.5"))
    assert [p.kind for (p,) in args[3:]] == ["inputPath", "value", "outputPath"]


def test_after_and_env_accumulate():
    @dsl.pipeline(name="acc")
    def acc():
        a = bare().set_name("a")
        b = bare().set_name("b")
        bare().set_name("c").after(a).after(b, a).set_env(X="1").set_env(Y="2", X="3")

    step = acc.spec.step("c")
    assert step.after == ("a", "b")
    assert dict(step.env) == {"X": "3", "Y": "2"}
