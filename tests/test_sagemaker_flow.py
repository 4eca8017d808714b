"""Control flow on SageMaker Pipelines (#18): the documents the service accepts, and what they mean.

Meaning: small pipelines are run twice with real processes, by the local runner (the reference
semantics, DESIGN §12) and by executing the compiled SageMaker definition
(tests/sagemaker_interpreter.py, a documented model of the service); the jobs that ran, the
branches taken, the arguments and every file the steps wrote must agree. Shape: the official
definition schema (patched only for its known bugs, test_sagemaker.py), botocore's request
models for every job in every branch, and moto's CreatePipeline. Refusals: every construct
SageMaker cannot express is a PC008/PC009 naming the construct, the step, the targets that can
and a workaround.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import (
    EXAMPLE_CONFIG,
    compile_text,
    load_example,
    marked_line,
    only_diagnostic,
    points_at,
    shown_path,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sagemaker_interpreter import execute
from test_sagemaker import job_steps, patched_schema

from pipecast import dsl
from pipecast.compilers.diff import compare_texts
from pipecast.compilers.sagemaker_validate import check_request, validate_document
from pipecast.dsl import Dataset, Input, Output, Spot
from pipecast.errors import PipelineError
from pipecast.testing import run_offline

STEPS = str(Path(__file__).with_name("sagemaker_steps.py"))


def run(step: str) -> list[str]:
    return ["python", STEPS, step]


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1"


@dsl.container_component(image=IMAGE, command=run("count"))
def count_motion(camera: str, frames: Output[Dataset], count: Output[int]):
    """Count moving objects in one camera's frames."""


@dsl.container_component(image=IMAGE, command=run("detect"), spot=Spot(max_wait="2h"))
def detect(frames: Input[Dataset], label: str, detections: Output[Dataset]):
    """The detector (spot: a Training job on SageMaker)."""


@dsl.container_component(image=IMAGE, command=run("total"))
def total(counts: list, frames: Input[Dataset], summary: Output[Dataset], total: Output[int]):
    """Fan in: every camera's count and frames."""


@dsl.container_component(image=IMAGE, command=run("echo"))
def echo(out: Output[Dataset], value: str = "-", number: int = 0):
    """Record the arguments it got."""


@dsl.container_component(image=IMAGE, command=run("level"), spot=Spot(max_wait="1h"))
def level(x: int, level: Output[int]):
    """An output parameter written by a spot step (read from S3 with Std:JsonGet's S3Uri)."""


@dsl.pipeline(name="triage-fixed")
def triage(threshold: int = 0, label: str = "person"):
    with dsl.ParallelFor(["lobby", "gate", "dock", "yard"]) as cam:
        counted = count_motion(camera=cam)
        with dsl.If(counted.outputs["count"] > threshold):
            detect(frames=counted.outputs["frames"], label=label)
    summed = total(
        counts=dsl.Collected(counted.outputs["count"]),
        frames=dsl.Collected(counted.outputs["frames"]),
    )
    echo(number=summed.outputs["total"]).set_name("report")


@dsl.pipeline(name="branches")
def branches(x: int = 1, mode: str = "fast"):
    measured = level(x=x)
    with dsl.If(measured.outputs["level"] > 10):
        echo(value="high").set_name("high")
    with dsl.Elif(measured.outputs["level"] >= 4):
        echo(value="mid", number=measured.outputs["level"]).set_name("mid")
    with dsl.Else():
        echo(value="low").set_name("low")
    with dsl.If(mode == "fast"):
        echo(value="fast").set_name("fast")
    with dsl.If(mode != "fast"):
        echo(value="slow").set_name("slow")


@dsl.pipeline(name="nested")
def nested(limit: int = 2):
    with dsl.ParallelFor([{"cam": "a", "n": 1}, {"cam": "b", "n": 3}]) as item:
        with dsl.ParallelFor([1, 2, 3]) as k, dsl.If(k >= limit):
            with dsl.If(item["n"] > 2):
                echo(value=item["cam"], number=k).set_name("deep")
            echo(value=item["cam"], number=k).set_name("mid")
        echo(value=item["cam"]).set_name("outer")


def _local(pipeline: Any, params: dict[str, Any], tmp: Path) -> tuple[dict[str, Path], Any]:
    """Instance name (SageMaker spelling) → its folder, for every step that ran locally."""
    result = run_offline(pipeline, tmp / "local", params=params)
    assert result.succeeded, {k: (v.status, v.error) for k, v in result.steps.items()}
    ran = {
        key.replace("/", "-"): result.run_dir / key
        for key, step in result.steps.items()
        if step.status == "succeeded"
    }
    return ran, result


def _files(folder: Path) -> dict[str, str]:
    if folder.is_file():
        return {"": folder.read_text()}
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _sagemaker_outputs(document: dict[str, Any], run: Any, step: str) -> dict[str, dict[str, str]]:
    (job,) = [s for s in job_steps(document["Steps"]) if s["Name"] == step]
    names = [
        o["OutputName"]
        for o in job["Arguments"].get("ProcessingOutputConfig", {}).get("Outputs", [])
    ]
    prefix = f"s3://acme-ml/pipelines/{document_name(document)}/execution-1/{step}/"
    if job["Type"] == "Processing":
        found = {n: _files(run.read(prefix + n)) for n in names}
        return {
            n: ({"": f["value.json"]} if set(f) == {"value.json"} else f) for n, f in found.items()
        }
    model = run.read(prefix + f"{step}-job/output/model")
    found = {p.name: _files(p) for p in sorted(model.iterdir())}
    return {n: {"": f["value.json"]} if set(f) == {"value.json"} else f for n, f in found.items()}


def document_name(document: dict[str, Any]) -> str:
    from pipecast.compilers.sagemaker import pipeline_name

    return pipeline_name(document)


def _same_meaning(pipeline: Any, params: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Run both ways; assert the same jobs ran, the same branches were taken, and every
    output holds the same bytes. Returns the SageMaker execution for further checks."""
    document = json.loads(compile_text(pipeline, "sagemaker"))
    ran, local = _local(pipeline, params, tmp)
    run = execute(document, params, tmp / "sagemaker")
    assert run.failed is None, run.failed
    assert sorted(run.jobs) == sorted(ran)
    decided = {k.replace("/", "-"): v for k, v in local.branches.items()}
    assert {k: v for k, v in run.conditions.items() if k in decided} == decided
    for step, folder in ran.items():
        comp = pipeline.spec.component(
            pipeline.spec.step(local.steps[_key(local, step)].step.split("/")[0]).component
        )
        expected = {o.name: _files(folder / o.name) for o in comp.outputs}
        assert _sagemaker_outputs(document, run, step) == expected, step
    return {"document": document, "run": run, "local": local}


def _key(local: Any, step: str) -> str:
    return next(k for k in local.steps if k.replace("/", "-") == step)


@pytest.mark.parametrize("threshold", [0, 1, 5, 100])
def test_loops_conditions_and_collected_mean_what_the_local_runner_does(threshold, tmp_path):
    out = _same_meaning(triage, {"threshold": threshold}, tmp_path)
    run = out["run"]
    counts = {"lobby": 2, "gate": 0, "dock": 1, "yard": 7}
    taken = [i for i, c in enumerate(counts.values()) if c > threshold]
    assert sorted(k for k in run.jobs if k.startswith("detect")) == [f"detect-{i}" for i in taken]
    assert run.jobs["total"][1] == "[2,0,1,7]"  # Collected(count): a JSON list, in order
    assert run.jobs["report"][2:4] == ["--number", "10"]  # total's PropertyFile, as text


@pytest.mark.parametrize(("x", "mode"), [(1, "fast"), (2, "slow"), (3, "fast"), (5, "x"), (6, "x")])
def test_elif_else_and_string_comparisons_mean_what_the_local_runner_does(x, mode, tmp_path):
    out = _same_meaning(branches, {"x": x, "mode": mode}, tmp_path)
    expected = "high" if 2 * x > 10 else "mid" if 2 * x >= 4 else "low"
    ran = set(out["run"].jobs)
    assert {"high", "mid", "low"} & ran == {expected}
    assert {"fast", "slow"} & ran == {"fast" if mode == "fast" else "slow"}


@pytest.mark.parametrize("limit", [1, 3, 4])
def test_nested_loops_dict_items_and_item_conditions_mean_what_the_local_runner_does(
    limit, tmp_path
):
    out = _same_meaning(nested, {"limit": limit}, tmp_path)
    ran = set(out["run"].jobs)
    assert {f"outer-{i}" for i in (0, 1)} <= ran
    assert {n for n in ran if n.startswith("mid-")} == {
        f"mid-{i}-{j}" for i in (0, 1) for j in range(3) if j + 1 >= limit
    }
    assert {n for n in ran if n.startswith("deep-")} == {
        f"deep-1-{j}" for j in range(3) if j + 1 >= limit
    }


def test_elif_is_the_conjunction_of_its_condition_and_the_earlier_ones_negated():
    document = json.loads(compile_text(branches, "sagemaker"))
    conditions = {s["Name"]: s["Arguments"] for s in document["Steps"] if s["Type"] == "Condition"}
    by_branch = {a["IfSteps"][0]["Name"]: a["Conditions"] for a in conditions.values()}
    level_value = {
        "Std:JsonGet": {
            "S3Uri": {
                "Std:Join": {
                    "On": "/",
                    "Values": [
                        {"Get": "Steps.level.ModelArtifacts.S3ModelArtifacts"},
                        "level",
                        "value.json",
                    ],
                }
            },
            "Path": "$",
        }
    }
    assert by_branch["mid"] == [
        {"Type": "GreaterThanOrEqualTo", "LeftValue": level_value, "RightValue": 4},
        {"Type": "LessThanOrEqualTo", "LeftValue": level_value, "RightValue": 10},
    ]
    assert [c["Type"] for c in by_branch["low"]] == ["LessThanOrEqualTo", "LessThan"]
    assert by_branch["slow"] == [
        {"Type": "NotEquals", "LeftValue": {"Get": "Parameters.mode"}, "RightValue": "fast"}
    ]


# ----- shapes: schema, botocore, moto ------------------------------------------------------------

PIPELINES = {"triage": triage, "branches": branches, "nested": nested}


@pytest.mark.parametrize("name", [*PIPELINES, "camera_triage_fixed"])
def test_documents_pass_the_official_schema_botocore_and_the_validator(name):
    pipeline = PIPELINES.get(name) or load_example(name)
    document = json.loads(compile_text(pipeline, "sagemaker"))
    errors = list(jsonschema.Draft7Validator(patched_schema()).iter_errors(document))
    assert not errors, [e.message for e in errors][:3]
    assert [str(p) for p in validate_document(document)] == []
    jobs = job_steps(document["Steps"])
    assert any(s["Type"] == "Condition" for s in document["Steps"])
    for step in jobs:
        op = {"Processing": "CreateProcessingJob", "Training": "CreateTrainingJob"}[step["Type"]]
        assert check_request(op, step["Arguments"]) == [], step["Name"]


def test_the_patched_schema_still_refuses_a_bad_condition_and_a_bad_json_get():
    document = json.loads(compile_text(triage, "sagemaker"))
    condition = next(s for s in document["Steps"] if s["Type"] == "Condition")
    validator = jsonschema.Draft7Validator(patched_schema())
    bad = json.loads(json.dumps(document))
    next(s for s in bad["Steps"] if s["Type"] == "Condition")["Arguments"]["Conditions"][0][
        "Type"
    ] = "Bigger"
    assert list(validator.iter_errors(bad))
    bad = json.loads(json.dumps(document))
    cond = next(s for s in bad["Steps"] if s["Name"] == condition["Name"])
    cond["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["Path"] = 1
    assert list(validator.iter_errors(bad))
    # and our validator catches a JsonGet of a property file no step declares
    bad = json.loads(json.dumps(document))
    cond = next(s for s in bad["Steps"] if s["Name"] == condition["Name"])
    ref = cond["Arguments"]["Conditions"][0]["LeftValue"]["Std:JsonGet"]["PropertyFile"]
    ref["Get"] = ref["Get"].replace("PropertyFiles.count", "PropertyFiles.counted")
    assert any("lacks" in str(p) for p in validate_document(bad))


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda a: a.update(Conditions=[]), "/Arguments/Conditions: must be a non-empty list"),
        (lambda a: a.update(IfSteps="x"), "/Arguments/IfSteps: must be a list of steps"),
        (lambda a: a.update(ElseSteps={}), "/Arguments/ElseSteps: must be a list of steps"),
        (lambda a: a.update(Other=1), "/Arguments: unknown keys ['Other']"),
        (
            lambda a: a["Conditions"][0].update(Extra=1),
            "/Arguments/Conditions/0: needs exactly Type, LeftValue and RightValue",
        ),
    ],
)
def test_the_validator_names_each_bad_part_of_a_condition_step(edit, says):
    document = json.loads(compile_text(triage, "sagemaker"))
    condition = next(s for s in document["Steps"] if s["Type"] == "Condition")
    assert [str(p) for p in validate_document(document)] == []
    edit(condition["Arguments"])
    problems = [str(p) for p in validate_document(document)]
    assert problems == [
        f"step '{condition['Name']}': /Steps/{document['Steps'].index(condition)}{says}"
    ]


def test_moto_accepts_the_definition(monkeypatch):
    import boto3
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    text = compile_text(load_example("camera_triage_fixed"), "sagemaker")
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_pipeline(
            PipelineName="camera-triage-fixed",
            PipelineDefinition=text,
            RoleArn=EXAMPLE_CONFIG.require("sagemaker.role_arn"),
        )
        described = sm.describe_pipeline(PipelineName="camera-triage-fixed")
    assert json.loads(described["PipelineDefinition"]) == json.loads(text)


# ----- literals stay literal, in conditions and loop items too -----------------------------------

TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)


def _expressions(value: Any) -> int:
    if isinstance(value, dict):
        own = "Get" in value or any(k.startswith("Std:") for k in value)
        return own + sum(_expressions(v) for v in value.values())
    if isinstance(value, list):
        return sum(_expressions(v) for v in value)
    return 0


@settings(max_examples=40, deadline=None)
@given(TEXT, TEXT)
def test_user_strings_in_conditions_and_loop_items_stay_data(compared: str, item: str) -> None:
    @dsl.pipeline(name="literals")
    def literals(mode: str = "x"):
        with dsl.ParallelFor([item, "plain"]) as it, dsl.If(mode == compared):
            echo(value=it)

    document = json.loads(compile_text(literals, "sagemaker"))
    conditions = [s for s in document["Steps"] if s["Type"] == "Condition"]
    assert [c["Arguments"]["Conditions"] for c in conditions] == [
        [{"Type": "Equals", "LeftValue": {"Get": "Parameters.mode"}, "RightValue": compared}]
    ] * 2
    jobs = job_steps(document["Steps"])
    assert [j["Arguments"]["AppSpecification"]["ContainerArguments"][1] for j in jobs] == [
        item,
        "plain",
    ]
    # pipecast's own references only: one Get per condition, the output prefix per job
    assert _expressions(conditions[0]["Arguments"]["Conditions"]) == 1
    assert _expressions(jobs[0]["Arguments"]) == _expressions(jobs[1]["Arguments"])


# ----- refusals ----------------------------------------------------------------------------------


def _refusal(pipeline: Any) -> str:
    with pytest.raises(PipelineError) as info:
        compile_text(pipeline, "sagemaker")
    return "\n".join(d.format() for d in info.value.diagnostics if d.severity == "error")


def test_camera_triage_is_refused_for_its_run_time_list_and_exit_handler():
    text = _refusal(load_example("camera_triage"))
    assert "step 'count-motion': runtime loops (dsl.ParallelFor over a list parameter" in text
    assert (
        "exit handler (dsl.ExitHandler / dsl.RUN_STATUS) is not expressible on sagemaker; it is"
        in text
    )
    assert "used by steps 'status-report', 'count-motion'" in text
    # the targets that can are the registered ones whose capabilities say so
    for words in ("kubeflow can express it", "list literal", ".set_instances(", "EventBridge"):
        assert words in text, words


def test_a_loop_over_an_output_list_is_refused():
    @dsl.container_component(image=IMAGE, command=["x"])
    def listing(items: Output[list]):
        """Lists items."""

    @dsl.pipeline(name="runtime-list")
    def runtime():
        found = listing()
        with dsl.ParallelFor(found.outputs["items"]) as it:
            echo(value=it).set_name("each")

    text = _refusal(runtime)
    assert "step 'each': runtime loops" in text and "list literal" in text


def test_one_of_is_refused_with_the_targets_that_can():
    @dsl.pipeline(name="one-of")
    def one_of(x: int = 1):
        with dsl.If(x > 1):
            a = level(x=x).set_name("a")
        with dsl.Else():
            b = level(x=x).set_name("b")
        echo(number=dsl.OneOf(a.outputs["level"], b.outputs["level"])).set_name("join")

    text = _refusal(one_of)
    assert "step 'join': one of (dsl.OneOf(...))" in text and "kubeflow can express it" in text


def test_what_a_flattened_definition_cannot_keep_is_refused():
    @dsl.pipeline(name="cross")
    def cross(x: int = 1):
        first = level(x=x).set_name("first")
        with dsl.If(x > 1):
            inner = level(x=x).set_name("inner")
            with dsl.If(inner.outputs["level"] > 3):
                echo().set_name("deeper")
        echo().set_name("after-branch").after(inner)
        del first

    text = _refusal(cross)
    assert "condition 'condition-2' reads 'inner.level', which is produced inside" in text
    assert "step 'after-branch' runs after 'inner', which runs only in a branch" in text


def test_collected_strings_and_list_parameters_are_refused():
    @dsl.container_component(image=IMAGE, command=["x"])
    def named(name: Output[str]):
        """Writes a name."""

    @dsl.container_component(image=IMAGE, command=["x"])
    def names(all: list, out: Output[Dataset]):
        """Reads names."""

    @dsl.pipeline(name="strings")
    def strings(cams: list = ["a"]):  # noqa: B006
        with dsl.ParallelFor(["a", "b"]):
            n = named()
        names(all=dsl.Collected(n.outputs["name"]))

    text = _refusal(strings)
    assert "collects the str output 'named.name'" in text
    assert "pipeline parameter 'cams' is a list" in text


def test_each_flattening_refusal_has_its_code_message_hint_step_and_line():
    @dsl.container_component(image=IMAGE, command=["x"])
    def named(name: Output[str]):
        """Writes a name."""

    @dsl.container_component(image=IMAGE, command=["x"])
    def names(all: list, out: Output[Dataset]):
        """Reads names."""

    @dsl.pipeline(name="refusals")  # pipeline
    def refusals(x: int = 1, cams: list = ["a"], word: str = "a"):  # noqa: B006
        level(x=x).set_name("first")
        with dsl.If(x > 1):
            inner = level(x=x).set_name("inner")
            with dsl.If(inner.outputs["level"] > 3):  # reads-inner
                echo().set_name("deeper")
        echo().set_name("after-branch").after(inner)  # after-branch
        with dsl.ParallelFor(["a", "b"]):
            n = named()
        names(all=dsl.Collected(n.outputs["name"]))  # collects
        with dsl.If(word > "m"):  # orders
            echo().set_name("ordered")

    def at(marker: str) -> int:
        return marked_line(
            test_each_flattening_refusal_has_its_code_message_hint_step_and_line, marker
        )

    with pytest.raises(PipelineError) as info:
        compile_text(refusals, "sagemaker")
    got = [
        (d.code, d.message, d.hint, d.step, d.location.line if d.location else None, d.severity)
        for d in info.value.diagnostics
    ]
    and_others = "Step Functions, Kubeflow and the local runner"
    assert got == [
        (
            "PC008",
            "pipeline parameter 'cams' is a list: SageMaker pipeline parameters are String, "
            "Integer, Float or Boolean",
            "use a list literal in the pipeline (a loop over it is unrolled), or a str parameter "
            f"the step parses; {and_others} take list parameters",
            None,
            at("pipeline"),
            "error",
        ),
        (
            "PC008",
            "condition 'condition-2' reads 'inner.level', which is produced inside another "
            "branch: SageMaker evaluates every condition step of the flattened pipeline, and "
            "that step may not have run",
            "compare values produced outside every dsl.If, or compile for Step Functions or "
            "Kubeflow, which nest conditions",
            None,
            at("reads-inner"),
            "error",
        ),
        (
            "PC008",
            "step 'after-branch' runs after 'inner', which runs only in a branch 'after-branch' "
            "is not in: on SageMaker a step cannot wait for a step that may not run",
            f"move the step into the same dsl.If block, or drop the .after(); {and_others} run "
            "it either way",
            "after-branch",
            at("after-branch"),
            "error",
        ),
        (
            "PC008",
            "step 'names': input 'all' collects the str output 'named.name': SageMaker can join "
            "numbers and booleans into a JSON list, not quote strings or nest lists",
            "collect an output artifact instead (one folder per iteration), or compile for Step "
            "Functions or Kubeflow",
            "names",
            at("collects"),
            "error",
        ),
        (
            "PC008",
            "condition 'condition-4' orders strings (>): SageMaker compares only numbers with "
            "<, <=, > and >=",
            "compare strings with == or != on SageMaker",
            None,
            at("orders"),
            "error",
        ),
    ]


def test_unrolled_names_over_64_characters_are_refused():
    name = "s" * 48  # the longest step id the DSL allows (PC124)

    @dsl.pipeline(name="long")
    def long():
        with contextlib.ExitStack() as stack:
            for _ in range(9):  # nine nested loops of one item each
                stack.enter_context(dsl.ParallelFor([0]))
            echo().set_name(name)

    with pytest.raises(PipelineError) as info:
        compile_text(long, "sagemaker")
    unrolled = name + "-0" * 9
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert (d.code, d.message, d.hint, d.step) == (
        "PC009",
        f"step '{name}' becomes SageMaker step '{unrolled}', longer than 64 characters",
        "choose a shorter .set_name(), or loop over fewer items",
        name,
    )
    assert d.location is not None and d.location.line == long.spec.step(name).location.line


def test_loop_parallelism_is_a_warning_not_a_silent_drop():
    from pipecast.compilers import graph, load_target

    checked = graph.check(
        load_example("camera_triage_fixed").spec, load_target("sagemaker"), EXAMPLE_CONFIG
    )
    assert any("parallelism=2 is not kept on SageMaker" in w.message for w in checked.warnings)

    @dsl.pipeline(name="limited")
    def limited():
        with dsl.ParallelFor(["a", "b", "c"], parallelism=2):  # limited
            echo()

    (d,) = graph.check(limited.spec, load_target("sagemaker"), EXAMPLE_CONFIG).warnings
    assert (d.code, d.message, d.hint, d.step, d.severity) == (
        "PC008",
        "loop 'loop-1': parallelism=2 is not kept on SageMaker, where the unrolled iterations "
        "all start at once",
        "limit the whole pipeline with ParallelismConfiguration (MaxParallelExecutionSteps) when "
        "you create it; Step Functions (Map MaxConcurrency), Kubeflow and the local runner keep "
        "the per-loop limit",
        None,
        "warning",
    )
    assert d.location is not None and d.location.line == marked_line(
        test_loop_parallelism_is_a_warning_not_a_silent_drop, "limited"
    )


# ----- review: diff and plan ---------------------------------------------------------------------


def test_diff_shows_a_changed_condition_and_an_unrolled_loop_as_lines():
    @dsl.pipeline(name="triage-fixed")
    def changed(threshold: int = 0, label: str = "person"):
        with dsl.ParallelFor(["lobby", "gate", "dock"]) as cam:
            counted = count_motion(camera=cam)
            with dsl.If(counted.outputs["count"] >= threshold):
                detect(frames=counted.outputs["frames"], label=label)
        summed = total(
            counts=dsl.Collected(counted.outputs["count"]),
            frames=dsl.Collected(counted.outputs["frames"]),
        )
        echo(number=summed.outputs["total"]).set_name("report")

    old, new = compile_text(triage, "sagemaker"), compile_text(changed, "sagemaker")
    text = compare_texts(old, new).render("text")
    assert (
        'conditions[0]: "{Steps.count-motion-0.PropertyFiles.count} > {Parameters.threshold}"'
        ' → "{Steps.count-motion-0.PropertyFiles.count} >= {Parameters.threshold}"' in text
    )
    assert "- step count-motion-3:" in text and "- step condition-2-3:" in text
    assert "inputs.frames-3:" in text


def test_an_unrolled_loop_over_the_definition_size_limit_is_a_pc009():
    @dsl.pipeline(name="too-big")
    def too_big(threshold: int = 0):
        with dsl.ParallelFor([f"camera-{i}" for i in range(250)]) as cam:
            counted = count_motion(camera=cam)
            with dsl.If(counted.outputs["count"] > threshold):
                detect(frames=counted.outputs["frames"], label="x")

    with pytest.raises(PipelineError) as info:
        compile_text(too_big, "sagemaker")
    (error,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert error.code == "PC009" and "the service accepts 1,048,576" in error.message


def test_collected_artifacts_into_a_spot_step_are_refused():
    @dsl.container_component(image=IMAGE, command=["x"], spot=Spot(max_wait="1h"))
    def gather(frames: Input[Dataset], out: Output[Dataset]):
        """A spot fan-in: a Training job, whose channels cannot nest."""

    @dsl.pipeline(name="spot-fan-in")
    def spot_fan_in():
        with dsl.ParallelFor(["a", "b"]) as cam:
            counted = count_motion(camera=cam)
        gather(frames=dsl.Collected(counted.outputs["frames"]))  # spot-fan-in

    d = only_diagnostic(spot_fan_in, "sagemaker")
    assert (d.code, d.message, d.hint, d.step, d.severity) == (
        "PC008",
        "step 'gather': input 'frames' collects artifacts, but a spot step runs as a SageMaker "
        "Training job, whose channels cannot form the 0/, 1/, ... folder",
        "run the fan-in step without spot (a Processing job), or compile for Step Functions or "
        "Kubeflow",
        "gather",
        "error",
    )
    assert d.location is not None and d.location.line == marked_line(
        test_collected_artifacts_into_a_spot_step_are_refused, "spot-fan-in"
    )


# ----- every flattening refusal, whole: code, message, hint, step, line --------------------------


@dsl.container_component(image=IMAGE, command=["x"])
def produce(
    camera: str,
    frames: Output[Dataset],
    items: Output[list],
    sizes: Output[dict],
    ratio: Output[float],
    ok: Output[bool],
    n: Output[int],
):
    """Every kind of output."""


@dsl.container_component(image=IMAGE, command=["x"])
def gather(frames: Input[Dataset], out: Output[Dataset]):
    """Fan in one artifact."""


@dsl.container_component(image=IMAGE, command=["x"])
def gather_two(frames: Input[Dataset], extra: Input[Dataset]):
    """Fan in one artifact next to another input folder."""


@dsl.container_component(image=IMAGE, command=["x"])
def take(values: list = [], table: dict = {}, x: int = 0):  # noqa: B006
    """Values of every kind."""


@dsl.pipeline(name="collect-empty")
def collect_empty():
    with dsl.ParallelFor([]) as cam:
        counted = produce(camera=cam)
    gather(frames=dsl.Collected(counted.outputs["frames"]))  # sm-empty


@dsl.pipeline(name="collect-eleven")
def collect_eleven():
    with dsl.ParallelFor([0]):  # the fan-in is an instance, 'gather-0', of step 'gather'
        with dsl.ParallelFor([str(i) for i in range(11)]) as cam:
            counted = produce(camera=cam)
        gather(frames=dsl.Collected(counted.outputs["frames"]))  # sm-eleven


@dsl.pipeline(name="collect-ten-and-one")
def collect_ten_and_one():
    first = produce(camera="x").set_name("first")
    with dsl.ParallelFor([str(i) for i in range(10)]) as cam:
        counted = produce(camera=cam)
    every = dsl.Collected(counted.outputs["frames"])
    gather_two(frames=every, extra=first.outputs["frames"])  # sm-11


@dsl.pipeline(name="collect-lists")
def collect_lists():
    with dsl.ParallelFor(["a", "b"]) as cam:
        counted = produce(camera=cam)
    take(values=dsl.Collected(counted.outputs["items"])).set_name("lists")  # sm-lists
    take(values=dsl.Collected(counted.outputs["sizes"])).set_name("dicts")  # sm-dicts


@dsl.pipeline(name="reads-flat")
def reads_flat():
    out = produce(camera="a").outputs
    take(values=out["items"], table=out["sizes"], x=out["n"])  # sm-flat


@dsl.pipeline(name="reads-in-loop")
def reads_in_loop():
    with dsl.ParallelFor(["a", "b"]) as cam:
        counted = produce(camera=cam)
        take(values=counted.outputs["items"])  # sm-loop


@dsl.pipeline(name="compares-list")  # sm-cams
def compares_list(cams: list = ["a"]):  # noqa: B006
    with dsl.If(cams == ["a"]):  # sm-if-list
        take().set_name("v")


@dsl.pipeline(name="compares-dict")
def compares_dict():
    with dsl.ParallelFor([{"a": {"b": 1}}]) as item, dsl.If(item["a"] == {"b": 1}):  # sm-if-dict
        take().set_name("v")


@dsl.pipeline(name="compares-list-output")
def compares_list_output():
    made = produce(camera="x").set_name("made")
    again = produce(camera="y").set_name("again")
    with dsl.If(made.outputs["items"] == again.outputs["items"]):  # sm-if-output
        take().set_name("v")


@dsl.pipeline(name="clash-instance")
def clash_instance():
    with dsl.ParallelFor(["a", "b"]):
        take().set_name("a")
    take().set_name("a-1")  # sm-a-1


@dsl.pipeline(name="clash-condition")  # sm-clash-condition
def clash_condition(x: int = 1):
    take().set_name("condition-1")
    with dsl.If(x > 1):
        take().set_name("inside")


@dsl.pipeline(name="clash-condition-original")  # sm-clash-original
def clash_condition_original(x: int = 1):
    with dsl.ParallelFor(["a"]):
        take().set_name("condition-2")  # unrolled: 'condition-2-0'
    with dsl.If(x > 1):
        take().set_name("inside")


@dsl.pipeline(name="dict-parameter")  # sm-dict
def dict_parameter(opts: dict = {"a": 1}):  # noqa: B006
    take(table=opts)


def _line(marker: str) -> int:
    return marked_line(__file__, marker)


EVERY_ARTIFACT = (
    "collect an output artifact instead (one folder per iteration), or compile for Step "
    "Functions or Kubeflow"
)
NOT_JSON_GET = (
    "SageMaker passes a value read with Std:JsonGet as text only for str, int, float and bool "
    "values"
)
AS_A_FILE = (
    "write the list/dict into an output artifact (a JSON file) and read it as an Input[Dataset]; "
    "Step Functions, Kubeflow and the local runner pass it"
)
SCALARS_ONLY = "SageMaker conditions compare strings, numbers and booleans"
FEWER = "loop over fewer items, or write the iterations' results under one prefix"
LIST_PARAMETER = (
    "pipeline parameter 'cams' is a list: SageMaker pipeline parameters are String, Integer, "
    "Float or Boolean"
)
REFUSALS: list[tuple[str, Any, list[tuple[str, str, str, str | None, str]]]] = [
    (
        "collect-empty",
        collect_empty,
        [
            (
                "PC008",
                "step 'gather': input 'frames' collects the artifacts of a loop over an empty "
                "list: SageMaker has no empty input folder to give",
                "loop over a non-empty list",
                "gather",
                "sm-empty",
            )
        ],
    ),
    (
        "collect-eleven",
        collect_eleven,
        [
            (
                "PC009",
                "step 'gather-0': collecting 'frames' from 11 iterations gives 11 processing "
                "inputs; SageMaker allows 10",
                FEWER,
                "gather",
                "sm-eleven",
            )
        ],
    ),
    (
        "collect-ten-and-one",
        collect_ten_and_one,
        [
            (
                "PC009",
                "step 'gather-two': collecting 'frames' from 10 iterations gives 11 processing "
                "inputs; SageMaker allows 10",
                FEWER,
                "gather-two",
                "sm-11",
            )
        ],
    ),
    (
        "collect-lists-and-dicts",
        collect_lists,
        [
            (
                "PC008",
                "step 'lists': input 'values' collects the list output 'produce.items': "
                "SageMaker can join numbers and booleans into a JSON list, not quote strings or "
                "nest lists",
                EVERY_ARTIFACT,
                "lists",
                "sm-lists",
            ),
            (
                "PC008",
                "step 'dicts': input 'values' collects the dict output 'produce.sizes': "
                "SageMaker can join numbers and booleans into a JSON list, not quote strings or "
                "nest lists",
                EVERY_ARTIFACT,
                "dicts",
                "sm-dicts",
            ),
        ],
    ),
    (
        "reads-list-and-dict-without-control-flow",
        reads_flat,
        [
            (
                "PC008",
                f"step 'take': input 'table' reads the dict output 'sizes': {NOT_JSON_GET}",
                AS_A_FILE,
                "take",
                "sm-flat",
            ),
            (
                "PC008",
                f"step 'take': input 'values' reads the list output 'items': {NOT_JSON_GET}",
                AS_A_FILE,
                "take",
                "sm-flat",
            ),
        ],
    ),
    (
        "reads-list-in-a-loop",  # one per iteration, each naming the step
        reads_in_loop,
        [
            (
                "PC008",
                f"step 'take': input 'values' reads the list output 'items': {NOT_JSON_GET}",
                AS_A_FILE,
                "take",
                "sm-loop",
            )
        ]
        * 2,
    ),
    (
        "compares-a-list",
        compares_list,
        [
            (
                "PC008",
                LIST_PARAMETER,
                "use a list literal in the pipeline (a loop over it is unrolled), or a str "
                "parameter the step parses; Step Functions, Kubeflow and the local runner take "
                "list parameters",
                None,
                "sm-cams",
            ),
            (
                "PC008",
                f"condition 'condition-1' compares a list or dict: {SCALARS_ONLY}",
                "compare a scalar (e.g. a count) instead",
                None,
                "sm-if-list",
            ),
        ],
    ),
    (
        "compares-a-list-output",
        compares_list_output,
        [
            (
                "PC008",
                f"condition 'condition-1' compares a list or dict: {SCALARS_ONLY}",
                "compare a scalar (e.g. a count) instead",
                None,
                "sm-if-output",
            )
        ],
    ),
    (
        "compares-a-dict",
        compares_dict,
        [
            (
                "PC008",
                f"condition 'condition-2-0' compares a list or dict: {SCALARS_ONLY}",
                "compare a scalar (e.g. a count) instead",
                None,
                "sm-if-dict",
            )
        ],
    ),
    (
        "instance-name-taken",
        clash_instance,
        [
            (
                "PC009",
                "step 'a-1' becomes SageMaker step 'a-1', a name step 'a' already has",
                "rename one of them with .set_name()",
                "a-1",
                "sm-a-1",
            )
        ],
    ),
    (
        "condition-name-taken",
        clash_condition,
        [
            (
                "PC009",
                "condition 'condition-1' becomes SageMaker step 'condition-1', a name step "
                "'condition-1' already has",
                "rename one of them with .set_name()",
                None,
                "sm-clash-condition",
            )
        ],
    ),
    (
        "condition-name-of-an-unrolled-step",
        clash_condition_original,
        [
            (
                "PC009",
                "condition 'condition-2' becomes SageMaker step 'condition-2', a name a step "
                "already has",
                "rename one of them with .set_name()",
                None,
                "sm-clash-original",
            )
        ],
    ),
    (
        "dict-parameter",
        dict_parameter,
        [
            (
                "PC008",
                "pipeline parameter 'opts' is a dict: SageMaker pipeline parameters are String, "
                "Integer, Float or Boolean",
                "use a list literal in the pipeline (a loop over it is unrolled), or a str "
                "parameter the step parses; Step Functions, Kubeflow and the local runner take "
                "dict parameters",
                None,
                "sm-dict",
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("pipeline", "expected"),
    [(pipeline, expected) for _, pipeline, expected in REFUSALS],
    ids=[case for case, _, _ in REFUSALS],
)
def test_each_flattening_refusal_whole(pipeline: Any, expected: list[tuple[Any, ...]]) -> None:
    with pytest.raises(PipelineError) as info:
        compile_text(pipeline, "sagemaker")
    got = [
        (d.code, d.message, d.hint, d.step, d.location.line if d.location else None, d.severity)
        for d in info.value.diagnostics
    ]
    assert got == [(*e[:4], _line(e[4]), "error") for e in expected]
    for d in info.value.diagnostics:
        assert d.location is not None and d.location.file == shown_path(__file__)


@dsl.pipeline(name="collect-accepted")
def collect_accepted():
    first = produce(camera="x").set_name("first")
    with dsl.ParallelFor([str(i) for i in range(9)]) as cam:
        nine = produce(camera=cam).set_name("nine")
    with dsl.ParallelFor([str(i) for i in range(10)]) as cam:
        ten = produce(camera=cam).set_name("ten")
    gather_two(frames=dsl.Collected(nine.outputs["frames"]), extra=first.outputs["frames"])
    gather(frames=dsl.Collected(ten.outputs["frames"]))
    take(values=dsl.Collected(ten.outputs["ratio"])).set_name("floats")
    take(values=dsl.Collected(ten.outputs["ok"])).set_name("bools")
    take(values=dsl.Collected(ten.outputs["n"])).set_name("ints")


def test_collected_numbers_booleans_and_ten_input_folders_are_accepted():
    document = json.loads(compile_text(collect_accepted, "sagemaker"))
    jobs = {s["Name"]: s for s in document["Steps"]}
    inputs = {
        name: [i["InputName"] for i in jobs[name]["Arguments"]["ProcessingInputs"]]
        for name in ("gather-two", "gather")
    }
    assert inputs == {
        "gather-two": [*(f"frames-{i}" for i in range(9)), "extra"],
        "gather": [f"frames-{i}" for i in range(10)],
    }
    for name, output in (("floats", "ratio"), ("bools", "ok"), ("ints", "n")):
        reads = [
            {
                "Std:JsonGet": {
                    "Path": "$",
                    "PropertyFile": {"Get": f"Steps.ten-{i}.PropertyFiles.{output}"},
                }
            }
            for i in range(10)
        ]
        joined = ["[", reads[0], *(part for read in reads[1:] for part in (",", read)), "]"]
        assert jobs[name]["Arguments"]["AppSpecification"]["ContainerArguments"] == [
            "--values",
            {"Std:Join": {"On": "", "Values": joined}},
            "--table",
            "{}",
            "--x",
            "0",
        ], name


@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions"])
def test_a_local_importer_uri_is_pc011_on_the_aws_targets(target: str) -> None:
    @dsl.pipeline(name="local-uri")
    def local_uri():
        imported = dsl.importer(uri="/data/frames", artifact_type=Dataset)  # the importer
        gather(frames=imported.output)

    d = only_diagnostic(local_uri, target)
    assert (d.code, d.message, d.hint) == (
        "PC011",
        "importer 'importer' reads '/data/frames', but SageMaker jobs read inputs from S3 only "
        "(s3://bucket/prefix or an https:// S3 URL)",
        "copy the data to S3 and import that URI, or make the URI a pipeline parameter; local "
        "paths work with pipecast run --local",
    )
    assert points_at(d, __file__, "the importer")
