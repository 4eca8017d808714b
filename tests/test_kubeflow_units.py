"""Small parts of the ``kubeflow`` target, each on a table: the kfp name of an output, caching
of a scaled-out step's merge tasks, the document's last line, and when kfp's speed-ups apply.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pytest
import yaml
from helpers import compile_document, compile_text

from pipecast import dsl
from pipecast.compilers.kubeflow_flow import kfp_output_name
from pipecast.dsl import Artifact, Dataset, Input, Model, Output
from pipecast.dsl.spec import ComponentSpec, InputSpec, OutputSpec

pytest.importorskip("kfp")

IMG = "registry.example.com/units:1.0"


# ----- kfp_output_name -------------------------------------------------------------------------


def _component(inputs: tuple[str, ...], outputs: tuple[str, ...]) -> ComponentSpec:
    return ComponentSpec(
        name="c",
        image=IMG,
        command=("run",),
        args=(),
        inputs=tuple(InputSpec(n, "parameter", "str") for n in inputs),
        outputs=tuple(OutputSpec(n, "str", "parameter") for n in outputs),
    )


OUTPUT_NAMES = {
    "a named output stays": ("data", (), ("data",), "data"),
    "a lower-case output stays": ("output", ("x",), ("output",), "output"),
    "a single return value": ("Output", ("x",), ("Output",), "output"),
    "an input takes output": ("Output", ("output",), ("Output",), "output_2"),
    "an output takes output": ("Output", (), ("Output", "output"), "output_2"),
    "inputs take output and output_2": ("Output", ("output", "output_2"), ("Output",), "output_3"),
    "an input and an output take them": ("Output", ("output",), ("Output", "output_2"), "output_3"),
    "only output_2 taken": ("Output", ("output_2",), ("Output",), "output"),
    "three taken": ("Output", ("output_3", "output", "output_2"), ("Output",), "output_4"),
}


@pytest.mark.parametrize(
    ("name", "inputs", "outputs", "expected"), OUTPUT_NAMES.values(), ids=OUTPUT_NAMES.keys()
)
def test_the_kfp_name_of_an_output(
    name: str, inputs: tuple[str, ...], outputs: tuple[str, ...], expected: str
) -> None:
    assert kfp_output_name(_component(inputs, outputs), name) == expected


@dsl.component(image=IMG)
def shout(output: str) -> str:
    """A Python component with an input named ``output`` and a return value."""
    return output.upper()


@dsl.container_component(image=IMG, command=["listen"])
def listen(text: str):
    """Reads a text."""


@dsl.pipeline(name="renamed-output")
def renamed_output():
    listen(text=shout(output="hi").output)


def test_a_return_value_whose_name_is_taken_is_output_2_in_the_document() -> None:
    main = next(yaml.safe_load_all(compile_text(renamed_output, "kubeflow")))
    outputs = main["components"]["comp-shout"]["outputDefinitions"]["parameters"]
    assert list(outputs) == ["output_2"]
    source = main["root"]["dag"]["tasks"]["listen"]["inputs"]["parameters"]["text"]
    assert source == {
        "taskOutputParameter": {"outputParameterKey": "output_2", "producerTask": "shout"}
    }


# ----- a scaled-out step's merge tasks cache as the step does ----------------------------------


@dsl.container_component(image=IMG, command=["split"], instances=2, shard=["data"])
def split_work(data: Input[Dataset], out: Output[Dataset], log: Output[Dataset]):
    """Works on its share."""


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset]):
    """Writes a dataset."""


def _scaled(caching: bool | None) -> Any:
    @dsl.pipeline(name="scaled-caching")
    def scaled() -> None:
        task = split_work(data=make().outputs["data"])
        if caching is not None:
            task.set_caching(caching)

    return scaled


@pytest.mark.parametrize(
    ("caching", "options"),
    [(True, {"enableCache": True}), (False, {}), (None, {})],
    ids=["caching on", "caching off", "not set"],
)
def test_merge_tasks_cache_as_their_step(caching: bool | None, options: dict[str, Any]) -> None:
    main = next(yaml.safe_load_all(compile_text(_scaled(caching), "kubeflow")))
    tasks = main["root"]["dag"]["tasks"]
    merged = {name: t["cachingOptions"] for name, t in tasks.items() if "-merged-" in name}
    assert merged == {"split-work-merged-out": options, "split-work-merged-log": options}


# ----- the document ends with exactly one line break -------------------------------------------


@pytest.mark.parametrize("ending", ["", "\n"], ids=["kfp wrote none", "kfp wrote one"])
def test_the_document_ends_with_one_line_break(
    ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipecast.compilers import kubeflow

    written = compile_document(renamed_output, "kubeflow").text
    real = kubeflow._without_sdk_version
    monkeypatch.setattr(kubeflow, "_without_sdk_version", lambda t: real(t).rstrip("\n") + ending)
    assert compile_document(renamed_output, "kubeflow").text == written
    assert written.endswith("\n") and not written.endswith("\n\n")


# ----- kfp's speed-ups: which versions and switch values ----------------------------------------


@pytest.mark.parametrize(
    ("version", "on"),
    [
        ("2.14.0", True),
        ("2.14.1", True),
        ("2.17.9", True),
        ("2.13.9", False),
        ("2.18.0", False),
        ("3.0.0", False),
        ("1.8.22", False),
        ("2", False),  # (2,) sorts before (2, 14)
        ("2.x.0", False),
        ("dev", False),
        ("", False),
    ],
)
def test_speedups_apply_to_the_tested_kfp_versions_only(
    version: str, on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipecast.compilers._kfp_speedups import SWITCH, active

    monkeypatch.delenv(SWITCH, raising=False)
    assert active(version) is on


@pytest.mark.parametrize(
    ("switch", "on"),
    [
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        (" OFF ", False),
        ("False", False),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("", True),
    ],
)
def test_the_switch_turns_speedups_off(
    switch: str, on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipecast.compilers._kfp_speedups import SWITCH, active

    monkeypatch.setenv(SWITCH, switch)
    assert active("2.14.1") is on


def test_cheap_inspect_is_inspect_for_everything_but_stack() -> None:
    from pipecast.compilers._kfp_speedups import CheapInspect

    cheap = CheapInspect()
    assert cheap.getmodule is inspect.getmodule and cheap.signature is inspect.signature
    assert cheap.Parameter is inspect.Parameter
    with pytest.raises(AttributeError):
        cheap.no_such_function  # noqa: B018


# ----- literal text reaches the pod as written -------------------------------------------------


@dsl.container_component(
    image=IMG, command=["run"], args=[["$", "(HOME)-", dsl.param("x"), "-$", "$"], "$", "a$(b"]
)
def dollars(x: str):
    """Literal dollars, split across the parts of one argument."""


@dsl.pipeline(name="dollars")
def dollar_pipeline(x: str = "v"):
    dollars(x=x)


def test_literal_runs_are_escaped_whole_for_kubernetes() -> None:
    """Kubernetes expands ``$(VAR)`` and ``$$`` in a pod's args: adjacent literal parts are one
    run, so ``"$", "(HOME)"`` is escaped as ``$(HOME)`` is; a run without either stays."""
    main = next(yaml.safe_load_all(compile_text(dollar_pipeline, "kubeflow")))
    assert main["deploymentSpec"]["executors"]["exec-dollars"]["container"]["args"] == [
        "$$(HOME)-{{$.inputs.parameters['x']}}-$$$$",
        "$",
        "a$$(b",
    ]


# ----- kfp's header comment: parameter defaults stay inside the comment ------------------------


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("a\nb\rc\x85d\u2028e\u2029f", "a\\nb\\rc\\x85d\\u2028e\\u2029f"),
        ("tab\tstays", "tab\tstays"),
        (["x\ny", 1, None], ["x\\ny", 1, None]),
        ({"b": "1\n", "a": 2}, {"b": "1\\n", "a": 2}),  # keys in their order outside defaults
        (
            {"k": {"defaultValue": {"z": 1, "a": {"y": "\n", "b": 2}}, "z": 0, "a": 1}},
            {"k": {"defaultValue": {"a": {"b": 2, "y": "\\n"}, "z": 1}, "z": 0, "a": 1}},
        ),
        ({"defaultValue": [{"b": 1, "a": 2}]}, {"defaultValue": [{"a": 2, "b": 1}]}),
        (3.5, 3.5),
    ],
    ids=["line breaks", "no line break", "list", "dict", "default dict", "default list", "number"],
)
def test_comment_safe_escapes_line_breaks_and_sorts_default_keys(value: Any, safe: Any) -> None:
    from pipecast.compilers.kubeflow import _comment_safe

    got = _comment_safe(value)
    assert got == safe
    # dict keys in order: sorted inside a defaultValue, as given elsewhere
    assert repr(got) == repr(safe)


def test_the_header_writer_gets_the_safe_spec_and_the_description() -> None:
    from pipecast.compilers.kubeflow import _safe_header

    seen: list[tuple[Any, str]] = []

    def real(spec: dict[str, Any], description: str) -> str:
        seen.append((spec, description))
        return "# header"

    header = _safe_header(real)
    assert header({"defaultValue": {"b": "\n", "a": 1}}, "about") == "# header"
    assert seen == [({"defaultValue": {"a": 1, "b": "\\n"}}, "about")]
    assert list(seen[0][0]["defaultValue"]) == ["a", "b"]


# ----- swapping a kfp attribute for the duration -----------------------------------------------


def test_swap_replaces_for_the_duration_and_skips_what_is_missing() -> None:
    import types

    from pipecast.compilers._kfp_speedups import swap

    module = types.ModuleType("pipecast_swap_probe")
    module.value = "real"  # type: ignore[attr-defined]
    sys.modules["pipecast_swap_probe"] = module
    try:
        with swap("pipecast_swap_probe", "value", lambda real: f"wrapped {real}"):
            assert module.value == "wrapped real"  # type: ignore[attr-defined]
        assert module.value == "real"  # type: ignore[attr-defined]
        with swap("pipecast_swap_probe", "missing", lambda real: "never"):
            assert not hasattr(module, "missing")
        assert not hasattr(module, "missing")
    finally:
        del sys.modules["pipecast_swap_probe"]
    with swap("pipecast_no_such_module", "value", lambda real: "never"):
        assert "pipecast_no_such_module" not in sys.modules


# ----- the [kubeflow] configuration section ---------------------------------------------------

CONFIG_ERRORS = {
    "an empty GPU label": (
        {"gpu_type_label": ""},
        "kubeflow.gpu_type_label: '' should be non-empty",
    ),
    "a GPU label that is not text": (
        {"gpu_type_label": 3},
        "kubeflow.gpu_type_label: 3 is not of type 'string'",
    ),
    "a node selector that is not a table": (
        {"spot_node_selector": []},
        "kubeflow.spot_node_selector: [] is not of type 'object'",
    ),
    "a node selector value that is not text": (
        {"spot_node_selector": {"a": 1}},
        "kubeflow.spot_node_selector.a: 1 is not of type 'string'",
    ),
    "tolerations that are not a list": (
        {"spot_tolerations": {"key": "k"}},
        "kubeflow.spot_tolerations: {'key': 'k'} is not of type 'array'",
    ),
    "a toleration without a key": (
        {"spot_tolerations": [{"operator": "Exists"}]},
        "kubeflow.spot_tolerations.0: 'key' is a required property",
    ),
    "a key that is not text": (
        {"spot_tolerations": [{"key": 1}]},
        "kubeflow.spot_tolerations.0.key: 1 is not of type 'string'",
    ),
    "a value that is not text": (
        {"spot_tolerations": [{"key": "k", "value": 1}]},
        "kubeflow.spot_tolerations.0.value: 1 is not of type 'string'",
    ),
    "an unknown operator": (
        {"spot_tolerations": [{"key": "k", "operator": "In"}]},
        "kubeflow.spot_tolerations.0.operator: 'In' is not one of ['Equal', 'Exists']",
    ),
    "an unknown effect": (
        {"spot_tolerations": [{"key": "k", "effect": "Never"}]},
        "kubeflow.spot_tolerations.0.effect: 'Never' is not one of ['NoSchedule', "
        "'PreferNoSchedule', 'NoExecute']",
    ),
    "an unknown toleration key": (
        {"spot_tolerations": [{"key": "k", "tolerationSeconds": 3}]},
        "kubeflow.spot_tolerations.0: unknown key 'tolerationSeconds'",
    ),
    "an unknown key of the section": (
        {"spot_node_selectors": {}},
        "kubeflow: unknown key 'spot_node_selectors'; did you mean 'spot_node_selector'?",
    ),
}


@pytest.mark.parametrize(("section", "error"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_a_wrong_kubeflow_setting_is_named(section: dict[str, Any], error: str) -> None:
    from pipecast.config import load_config
    from pipecast.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config({"kubeflow": section})
    assert str(info.value) == f"the configuration mapping: {error}"


def test_every_documented_kubeflow_setting_is_accepted() -> None:
    from pipecast.config import load_config

    tolerations = [
        {"key": "k", "operator": operator, "value": "v", "effect": effect}
        for operator in ("Equal", "Exists")
        for effect in ("NoSchedule", "PreferNoSchedule", "NoExecute")
    ]
    section = {
        "gpu_type_label": "x",
        "spot_node_selector": {"pool": "spot"},
        "spot_tolerations": [*tolerations, {"key": "only"}],
    }
    assert load_config({"kubeflow": section}).get("kubeflow") == section


# ----- text constants in a condition, as CEL reads them ----------------------------------------


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain é ✓", "plain é ✓"),
        ("a'b", "a\\'b"),
        ('a"b', 'a\\"b'),
        ("a\\b", "a\\\\b"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x00\x01\x1f", "\\x00\\x01\\x1f"),
        ("\x7f", "\\x7f"),
        ("\x80 ", "\x80 "),
        ("", ""),
    ],
    ids=[
        "plain",
        "quote",
        "double quote",
        "backslash",
        "escapes",
        "controls",
        "delete",
        "c1",
        "empty",
    ],
)
def test_cel_quoted_escapes_what_a_cel_string_cannot_hold(text: str, quoted: str) -> None:
    from pipecast.compilers.kubeflow_flow import cel_quoted

    assert cel_quoted(text) == quoted


# ----- the interface kfp is given: parameter and artifact types, importers --------------------


@dsl.container_component(image=IMG, command=["train"])
def train(
    data: Input[Dataset],
    base: Input[Model],
    extra: Input[Artifact],
    rate: float,
    model: Output[Model],
    log: Output[Artifact],
    score: Output[float],
    ok: Output[bool],
    table: Output[dict],
    items: Output[list],
    label: Output[int],
):
    """Trains a model."""


@dsl.pipeline(name="typed-interface", description="Every type once.")
def typed_interface(
    text: str,
    count: int = 3,
    rate: float = 0.5,
    on: bool = False,
    names: list = ["a"],  # noqa: B006
    opts: dict = {"k": 1},  # noqa: B006
    base_uri: str = "s3://b/m/",
):
    data = dsl.importer(uri="s3://b/d/", artifact_type=Dataset)
    base = dsl.importer(uri=base_uri, artifact_type=Model)
    extra = dsl.importer(uri="s3://b/x/", artifact_type=Artifact)
    train(data=data.output, base=base.output, extra=extra.output, rate=rate)


def _schema(title: str) -> dict[str, Any]:
    return {"artifactType": {"schemaTitle": f"system.{title}", "schemaVersion": "0.0.1"}}


def test_each_type_reaches_kfp_as_its_kfp_type() -> None:
    main = next(yaml.safe_load_all(compile_text(typed_interface, "kubeflow")))
    assert main["pipelineInfo"] == {"name": "typed-interface", "description": "Every type once."}
    assert main["defaultPipelineRoot"] == "s3://acme-ml/pipelines"  # the config's artifact_root
    optional = {"isOptional": True}
    assert main["root"]["inputDefinitions"]["parameters"] == {
        "text": {"parameterType": "STRING"},
        "count": {"parameterType": "NUMBER_INTEGER", "defaultValue": 3.0, **optional},
        "rate": {"parameterType": "NUMBER_DOUBLE", "defaultValue": 0.5, **optional},
        "on": {"parameterType": "BOOLEAN", "defaultValue": False, **optional},
        "names": {"parameterType": "LIST", "defaultValue": ["a"], **optional},
        "opts": {"parameterType": "STRUCT", "defaultValue": {"k": 1.0}, **optional},
        "base_uri": {"parameterType": "STRING", "defaultValue": "s3://b/m/", **optional},
    }
    component = main["components"]["comp-train"]
    assert component["inputDefinitions"] == {
        "artifacts": {
            "data": _schema("Dataset"),
            "base": _schema("Model"),
            "extra": _schema("Artifact"),
        },
        "parameters": {"rate": {"parameterType": "NUMBER_DOUBLE"}},
    }
    assert component["outputDefinitions"] == {
        "artifacts": {"model": _schema("Model"), "log": _schema("Artifact")},
        "parameters": {
            "score": {"parameterType": "NUMBER_DOUBLE"},
            "ok": {"parameterType": "BOOLEAN"},
            "table": {"parameterType": "STRUCT"},
            "items": {"parameterType": "LIST"},
            "label": {"parameterType": "NUMBER_INTEGER"},
        },
    }
    executors = main["deploymentSpec"]["executors"]
    importers = {k: v["importer"] for k, v in executors.items() if "importer" in v}
    assert importers == {
        "exec-importer": {
            "artifactUri": {"constant": "s3://b/d/"},
            "typeSchema": _schema("Dataset")["artifactType"],
        },
        "exec-importer-2": {
            "artifactUri": {"runtimeParameter": "uri"},  # kfp's name for the task's input
            "typeSchema": _schema("Model")["artifactType"],
        },
        "exec-importer-3": {
            "artifactUri": {"constant": "s3://b/x/"},
            "typeSchema": _schema("Artifact")["artifactType"],
        },
    }
    tasks = main["root"]["dag"]["tasks"]
    assert tasks["importer-2"]["inputs"]["parameters"]["uri"] == {
        "componentInputParameter": "base_uri"
    }
    # each importer is shown by its pipecast id
    ids = [i.id for i in typed_interface.spec.importers]
    assert ids == ["importer", "importer-2", "importer-3"]
    assert [tasks[i]["taskInfo"] for i in ids] == [{"name": i} for i in ids]


def test_cheap_stack_has_the_frames_names_and_lines_of_the_real_one() -> None:
    from pipecast.compilers._kfp_speedups import CheapInspect

    def both() -> tuple[list[Any], list[Any]]:
        return CheapInspect.stack(), inspect.stack(0)

    cheap, real = both()
    assert len(cheap) == len(real)
    assert [(f.frame, f.filename, f.function) for f in cheap] == [
        (f.frame, f.filename, f.function) for f in real
    ]
    # the line numbers of the callers (the first frame's line is where each stack was taken)
    assert [f.lineno for f in cheap[1:]] == [f.lineno for f in real[1:]]
    assert cheap[0].lineno == real[0].lineno
    assert all(f.code_context is None and f.context_index is None for f in cheap)
    assert cheap[0][1:4] == (real[0].filename, real[0].lineno, "both")
