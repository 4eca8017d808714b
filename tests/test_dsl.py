"""The DSL: what users write becomes the right IR, and misuse is reported at the user's line."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from helpers import load_example

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot
from pipecast.dsl.spec import Constant, ImporterRef, OutputRef, ParameterRef, Placeholder
from pipecast.errors import DefinitionError, PipelineError

IMG = "registry.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["run"])
def produce(data: Output[Dataset], model: Output[Model], size: int = 3):
    """Produce a dataset and a model."""


@dsl.container_component(image=IMG, command=["run"])
def consume(data: Input[Dataset], result: Output[Dataset], scale: float = 1.0, label: str = "x"):
    """Consume a dataset."""


@dsl.container_component(image=IMG, command=["run"])
def use_model(model: Input[Model], out: Output[Dataset]):
    """Use a model."""


def _line_of(marker: str) -> int:
    """Line number in this file of the line containing ``marker`` (keeps tests robust)."""
    with open(__file__, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if marker in line and "_line_of" not in line:
                return number
    raise AssertionError(marker)


def _errors(pipeline) -> list:
    with pytest.raises(PipelineError) as info:
        _ = pipeline.spec
    return info.value.diagnostics


def test_flagship_builds_the_expected_ir():
    spec = load_example("video_analysis").spec
    assert [s.id for s in spec.steps] == ["extract-frames", "detect-objects", "track", "summarize"]
    assert [p.name for p in spec.parameters] == ["video_uri", "fps", "threshold"]
    assert spec.parameter("fps").default == 5 and spec.parameter("video_uri").optional is False
    detect = spec.step("detect-objects")
    assert detect.resources.gpu == 1 and detect.resources.memory_bytes == 16 * 1024**3
    assert detect.spot.max_wait_seconds == 3 * 3600
    assert detect.retry.max_attempts == 3 and detect.retry.backoff_seconds == 60
    assert detect.argument("frames") == OutputRef("extract-frames", "frames")
    assert detect.argument("threshold") == ParameterRef("threshold")
    assert spec.step("extract-frames").argument("video") == ImporterRef("importer")
    images = {c.image for c in spec.components}
    assert len(images) == 4, "every step has its own image"


def test_default_args_follow_the_container_contract():
    comp = consume.spec
    assert comp.args == (
        ("--data",),
        (Placeholder("inputPath", "data"),),
        ("--scale",),
        (Placeholder("value", "scale"),),
        ("--label",),
        (Placeholder("value", "label"),),
        ("--result",),
        (Placeholder("outputPath", "result"),),
    )


def test_task_settings_chain_and_override_component_defaults():
    @dsl.container_component(
        image=IMG, command=["run"], resources=Resources(cpu=2), timeout="10m", env={"A": "1"}
    )
    def step(out: Output[Dataset]):
        """A step."""

    @dsl.pipeline(name="p")
    def p():
        (
            step()
            .set_resources(Resources(cpu=8, memory="1GiB", gpu=2, gpu_type="A10G"))
            .set_spot(Spot("1h"))
            .set_retry(Retry(2, "5s"))
            .set_timeout("30m")
            .set_env(B="2")
            .set_caching(True, "1d")
            .set_instance_type("ml.g5.12xlarge")
            .set_name("custom")
        )

    (s,) = p.spec.steps
    assert s.id == "custom" and s.resources.cpu == 8 and s.resources.gpu_type == "A10G"
    assert s.spot.max_wait_seconds == 3600 and s.timeout_seconds == 1800
    assert dict(s.env) == {"A": "1", "B": "2"}
    assert s.caching.expire_after_seconds == 86400 and s.instance_type == "ml.g5.12xlarge"


def test_repeated_components_get_numbered_ids_and_renames_propagate():
    @dsl.pipeline(name="p")
    def p():
        a = produce()
        consume(data=a.outputs["data"])
        c2 = consume(data=a.outputs["data"])
        a.set_name("source")  # renamed after use: consumers must follow
        c2.set_name("second")

    spec = p.spec
    assert [s.id for s in spec.steps] == ["source", "consume", "second"]
    assert spec.step("consume").argument("data") == OutputRef("source", "data")


def test_unknown_argument_has_did_you_mean_and_user_line():
    @dsl.pipeline(name="p")
    def p():
        a = produce()
        consume(dta=a.outputs["data"])  # MARK-unknown

    codes = {d.code: d for d in _errors(p)}
    assert "did you mean 'data'" in codes["PC004"].message
    assert codes["PC004"].location.line == _line_of("MARK-unknown")
    assert codes["PC004"].location.file.endswith("test_dsl.py")
    assert "PC002" in codes  # and the missing 'data' is reported in the same run


def test_all_call_mistakes_are_collected_together():
    @dsl.pipeline(name="p")
    def p(n: str = "a"):
        a = produce(size="three")  # wrong parameter type
        consume(data=a.outputs["model"], scale=n)  # wrong artifact type + wrong param type
        use_model(model=a.outputs["data"], out=None)  # output passed in + wrong type

    diags = _errors(p)
    codes = sorted(d.code for d in diags)
    assert codes.count("PC003") == 4 and "PC004" in codes  # one code per rule (errors.CODES)
    messages = "\n".join(d.message for d in diags)
    assert "expects Dataset, got Model" in messages
    assert "is float, but pipeline parameter 'n' is str" in messages
    assert "'out' is an output of 'use-model'" in messages


def test_output_where_parameter_expected_and_task_where_output_expected():
    @dsl.pipeline(name="p")
    def p():
        a = produce()
        consume(data=a, scale=a.outputs["data"])

    codes = [d.code for d in _errors(p)]
    assert codes.count("PC003") == 2


def test_constant_string_for_artifact_suggests_importer():
    @dsl.pipeline(name="p")
    def p():
        consume(data="s3://bucket/x")

    (d,) = _errors(p)
    assert d.code == "PC003" and "dsl.importer" in d.hint


def test_output_on_multi_output_task():
    @dsl.pipeline(name="p")
    def p():
        consume(data=produce().output)  # MARK-multi

    (d,) = _errors(p)
    assert d.code == "PC122" and "outputs['name']" in d.hint
    assert d.location.line == _line_of("MARK-multi")


def test_unknown_output_name():
    @dsl.pipeline(name="p")
    def p():
        consume(data=produce().outputs["dat"])

    (d,) = _errors(p)
    assert d.code == "PC121" and "did you mean 'data'" in d.message


def test_duplicate_step_ids_name_both_places():
    @dsl.pipeline(name="p")
    def p():
        produce().set_name("x")  # MARK-first
        produce().set_name("x")  # MARK-second

    (d,) = _errors(p)
    assert d.code == "PC005"
    assert d.location.line == _line_of("MARK-second")
    assert f":{_line_of('MARK-first')}" in d.message


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Resources(cpu=1, memory="16 gigs"), "is not a size"),
        (lambda: Resources(cpu=0), "cpu must be a positive number"),
        (lambda: Resources(cpu=1, gpu=-1), "gpu must be a whole number"),
        (lambda: Resources(cpu=1, gpu_type="A10G"), "gpu_type is set but gpu=0"),
        (lambda: Spot(max_wait="soon"), "is not a duration"),
        (lambda: Spot(max_wait=-5), "must be positive"),
        (lambda: Retry(max_attempts=0), "max_attempts must be"),
        (lambda: Retry(backoff="1 fortnight"), "is not a duration"),
    ],
)
def test_bad_units_are_definition_errors_at_the_call(make, fragment):
    with pytest.raises(DefinitionError) as info:
        make()
    assert info.value.diagnostic.code == "PC101"
    assert fragment in str(info.value)
    assert info.value.diagnostic.location.file.endswith("test_dsl.py")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512MiB", 512 * 1024**2),
        ("16GiB", 16 * 1024**3),
        ("1.5GiB", 1536 * 1024**2),
        ("2GB", 2 * 10**9),
        ("1Ti", 1024**4),
        ("1024B", 1024),  # a bare number is refused (tests/test_bad_inputs.py)
    ],
)
def test_memory_units(text, expected):
    assert Resources(memory=text).memory_bytes == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), (12.2, 13)]
)
def test_durations(text, expected):
    assert Spot(max_wait=text).max_wait_seconds == expected


def test_bad_step_name_and_instance_type():
    @dsl.pipeline(name="p")
    def p():
        produce().set_name("Bad_Name")

    (d,) = _errors(p)
    assert d.code == "PC124" and "step id 'Bad_Name' is not valid" in d.message

    @dsl.pipeline(name="q")
    def q():
        produce().set_instance_type("g5.xlarge")

    (d,) = _errors(q)
    assert d.code == "PC125" and "not an ml" in d.message


def test_component_called_outside_pipeline():
    with pytest.raises(DefinitionError, match="called outside a pipeline") as info:
        produce()
    assert info.value.diagnostic.code == "PC102"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("def f(x: set): ...", "unsupported type"),
        ("def f(x: Dataset): ...", "without a direction"),
        ("def f(x: int = 'a'): ...", "is not a int"),
        ("def f(*xs: int): ...", "*args/**kwargs"),
        ("def f(x: Input[Dataset] = None): ...", "has a default"),
    ],
)
def test_bad_component_signatures(source, fragment):
    namespace = {"Dataset": Dataset, "Input": Input}
    exec(source, namespace)
    with pytest.raises(DefinitionError, match=fragment.replace("*", r"\*")) as info:
        dsl.container_component(image=IMG, command=["run"])(namespace["f"])
    assert info.value.diagnostic.code == "PC105"


def test_argument_template_placeholders_are_checked():
    def f(frames: Input[Dataset], out: Output[Dataset], t: float = 0.5):
        """x"""

    with pytest.raises(DefinitionError, match="did you mean 'frames'") as info:
        dsl.container_component(
            image=IMG, command=["r"], args=[dsl.input_path("frame"), dsl.output_path("out")]
        )(f)
    assert info.value.diagnostic.code == "PC106"
    with pytest.raises(DefinitionError, match="never pass 't'") as info:
        dsl.container_component(
            image=IMG, command=["r"], args=[dsl.input_path("frames"), dsl.output_path("out")]
        )(f)
    assert info.value.diagnostic.code == "PC106"
    comp = dsl.container_component(
        image=IMG,
        command=["r"],
        args=["--in", dsl.input_path("frames"), ["--t=", dsl.param("t")], dsl.output_path("out")],
    )(f)
    assert comp.spec.args[2] == ("--t=", Placeholder("value", "t"))


def test_pipeline_parameters_typed_and_checked():
    @dsl.pipeline(name="p")
    def p(count: int = 2, name: str = "x", ratio: float = 0.5, flag: bool = True):
        consume(data=dsl.importer(uri=name).output, scale=count, label=name)

    spec = p.spec
    assert [(x.name, x.type, x.default) for x in spec.parameters] == [
        ("count", "int", 2),
        ("name", "str", "x"),
        ("ratio", "float", 0.5),
        ("flag", "bool", True),
    ]
    assert spec.step("consume").argument("scale") == ParameterRef("count")  # int widens to float

    @dsl.pipeline(name="bad")
    def bad(count: int = "two", items: list | None = None):
        pass

    assert sorted(d.code for d in _errors(bad)) == ["PC105", "PC105"]


def test_parameter_cannot_be_formatted_into_text():
    @dsl.pipeline(name="p")
    def p(prefix: str):
        consume(data=dsl.importer(uri=f"{prefix}/x").output)

    (d,) = _errors(p)
    assert d.code == "PC120" and "used as text" in d.message


def test_constants_and_defaults_are_bound():
    @dsl.pipeline(name="p")
    def p():
        consume(data=produce(size=7).outputs["data"], label="y")

    spec = p.spec
    assert spec.step("produce").argument("size") == Constant(7)
    assert spec.step("consume").argument("scale") == Constant(1.0)
    assert spec.step("consume").argument("label") == Constant("y")


def test_spec_is_frozen():
    spec = load_example("video_analysis").spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.steps[0].id = "x"  # type: ignore[misc]
    assert type(spec.steps) is tuple and type(spec.parameters) is tuple  # no list to mutate


def test_python_component_records_its_function(tmp_path):
    @dsl.component(image="python:3.11-slim")
    def add(a: int, b: int, out: Output[Dataset]):
        """Add."""
        with open(f"{out.path}/sum.txt", "w") as fh:
            fh.write(str(a + b))

    assert add.spec.python_function.endswith(
        ":test_python_component_records_its_function.<locals>.add"
    )
    assert add.spec.command[:3] == ("python", "-m", "pipecast.runtime")
    add.python_func(2, 3, SimpleNamespace(path=str(tmp_path)))  # the user's own body runs
    assert (tmp_path / "sum.txt").read_text() == "5"


def test_pipeline_cannot_be_called_directly():
    pipeline = load_example("video_analysis")
    with pytest.raises(DefinitionError, match="called directly") as info:
        pipeline()
    assert info.value.diagnostic.code == "PC127"


def test_with_image_keeps_the_interface_and_changes_only_the_image():
    from pipecast.components.detect_objects import detect_objects

    gpu = detect_objects.with_image("r.example.com/gpu-detector:1", command=["python", "-m", "gpu"])
    assert gpu.spec.image == "r.example.com/gpu-detector:1" and gpu.spec.command == (
        "python",
        "-m",
        "gpu",
    )
    assert (gpu.spec.args, gpu.spec.inputs, gpu.spec.outputs) == (
        detect_objects.spec.args,
        detect_objects.spec.inputs,
        detect_objects.spec.outputs,
    )
    assert detect_objects.spec.image.startswith("ghcr.io/pipecast/")  # the original is untouched
    assert gpu.with_image("r.example.com/x:2").spec.command == ("python", "-m", "gpu")


def test_with_image_both_variants_in_one_pipeline_need_a_name():
    from pipecast.components.track_objects import track_objects

    pinned = track_objects.with_image("r.example.com/track:2")
    renamed = track_objects.with_image("r.example.com/track:2", name="track-objects-v2")

    @dsl.pipeline(name="two-trackers")
    def ok():
        d = dsl.importer(uri="s3://b/d/", artifact_type=Dataset)
        track_objects(detections=d.output)
        renamed(detections=d.output)

    assert {c.image for c in ok.spec.components} == {
        track_objects.spec.image,
        "r.example.com/track:2",
    }

    @dsl.pipeline(name="clash")
    def clash():
        d = dsl.importer(uri="s3://b/d/", artifact_type=Dataset)
        track_objects(detections=d.output)
        pinned(detections=d.output)

    (d,) = _errors(clash)
    assert d.code == "PC126" and "two different components are named 'track-objects'" in d.message


@pytest.mark.parametrize(
    ("kwargs", "code", "fragment"),
    [
        ({"image": ""}, "PC103", "image must be a non-empty string"),
        ({"image": "a b"}, "PC103", "without spaces"),
        ({"image": "x:1", "command": "python -m x"}, "PC103", "command must be a non-empty list"),
        ({"image": "x:1", "name": "Bad_Name"}, "PC104", "component name 'Bad_Name' is not valid"),
    ],
)
def test_with_image_misuse(kwargs, code, fragment):
    from pipecast.components.summarize import summarize

    with pytest.raises(DefinitionError, match=fragment) as info:
        summarize.with_image(**kwargs)
    assert info.value.diagnostic.code == code
    assert info.value.diagnostic.location.file.endswith("test_dsl.py")


def _ir_validator():
    """The JSON Schema of the IR, the contract other tools read the document against."""
    import jsonschema

    from pipecast.schemas import load_schema

    return jsonschema.Draft202012Validator(load_schema("pipeline"))


def test_expected_duration_is_a_task_hint_in_the_spec_and_the_ir():
    @dsl.pipeline(name="p")
    def p():
        data = produce().set_expected_duration("20m").outputs["data"]
        consume(data=data).set_expected_duration(90).set_timeout("1h")

    spec = p.spec
    assert spec.step("produce").expected_seconds == 1200
    consume_step = spec.step("consume")
    assert (consume_step.expected_seconds, consume_step.timeout_seconds) == (90, 3600)
    steps = {s["id"]: s for s in spec.to_dict()["steps"]}
    assert steps["produce"]["expected_seconds"] == 1200
    assert steps["consume"]["expected_seconds"] == 90


def test_expected_duration_component_default_is_inherited_and_overridden():
    @dsl.container_component(image=IMG, command=["run"], timeout="2h", expected_duration="30m")
    def slow(out: Output[Dataset]):
        """A slow step."""

    @dsl.component(image=IMG, expected_duration="1h")
    def py_step(out: Output[Dataset]):
        """A Python step."""

    assert slow.defaults.expected_seconds == 1800 and py_step.defaults.expected_seconds == 3600
    assert slow.with_image("r.example.com/y:2").defaults.expected_seconds == 1800

    @dsl.pipeline(name="p")
    def p():
        slow()
        slow().set_expected_duration("5m")
        py_step()

    spec = p.spec
    assert spec.step("slow").expected_seconds == 1800
    assert spec.step("slow-2").expected_seconds == 300
    assert spec.step("py-step").expected_seconds == 3600
    assert spec.step("slow").timeout_seconds == 7200


def test_expected_duration_round_trips_and_validates_against_the_schema():
    @dsl.pipeline(name="p")
    def p():
        consume(data=produce().set_expected_duration("1.5h").outputs["data"])

    spec = p.spec
    document = spec.to_dict()
    _ir_validator().validate(document)
    again = type(spec).from_dict(document)
    assert again == spec
    assert again.step("produce").expected_seconds == 5400
    assert again.to_dict() == document


def test_schema_rejects_a_non_positive_expected_duration():
    @dsl.pipeline(name="p")
    def p():
        produce().set_expected_duration(60)

    document = p.spec.to_dict()
    document["steps"][0]["expected_seconds"] = 0
    assert not _ir_validator().is_valid(document)


def test_absent_expected_duration_leaves_no_key_in_the_ir():
    @dsl.pipeline(name="p")
    def p():
        produce().set_timeout("10m")

    (step,) = p.spec.to_dict()["steps"]
    assert "expected_seconds" not in step and step["timeout_seconds"] == 600
    assert p.spec.steps[0].expected_seconds is None


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("soon", "expected_duration 'soon' is not a duration"),
        (0, "expected_duration must be positive, got 0"),
        (-5, "expected_duration must be positive, got -5"),
        (True, "expected_duration must be a string like '30m'"),
    ],
)
def test_bad_expected_duration_is_reported_at_the_users_line(value, fragment):
    @dsl.pipeline(name="p")
    def p():
        produce().set_expected_duration(value)  # MARK-expected

    (d,) = _errors(p)
    assert d.code == "PC101" and fragment in d.message
    assert d.location.file.endswith("test_dsl.py")
    assert d.location.line == _line_of("MARK-expected")
    assert "30m" in d.hint


def test_bad_component_expected_duration_points_at_the_decorator():
    with pytest.raises(DefinitionError, match="expected_duration 'a while'") as info:

        @dsl.container_component(image=IMG, command=["run"], expected_duration="a while")
        def step(out: Output[Dataset]):  # MARK-decorated
            """A step."""

    diagnostic = info.value.diagnostic
    assert diagnostic.code == "PC101" and diagnostic.location.file.endswith("test_dsl.py")
    # the decorator line or the def line, depending on how the Python version numbers the call
    decorated = _line_of("MARK-decorated")
    assert diagnostic.location.line in (decorated - 1, decorated)
