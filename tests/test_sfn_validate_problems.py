"""Each check of ``stepfunctions_validate`` on a hand-edited state machine, word for word: the
JSON path and the whole message of every problem it reports (and nothing else), so a deploy
refusal tells the user exactly what to fix and where.

``BASE`` is valid; each case edits a copy and lists every problem expected.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from pipecast.compilers.stepfunctions_validate import (
    MAX_NAME,
    MAX_WHOLE,
    validate_document,
    validate_text,
)

PROCESSING = "arn:aws:states:::sagemaker:createProcessingJob.sync"
MISSING_PROCESSING = [
    "/: missing required 'ProcessingResources'",
    "/: missing required 'AppSpecification'",
    "/: missing required 'RoleArn'",
]

BASE: dict[str, Any] = {
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
            "Next": "Loop",
        },
        "Loop": {
            "Type": "Map",
            "Items": "{% [1, 2] %}",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Each",
                "States": {"Each": {"Type": "Pass", "End": True}},
            },
            "Next": "Pick",
        },
        "Pick": {
            "Type": "Choice",
            "Choices": [{"Condition": "{% true %}", "Next": "Done"}],
            "Default": "Done",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "StepFailed", "Cause": "Run failed"},
    },
}

RUN = "/States/Run"
RETRY = "/States/Run/Retry/0"


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit: set the value at ``path`` (keys separated by ``/``; digits index lists)."""
    *parents, last = path.split("/")

    def edit(document: dict[str, Any]) -> None:
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def edit(document: dict[str, Any]) -> None:
        node: Any = document
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return edit


def _task(**fields: Any) -> Callable[[dict[str, Any]], None]:
    """Replace the ``Pass`` state ``Each`` inside the Map by a Task with ``fields``."""
    return _set("States/Loop/ItemProcessor/States/Each", {"Type": "Task", "End": True, **fields})


def _last_state_named(name: str) -> Callable[[dict[str, Any]], None]:
    """``Done`` goes on to a last state called ``name``."""

    def edit(document: dict[str, Any]) -> None:
        document["States"]["Done"] = {"Type": "Pass", "Next": name}
        document["States"][name] = {"Type": "Succeed"}

    return edit


def _in_jsonpath(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """The document in JSONPath (the Map's JSONata ``Items`` removed), then ``edit``."""

    def both(document: dict[str, Any]) -> None:
        document["QueryLanguage"] = "JSONPath"
        del document["States"]["Loop"]["Items"]
        edit(document)

    return both


EACH = "/States/Loop/ItemProcessor/States/Each"

CASES: dict[str, tuple[Callable[[dict[str, Any]], None], list[str]]] = {
    # ----- the envelope and each scope
    "query-language-unknown": (
        _set("QueryLanguage", "SQL"),
        ["/QueryLanguage: must be JSONata or JSONPath, not 'SQL'"],
    ),
    "states-missing": (
        _delete("States"),
        ["/States: must be a non-empty object of states"],
    ),
    "states-empty": (
        _set("States", {}),
        ["/States: must be a non-empty object of states"],
    ),
    "branch-states-empty": (
        _set("States/Run/Branches/0/States", {}),
        [f"{RUN}/Branches/0/States: must be a non-empty object of states"],
    ),
    "start-at-unknown": (
        _set("StartAt", "Nope"),
        ["/StartAt: 'Nope' is not a state in this scope"],
    ),
    "start-at-missing-in-a-map": (
        _delete("States/Loop/ItemProcessor/StartAt"),
        ["/States/Loop/ItemProcessor/StartAt: None is not a state in this scope"],
    ),
    # ----- names
    "name-too-long": (
        _last_state_named("x" * (MAX_NAME + 1)),
        [f"/States/{'x' * 81}: state name is 81 characters (max 80)"],
    ),
    "name-of-80-characters": (_last_state_named("x" * MAX_NAME), []),
    "name-used-twice": (
        lambda d: d["States"]["Run"]["Branches"][1]["States"].update(
            B2={"Type": "Pass", "Next": "A"}, A={"Type": "Succeed"}
        ),
        [
            f"{RUN}/Branches/1/States/A: state name also used at {RUN}/Branches/0/States/A; "
            "names must be unique across the whole state machine"
        ],
    ),
    "state-not-an-object": (
        _set("States/Done", "Succeed"),
        ["/States/Done: a state is a JSON object"],
    ),
    "unreachable": (
        _set("States/Orphan", {"Type": "Succeed"}),
        ["/States/Orphan: unreachable from StartAt"],
    ),
    # ----- fields of each state type
    "type-unknown": (
        _set("States/Done/Type", "Done"),
        ["/States/Done/Type: unknown state type 'Done'"],
    ),
    "jsonpath-field-in-jsonata": (
        _set("States/Run/ResultPath", "$.x"),
        [f"{RUN}/ResultPath: not allowed with QueryLanguage JSONata"],
    ),
    "jsonata-fields-in-jsonpath": (
        _in_jsonpath(lambda d: d["States"]["Run"].update(Output="{% 1 %}", Arguments={})),
        [
            f"{RUN}/Arguments: not allowed with QueryLanguage JSONPath",
            f"{RUN}/Output: not allowed with QueryLanguage JSONPath",
        ],
    ),
    "jsonpath-is-the-default": (
        lambda d: d.pop("QueryLanguage") and d["States"]["Run"].update(ResultPath="$.x"),
        [],
    ),
    "a-state-may-choose-its-language": (
        lambda d: d["States"]["Run"].update(QueryLanguage="JSONPath", Output="{% 1 %}"),
        [f"{RUN}/Output: not allowed with QueryLanguage JSONPath"],
    ),
    "a-branch-inherits-its-states-language": (
        lambda d: (
            d["States"]["Run"].update(QueryLanguage="JSONPath")
            or d["States"]["Run"]["Branches"][0]["States"]["A"].update(Output="{% 1 %}")
        ),
        [f"{RUN}/Branches/0/States/A/Output: not allowed with QueryLanguage JSONPath"],
    ),
    "neither-next-nor-end": (
        _delete("States/Run/Next"),
        [f"{RUN}: a Parallel state needs exactly one of Next or End"]
        + [f"/States/{n}: unreachable from StartAt" for n in ("Loop", "Pick", "Done")],
    ),
    "both-next-and-end": (
        _set("States/Loop/End", True),
        ["/States/Loop: a Map state needs exactly one of Next or End"],
    ),
    "end-false-is-no-end": (
        _set("States/Run/Branches/0/States/A/End", False),
        [f"{RUN}/Branches/0/States/A: a Pass state needs exactly one of Next or End"],
    ),
    "succeed-with-next": (
        _set("States/Done/Next", "Run"),
        ["/States/Done: a Succeed state cannot have Next or End"],
    ),
    "fail-with-end": (
        _set("States/Failed/End", True),
        ["/States/Failed: a Fail state cannot have Next or End"],
    ),
    "next-to-nowhere": (
        _set("States/Loop/Next", "Ghost"),
        ["/States/Loop: goes to 'Ghost', which is not a state in scope"]
        + [f"/States/{n}: unreachable from StartAt" for n in ("Pick", "Done")],
    ),
    "next-out-of-its-branch": (
        _set("States/Run/Branches/0/States/A", {"Type": "Pass", "Next": "Done"}),
        [f"{RUN}/Branches/0/States/A: goes to 'Done', which is not a state in scope"],
    ),
    "default-to-nowhere": (
        _set("States/Pick/Default", "Ghost"),
        ["/States/Pick: goes to 'Ghost', which is not a state in scope"],
    ),
    "choice-to-nowhere": (
        _set("States/Pick/Choices/0/Next", "Ghost"),
        ["/States/Pick: goes to 'Ghost', which is not a state in scope"],
    ),
    "catch-to-nowhere": (
        _set("States/Run/Catch/0/Next", "Ghost"),
        [
            f"{RUN}: goes to 'Ghost', which is not a state in scope",
            "/States/Failed: unreachable from StartAt",
        ],
    ),
    "choice-without-choices": (
        _delete("States/Pick/Choices"),
        ["/States/Pick/Choices: a Choice state needs Choices"],
    ),
    "parallel-without-branches": (
        _set("States/Run/Branches", []),
        [f"{RUN}/Branches: a Parallel state needs branches"],
    ),
    "parallel-branches-not-a-list": (
        _set("States/Run/Branches", {"StartAt": "A"}),
        [f"{RUN}/Branches: a Parallel state needs branches"],
    ),
    "a-branch-not-an-object": (
        _set("States/Run/Branches/1", "B"),
        [f"{RUN}/Branches/1: a branch is an object"],
    ),
    "a-branch-not-an-object-and-a-broken-one-after-it": (
        lambda document: (
            _set("States/Run/Branches/1/States/B/Next", "C")(document),
            _set("States/Run/Branches/0", "A")(document),
        ),
        [
            f"{RUN}/Branches/0: a branch is an object",
            f"{RUN}/Branches/1/States/B: goes to 'C', which is not a state in scope",
            f"{RUN}/Branches/1/States/B2: unreachable from StartAt",
        ],
    ),
    "a-broken-state-inside-a-branch": (
        _set("States/Run/Branches/1/States/B/Next", "C"),
        [
            f"{RUN}/Branches/1/States/B: goes to 'C', which is not a state in scope",
            f"{RUN}/Branches/1/States/B2: unreachable from StartAt",
        ],
    ),
    "map-without-item-processor": (
        _delete("States/Loop/ItemProcessor"),
        ["/States/Loop/ItemProcessor: a Map state needs ItemProcessor"],
    ),
    "a-broken-state-inside-a-map": (
        _set("States/Loop/ItemProcessor/States/Each/Type", "Loop"),
        [f"{EACH}/Type: unknown state type 'Loop'"],
    ),
    # ----- numeric limits, Retry and Catch
    "timeout-above-the-maximum": (
        _set("States/Run/TimeoutSeconds", MAX_WHOLE + 1),
        [f"{RUN}/TimeoutSeconds: 100,000,000 is above the maximum 99,999,999"],
    ),
    "heartbeat-above-the-maximum": (
        _set("States/Run/HeartbeatSeconds", MAX_WHOLE + 1),
        [f"{RUN}/HeartbeatSeconds: 100,000,000 is above the maximum 99,999,999"],
    ),
    "timeout-at-the-maximum": (_set("States/Run/TimeoutSeconds", MAX_WHOLE), []),
    "retry-interval-above-the-maximum": (
        _set("States/Run/Retry/0/IntervalSeconds", MAX_WHOLE + 1),
        [f"{RETRY}/IntervalSeconds: 100,000,000 is above the maximum 99,999,999"],
    ),
    "retry-max-delay-above-the-maximum": (
        _set("States/Run/Retry/0/MaxDelaySeconds", MAX_WHOLE + 1),
        [f"{RETRY}/MaxDelaySeconds: 100,000,000 is above the maximum 99,999,999"],
    ),
    "retry-error-equals-empty": (
        _set("States/Run/Retry/0/ErrorEquals", []),
        [f"{RETRY}: ErrorEquals must be a non-empty list"],
    ),
    "retry-error-equals-not-a-list": (
        _set("States/Run/Retry/0/ErrorEquals", "States.ALL"),
        [f"{RETRY}: ErrorEquals must be a non-empty list"],
    ),
    "retry-error-equals-missing": (
        _delete("States/Run/Retry/0/ErrorEquals"),
        [f"{RETRY}: ErrorEquals must be a non-empty list"],
    ),
    "retry-max-attempts-negative": (
        _set("States/Run/Retry/0/MaxAttempts", -1),
        [f"{RETRY}: MaxAttempts -1 is not a whole number >= 0"],
    ),
    "retry-max-attempts-zero": (_set("States/Run/Retry/0/MaxAttempts", 0), []),
    "retry-max-attempts-at-the-maximum": (
        _set("States/Run/Retry/0/MaxAttempts", MAX_WHOLE),
        [],
    ),
    "retry-max-attempts-above-the-maximum": (
        _set("States/Run/Retry/0/MaxAttempts", MAX_WHOLE + 1),
        [f"{RETRY}: MaxAttempts 100000000 is not a whole number >= 0"],
    ),
    "retry-max-attempts-not-whole": (
        _set("States/Run/Retry/0/MaxAttempts", 1.5),
        [f"{RETRY}: MaxAttempts 1.5 is not a whole number >= 0"],
    ),
    "retry-backoff-rate-below-one": (
        _set("States/Run/Retry/0/BackoffRate", 0.5),
        [f"{RETRY}: BackoffRate 0.5 must be >= 1.0"],
    ),
    "retry-backoff-rate-one": (_set("States/Run/Retry/0/BackoffRate", 1), []),
    "retry-backoff-rate-not-a-number": (
        _set("States/Run/Retry/0/BackoffRate", "2"),
        [f"{RETRY}: BackoffRate '2' must be >= 1.0"],
    ),
    "retry-interval-zero": (
        _set("States/Run/Retry/0/IntervalSeconds", 0),
        [f"{RETRY}: IntervalSeconds 0 must be a whole number >= 1"],
    ),
    "retry-interval-not-whole": (
        _set("States/Run/Retry/0/IntervalSeconds", 1.5),
        [f"{RETRY}: IntervalSeconds 1.5 must be a whole number >= 1"],
    ),
    "retry-defaults-are-valid": (
        _set("States/Run/Retry/0", {"ErrorEquals": ["States.ALL"]}),
        [],
    ),
    "retry-null": (_set("States/Run/Retry", None), []),
    "second-retry-rule": (
        lambda d: d["States"]["Run"]["Retry"].append({"ErrorEquals": []}),
        [f"{RUN}/Retry/1: ErrorEquals must be a non-empty list"],
    ),
    "catch-error-equals-empty": (
        _set("States/Run/Catch/0/ErrorEquals", []),
        [f"{RUN}/Catch/0: ErrorEquals must be a non-empty list"],
    ),
    "catch-without-next": (
        _delete("States/Run/Catch/0/Next"),
        [f"{RUN}/Catch/0: Catch needs Next", "/States/Failed: unreachable from StartAt"],
    ),
    # ----- Task states: the resource, and each job request against botocore's model
    "task-resource-not-an-arn": (
        _task(Resource="lambda"),
        [f"{EACH}/Resource: 'lambda' is not an ARN"],
    ),
    "task-without-resource": (_task(), [f"{EACH}/Resource: None is not an ARN"]),
    "sagemaker-request-in-arguments": (
        _task(Resource=PROCESSING, Arguments={"ProcessingJobName": "x"}),
        [f"{EACH}/Arguments: {m}" for m in MISSING_PROCESSING],
    ),
    "sagemaker-request-in-parameters-jsonpath": (
        _in_jsonpath(_task(Resource=PROCESSING, Parameters={"ProcessingJobName": "x"})),
        [f"{EACH}/Parameters: {m}" for m in MISSING_PROCESSING],
    ),
    "sagemaker-training-request": (
        _task(
            Resource="arn:aws:states:::sagemaker:createTrainingJob.sync",
            Arguments={"TrainingJobName": "x"},
        ),
        [
            f"{EACH}/Arguments: /: missing required 'RoleArn'",
            f"{EACH}/Arguments: /: missing required 'OutputDataConfig'",
        ],
    ),
    "s3-sdk-request": (
        _task(Resource="arn:aws:states:::aws-sdk:s3:getObject", Arguments={"Bucket": "b"}),
        [f"{EACH}/Arguments: /: missing required 'Key'"],
    ),
    "s3-sdk-request-waiting-for-a-token": (
        _task(
            Resource="arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken",
            Arguments={"Key": "k"},
        ),
        [f"{EACH}/Arguments: /: missing required 'Bucket'"],
    ),
    "sfn-sdk-request": (
        _task(
            Resource="arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
            Arguments={"TaskToken": "t"},
        ),
        [f"{EACH}/Arguments: /: missing required 'Output'"],
    ),
    "sagemaker-operation-not-checked": (
        _task(Resource="arn:aws:states:::sagemaker:createModel", Arguments={}),
        [],
    ),
    "sdk-service-not-checked": (
        _task(Resource="arn:aws:states:::aws-sdk:ec2:describeInstances", Arguments={"x": 1}),
        [],
    ),
    "sdk-resource-without-a-call": (
        _task(Resource="arn:aws:states:::aws-sdk:s3", Arguments={"x": 1}),
        [],
    ),
    "request-computed-at-run-time": (
        _task(Resource=PROCESSING, Arguments="{% $states.input.request %}"),
        [],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_a_hand_edited_machine_has(case: str) -> None:
    edit, expected = CASES[case]
    document = copy.deepcopy(BASE)
    edit(document)
    assert [str(p) for p in validate_document(document)] == expected


def test_the_base_document_is_valid() -> None:
    assert validate_document(BASE) == []
    assert validate_text(json.dumps(BASE)) == []


@pytest.mark.parametrize("document", [[BASE], "machine", None, 3])
def test_a_definition_that_is_not_an_object(document: Any) -> None:
    assert [str(p) for p in validate_document(document)] == [
        "/: a state machine definition is a JSON object"
    ]


def test_text_that_is_not_json() -> None:
    assert [str(p) for p in validate_text("{")] == [
        "/: not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    ]


def test_a_definition_over_the_size_limit() -> None:
    big = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True, "Comment": ""}}}
    overhead = len(json.dumps(big))
    big["States"]["A"]["Comment"] = "x" * (1_048_576 - overhead)
    text = json.dumps(big)
    assert len(text) == 1_048_576 and validate_text(text) == []
    big["States"]["A"]["Comment"] += "é"  # two bytes in UTF-8: the limit counts bytes
    assert [str(p) for p in validate_text(json.dumps(big, ensure_ascii=False))] == [
        "/: definition is 1,048,578 bytes; Step Functions accepts 1,048,576"
    ]


def test_problem_paths_and_messages_are_fields() -> None:
    (problem,) = validate_document({"StartAt": "A", "States": {"A": {"Type": "Wait"}}})
    assert (problem.path, problem.message) == (
        "/States/A",
        "a Wait state needs exactly one of Next or End",
    )
