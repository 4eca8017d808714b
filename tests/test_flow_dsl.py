"""Values between steps and control flow (DESIGN §12): output parameters, list/dict values,
dsl.If/Elif/Else, OneOf, ParallelFor, Collected, ExitHandler and RUN_STATUS in the DSL and the
IR (version 2, schema-valid, round-tripping), the graph checks that guard them, and every cloud
target refusing them cleanly until it supports them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import pytest
from helpers import ROOT, compile_text, package_dir

from pipecast import dsl
from pipecast.compilers import graph, load_target
from pipecast.compilers.target import Capabilities
from pipecast.dsl import Dataset, Input, Output
from pipecast.dsl.spec import (
    IR_VERSION,
    CollectedRef,
    Constant,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    RunStatusRef,
)
from pipecast.errors import PipelineError
from pipecast.params import parse_params

IMG = "registry.example.com/x:1.0"
SCHEMA = json.loads((package_dir("schemas") / "pipeline.schema.json").read_text(encoding="utf-8"))


@dsl.container_component(image=IMG, command=["count"])
def count_motion(camera: str, frames: Output[Dataset], count: Output[int]):
    """Count moving objects."""


@dsl.container_component(image=IMG, command=["detect"])
def detect(frames: Input[Dataset], camera: str, detections: Output[Dataset]):
    """Detect."""


@dsl.container_component(image=IMG, command=["use"])
def use_int(n: int):
    """Take an int."""


@dsl.container_component(image=IMG, command=["use"])
def use_list(xs: list):
    """Take a list."""


@dsl.container_component(image=IMG, command=["use"])
def use_text(text: str):
    """Take text."""


@dsl.container_component(image=IMG, command=["use"])
def use_frames(frames: Input[Dataset]):
    """Take a folder."""


class Stats(NamedTuple):
    total: int
    cameras: list


@dsl.component(image=IMG)
def summarize(counts: list) -> Stats:
    return Stats(sum(counts), [])


@dsl.component(image=IMG)
def report(status: str, cams: list) -> str:
    return status


def _ir(pipeline) -> dict:
    doc = json.loads(compile_text(pipeline, "ir"))
    jsonschema.validate(doc, SCHEMA)
    assert PipelineSpec.from_dict(doc).to_dict() == doc  # round trip
    return doc


def _codes(pipeline) -> list[tuple[str, str]]:
    with pytest.raises(PipelineError) as info:
        graph.check(pipeline.spec)
    return [(d.code, d.message) for d in info.value.diagnostics]


# ----- output parameters and list/dict values -----------------------------------------------------


def test_output_parameters_of_container_and_python_components():
    comp = count_motion.spec
    assert [(o.name, o.type, o.kind) for o in comp.outputs] == [
        ("frames", "Dataset", "artifact"),
        ("count", "int", "parameter"),
    ]
    assert comp.args[-2:] == (("--count",), (dsl.output_path("count"),))
    assert [(o.name, o.type, o.kind) for o in summarize.spec.outputs] == [
        ("total", "int", "parameter"),
        ("cameras", "list", "parameter"),
    ]
    assert [(o.name, o.type) for o in report.spec.outputs] == [("Output", "str")]


def test_an_output_parameter_binds_to_a_parameter_input_and_lists_flow_everywhere():
    @dsl.pipeline(name="values")
    def values(cams: list = ["a", "b"], opts: dict = {"k": 1}):  # noqa: B006
        c = count_motion(camera="a")
        use_int(n=c.outputs["count"])
        s = summarize(counts=cams)
        use_int(n=s.outputs["total"])
        use_list(xs=s.outputs["cameras"])
        t = report(status="x", cams=["a"])
        use_text(text=t.output)

    doc = _ir(values)
    assert doc["ir_version"] == IR_VERSION == 2
    assert doc["parameters"] == [
        {"name": "cams", "type": "list", "default": ["a", "b"]},
        {"name": "opts", "type": "dict", "default": {"k": 1}},
    ]
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["use-int"]["arguments"]["n"] == {
        "output": {"step": "count-motion", "name": "count"}
    }
    assert steps["use-text"]["arguments"]["text"] == {
        "output": {"step": "report", "name": "Output"}
    }
    assert values.graph.has_edge("summarize", "use-int-2")
    graph.check(values.spec)
    assert parse_params(values.spec, ['cams=["x","y"]', 'opts={"a":2}']) == {
        "cams": ["x", "y"],
        "opts": {"a": 2},
    }


def test_output_parameter_type_mismatch_and_artifact_confusion_are_reported():
    @dsl.pipeline(name="mismatch")
    def mismatch():
        c = count_motion(camera="a")
        use_text(text=c.outputs["count"])
        use_frames(frames=c.outputs["count"])

    messages = [m for _, m in _dsl_errors(mismatch)]
    assert any("is str, but output 'count' of 'count-motion' is int" in m for m in messages)
    assert any("got output parameter 'count'" in m for m in messages)


def _dsl_errors(pipeline) -> list[tuple[str, str]]:
    with pytest.raises(PipelineError) as info:
        pipeline.spec  # noqa: B018
    return [(d.code, d.message) for d in info.value.diagnostics]


def test_bad_list_parameters_on_the_command_line_are_clear():
    @dsl.pipeline(name="cli-lists")
    def cli_lists(cams: list):
        use_list(xs=cams)

    from pipecast.errors import ParameterError

    with pytest.raises(ParameterError, match="written as JSON"):
        parse_params(cli_lists.spec, ["cams=a,b"])
    with pytest.raises(ParameterError, match="is a list, got dict"):
        parse_params(cli_lists.spec, ['cams={"a":1}'])


# ----- control flow in the IR -------------------------------------------------------------------


def triage_like():
    @dsl.pipeline(name="flow")
    def flow(cams: list = ["a", "b"]):  # noqa: B006
        status = report(status=dsl.RUN_STATUS, cams=cams)
        with dsl.ExitHandler(status):
            with dsl.ParallelFor(cams, parallelism=2) as cam:
                c = count_motion(camera=cam)
                with dsl.If(c.outputs["count"] > 0):
                    d1 = detect(frames=c.outputs["frames"], camera=cam)
                with dsl.Else():
                    d2 = detect(frames=c.outputs["frames"], camera="none")
                use_frames(frames=dsl.OneOf(d1.outputs["detections"], d2.outputs["detections"]))
            summarize(counts=dsl.Collected(c.outputs["count"]))
            use_frames(frames=dsl.Collected(c.outputs["frames"])).set_name("all-frames")

    return flow


def test_groups_and_bindings_in_the_ir():
    flow = triage_like()
    doc = _ir(flow)
    groups = {g["id"]: g for g in doc["groups"]}
    assert [(g["id"], g["kind"], g["parent"]) for g in doc["groups"]] == [
        ("exit-handler-1", "exit_handler", None),
        ("loop-2", "loop", "exit-handler-1"),
        ("condition-3", "condition", "loop-2"),
        ("condition-4", "condition", "loop-2"),
    ]
    assert groups["exit-handler-1"]["exit_step"] == "report"
    assert groups["loop-2"]["items"] == {"parameter": "cams"}
    assert groups["loop-2"]["parallelism"] == 2
    count = {"output": {"step": "count-motion", "name": "count"}}
    cond = [{"op": ">", "left": count, "right": {"constant": 0}}]
    assert (groups["condition-3"]["when"], groups["condition-3"]["unless"]) == (cond, [])
    assert (groups["condition-4"]["when"], groups["condition-4"]["unless"]) == ([], cond)
    assert groups["condition-4"]["chain"] == "condition-3"
    spec = flow.spec
    assert spec.step("detect").argument("camera") == LoopItemRef("loop-2")
    assert spec.step("use-frames").argument("frames") == OneOfRef(
        (OutputRef("detect", "detections"), OutputRef("detect-2", "detections"))
    )
    assert spec.step("summarize").argument("counts") == CollectedRef("count-motion", "count")
    assert spec.step("report").argument("status") == RunStatusRef()
    assert spec.step("report").group is None
    # the graph stays a DiGraph of steps; groups ride on the nodes
    g = flow.graph
    assert set(g.nodes) == {s.id for s in spec.steps}
    assert g.nodes["detect"]["groups"] == ("exit-handler-1", "loop-2", "condition-3")
    assert g.edges["count-motion", "report"]["exit"] is True
    assert g.has_edge("count-motion", "summarize")
    checked = graph.check(spec)
    assert checked.order[-1] == "report"


def test_elif_chains_accumulate_the_earlier_conditions():
    @dsl.pipeline(name="chain")
    def chain(mode: str = "a", n: int = 1):
        with dsl.If(mode == "a"):
            use_int(n=1)
        with dsl.Elif(n >= 2):
            use_int(n=2)
        with dsl.Else():
            use_int(n=3)

    spec = chain.spec
    a, b, c = spec.groups
    assert a.when[0].left == ParameterRef("mode") and a.when[0].right == Constant("a")
    assert b.when[0].op == ">=" and b.unless == a.when
    assert c.when == () and c.unless == (*a.when, *b.when)
    assert {a.chain, b.chain, c.chain} == {a.id}
    graph.check(spec)


def test_ir_version_1_documents_still_load():
    old = json.loads((ROOT / "examples" / "compiled" / "video-analysis.ir.json").read_text())
    old["ir_version"] = 1
    jsonschema.validate(old, SCHEMA)
    spec = PipelineSpec.from_dict(old)
    assert spec.groups == () and all(s.group is None for s in spec.steps)
    graph.check(spec)


def test_nested_loops_over_dict_items_and_literal_lists():
    @dsl.pipeline(name="nested")
    def nested():
        with dsl.ParallelFor([{"cam": "a", "zones": [1, 2]}, {"cam": "b", "zones": [3]}]) as s:
            use_text(text=s["cam"])
            with dsl.ParallelFor(s["zones"]) as z:
                use_int(n=z)

    spec = nested.spec
    outer, inner = spec.groups
    assert inner.parent == outer.id and inner.items == LoopItemRef(outer.id, "zones")
    assert spec.step("use-text").argument("text") == LoopItemRef(outer.id, "cam")
    graph.check(spec)


# ----- mistakes: in Python, in the DSL, and in the graph ----------------------------------------


def test_python_if_and_for_on_run_time_values_name_the_dsl_construct():
    @dsl.pipeline(name="py-if")
    def py_if(flag: bool = True):
        if flag:
            use_int(n=1)

    @dsl.pipeline(name="py-for")
    def py_for(cams: list = ["a"]):  # noqa: B006
        for cam in cams:
            use_text(text=cam)

    @dsl.pipeline(name="py-out")
    def py_out():
        c = count_motion(camera="a")
        if c.outputs["count"] > 0:
            use_int(n=1)

    ((code, message),) = _dsl_errors(py_if)
    assert code == "PC120" and "condition" in message
    with pytest.raises(PipelineError) as info:
        py_for.spec  # noqa: B018
    (diag,) = info.value.diagnostics
    assert diag.code == "PC120" and "dsl.ParallelFor" in (diag.hint or "")
    assert diag.location is not None and diag.location.file.endswith("test_flow_dsl.py")
    assert "for cam in cams" in Path(__file__).read_text().splitlines()[diag.location.line - 1]
    with pytest.raises(PipelineError) as info:
        py_out.spec  # noqa: B018
    (diag,) = info.value.diagnostics
    assert diag.code == "PC120" and "dsl.If" in (diag.hint or "")


def test_dsl_misuse_is_reported_at_the_users_line():
    @dsl.pipeline(name="misuse")
    def misuse(n: int = 1):
        with dsl.Elif(n == 1):
            use_int(n=1)

    @dsl.pipeline(name="misuse-two")
    def misuse_two(n: int = 1):
        with dsl.If(n):
            use_int(n=1)

    @dsl.pipeline(name="misuse-three")
    def misuse_three(n: int = 1):
        with dsl.ParallelFor(n):
            use_int(n=1)

    for p, fragment in (
        (misuse, "must follow a dsl.If"),
        (misuse_two, "takes a comparison"),
        (misuse_three, "loops over a list"),
    ):
        ((code, message),) = _dsl_errors(p)
        assert code == "PC140" and fragment in message


def test_graph_checks_report_every_control_flow_mistake_at_once():
    @dsl.pipeline(name="bad")
    def bad(items: list = [1]):  # noqa: B006
        m = count_motion(camera="a")
        with dsl.If(m.outputs["count"] > 1):
            inner = count_motion(camera="b")
        use_int(n=inner.outputs["count"])  # PC020
        with dsl.ParallelFor(items, parallelism=0) as it:  # PC025
            looped = count_motion(camera="c")
        use_int(n=looped.outputs["count"])  # PC021
        use_list(xs=dsl.Collected(m.outputs["count"]))  # PC022
        use_int(n=it)  # PC021
        with dsl.If(m.outputs["count"] == "three"):  # PC023
            use_int(n=1)
        with dsl.If(m.outputs["frames"] == "x"):  # PC023
            use_int(n=1)
        use_text(text=dsl.RUN_STATUS)  # PC024
        e = use_int(n=2)
        with dsl.ExitHandler(e), dsl.ExitHandler(use_int(n=3)):  # PC024
            use_int(n=4)
        with dsl.If(m.outputs["count"] > 2):
            x1 = count_motion(camera="x")
        with dsl.If(m.outputs["count"] > 3):
            x2 = count_motion(camera="y")
        use_int(n=dsl.OneOf(x1.outputs["count"], x2.outputs["count"]))  # PC020: not exclusive

    found = _codes(bad)
    codes = sorted(code for code, _ in found)
    assert codes == sorted(
        ["PC020", "PC025", "PC021", "PC022", "PC021", "PC023", "PC023", "PC024", "PC024", "PC020"]
    ), found
    text = "\n".join(m for _, m in found)
    assert "outside its branch" in text and "parallelism is 0" in text
    assert "is an artifact, not a value" in text and "not exclusive" in text


def test_an_exit_task_inside_its_own_handler_is_reported():
    doc = json.loads(compile_text(triage_like(), "ir"))
    for step in doc["steps"]:
        if step["id"] == "report":
            step["group"] = "exit-handler-1"
    spec = PipelineSpec.from_dict(doc)
    with pytest.raises(PipelineError) as info:
        graph.check(spec)
    assert any(
        d.code == "PC024" and "inside its own exit handler" in d.message
        for d in info.value.diagnostics
    )


def _without_control_flow(name: str) -> Any:
    """A registered target as it was before #18: none of the opt-in features declared."""
    return dataclasses.replace(load_target(name), capabilities=Capabilities())


# every cloud target expresses control flow since #18 (tests/test_kubeflow_flow.py,
# test_stepfunctions_flow.py, test_sagemaker_flow.py); one that does not must refuse it
@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions", "kubeflow"])
def test_a_target_without_control_flow_refuses_it_naming_the_construct_and_the_local_runner(
    target,
):
    with pytest.raises(PipelineError) as info:
        graph.check(triage_like().spec, _without_control_flow(target))
    diags = [d for d in info.value.diagnostics if d.code == "PC008"]
    text = "\n".join(d.format() for d in diags)
    for construct in ("dsl.ParallelFor", "dsl.If", "dsl.ExitHandler", "Output[int]"):
        assert construct in text, construct
    assert "step 'detect'" in text and "pipecast run --local" in text
    assert any("pipeline parameter 'cams' is a list" in d.message for d in diags)


# ----- kfp documentation pipelines port by changing imports -------------------------------------


def _port(source: str, tmp_path: Path, name: str):
    """Load a kfp pipeline after swapping ``from kfp import dsl`` for pipecast's."""
    from pipecast._loader import load_pipeline

    path = tmp_path / f"{name}.py"
    path.write_text(source.replace("from kfp import dsl", "from pipecast import dsl"))
    return load_pipeline(str(path)).pipeline


KFP_CONDITIONS = """
from kfp import dsl


@dsl.component
def flip_three_sided_coin() -> str:
    import random
    return random.choice(['heads', 'tails', 'draw'])


@dsl.component
def print_and_return(text: str) -> str:
    print(text)
    return text


@dsl.component
def announce_result(winner: str):
    print(f"The result is {winner}")


@dsl.pipeline
def flip_coin_pipeline():
    flip_coin_task = flip_three_sided_coin()
    with dsl.If(flip_coin_task.output == 'heads'):
        t1 = print_and_return(text='Got heads!')
    with dsl.Elif(flip_coin_task.output == 'tails'):
        t2 = print_and_return(text='Got tails!')
    with dsl.Else():
        t3 = print_and_return(text='Draw!')
    announce_result(winner=dsl.OneOf(t1.output, t2.output, t3.output))
"""

KFP_LOOPS_AND_EXIT = """
from typing import List

from kfp import dsl


@dsl.component
def clean_up_resources():
    print("cleaning up")


@dsl.component
def double(num: int) -> int:
    return 2 * num


@dsl.component
def add(nums: List[int]) -> int:
    return sum(nums)


@dsl.component
def print_number(n: int):
    print(n)


@dsl.pipeline
def add_pipeline(extra: List[int] = [4, 5]):
    clean_up_task = clean_up_resources()
    with dsl.ExitHandler(exit_task=clean_up_task):
        with dsl.ParallelFor(items=[1, 2, 3], parallelism=2) as x:
            double_task = double(num=x)
        add_task = add(nums=dsl.Collected(double_task.output))
        with dsl.ParallelFor(items=extra) as y:
            print_number(n=y)
        print_number(n=add_task.output)
"""


def test_kfp_documentation_pipelines_compile_to_ir_after_changing_imports(tmp_path):
    coin = _port(KFP_CONDITIONS, tmp_path, "coin")
    doc = _ir(coin)
    assert [g["kind"] for g in doc["groups"]] == ["condition"] * 3
    assert {s["id"] for s in doc["steps"]} >= {"flip-three-sided-coin", "announce-result"}
    loops = _port(KFP_LOOPS_AND_EXIT, tmp_path, "loops")
    doc = _ir(loops)
    kinds = [g["kind"] for g in doc["groups"]]
    assert kinds == ["exit_handler", "loop", "loop"]
    assert doc["groups"][1]["items"] == {"constant": [1, 2, 3]}
    add = next(s for s in doc["steps"] if s["id"] == "add")
    assert add["arguments"]["nums"] == {"collected": {"step": "double", "name": "Output"}}


def test_graph_drawings_show_groups_as_subgraphs():
    from pipecast.compilers.graph_formats import render

    checked = graph.check(triage_like().spec)
    mermaid = render(checked, "mermaid")
    assert 'subgraph loop_2["loop-2: for each in cams (parallelism 2)"]' in mermaid
    assert 'subgraph condition_4["condition-4: else"]' in mermaid
    lines = mermaid.splitlines()
    opened = lines.index('  subgraph exit_handler_1["exit-handler-1: exit handler, then report"]')
    inner = lines[opened:]
    assert inner.index(next(x for x in inner if '["count-motion"]' in x)) < inner.index("    end")
    dot = render(checked, "dot")
    assert 'subgraph "cluster_condition-3" {' in dot
    assert 'label="condition-3: if count-motion.count > 0";' in dot
    assert dot.count("{") == dot.count("}")
