"""The IR read back from its JSON form, and the per-target view of a step.

``PipelineSpec.from_dict`` is the way back from a document (``pipecast compile spec.json``, tools,
tests). It refuses, with a diagnostic a user can act on, what no target can use even when the
schema lets it through (a CPU count of ``Infinity``, which Python's JSON reader accepts) or when
the caller skipped the schema: resources that are not positive numbers (PC101) and argument
placeholders that name no input or output of their kind (PC106). ``only_on`` (``targets=(...)``)
survives the round trip, and ``StepSpec.dropped_on``/``without`` give what a target outside
those lists compiles.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import jsonschema
import pytest
from helpers import package_dir

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.dsl.spec import (
    PARAMETER_TYPES,
    Caching,
    CollectedRef,
    ComponentSpec,
    Constant,
    GroupSpec,
    ImporterRef,
    ImporterSpec,
    InputSpec,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    OutputSpec,
    ParameterRef,
    ParameterSpec,
    PipelineSpec,
    Placeholder,
    ResourceSpec,
    RetrySpec,
    RunStatusRef,
    StepSpec,
    artifact_fits,
    binding_from_dict,
    binding_upstream,
    format_bytes,
    parameter_fits,
    render_value,
    value_matches,
)
from pipecast.errors import DefinitionError

IMG = "registry.example.com/x:1.0"
GIB = 1024**3
SCHEMA = json.loads((package_dir("schemas") / "pipeline.schema.json").read_text(encoding="utf-8"))
RESOURCES_HINT = "the IR spells memory and disk in bytes: 17179869184 is 16GiB"


def _document(resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """A one-step pipeline document as ``PipelineSpec.to_dict`` writes it."""
    step: dict[str, Any] = {"id": "train", "component": "train", "arguments": {}}
    step |= {"after": [], "env": {}}
    if resources is not None:
        step["resources"] = resources
    component = {"name": "train", "image": IMG, "command": ["run"], "args": []}
    component |= {"inputs": [], "outputs": []}
    return {
        "ir_version": 2,
        "name": "p",
        "parameters": [],
        "components": [component],
        "importers": [],
        "steps": [step],
    }


def _resources(**changes: Any) -> dict[str, Any]:
    return {"cpu": 2, "memory": 16 * GIB, "gpu": 0, "gpu_type": None, "disk": None} | changes


# ----- resources: positive numbers, memory and disk whole bytes (PC101) ---------------------


def test_the_hint_s_example_is_sixteen_gib() -> None:
    assert format_bytes(17179869184) == "16GiB"


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        (_resources(), ResourceSpec(2, 16 * GIB)),
        (_resources(cpu=0.25, memory=1), ResourceSpec(0.25, 1)),
        (
            _resources(gpu=1, gpu_type="A10G", disk=200 * GIB),
            ResourceSpec(2, 16 * GIB, 1, "A10G", 200 * GIB),
        ),
    ],
)
def test_positive_resources_load_as_written(
    resources: dict[str, Any], expected: ResourceSpec
) -> None:
    assert PipelineSpec.from_dict(_document(resources)).step("train").resources == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cpu": 0}, "resources.cpu must be a positive number, got 0"),
        ({"cpu": -1.5}, "resources.cpu must be a positive number, got -1.5"),
        ({"cpu": math.inf}, "resources.cpu must be a positive number, got inf"),
        ({"cpu": math.nan}, "resources.cpu must be a positive number, got nan"),
        ({"cpu": True}, "resources.cpu must be a positive number, got True"),
        ({"cpu": "2"}, "resources.cpu must be a positive number, got '2'"),
        ({"memory": 0}, "resources.memory must be a positive byte count, got 0"),
        ({"memory": 1.5}, "resources.memory must be a positive byte count, got 1.5"),
        ({"memory": True}, "resources.memory must be a positive byte count, got True"),
        ({"memory": "16GiB"}, "resources.memory must be a positive byte count, got '16GiB'"),
        ({"disk": 0}, "resources.disk must be a positive byte count, got 0"),
        ({"disk": 2.5}, "resources.disk must be a positive byte count, got 2.5"),
    ],
)
def test_resources_no_target_can_use_are_pc101(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        PipelineSpec.from_dict(_document(_resources(**changes)))
    assert info.value.diagnostic.code == "PC101"
    assert info.value.diagnostic.message == message
    assert info.value.diagnostic.hint == RESOURCES_HINT


def test_an_infinite_cpu_passes_the_schema_and_is_refused_when_read() -> None:
    text = json.dumps(_document(_resources(cpu=math.inf)))
    assert '"cpu": Infinity' in text  # what json writes, and reads back, for inf
    jsonschema.validate(json.loads(text), SCHEMA)
    with pytest.raises(DefinitionError) as info:
        PipelineSpec.from_json(text)
    assert info.value.diagnostic.code == "PC101"
    assert info.value.diagnostic.message == "resources.cpu must be a positive number, got inf"


# ----- argument placeholders: each names an input of its kind or an output (PC106) -----------

INPUTS = [
    {"name": "data", "kind": "artifact", "type": "Dataset"},
    {"name": "rate", "kind": "parameter", "type": "float"},
]
OUTPUTS = [{"name": "metrics", "type": "Dataset"}, {"name": "model", "type": "Model"}]


def _component(args: list[Any], inputs: list[Any], outputs: list[Any]) -> dict[str, Any]:
    component = {"name": "train", "image": IMG, "command": ["run"], "args": args}
    return component | {"inputs": inputs, "outputs": outputs}


def test_every_placeholder_kind_loads_when_it_names_the_right_thing() -> None:
    args = [
        "--data",
        {"inputPath": "data"},
        ["--uri=", {"inputUri": "data"}],
        ["--rate=", {"value": "rate"}],
        {"outputPath": "model"},
    ]
    comp = ComponentSpec.from_dict(_component(args, INPUTS, OUTPUTS))
    assert comp.args == (
        ("--data",),
        (Placeholder("inputPath", "data"),),
        ("--uri=", Placeholder("inputUri", "data")),
        ("--rate=", Placeholder("value", "rate")),
        (Placeholder("outputPath", "model"),),
    )
    assert comp.to_dict()["args"] == args


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ({"inputUri": "rate"}, "placeholder {'inputUri': 'rate'} names no artifact input"),
        ({"inputPath": "rate"}, "placeholder {'inputPath': 'rate'} names no artifact input"),
        ({"value": "data"}, "placeholder {'value': 'data'} names no parameter input"),
        ({"outputPath": "data"}, "placeholder {'outputPath': 'data'} names no output"),
        ({"inputUri": "nothing"}, "placeholder {'inputUri': 'nothing'} names no artifact input"),
        # a placeholder after text in one argument is checked too
        (
            ["--rate=", {"value": "nothing"}],
            "placeholder {'value': 'nothing'} names no parameter input",
        ),
    ],
)
def test_a_placeholder_naming_nothing_of_its_kind_is_pc106(arg: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        ComponentSpec.from_dict(_component(["--data", {"inputPath": "data"}, arg], INPUTS, OUTPUTS))
    assert info.value.diagnostic.code == "PC106"
    assert info.value.diagnostic.message == f"component 'train': {message}"
    assert info.value.diagnostic.hint == "inputs: data, rate; outputs: metrics, model"


def test_pc106_on_a_component_without_inputs_or_outputs_says_none() -> None:
    document = _document()
    document["components"][0]["args"] = [{"value": "rate"}]
    with pytest.raises(DefinitionError) as info:
        PipelineSpec.from_dict(document)
    assert info.value.diagnostic.code == "PC106"
    assert info.value.diagnostic.message == (
        "component 'train': placeholder {'value': 'rate'} names no parameter input"
    )
    assert info.value.diagnostic.hint == "inputs: none; outputs: none"


def test_a_component_with_inputs_and_outputs_round_trips() -> None:
    comp = ComponentSpec(
        "train",
        IMG,
        ("run",),
        ((Placeholder("inputUri", "data"),), (Placeholder("outputPath", "metrics"),)),
        (InputSpec("data", "artifact", "Dataset"),),
        (OutputSpec("metrics", "Dataset"),),
    )
    assert ComponentSpec.from_dict(comp.to_dict()) == comp


# ----- bindings ----------------------------------------------------------------------------


@pytest.mark.parametrize("item", [LoopItemRef("shards"), LoopItemRef("shards", "uri")])
def test_a_loop_item_keeps_its_key_through_json(item: LoopItemRef) -> None:
    assert binding_from_dict(json.loads(json.dumps(item.to_dict()))) == item


# ----- targets=(...): only_on in the document, and what a target outside it compiles ----------


@dsl.container_component(image=IMG, command=["run"])
def make(out: Output[Dataset]) -> None:
    """Produce."""


@dsl.container_component(image=IMG, command=["run"])
def use(data: Input[Dataset]) -> None:
    """Consume."""


@dsl.pipeline(name="per-target")
def per_target() -> None:
    made = make().set_caching(True, "2h", targets=("sagemaker", "kubeflow"))
    use(data=made.output).set_timeout("1h", targets=("sagemaker",))


def test_only_on_is_written_sorted_and_read_back() -> None:
    spec = per_target.spec
    document = json.loads(json.dumps(spec.to_dict()))
    jsonschema.validate(document, SCHEMA)
    assert document["steps"][0]["only_on"] == {"caching": ["kubeflow", "sagemaker"]}
    assert document["steps"][1]["only_on"] == {"timeout": ["sagemaker"]}
    again = PipelineSpec.from_dict(document)
    assert again == spec
    assert again.step("make").only_on == (("caching", ("kubeflow", "sagemaker")),)
    assert again.step("use").only_on == (("timeout", ("sagemaker",)),)


def test_a_step_without_targets_writes_no_only_on() -> None:
    spec = PipelineSpec.from_dict(_document())
    assert spec.step("train").only_on == ()
    assert "only_on" not in spec.step("train").to_dict()


STEP = StepSpec(
    "train",
    "train",
    (),
    retry=RetrySpec(3, 10, 2.0),
    timeout_seconds=600,
    caching=Caching(True, 3600),
    only_on=(
        ("caching", ("kubeflow",)),
        ("retry", ("kubeflow", "sagemaker")),
        ("timeout", ("sagemaker",)),
    ),
)


@pytest.mark.parametrize(
    ("target", "dropped"),
    [
        ("stepfunctions", ("caching", "retry", "timeout")),
        ("kubeflow", ("timeout",)),
        ("sagemaker", ("caching",)),
    ],
)
def test_dropped_on_lists_the_set_features_a_target_is_not_named_for(
    target: str, dropped: tuple[str, ...]
) -> None:
    assert STEP.dropped_on(target) == dropped


def test_a_feature_named_in_only_on_but_not_set_is_not_dropped() -> None:
    unset = dataclasses.replace(STEP, caching=None, timeout_seconds=None)
    assert unset.dropped_on("stepfunctions") == ("retry",)
    assert unset.dropped_on("sagemaker") == ()


def test_without_clears_exactly_the_named_features() -> None:
    cleared = STEP.without(("caching", "timeout"))
    assert cleared == dataclasses.replace(STEP, caching=None, timeout_seconds=None)
    assert cleared.retry == RetrySpec(3, 10, 2.0)
    assert STEP.without(STEP.dropped_on("stepfunctions")).dropped_on("stepfunctions") == ()
    assert STEP.without(()) == STEP


# ----- the value rules every layer shares ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (-7, "-7"),
        (0.5, "0.5"),
        (2.0, "2.0"),  # a float stays a float on the command line
        (1e-07, "1e-07"),
        ("a b", "a b"),
        ("", ""),
        (["a", 1, True, None], '["a",1,true,null]'),
        ({"k": "é", "n": [1, 2]}, '{"k":"é","n":[1,2]}'),  # compact JSON, not ASCII-escaped
        ([], "[]"),
    ],
)
def test_render_value_spells_each_type_one_way(value: Any, text: str) -> None:
    assert render_value(value) == text


@pytest.mark.parametrize(
    ("ptype", "value", "fits"),
    [
        ("bool", True, True),
        ("bool", False, True),
        ("bool", 1, False),
        ("bool", "true", False),
        ("int", 3, True),
        ("int", True, False),  # a bool is no int here, though Python says so
        ("int", 3.0, False),
        ("int", "3", False),
        ("float", 0.5, True),
        ("float", 3, True),  # int fits float
        ("float", False, False),
        ("float", math.inf, False),  # no JSON spelling
        ("float", -math.inf, False),
        ("float", math.nan, False),
        ("float", "0.5", False),
        ("list", [1, "a"], True),
        ("list", [], True),
        ("list", (1,), False),
        ("list", "[]", False),
        ("dict", {"a": 1}, True),
        ("dict", {}, True),
        ("dict", {1: "a"}, False),  # JSON keys are strings
        ("dict", [("a", 1)], False),
        ("str", "x", True),
        ("str", "", True),
        ("str", 1, False),
        ("str", True, False),
        ("str", None, False),
    ],
)
def test_value_matches_each_parameter_type(ptype: str, value: Any, fits: bool) -> None:
    assert value_matches(ptype, value) is fits


@pytest.mark.parametrize("ptype", PARAMETER_TYPES)
def test_every_parameter_type_takes_its_own_type_only(ptype: str) -> None:
    assert parameter_fits(ptype, ptype)
    others = [t for t in PARAMETER_TYPES if t != ptype and (ptype, t) != ("int", "float")]
    assert not any(parameter_fits(ptype, other) for other in others)


def test_an_int_parameter_feeds_a_float_input_but_not_the_reverse() -> None:
    assert parameter_fits("int", "float")
    assert not parameter_fits("float", "int")


@pytest.mark.parametrize(
    ("expected", "produced", "fits"),
    [
        ("Dataset", "Dataset", True),
        ("Model", "Model", True),
        ("Artifact", "Dataset", True),
        ("Dataset", "Artifact", True),
        ("Artifact", "Artifact", True),
        ("Dataset", "Model", False),
        ("Model", "Dataset", False),
    ],
)
def test_artifact_fits_same_type_or_artifact_on_either_side(
    expected: str, produced: str, fits: bool
) -> None:
    assert artifact_fits(expected, produced) is fits


# ----- looking things up in a spec ------------------------------------------------------------


def _spec_with_groups(*groups: GroupSpec) -> PipelineSpec:
    comp = ComponentSpec("work", IMG, ("run",), (), (InputSpec("n", "parameter", "int"),), ())
    steps = (
        StepSpec("first", "work", (("n", Constant(1)),)),
        StepSpec("second", "work", (("n", ParameterRef("n")),), group="inner"),
    )
    params = (ParameterSpec("n", "int", 2, True),)
    importers = (ImporterSpec("video", Constant("s3://b/v"), "Dataset"),)
    return PipelineSpec("p", params, (comp,), importers, steps, groups=groups)


def test_lookups_by_name_and_id() -> None:
    spec = _spec_with_groups(GroupSpec("inner", "exit_handler", exit_step="first"))
    assert spec.step("second").id == "second" and spec.step("first").id == "first"
    with pytest.raises(KeyError):
        spec.step("work")  # steps are found by id, not by component
    assert spec.component("work").name == "work"
    assert spec.parameter("n") == ParameterSpec("n", "int", 2, True)
    assert spec.parameter("m") is None
    assert spec.importer("video") == ImporterSpec("video", Constant("s3://b/v"), "Dataset")
    assert spec.importer("audio") is None
    assert spec.group("inner") == GroupSpec("inner", "exit_handler", exit_step="first")
    assert spec.group("outer") is None
    assert spec.step("second").argument("n") == ParameterRef("n")
    assert spec.step("second").argument("m") is None


def test_a_component_finds_its_inputs_and_outputs_by_name() -> None:
    comp = ComponentSpec.from_dict(_component([], INPUTS, OUTPUTS))
    assert comp.input("rate") == InputSpec("rate", "parameter", "float")
    assert comp.input("data") == InputSpec("data", "artifact", "Dataset")
    assert comp.input("model") is None
    assert comp.output("model") == OutputSpec("model", "Model")
    assert comp.output("metrics") == OutputSpec("metrics", "Dataset")
    assert comp.output("data") is None


def test_groups_of_is_outermost_first_and_stops_at_unknown_or_repeated_ids() -> None:
    outer = GroupSpec("outer", "loop", items=ParameterRef("shards"))
    middle = GroupSpec("middle", "condition", parent="outer")
    inner = GroupSpec("inner", "loop", parent="middle", items=LoopItemRef("outer"))
    spec = _spec_with_groups(inner, outer, middle)
    assert spec.groups_of(spec.step("second")) == (outer, middle, inner)
    assert spec.groups_of(spec.step("first")) == ()
    orphan = GroupSpec("inner", "condition", parent="gone")
    assert _spec_with_groups(orphan).groups_of(spec.step("second")) == (orphan,)
    assert _spec_with_groups().groups_of(spec.step("second")) == ()
    loop_a = GroupSpec("inner", "condition", parent="other")
    loop_b = GroupSpec("other", "condition", parent="inner")
    assert _spec_with_groups(loop_a, loop_b).groups_of(spec.step("second")) == (loop_b, loop_a)


def test_upstream_steps_are_the_data_edges_sorted_once() -> None:
    step = StepSpec(
        "join",
        "join",
        (
            ("a", OutputRef("zeta", "out")),
            ("b", CollectedRef("alpha", "out")),
            ("c", OneOfRef((OutputRef("mid", "x"), OutputRef("zeta", "y")))),
            ("d", ParameterRef("n")),
            ("e", ImporterRef("video")),
            ("f", LoopItemRef("loop")),
            ("g", RunStatusRef()),
            ("h", Constant(1)),
        ),
    )
    assert step.upstream_steps() == ("alpha", "mid", "zeta")
    assert binding_upstream(CollectedRef("alpha", "out")) == (OutputRef("alpha", "out"),)
    assert binding_upstream(ParameterRef("n")) == ()
