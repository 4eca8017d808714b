"""Kubeflow expresses control flow with kfp's own constructs (DESIGN §12, issue #18), and the
documents mean what the local runner (the reference semantics) does.

Outside oracles: kfp's own loader (and kfp compiling the loaded document as a component of
another pipeline), and cel-python evaluating the ``triggerPolicy.condition`` expressions that
KFP's driver evaluates with CEL, on the values the local runner decided its branches on."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from helpers import (
    EXAMPLES,
    compile_document,
    compile_text,
    load_example,
    only_diagnostic,
    refused_features,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kfp_flow_pipelines import branches, exit_python, loops, text_condition, triage
from meaning import parse

from pipecast import dsl
from pipecast.compilers.diff import compare_texts
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import PipelineError
from pipecast.testing import run_offline

kfp = pytest.importorskip("kfp")
celpy = pytest.importorskip("celpy")  # the dev extra's cel-python

CAMERA_TRIAGE = load_example("camera_triage")
PIPELINES = {
    p.spec.name: p for p in (triage, branches, text_condition, loops, exit_python, CAMERA_TRIAGE)
}
IMG = "registry.example.com/flow:1.0"


def main_of(pipeline) -> dict:
    return parse("kubeflow", compile_text(pipeline, "kubeflow"))["main"]


def all_tasks(main: dict) -> dict[str, tuple[dict, str]]:
    """Every task of the document, wherever kfp nested it: name → (task, group path)."""
    found: dict[str, tuple[dict, str]] = {}

    def walk(tasks: dict, path: str) -> None:
        for name, task in tasks.items():
            found[name] = (task, path)
            comp = main["components"][task["componentRef"]["name"]]
            if "dag" in comp:
                walk(comp["dag"]["tasks"], f"{path}/{name}" if path else name)

    walk(main["root"]["dag"]["tasks"], "")
    return found


_CEL = celpy.Environment()


def cel(condition: str, values: dict) -> bool:
    """What KFP's driver decides: the CEL condition over the task's parameter values (JSON
    values, as KFP stores them: every number a double)."""
    program = _CEL.program(_CEL.compile(condition))
    activation = {"inputs": celpy.json_to_cel({"parameter_values": values})}
    return bool(program.evaluate(activation))


# ----- the example ------------------------------------------------------------------------------


def test_camera_triage_compiles_with_its_artifact_fan_in_as_a_list_of_artifacts():
    """The example's ``Collected(frames)`` is kfp's own ``Collected`` into an artifact-list
    input (the folder is built in the container: tests/test_kubeflow_collected.py)."""
    assert refused_features(EXAMPLES / "camera_triage.py", "kubeflow") == []
    main = main_of(CAMERA_TRIAGE)
    summary = main["components"]["comp-triage-summary"]["inputDefinitions"]["artifacts"]
    assert summary["frames"]["isArtifactList"] is True
    task, path = all_tasks(main)["triage-summary"]
    source = task["inputs"]["artifacts"]["frames"]["taskOutputArtifact"]
    loop, _ = all_tasks(main)[source["producerTask"]]
    assert "parameterIterator" in loop and path == "exit-handler-1"
    selectors = main["components"][loop["componentRef"]["name"]]["dag"]["outputs"]["artifacts"]
    assert selectors[source["outputArtifactKey"]] == {
        "artifactSelectors": [{"outputArtifactKey": "frames", "producerSubtask": "count-motion"}]
    }


# ----- kfp's own loader --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_kfp_loads_each_document_and_reuses_it_inside_another_pipeline(name, tmp_path):
    from kfp import compiler
    from kfp import dsl as kdsl
    from kfp.components import load_component_from_file

    path = tmp_path / f"{name}.yaml"
    path.write_text(compile_text(PIPELINES[name], "kubeflow"), encoding="utf-8")
    loaded = load_component_from_file(str(path))
    assert loaded.name == name

    @kdsl.pipeline(name="outer")
    def outer():
        loaded()

    out = tmp_path / "outer.yaml"
    compiler.Compiler().compile(outer, str(out))
    nested = parse("kubeflow", out.read_text(encoding="utf-8"))["main"]
    inner = main_of(PIPELINES[name])
    assert set(nested["root"]["dag"]["tasks"]) == {name}
    # the whole DAG, groups included, is inside the outer pipeline
    assert {t for t in all_tasks(nested)} - {name} == set(all_tasks(inner))


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_speedups_write_the_same_bytes_for_control_flow(name, monkeypatch):
    from pipecast.compilers._kfp_speedups import SWITCH, active

    assert active(kfp.__version__)
    fast = compile_text(PIPELINES[name], "kubeflow")
    monkeypatch.setenv(SWITCH, "0")
    assert not active(kfp.__version__)
    assert compile_text(PIPELINES[name], "kubeflow") == fast


def test_compiling_twice_gives_the_same_bytes():
    for pipeline in PIPELINES.values():
        assert compile_text(pipeline, "kubeflow") == compile_text(pipeline, "kubeflow")


# ----- conditions: the document decides what the local runner decides ---------------------------

MOVING = {"lobby": 2, "gate": 0, "dock": 1, "yard": 5}


def _fakes(seen: dict):
    def count_motion(camera, frames, moving):
        Path(frames.path, "f.txt").write_text(camera)
        Path(moving).write_text(json.dumps(MOVING[camera]))

    def detect(frames, camera, detections):
        seen.setdefault("detected", []).append(camera)

    def summarize(cameras, moving, summary):
        seen["collected"] = moving

    def status_report(status, report):
        seen["status"] = json.loads(status)

    return {
        "count-motion": count_motion,
        "detect": detect,
        "summarize": summarize,
        "status-report": status_report,
    }


@pytest.mark.parametrize(
    ("cameras", "min_moving"),
    [(["lobby", "gate", "dock"], 1), (["gate"], 1), (["yard", "lobby"], 3), ([], 1)],
)
def test_triage_branches_and_iterations_match_the_local_run(tmp_path, cameras, min_moving):
    seen: dict = {}
    result = run_offline(
        triage,
        tmp_path,
        params={"cameras": cameras, "min_moving": min_moving},
        fakes=_fakes(seen),
    )
    assert result.succeeded
    tasks = all_tasks(main_of(triage))
    condition = next(t for t, _ in tasks.values() if "condition" in t.get("triggerPolicy", {}))
    text = condition["triggerPolicy"]["condition"]
    # one KFP condition per iteration, on that iteration's output and the pipeline parameter
    kfp_decisions = {
        f"condition-3/{i}": cel(
            text,
            {
                "pipelinechannel--count-motion-moving": float(MOVING[cam]),
                "pipelinechannel--min_moving": float(min_moving),
            },
        )
        for i, cam in enumerate(cameras)
    }
    assert kfp_decisions == result.branches
    assert sorted(seen.get("detected", [])) == sorted(
        c for c, d in zip(cameras, kfp_decisions.values(), strict=True) if d
    )
    # the loop iterates over the pipeline parameter the local run iterated over
    loop, _ = tasks["for-loop-2"]
    assert loop["parameterIterator"]["items"] == {"inputParameter": "pipelinechannel--cameras"}
    exit_group, _ = tasks["exit-handler-1"]
    assert exit_group["inputs"]["parameters"]["pipelinechannel--cameras"] == {
        "componentInputParameter": "cameras"
    }
    assert loop["iteratorPolicy"] == {"parallelismLimit": 2}
    # Collected: summarize reads the loop's list of count-motion's `moving`
    assert seen["collected"] == [MOVING[c] for c in cameras]
    summary, _ = tasks["summarize"]
    assert summary["inputs"]["parameters"]["moving"]["taskOutputParameter"]["producerTask"] == (
        "for-loop-2"
    )
    loop_outputs = main_of(triage)["components"]["comp-for-loop-2"]["dag"]["outputs"]
    assert list(loop_outputs["parameters"].values()) == [
        {"valueFromParameter": {"outputParameterKey": "moving", "producerSubtask": "count-motion"}}
    ]


def _branch_conditions(main: dict) -> dict[str, str]:
    """The condition of the group around each task that has one."""
    tasks = all_tasks(main)
    out = {}
    for name, (_, path) in tasks.items():
        for group in reversed(path.split("/")) if path else []:
            policy = tasks[group][0].get("triggerPolicy", {})
            if "condition" in policy:
                out[name] = policy["condition"]
                break
    return out


@pytest.mark.parametrize("mode", ["fast", "slow", "", "FAST"])
@pytest.mark.parametrize(("ratio", "limit"), [(0.9, 0.5), (0.5, 0.5), (0.1, 0.5), (2.0, 1.0)])
@pytest.mark.parametrize("ok", [True, False])
def test_if_elif_else_take_exactly_the_branch_python_takes(mode, ratio, limit, ok):
    conditions = _branch_conditions(main_of(branches))
    values = {
        "pipelinechannel--mode": mode,
        "pipelinechannel--limit": limit,
        "pipelinechannel--measure-ratio": ratio,
        "pipelinechannel--measure-ok": ok,
    }
    taken = {
        step for step in ("pick-fast", "pick-careful", "pick-slow") if cel(conditions[step], values)
    }
    if mode == "fast":
        expected = {"pick-fast"}
    elif ratio > limit:
        expected = {"pick-careful"}
    else:
        expected = {"pick-slow"}
    assert taken == expected
    assert cel(conditions["when-ok"], values) is ok
    # OneOf: the consumer reads the join of the three branches' outputs
    use, _ = all_tasks(main_of(branches))["use-pick"]
    source = use["inputs"]["parameters"]["value"]["taskOutputParameter"]
    assert source["producerTask"].startswith("condition-branches-")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=12))
def test_a_text_constant_reaches_the_condition_literally(constant):
    @dsl.pipeline(name="text-literal")
    def literal(mode: str = "x"):
        with dsl.If(mode == constant):
            use_it(value=1).set_name("matched")

    condition = _branch_conditions(main_of(literal))["matched"]
    assert cel(condition, {"pipelinechannel--mode": constant})
    assert not cel(condition, {"pipelinechannel--mode": constant + "'"})
    assert not cel(condition, {"pipelinechannel--mode": "\\" + constant})


@dsl.container_component(image=IMG, command=["use"])
def use_it(value: int):
    """Take an int."""


def test_quotes_backslashes_and_line_breaks_in_a_condition_constant_stay_literal():
    condition = _branch_conditions(main_of(text_condition))["matched"]
    wanted = "it's a \\ 'quoted' \"mode\"\n"
    assert cel(condition, {"pipelinechannel--mode": wanted})
    assert not cel(condition, {"pipelinechannel--mode": wanted.strip()})


# ----- loops ----------------------------------------------------------------------------------


def test_loops_keep_items_dict_keys_nesting_and_parallelism():
    main = main_of(loops)
    tasks = all_tasks(main)
    per_site, site_path = tasks["per-site"]
    site_loop = tasks[site_path.split("/")[-1]][0]
    assert site_loop["iteratorPolicy"] == {"parallelismLimit": 1}
    assert site_loop["parameterIterator"]["items"] == {"inputParameter": "pipelinechannel--sites"}
    item = site_loop["parameterIterator"]["itemInput"]
    for arg, key in (("camera", "name"), ("zone", "zone")):
        binding = per_site["inputs"]["parameters"][arg]
        assert binding["componentInputParameter"] == item
        assert binding["parameterExpressionSelector"] == f'parseJson(string_value)["{key}"]'
    per_zone, zone_path = tasks["per-zone"]
    outer_name, inner_name = zone_path.split("/")
    outer, inner = tasks[outer_name][0], tasks[inner_name][0]
    # a loop over an output list: it waits for the producer and iterates its output
    assert outer["dependentTasks"] == ["list-cameras"]
    assert outer["inputs"]["parameters"][outer["parameterIterator"]["items"]["inputParameter"]] == {
        "taskOutputParameter": {"outputParameterKey": "cameras", "producerTask": "list-cameras"}
    }
    assert "iteratorPolicy" not in outer and "iteratorPolicy" not in inner  # no limit
    assert json.loads(inner["parameterIterator"]["items"]["raw"]) == [3, 5, 8]
    assert (
        per_zone["inputs"]["parameters"]["camera"]["componentInputParameter"]
        == (outer["parameterIterator"]["itemInput"])
    )
    assert (
        per_zone["inputs"]["parameters"]["zone"]["componentInputParameter"]
        == (inner["parameterIterator"]["itemInput"])
    )
    # .after() outside any group stays an explicit dependency
    assert tasks["use-total"][0]["dependentTasks"] == ["count-motion", "tally"]


# ----- exit handler and output parameters ---------------------------------------------------


def test_the_exit_task_runs_after_its_handler_whatever_the_outcome():
    main = main_of(triage)
    tasks = all_tasks(main)
    report, path = tasks["status-report"]
    assert path == ""
    assert report["dependentTasks"] == ["exit-handler-1"]
    assert report["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert report["inputs"]["parameters"]["status"] == {
        "taskFinalStatus": {"producerTask": "exit-handler-1"}
    }
    status_input = main["components"]["comp-status-report"]["inputDefinitions"]["parameters"]
    assert status_input["status"]["parameterType"] == "TASK_FINAL_STATUS"
    guarded = {n for n, (_, p) in tasks.items() if p.startswith("exit-handler-1")}
    assert {s.id for s in triage.spec.steps} - {"status-report"} <= guarded
    notes = compile_document(triage, "kubeflow").notes
    assert any("'status-report' reads dsl.RUN_STATUS" in n and "failed_step" in n for n in notes)


def test_output_parameters_keep_the_container_contract():
    main = main_of(loops)
    comps, executors = main["components"], main["deploymentSpec"]["executors"]
    outputs = comps["comp-list-cameras"]["outputDefinitions"]["parameters"]
    assert outputs == {"cameras": {"parameterType": "LIST"}, "config": {"parameterType": "STRUCT"}}
    args = executors["exec-list-cameras"]["container"]["args"]
    i = args.index("--cameras")
    assert args[i + 1] == "{{$.outputs.parameters['cameras'].output_file}}"
    measured = parse("kubeflow", compile_text(branches, "kubeflow"))["main"]["components"]
    assert measured["comp-measure"]["outputDefinitions"]["parameters"] == {
        "ok": {"parameterType": "BOOLEAN"},
        "ratio": {"parameterType": "NUMBER_DOUBLE"},
    }
    # a Python component's single return value: pipecast's `Output` is kfp's `output`
    py = parse("kubeflow", compile_text(branches, "kubeflow"))["main"]
    pick_args = py["deploymentSpec"]["executors"]["exec-pick-fast"]["container"]["args"]
    assert pick_args[pick_args.index("--Output") + 1] == (
        "{{$.outputs.parameters['output'].output_file}}"
    )
    # a NamedTuple's fields keep their names
    tally = main["components"]["comp-tally"]["outputDefinitions"]["parameters"]
    assert set(tally) == {"total", "cameras"}


# ----- what kubeflow refuses, cleanly -----------------------------------------------------------


@dsl.container_component(image=IMG, command=["listen"])
def listen(text: str):
    """Reads text."""


@dsl.container_component(image=IMG, command=["folder"])
def folder(frames: Input[Dataset]):
    """Reads a folder."""


def _refusals(pipeline) -> list[str]:
    with pytest.raises(PipelineError) as info:
        compile_text(pipeline, "kubeflow")
    assert all(d.code == "PC008" for d in info.value.diagnostics if d.severity == "error")
    return [d.format() for d in info.value.diagnostics]


def test_exit_tasks_with_inputs_and_odd_dict_keys_are_refused():
    """(Text output parameters compile since #18: tests/test_kubeflow_text.py.)"""

    @dsl.pipeline(name="exit-reads")
    def exit_reads():
        first = use_it(value=1).set_name("first")
        done = listen(text="x").after(first).set_name("done")
        with dsl.ExitHandler(done):
            listen(text="y").set_name("guarded")

    problems = _refusals(exit_reads)
    assert any("step 'done': an exit task that reads or waits for" in p for p in problems)

    @dsl.pipeline(name="odd-key")
    def odd_key(rows: list = [{"zone-id": 1}]):  # noqa: B006
        with dsl.ParallelFor(rows) as row:
            use_it(value=row["zone-id"])

    (problem,) = _refusals(odd_key)
    assert "loop item key 'zone-id'" in problem and "hint:" in problem


# ----- diff / plan: one readable line per changed construct -------------------------------------


def _variant(op: str = ">=", parallelism: int | None = 2, items=None, floor: int = 3):
    @dsl.pipeline(name="kfp-variant")
    def variant(min_moving: int = 1):
        with dsl.ParallelFor(items or ["a", "b"], parallelism=parallelism) as cam:
            motion = count_it(camera=cam)
            n = motion.outputs["n"]
            with dsl.If(n >= min_moving if op == ">=" else n > min_moving):
                use_it(value=1).set_name("inside")
            with dsl.If(n != floor):
                use_it(value=2).set_name("off-floor")

    return compile_text(variant, "kubeflow")


@dsl.container_component(image=IMG, command=["count"])
def count_it(camera: str, n: Output[int]):
    """Count."""


@pytest.mark.parametrize(
    ("change", "field", "old", "new"),
    [
        ({"op": ">"}, "condition", ">= int(min_moving)", "> int(min_moving)"),
        ({"floor": 4}, "condition", "!= 3", "!= 4"),
        ({"parallelism": 5}, "parallelism", "2", "5"),
        ({"parallelism": None}, "parallelism", "2", "(none)"),
        ({"items": ["a", "b", "c"]}, "items", '["a", "b"]', '["a", "b", "c"]'),
    ],
)
def test_diff_shows_a_changed_condition_loop_items_or_parallelism_as_one_line(
    change, field, old, new
):
    review = compare_texts(_variant(), _variant(**change), target="kubeflow")
    assert not review.unexplained, review.unexplained
    rows = [c for c in review.changes if c.field == field]
    assert len(rows) == 1 and len(review.changes) == 1, review.changes
    text = review.render("text")
    line = next(x for x in text.splitlines() if x.strip().startswith(f"{field}:"))
    assert old in line and new in line, text


def test_the_summary_names_each_group_and_where_steps_sit():
    from pipecast.compilers.kubeflow import describe

    summary = describe(list(__import__("yaml").safe_load_all(compile_text(triage, "kubeflow"))))
    assert summary.steps["for-loop-2"].kind == "loop"
    assert summary.steps["for-loop-2"].fields["parallelism"] == 2
    assert summary.steps["for-loop-2"].fields["items"] == "cameras"
    assert summary.steps["condition-3"].fields["condition"] == (
        "int(count-motion-moving) >= int(min_moving)"
    )
    assert summary.steps["detect"].fields["in"] == "exit-handler-1/for-loop-2/condition-3"
    assert summary.steps["status-report"].fields["inputs"] == {
        "status": "final status of exit-handler-1"
    }


def test_loop_items_compare_as_kfp_types_them_or_are_refused():
    @dsl.pipeline(name="typed-items")
    def typed(cams: list = ["lobby"]):  # noqa: B006
        # a literal list of ints: kfp types the item as an int
        with dsl.ParallelFor([1, 2, 3]) as n, dsl.If(n > 1):
            use_it(value=n).set_name("big")
        # text with text: fine at run time too
        with dsl.ParallelFor(cams) as cam, dsl.If(cam == "gate"):
            use_it(value=1).set_name("gate")

    conditions = _branch_conditions(main_of(typed))
    big = conditions["big"]
    channel = big.split("'")[1]  # the loop item's input name in the condition
    assert [cel(big, {channel: float(v)}) for v in (1, 2, 3)] == [False, True, True]
    gate = conditions["gate"]
    channel = gate.split("'")[1]
    assert cel(gate, {channel: "gate"}) and not cel(gate, {channel: "dock"})

    @dsl.pipeline(name="text-items")
    def text_items(nums: list = [1, 2]):  # noqa: B006
        with dsl.ParallelFor(nums) as n, dsl.If(n > 1):
            use_it(value=n)

    (problem,) = _refusals(text_items)
    assert "kfp types such items as text" in problem


def test_a_literal_list_of_booleans_gives_bool_items_to_compare():
    @dsl.pipeline(name="flags")
    def flags():
        with dsl.ParallelFor([True, False]) as flag, dsl.If(flag == True):  # noqa: E712
            use_it(value=1).set_name("on")

    condition = _branch_conditions(main_of(flags))["on"]
    channel = condition.split("'")[1]
    assert [cel(condition, {channel: v}) for v in (True, False)] == [True, False]


@dsl.container_component(image=IMG, command=["label"])
def label_of(label: Output[str], size: Output[int]):
    """A text and a number."""


def _item_compared_with(other: str) -> dsl.Pipeline:
    """A loop over a run-time list whose item a condition compares with ``other``."""

    def body(
        cams: list = ["a"],  # noqa: B006
        rows: list = [{"name": "a"}],  # noqa: B006
        mode: str = "a",
        limit: int = 1,
    ):
        made = label_of()
        with dsl.ParallelFor(cams) as cam:
            if other.startswith("item of"):
                literal = ["x", "y"] if other.endswith("text") else [1, 2]
                with dsl.ParallelFor(literal) as item, dsl.If(cam == item):
                    use_it(value=1).set_name("matched")
                return
            if other == "field of a dict item":
                with dsl.ParallelFor(rows) as row, dsl.If(cam == row["name"]):
                    use_it(value=1).set_name("matched")
                return
            operand = {
                "str parameter": mode,
                "int parameter": limit,
                "str output": made.outputs["label"],
                "int output": made.outputs["size"],
                "str constant": "a",
                "int constant": 1,
            }[other]
            with dsl.If(cam == operand):
                use_it(value=1).set_name("matched")

    return dsl.pipeline(name="item-compared")(body)


TEXT_OPERANDS = ["str parameter", "str output", "str constant", "item of a literal list of text"]
OTHER_OPERANDS = [
    "int parameter",
    "int output",
    "int constant",
    "item of a literal list of ints",
    "field of a dict item",
]


@pytest.mark.parametrize("other", TEXT_OPERANDS + OTHER_OPERANDS)
def test_a_run_time_loop_item_compares_only_with_what_kfp_also_types_as_text(other):
    """kfp types an item of a run-time list as text: comparing it with text is what the local
    run does; with anything else (a number, or a dict item's field, also text-typed by kfp
    but a value of any type at run time) kfp would compare text, so it is refused."""
    pipeline = _item_compared_with(other)
    if other in TEXT_OPERANDS:
        assert "matched" in _branch_conditions(main_of(pipeline))
        return
    problem = only_diagnostic(pipeline, "kubeflow")
    condition = next(g for g in pipeline.spec.groups if g.kind == "condition")
    assert (problem.code, problem.location) == ("PC008", condition.location)
    assert problem.message == (
        f"condition '{condition.id}' compares a loop item of a run-time list (or a dict item's "
        "field) with a value that is not text: not expressible on kubeflow, where kfp types "
        "such items as text and would compare text"
    )
    assert problem.hint == (
        "loop over a literal list, compare inside the step, or compile for a target that "
        "supports it (`pipecast run --local` does)"
    )


def test_an_exit_handler_inside_a_loop_and_hand_made_condition_shapes_are_refused():
    @dsl.pipeline(name="inner-exit")
    def inner_exit(cams: list = ["a"]):  # noqa: B006
        with dsl.ParallelFor(cams):
            report = use_it(value=0).set_name("report")
            with dsl.ExitHandler(report):
                use_it(value=1).set_name("guarded")

    problem = only_diagnostic(inner_exit, "kubeflow")
    handler = next(g for g in inner_exit.spec.groups if g.kind == "exit_handler")
    assert handler.parent is not None and handler.location is not None
    assert (problem.code, problem.location) == ("PC008", handler.location)
    assert problem.message == (
        f"exit handler '{handler.id}' inside '{handler.parent}' is not expressible on kubeflow: "
        "kfp allows dsl.ExitHandler only at the top of the pipeline"
    )
    assert problem.hint == (
        "move the `with dsl.ExitHandler(...)` block out of the loop or condition, or compile "
        "for a target that supports it (`pipecast run --local` does)"
    )

    from pipecast.dsl.spec import Comparison, Constant, ParameterRef, PipelineSpec

    spec = text_condition.spec
    (group,) = spec.groups
    extra = Comparison("!=", ParameterRef("mode"), Constant("y"))
    edited = PipelineSpec.from_dict(
        {
            **spec.to_dict(),
            "groups": [{**group.to_dict(), "when": [c.to_dict() for c in (*group.when, extra)]}],
        }
    )
    # the same edit on the spec the DSL built keeps the condition's file:line
    located = dataclasses.replace(
        spec, groups=(dataclasses.replace(group, when=(*group.when, extra)),)
    )
    assert group.location is not None
    for shape, where in ((edited, None), (located, group.location)):
        problem = only_diagnostic(shape, "kubeflow")
        assert (problem.code, problem.location) == ("PC008", where)
        assert problem.message == (
            f"condition '{group.id}' is not an If/Elif/Else branch of one comparison whose "
            "`unless` is the earlier branches' comparisons: not expressible on kubeflow"
        )
        assert problem.hint == (
            "write it with dsl.If / dsl.Elif / dsl.Else (an IR edited by hand may hold other "
            "shapes), or compile for a target that supports it"
        )


# ----- RUN_STATUS: KFP's final status reaches a Python exit task in pipecast's shape ------------

PROBE = "import json, os, sys\nopen(os.environ['PROBE_OUT'], 'w').write(json.dumps(sys.argv[1:]))\n"


def _run_exit_task(tmp_path: Path, kfp_status: dict) -> list[str]:
    """Run the compiled exit task's command + args as KFP's launcher would: placeholders
    replaced by their values (KFP's final status as JSON), then the process started."""
    import subprocess
    import sys

    main = main_of(exit_python)
    container = main["deploymentSpec"]["executors"]["exec-python-report"]["container"]
    values = {
        "{{$.inputs.parameters['status']}}": json.dumps(kfp_status, separators=(",", ":")),
        "{{$.inputs.parameters['note']}}": "x",
    }

    def filled(text: str) -> str:
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        return text

    argv = [filled(a) for a in (*container["command"], *container["args"])]
    assert argv[0] == "python"
    (tmp_path / "status_probe.py").write_text(PROBE, encoding="utf-8")
    out = tmp_path / "argv.json"
    subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=tmp_path,
        env={**os.environ, "PROBE_OUT": str(out)},
        check=True,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def test_a_python_exit_task_gets_run_status_as_the_local_runner_gives_it(tmp_path):
    seen: dict = {}

    def count_motion(camera, frames, moving):
        Path(moving).write_text("1")

    def python_report(status, note):
        seen["status"] = status

    local = run_offline(
        exit_python,
        tmp_path / "local",
        fakes={"count-motion": count_motion, "python-report": python_report},
    )
    assert local.succeeded
    succeeded = {
        "state": "SUCCEEDED",
        "pipelineJobResourceName": "runs/1",
        "pipelineTaskName": "exit-handler-1",
    }
    argv = _run_exit_task(tmp_path, succeeded)
    assert argv == ["--status", seen["status"], "--note", "x"]  # byte for byte

    failed = {**succeeded, "state": "FAILED", "error": {"code": 9, "message": "pod exited 3"}}
    argv = _run_exit_task(tmp_path, failed)
    assert json.loads(argv[1]) == {"state": "FAILED", "failed_step": None, "error": "pod exited 3"}
    cancelled = {**succeeded, "state": "CANCELLED"}
    assert json.loads(_run_exit_task(tmp_path, cancelled)[1])["state"] == "FAILED"
    (note,) = compile_document(exit_python, "kubeflow").notes
    assert "failed_step is always null" in note


@pytest.mark.parametrize(
    ("command", "adapted"),
    [
        (["python", "-m", "pkg.mod"], True),
        (["/usr/bin/python3.11", "run.py"], True),
        (["python3", "-c", "print(1)"], True),
        (["report"], False),
        (["python", "-u", "-m", "pkg"], False),
        (["python"], False),
    ],
)
def test_the_adapter_goes_only_in_front_of_a_python_program(command, adapted):
    from pipecast.compilers.kubeflow_status import ADAPTER, adapted_command

    result = adapted_command(command, "{{status}}")
    if not adapted:
        assert result is None
        return
    assert result == [command[0], "-c", ADAPTER, "{{status}}", *command[1:]]


def test_a_target_that_refuses_loops_names_the_registrys_capable_targets():
    """Every registered cloud target expresses loops since #18: a target without them (its
    capabilities emptied) names the targets that can, as the registry says (Kubeflow among
    them), and the local runner and the IR; no target's name is written into the advice."""
    import dataclasses

    from pipecast.compilers import graph, load_target
    from pipecast.compilers._features import able_targets
    from pipecast.compilers.target import FEATURES, Capabilities

    able = able_targets("loops", besides="sagemaker")
    assert "kubeflow" in able and "stepfunctions" in able
    plain = dataclasses.replace(load_target("sagemaker"), capabilities=Capabilities())
    with pytest.raises(PipelineError) as info:
        graph.check(triage.spec, plain)
    hints = [d.hint for d in info.value.diagnostics if "dsl.ParallelFor" in d.message]
    expected = f"{', '.join(able[:-1])} and {able[-1]} can express it; "
    assert hints and all(h.startswith(expected) for h in hints), hints
    assert all("`pipecast run --local`" in h and "`--target ir`" in h for h in hints), hints
    own = FEATURES["loops"].hint
    assert own and not any(name in own.lower() for name in ("kubeflow", "step functions")), own


def test_after_into_a_branch_is_refused_and_kfps_own_refusals_are_diagnostics(monkeypatch):
    @dsl.pipeline(name="after-branch")
    def after_branch(mode: str = "a", cams: list = ["a"]):  # noqa: B006
        with dsl.If(mode == "a"):
            inside = use_it(value=1).set_name("inside")
        use_it(value=2).set_name("outside").after(inside)
        with dsl.ParallelFor(cams):
            looped = use_it(value=3).set_name("looped")
        use_it(value=4).set_name("after-loop").after(looped)  # kfp takes this one

    (problem,) = _refusals(after_branch)
    assert "step 'outside': .after('inside')" in problem

    # the safety net: with the check switched off, kfp's own refusal is PC008 too
    from pipecast.compilers import kubeflow_flow

    monkeypatch.setattr(kubeflow_flow, "_after_problems", lambda spec, step: [])
    (problem,) = _refusals(after_branch)
    assert "kfp refuses to build this pipeline: InvalidTopologyException" in problem
    assert "Illegal task dependency" in problem
