"""Step Functions Task states, compiled fresh, their JSONata evaluated as Step Functions would.

What a user relies on: a job name that is legal, at most 63 characters and different for each
execution and each retry; parameters with their defaults reaching the container as strings; a
step timeout that never cuts a spot job's wait short; failures ending in a Fail state naming the
step; and a definition that stays under the service's size limit.
"""

from __future__ import annotations

import json
import re

import pytest
from asl_interpreter import evaluate
from helpers import EXAMPLE_CONFIG, compile_text, job_step_part

from pipecast import dsl
from pipecast._api import compile_spec, resolve_targets
from pipecast.compilers.graph import check
from pipecast.compilers.stepfunctions import _durations, job_name
from pipecast.dsl import Dataset, Input, Output, Retry, Spot

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], n: int = 1):
    """Produce."""


@dsl.container_component(image=IMG, command=["use"])
def use(data: Input[Dataset], label: str, n: int = 2, flag: bool = False):
    """Consume."""


def _machine(pipeline, config=EXAMPLE_CONFIG) -> dict:
    return json.loads(compile_text(pipeline, "stepfunctions", config))


def _context(execution_id: str, retry: int, name: str = "exec-1") -> dict:
    return {
        "states": {
            "context": {
                "Execution": {"Id": execution_id, "Name": name},
                "State": {"RetryCount": retry},
            }
        }
    }


@pytest.mark.parametrize("step_id", ["a", "detect-objects", "s" * 48])
def test_job_names_are_legal_short_and_unique_per_execution_and_retry(step_id):
    expression = "{% " + job_name(step_id).text + " %}"
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:"
    names = {
        evaluate(expression, _context(arn + execution, retry))
        for execution in ("run-1", "run-2")
        for retry in (0, 1, 2)
    }
    assert len(names) == 6
    for name in names:
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name), name
        assert len(name) <= 63
        assert name.startswith(job_step_part(step_id) + "-")
    first = evaluate(expression, _context(arn + "run-1", 0))
    assert re.fullmatch(re.escape(job_step_part(step_id)) + r"-[0-9a-f]{16}-0", first)


def test_task_states_catch_failures_into_a_fail_state_naming_the_step():
    @dsl.pipeline(name="s")
    def s():
        use(data=make().output, label="x")

    states = _machine(s)["States"]
    for step, kind in (("make", "Processing"), ("use", "Processing")):
        task = states[step]
        assert task["Resource"] == f"arn:aws:states:::sagemaker:create{kind}Job.sync"
        assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": f"{step}-failed"}]
        assert states[f"{step}-failed"] == {
            "Type": "Fail",
            "Error": "StepFailed",
            "Cause": f"step '{step}' failed (see its SageMaker job)",
        }
        assert "Retry" not in task and "TimeoutSeconds" not in task
    assert states["make"]["Next"] == "use" and states["use"]["End"] is True


def test_parameters_get_defaults_and_reach_arguments_as_strings():
    @dsl.pipeline(name="s")
    def s(label: str, n: int = 4, flag: bool = True):
        use(data=make(n=n).output, label=label, n=n, flag=flag)

    machine = _machine(s)
    start = machine["States"]["start"]
    assert machine["StartAt"] == "start" and start["Type"] == "Pass"
    state = evaluate(start["Output"], {"states": {"input": {"label": "cars", "n": 7}}})
    assert state == {"params": {"label": "cars", "n": 7, "flag": True}, "uris": {}}
    state = evaluate(start["Output"], {"states": {"input": {"label": "cars"}}})
    assert state["params"] == {"label": "cars", "n": 4, "flag": True}

    use_args = machine["States"]["use"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    bindings = {"states": {"input": {"params": {"label": "cars", "n": 7, "flag": True}}}}
    rendered = [evaluate(a, bindings) for a in use_args]
    assert rendered[2:] == ["--label", "cars", "--n", "7", "--flag", "true"]


def test_training_outputs_travel_in_the_state_and_processing_outputs_are_computed():
    @dsl.pipeline(name="s")
    def s():
        a = make().set_spot(Spot()).set_name("a")
        b = make().set_name("b")
        use(data=a.output, label="x").set_name("from-training")
        use(data=b.output, label="x").set_name("from-processing")

    states = _machine(s)["States"]

    def tasks(machine_states: dict) -> dict:
        found = {}
        for name, state in machine_states.items():
            if state["Type"] == "Task":
                found[name] = state
            for branch in state.get("Branches", []):
                found.update(tasks(branch["States"]))
        return found

    by_name = tasks(states)
    result = {"ModelArtifacts": {"S3ModelArtifacts": "s3://out/a/job/output/model"}}
    carried = evaluate(
        by_name["a"]["Output"],
        {"states": {"input": {"params": {"p": 1}, "uris": {"z": "s3://z"}}, "result": result}},
    )
    assert carried == {
        "params": {"p": 1},
        "uris": {"z": "s3://z", "a": "s3://out/a/job/output/model"},
    }
    assert by_name["b"]["Output"] == "{% $states.input %}"
    bindings = {
        "states": {
            "input": {"uris": {"a": "s3://out/a/job/output/model"}},
            "context": {"Execution": {"Name": "exec-9"}},
        }
    }
    uri = by_name["from-training"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert evaluate(uri, bindings) == "s3://out/a/job/output/model/data"
    uri = by_name["from-processing"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert evaluate(uri, bindings) == "s3://acme-ml/pipelines/s/exec-9/b/data/"


@pytest.mark.parametrize(
    ("timeout", "spot", "expected"),
    [
        (None, None, None),
        (None, "2h", None),
        ("1h", None, 3600),
        ("1h", "3h", 10800),  # the state must wait as long as the spot job may
        ("2h", "2h", 7200),
    ],
)
def test_timeout_seconds_covers_the_whole_job(timeout, spot, expected):
    @dsl.pipeline(name="t")
    def t():
        task = make()
        if timeout:
            task.set_timeout(timeout)
        if spot:
            task.set_spot(Spot(spot))

    state = _machine(t)["States"]["make"]
    assert state.get("TimeoutSeconds") == expected


def test_retry_counts_retries():
    @dsl.pipeline(name="r")
    def r():
        make().set_retry(Retry(4, "1m", 3))

    (retry,) = _machine(r)["States"]["make"]["Retry"]
    assert retry == {
        "ErrorEquals": ["SageMaker.AmazonSageMakerException", "States.TaskFailed"],
        "IntervalSeconds": 60,
        "BackoffRate": 3.0,
        "MaxAttempts": 3,
    }


def _compile_document(pipeline):
    (target,), _ = resolve_targets("stepfunctions")
    return compile_spec(pipeline.spec, target, EXAMPLE_CONFIG)


def test_a_large_machine_is_written_compact_with_a_note():
    @dsl.pipeline(name="wide")
    def wide():
        for i in range(501):
            make().set_name(f"s{i}")

    document = _compile_document(wide)
    assert "\n" not in document.text.rstrip("\n")
    assert json.loads(document.text)["StartAt"] == "start"
    assert any("501 steps: written compact" in n for n in document.notes)


def test_a_small_machine_is_indented_without_a_note():
    @dsl.pipeline(name="small")
    def small():
        make()

    document = _compile_document(small)
    assert document.text.startswith('{\n  "Comment": "pipecast pipeline small"')
    assert not any("compact" in n for n in document.notes)


def test_durations_default_to_the_median_hint():
    @dsl.pipeline(name="d")
    def d():
        make().set_name("a").set_expected_duration("10m")
        make().set_name("b").set_expected_duration("30m")
        make().set_name("c").set_expected_duration("1h")
        make().set_name("free")

    assert _durations(check(d.spec)) == {"a": 600.0, "b": 1800.0, "c": 3600.0, "free": 1800.0}

    @dsl.pipeline(name="none")
    def none():
        make().set_name("a")
        make().set_name("b")

    assert _durations(check(none.spec)) == {"a": 1.0, "b": 1.0}


@dsl.container_component(image=IMG, command=["prep"])
def prep(camera: str, shift: str, frames: Output[Dataset]):
    """One iteration's Processing job."""


@dsl.container_component(image=IMG, command=["fit"], spot=Spot("2h", checkpoints=True))
def fit(camera: str, shift: str, model: Output[Dataset]):
    """One iteration's spot (Training) job, with a checkpoint folder."""


def _jobs(machine: dict) -> dict[str, dict]:
    """Every SageMaker Task state, inside Parallel branches and Map bodies too."""
    found = {}
    for name, state in machine["States"].items():
        if state["Type"] == "Task" and ":sagemaker:" in state["Resource"]:
            found[name] = state
        for inner in [*state.get("Branches", []), state.get("ItemProcessor", {"States": {}})]:
            found.update(_jobs(inner))
    return found


def test_each_loop_iteration_writes_under_its_own_folders():
    """Iterations never share a folder: a Processing output goes to ``{output}/{i}/{j}/``, a
    spot job's outputs to ``{step}/{i}/{j}/`` (the service adds the job name) and its checkpoints
    to ``{step}/_checkpoints/{i}/{j}/``."""

    @dsl.pipeline(name="per-camera")
    def per_camera():
        with (
            dsl.ParallelFor(["lobby", "gate"]) as camera,
            dsl.ParallelFor(["day", "night"]) as shift,
        ):
            prep(camera=camera, shift=shift)
            fit(camera=camera, shift=shift)

    jobs = _jobs(_machine(per_camera))
    loops = {"loop-1": {"index": 1}, "loop-2": {"index": 0}}  # gate, day
    bindings = {"states": {"input": {"run": "run-7", "loops": loops, "params": {}, "uris": {}}}}
    run = "s3://acme-ml/pipelines/per-camera/run-7"
    (output,) = jobs["prep"]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    assert evaluate(output["S3Output"]["S3Uri"], bindings) == f"{run}/prep/frames/1/0/"
    fit_args = jobs["fit"]["Arguments"]
    assert evaluate(fit_args["OutputDataConfig"]["S3OutputPath"], bindings) == f"{run}/fit/1/0/"
    assert evaluate(fit_args["CheckpointConfig"], bindings) == {
        "LocalPath": "/opt/ml/checkpoints",
        "S3Uri": f"{run}/fit/_checkpoints/1/0/",
    }
