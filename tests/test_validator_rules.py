"""The document validators ``pipecast deploy`` relies on to refuse a broken definition.

Table-driven, in the style of sqlglot's ``validate_all``: a valid document compiled in the test,
one defect applied per case, and the exact problem the validator must name (path and message).
A document without defects must produce no problem at all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers import sagemaker_validate as smv
from pipecast.compilers import stepfunctions_validate as sfv
from pipecast.dsl import Dataset, Input, Output, Retry, Spot

pytest.importorskip("botocore")

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], n: int = 1):
    """Produce."""


@dsl.container_component(image=IMG, command=["use"])
def use(data: Input[Dataset], label: str):
    """Consume."""


@dsl.pipeline(name="valid")
def valid(label: str = "x", n: int = 2):
    a = make(n=n).set_retry(Retry(3))
    use(data=a.output, label=label).set_spot(Spot()).after(a)
    use(data=a.output, label="y").set_name("other").set_timeout("1h")


def _sagemaker() -> dict[str, Any]:
    return json.loads(compile_text(valid, "sagemaker"))


def _sfn() -> dict[str, Any]:
    return json.loads(compile_text(valid, "stepfunctions"))


def test_fresh_documents_have_no_problem():
    assert smv.validate_document(_sagemaker()) == []
    assert sfv.validate_document(_sfn()) == []
    assert smv.validate_text(compile_text(valid, "sagemaker")) == []
    assert sfv.validate_text(compile_text(valid, "stepfunctions")) == []


def _step(doc: dict, name: str) -> dict:
    return next(s for s in doc["Steps"] if s["Name"] == name)


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def apply(doc: dict) -> None:
        *parents, last = path.split("/")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is _DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


_DELETE = object()
_ARGS = "Steps/0/Arguments"
SAGEMAKER_CASES: list[tuple[str, Callable[[dict], None], str]] = [
    ("version", _set("Version", "2021-01-01"), "/Version: unknown version '2021-01-01'"),
    (
        "parameter-name",
        _set("Parameters/0", {"Type": "String"}),
        "/Parameters/0: a parameter needs a Name",
    ),
    (
        "parameter-type",
        _set("Parameters/0/Type", "Text"),
        "/Parameters/0/Type: 'Text' is not String, Integer, Float or Boolean",
    ),
    (
        "step-name",
        _set("Steps/0/Name", "bad name"),
        "/Steps/0/Name: 'bad name' is not a valid step name",
    ),
    (
        "long-name",
        _set("Steps/0/Name", "x" * 257),
        "is not a valid step name ([A-Za-z0-9-_], 1 to 256)",
    ),
    (
        "duplicate",
        _set("Steps/1/Name", "make"),
        "step 'make': /Steps/1/Name: duplicate of /Steps/0",
    ),
    (
        "depends",
        _set("Steps/2/DependsOn", ["nope"]),
        "step 'use': /Steps/2/DependsOn: unknown step 'nope'",
    ),
    (
        "get-param",
        _set(f"{_ARGS}/Environment", {"A": {"Get": "Parameters.nope"}}),
        "step 'make': /Steps/0/Arguments: Get 'Parameters.nope': no parameter 'nope'",
    ),
    (
        "get-step",
        _set(f"{_ARGS}/Environment", {"A": {"Get": "Steps.nope.X"}}),
        "Get 'Steps.nope.X': no step 'nope'",
    ),
    (
        "get-namespace",
        _set(f"{_ARGS}/Environment", {"A": {"Get": "Things.x"}}),
        "Get 'Things.x': unknown namespace",
    ),
    ("arguments", _set(_ARGS, "nope"), "step 'make': /Steps/0/Arguments: must be an object"),
    (
        "required",
        _set(f"{_ARGS}/RoleArn", _DELETE),
        "step 'make': /Steps/0/Arguments: missing required 'RoleArn'",
    ),
    (
        "unknown-key",
        _set(f"{_ARGS}/Colour", "red"),
        "/Steps/0/Arguments/Colour: unknown key (allowed: ",
    ),
    (
        "structure",
        _set(f"{_ARGS}/StoppingCondition", []),
        "/Steps/0/Arguments/StoppingCondition: expected an object, got list",
    ),
    (
        "list",
        _set(f"{_ARGS}/AppSpecification/ContainerEntrypoint", "make"),
        "/Steps/0/Arguments/AppSpecification/ContainerEntrypoint: expected a list, got str",
    ),
    (
        "list-bounds",
        _set(f"{_ARGS}/AppSpecification/ContainerEntrypoint", []),
        "ContainerEntrypoint: 0 items is below the minimum 1",
    ),
    (
        "map",
        _set(f"{_ARGS}/Environment", ["A"]),
        "/Steps/0/Arguments/Environment: expected a map, got list",
    ),
    (
        "map-value",
        _set(f"{_ARGS}/Environment", {"A": 1}),
        "/Steps/0/Arguments/Environment/A: expected a string, got 1",
    ),
    (
        "string-max",
        _set(f"{_ARGS}/AppSpecification/ImageUri", "x" * 300),
        "ImageUri: 300 characters is above the maximum 255",
    ),
    (
        "enum",
        _set(f"{_ARGS}/ProcessingOutputConfig/Outputs/0/S3Output/S3UploadMode", "Sometimes"),
        "S3UploadMode: 'Sometimes' is not one of Continuous, EndOfJob",
    ),
    (
        "pattern",
        _set(f"{_ARGS}/RoleArn", "role"),
        "/Steps/0/Arguments/RoleArn: 'role' does not match",
    ),
    (
        "integer",
        _set(f"{_ARGS}/StoppingCondition/MaxRuntimeInSeconds", True),
        "MaxRuntimeInSeconds: expected an integer, got True",
    ),
    (
        "integer-min",
        _set(f"{_ARGS}/StoppingCondition/MaxRuntimeInSeconds", 0),
        "MaxRuntimeInSeconds: 0 is below the minimum 1",
    ),
    (
        "boolean",
        _set("Steps/2/Arguments/EnableManagedSpotTraining", "yes"),
        "EnableManagedSpotTraining: expected true or false, got 'yes'",
    ),
    (
        "retry-kinds",
        _set("Steps/0/RetryPolicies/0/ExceptionType", "SageMaker.CAPACITY_ERROR"),
        "step 'make': /Steps/0/RetryPolicies/0/ExceptionType: must be a non-empty list",
    ),
    (
        "cycle",
        _set("Steps/0/DependsOn", ["use"]),
        "step 'make': /Steps: cycle: make → use → make",
    ),
]


@pytest.mark.parametrize(
    ("defect", "expected"),
    [(apply, expected) for _, apply, expected in SAGEMAKER_CASES],
    ids=[case for case, _, _ in SAGEMAKER_CASES],
)
def test_sagemaker_validator_names_each_defect(defect, expected):
    doc = _sagemaker()
    assert [s["Name"] for s in doc["Steps"]] == ["make", "other", "use"]  # the paths below
    defect(doc)
    found = [str(p) for p in smv.validate_document(doc)]
    assert any(expected in p for p in found), found


def test_sagemaker_validator_rejects_what_is_not_a_definition():
    assert [str(p) for p in smv.validate_document([])] == [
        "/Steps: a pipeline definition is an object with a Steps list"
    ]
    assert [str(p) for p in smv.validate_document({"Steps": {}})] == [
        "/Steps: a pipeline definition is an object with a Steps list"
    ]
    (problem,) = smv.validate_text("{not json")
    assert str(problem).startswith("/: not valid JSON: ")
    assert smv.validate_document({"Steps": []}) == []


def test_sagemaker_expressions_stand_for_values_of_the_expected_type():
    request = copy.deepcopy(_step(_sagemaker(), "make")["Arguments"])
    request["StoppingCondition"]["MaxRuntimeInSeconds"] = {"Get": "Parameters.n"}
    request["RoleArn"] = {"Std:Join": {"On": "", "Values": ["a"]}}
    request["AppSpecification"]["ImageUri"] = "{% $states.input.image %}"
    assert smv.check_request("CreateProcessingJob", request) == []
    assert smv.check_request("CreateProcessingJob", request, name_supplied=True) == [
        "/: missing required 'ProcessingJobName'"
    ]
    request["AppSpecification"]["ImageUri"] = {"Get": "x", "Other": 1}  # not an expression
    assert smv.check_request("CreateProcessingJob", request) == [
        "/AppSpecification/ImageUri: expected a string, got {'Get': 'x', 'Other': 1}"
    ]


# ----- Step Functions -------------------------------------------------------------------------


def _state(doc: dict, name: str) -> dict:
    return doc["States"][name]


SFN_CASES: list[tuple[str, Callable[[dict], None], str]] = [
    (
        "language",
        lambda d: d.update(QueryLanguage="SQL"),
        "/QueryLanguage: must be JSONata or JSONPath, not 'SQL'",
    ),
    (
        "start",
        lambda d: d.update(StartAt="nowhere"),
        "/StartAt: 'nowhere' is not a state in this scope",
    ),
    ("states", lambda d: d.update(States={}), "/States: must be a non-empty object of states"),
    (
        "long-name",
        lambda d: d["States"].update({"n" * 81: {"Type": "Succeed"}}),
        f"/States/{'n' * 81}: state name is 81 characters (max 80)",
    ),
    (
        "unreachable",
        lambda d: d["States"].update({"lost": {"Type": "Succeed"}}),
        "/States/lost: unreachable from StartAt",
    ),
    (
        "not-object",
        lambda d: d["States"].update({"odd": 3}),
        "/States/odd: a state is a JSON object",
    ),
    (
        "type",
        lambda d: _state(d, "make").update(Type="Job"),
        "/States/make/Type: unknown state type 'Job'",
    ),
    (
        "jsonpath-field",
        lambda d: _state(d, "make").update(ResultPath="$.x"),
        "/States/make/ResultPath: not allowed with QueryLanguage JSONata",
    ),
    (
        "jsonata-field",
        lambda d: d.update(QueryLanguage="JSONPath"),
        "/States/start/Output: not allowed with QueryLanguage JSONPath",
    ),
    (
        "next-and-end",
        lambda d: _state(d, "start").update(End=True),
        "/States/start: a Pass state needs exactly one of Next or End",
    ),
    (
        "neither",
        lambda d: _state(d, "start").pop("Next"),
        "/States/start: a Pass state needs exactly one of Next or End",
    ),
    (
        "terminal",
        lambda d: _state(d, "make-failed").update(End=True),
        "/States/make-failed: a Fail state cannot have Next or End",
    ),
    (
        "target",
        lambda d: _state(d, "start").update(Next="ghost"),
        "/States/start: goes to 'ghost', which is not a state in scope",
    ),
    (
        "catch-target",
        lambda d: _state(d, "make")["Catch"][0].update(Next="ghost"),
        "/States/make: goes to 'ghost', which is not a state in scope",
    ),
    (
        "retry-errors",
        lambda d: _state(d, "make")["Retry"][0].update(ErrorEquals=[]),
        "/States/make/Retry/0: ErrorEquals must be a non-empty list",
    ),
    (
        "retry-attempts",
        lambda d: _state(d, "make")["Retry"][0].update(MaxAttempts=-1),
        "/States/make/Retry/0: MaxAttempts -1 is not a whole number >= 0",
    ),
    (
        "retry-attempts-high",
        lambda d: _state(d, "make")["Retry"][0].update(MaxAttempts=100000000),
        "/States/make/Retry/0: MaxAttempts 100000000 is not a whole number >= 0",
    ),
    (
        "retry-rate",
        lambda d: _state(d, "make")["Retry"][0].update(BackoffRate=0.5),
        "/States/make/Retry/0: BackoffRate 0.5 must be >= 1.0",
    ),
    (
        "retry-interval",
        lambda d: _state(d, "make")["Retry"][0].update(IntervalSeconds=0),
        "/States/make/Retry/0: IntervalSeconds 0 must be a whole number >= 1",
    ),
    (
        "catch-errors",
        lambda d: _state(d, "make")["Catch"][0].update(ErrorEquals="States.ALL"),
        "/States/make/Catch/0: ErrorEquals must be a non-empty list",
    ),
    (
        "catch-next",
        lambda d: _state(d, "make")["Catch"][0].pop("Next"),
        "/States/make/Catch/0: Catch needs Next",
    ),
    (
        "resource",
        lambda d: _state(d, "make").update(Resource="sagemaker"),
        "/States/make/Resource: 'sagemaker' is not an ARN",
    ),
    (
        "task-arguments",
        lambda d: _state(d, "make")["Arguments"].pop("RoleArn"),
        "/States/make/Arguments: /: missing required 'RoleArn'",
    ),
    (
        "choice",
        lambda d: (
            d["States"].update({"pick": {"Type": "Choice", "Default": "make"}})
            or _state(d, "start").update(Next="pick")
        ),
        "/States/pick/Choices: a Choice state needs Choices",
    ),
]


@pytest.mark.parametrize(
    ("defect", "expected"),
    [(apply, expected) for _, apply, expected in SFN_CASES],
    ids=[case for case, _, _ in SFN_CASES],
)
def test_stepfunctions_validator_names_each_defect(defect, expected):
    doc = _sfn()
    defect(doc)
    found = [str(p) for p in sfv.validate_document(doc)]
    assert expected in found, found


def _parallel_doc() -> dict:
    @dsl.pipeline(name="par")
    def par():
        a = make()
        use(data=a.output, label="1")
        use(data=a.output, label="2")

    return json.loads(compile_text(par, "stepfunctions"))


def test_stepfunctions_branches_are_checked_in_their_own_scope():
    doc = _parallel_doc()
    parallel = next(s for s in doc["States"].values() if s["Type"] == "Parallel")
    branch = parallel["Branches"][0]
    step = branch["StartAt"]
    branch["States"][step]["Next"] = "make"  # a state outside the branch
    del branch["States"][step]["End"]
    found = [str(p) for p in sfv.validate_document(doc)]
    assert any(p.endswith("goes to 'make', which is not a state in scope") for p in found), found

    doc = _parallel_doc()
    parallel = next(s for s in doc["States"].values() if s["Type"] == "Parallel")
    parallel["Branches"][1]["States"]["make"] = {"Type": "Succeed"}
    found = [str(p) for p in sfv.validate_document(doc)]
    assert any("state name also used at /States/make" in p for p in found), found

    for broken, message in (
        ([], "a Parallel state needs branches"),
        ([3], "a branch is an object"),
    ):
        doc = _parallel_doc()
        name, parallel = next((n, s) for n, s in doc["States"].items() if s["Type"] == "Parallel")
        parallel["Branches"] = broken
        found = [str(p) for p in sfv.validate_document(doc)]
        suffix = "/Branches" if not broken else "/Branches/0"
        assert f"/States/{name}{suffix}: {message}" in found, found


def test_stepfunctions_rejects_what_is_not_a_definition():
    assert [str(p) for p in sfv.validate_document([])] == [
        "/: a state machine definition is a JSON object"
    ]
    (problem,) = sfv.validate_text("[")
    assert str(problem).startswith("/: not valid JSON: ")
    big = json.dumps({"Comment": "x" * (1024 * 1024)})
    (problem,) = sfv.validate_text(big)
    assert str(problem) == f"/: definition is {len(big):,} bytes; Step Functions accepts 1,048,576"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        (
            "arn:aws:states:::sagemaker:createProcessingJob.sync",
            ("sagemaker", "CreateProcessingJob"),
        ),
        ("arn:aws:states:::sagemaker:createTrainingJob", ("sagemaker", "CreateTrainingJob")),
        ("arn:aws:states:::sagemaker:createModel.sync", None),
        ("arn:aws:states:::aws-sdk:s3:putObject", ("s3", "PutObject")),
        ("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess", ("stepfunctions", "SendTaskSuccess")),
        ("arn:aws:states:::aws-sdk:s3:getObject.waitForTaskToken", ("s3", "GetObject")),
        ("arn:aws:states:::aws-sdk:dynamodb:putItem", None),
        ("arn:aws:states:::aws-sdk:s3:", None),
        ("arn:aws:lambda:us-east-1:1:function:f", None),
    ],
)
def test_which_task_arguments_are_checked_against_botocore(resource, expected):
    assert sfv._operation(resource) == expected
