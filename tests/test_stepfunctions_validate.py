"""The deploy-time ASL validator catches what would make Step Functions reject a definition."""

from __future__ import annotations

import copy
import json

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers.stepfunctions_validate import validate_document, validate_text
from pipecast.dsl import Dataset, Output, Spot

GOOD = {
    "QueryLanguage": "JSONata",
    "StartAt": "Run",
    "States": {
        "Run": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
                {
                    "StartAt": "B",
                    "States": {"B": {"Type": "Pass", "Next": "B2"}, "B2": {"Type": "Succeed"}},
                },
            ],
            "Retry": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "MaxAttempts": 2,
                    "BackoffRate": 2.0,
                    "IntervalSeconds": 5,
                }
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "StepFailed", "Cause": "Run failed"},
    },
}


def mutate(fn):
    doc = copy.deepcopy(GOOD)
    fn(doc)
    return [str(p) for p in validate_document(doc)]


def test_good_machine_passes():
    assert validate_document(GOOD) == []
    assert validate_text(json.dumps(GOOD)) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(StartAt="Nope"), "/StartAt: 'Nope' is not a state"),
        (lambda d: d["States"]["Run"].update(Next="Ghost"), "goes to 'Ghost'"),
        (lambda d: d["States"]["Run"].update(End=True), "exactly one of Next or End"),
        (lambda d: d["States"]["Done"].update(Next="Run"), "cannot have Next or End"),
        (lambda d: d["States"].update(Orphan={"Type": "Succeed"}), "Orphan: unreachable"),
        (
            lambda d: d["States"]["Run"]["Branches"][1]["States"].update(A={"Type": "Succeed"}),
            "names must be unique across the whole state machine",
        ),
        (lambda d: d["States"].update({"x" * 81: {"Type": "Succeed"}}), "81 characters"),
        (lambda d: d["States"]["Run"]["Retry"][0].update(BackoffRate=0.5), "BackoffRate"),
        (lambda d: d["States"]["Run"]["Retry"][0].update(ErrorEquals=[]), "ErrorEquals"),
        (lambda d: d["States"]["Run"].update(ResultPath="$.x"), "not allowed with QueryLanguage"),
        (lambda d: d["States"]["Run"].update(Type="Parallelx"), "unknown state type"),
        (lambda d: d["States"]["Run"]["Branches"].clear(), "needs branches"),
        (lambda d: d.update(QueryLanguage="SQL"), "must be JSONata or JSONPath"),
    ],
)
def test_broken_machines_are_reported_with_a_path(change, fragment):
    problems = mutate(change)
    assert any(fragment in p for p in problems), problems


def test_not_json_and_too_large():
    assert "not valid JSON" in str(validate_text("{"))
    big = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "End": True, "Comment": "x" * 1_100_000}},
    }
    assert "1,048,576" in str(validate_text(json.dumps(big))[0])


# ----- SageMaker job requests inside Task states (compiled here, then broken by hand) -----------


@dsl.container_component(image="r.example.com/x:1.0", command=["run"])
def job(out: Output[Dataset]) -> None:
    """One output."""


def _spot_machine(timeout: str | None) -> dict:
    @dsl.pipeline(name="spot")
    def spot() -> None:
        task = job().set_name("s").set_spot(Spot("2h"))
        if timeout:
            task.set_timeout(timeout)

    return json.loads(compile_text(spot, "stepfunctions"))


@pytest.mark.parametrize("timeout", [None, "1h"])
def test_a_spot_job_whose_wait_is_shorter_than_its_runtime_is_refused(timeout):
    machine = _spot_machine(timeout)
    assert validate_document(machine) == []
    stopping = machine["States"]["s"]["Arguments"]["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"]
    stopping["MaxWaitTimeInSeconds"] = stopping["MaxRuntimeInSeconds"] - 1
    (problem,) = [str(p) for p in validate_document(machine)]
    assert problem.startswith("/States/s/Arguments: /StoppingCondition/MaxWaitTimeInSeconds: ")
    assert "below MaxRuntimeInSeconds" in problem
    del stopping["MaxWaitTimeInSeconds"]
    assert [str(p) for p in validate_document(machine)] == [
        "/States/s/Arguments: /StoppingCondition: managed spot training needs MaxWaitTimeInSeconds"
    ]


def test_without_a_runtime_the_wait_must_cover_the_default_day():
    machine = _spot_machine(None)
    stopping = machine["States"]["s"]["Arguments"]["StoppingCondition"]
    del stopping["MaxRuntimeInSeconds"]
    stopping["MaxWaitTimeInSeconds"] = 86399
    assert any("below MaxRuntimeInSeconds 86400" in str(p) for p in validate_document(machine))
    stopping["MaxWaitTimeInSeconds"] = 86400
    assert validate_document(machine) == []
