"""Every check of ``sagemaker_validate.validate_document``, word for word, with where.

Table-driven: a valid SageMaker definition is compiled in the test (a Processing step with a
property file and a retry, a spot Training step, two Condition steps each holding one job), one
hand edit is applied per case, and the validator must report exactly the listed problems (step,
path, message) and nothing else. Cases that must stay valid (an edit the service accepts) have
an empty list. tests/test_validator_rules.py checks fragments of the same messages next to the
Step Functions validator; this table pins each one whole, and the rules only a hand-edited
definition reaches (branch steps, ``ElseSteps``, ``Std:JsonGet`` sources, cycles through a
Condition step).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers.sagemaker_validate import Problem, validate_document, validate_text
from pipecast.dsl import Dataset, Input, Output, Retry, Spot

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], n: Output[int], size: int = 1):
    """Produce a folder and a count."""


@dsl.container_component(image=IMG, command=["use"])
def use(data: Input[Dataset], label: str):
    """Consume the folder."""


@dsl.pipeline(name="rules")
def rules(label: str = "x", size: int = 2):
    made = make(size=size).set_retry(Retry(3))
    with dsl.If(made.outputs["n"] > 1):
        use(data=made.outputs["data"], label=label).set_name("yes")
    with dsl.Else():
        use(data=made.outputs["data"], label="no").set_name("no")
    use(data=made.outputs["data"], label="y").set_name("spot").set_spot(Spot())


@cache
def _text() -> str:
    return compile_text(rules, "sagemaker")


def _document() -> dict[str, Any]:
    return json.loads(_text())


MAKE = "/Steps/0"  # Processing 'make': PropertyFiles [n], RetryPolicies [...]
NO_COND = "/Steps/1"  # Condition 'condition-2', IfSteps [no]
NO = "/Steps/1/Arguments/IfSteps/0"
SPOT = "/Steps/2"  # Training 'spot'
COND = "/Steps/3"  # Condition 'condition-1', IfSteps [yes]
YES = "/Steps/3/Arguments/IfSteps/0"


def _node(doc: Any, path: str) -> Any:
    node = doc
    for key in filter(None, path.split("/")):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _cond(doc: dict[str, Any]) -> dict[str, Any]:
    """condition-1's Arguments."""
    args: dict[str, Any] = _node(doc, COND)["Arguments"]
    return args


def _json_get(doc: dict[str, Any]) -> dict[str, Any]:
    """The Std:JsonGet condition-1 compares (make's property file 'n')."""
    found: dict[str, Any] = _cond(doc)["Conditions"][0]["LeftValue"]["Std:JsonGet"]
    return found


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        parent, _, last = path.rpartition("/")
        node = _node(doc, parent)
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return apply


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        parent, _, last = path.rpartition("/")
        node = _node(doc, parent)
        del node[int(last) if isinstance(node, list) else last]

    return apply


def _each(*edits: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        for edit in edits:
            edit(doc)

    return apply


def _to_else(doc: dict[str, Any]) -> None:
    """Move condition-1's step from IfSteps to ElseSteps (the service accepts either)."""
    args = _cond(doc)
    args["ElseSteps"], args["IfSteps"] = args["IfSteps"], []


COMPARISONS = (
    "a comparison of type Equals, NotEquals, GreaterThan, GreaterThanOrEqualTo, LessThan, "
    "LessThanOrEqualTo"
)
NAME_RULE = "is not a valid step name ([A-Za-z0-9-_], 1 to 256)"
NOT_A_PROPERTY_FILE = "is not Steps.<step>.PropertyFiles.<name>"
PROCESSING_MEMBERS = (
    "AppSpecification, Environment, ExperimentConfig, NetworkConfig, ProcessingInputs, "
    "ProcessingJobName, ProcessingOutputConfig, ProcessingResources, RoleArn, StoppingCondition, "
    "Tags"
)
SPOT_WAIT = (
    "86399 is below MaxRuntimeInSeconds 86400; a spot job must be allowed to wait at least as "
    "long as it runs"
)

Expected = list[tuple[str | None, str, str]]
CASES: list[tuple[str, Callable[[dict[str, Any]], Any], Expected]] = [
    # --- the envelope and the parameters
    (
        "version",
        _set("Version", "2021-01-01"),
        [(None, "/Version", "unknown version '2021-01-01'")],
    ),
    ("version-left-out", _delete("/Version"), []),
    (
        "parameter-without-name",
        lambda d: d["Parameters"].append({"Type": "String"}),
        [(None, "/Parameters/2", "a parameter needs a Name")],
    ),
    (
        "parameter-not-an-object",
        lambda d: d["Parameters"].append("size"),
        [(None, "/Parameters/2", "a parameter needs a Name")],
    ),
    (
        "parameter-type",
        _set("/Parameters/1/Type", "Text"),
        [(None, "/Parameters/1/Type", "'Text' is not String, Integer, Float or Boolean")],
    ),
    (
        "parameter-type-left-out",  # a String, the service's default
        _delete("/Parameters/0/Type"),
        [],
    ),
    ("parameter-float", _set("/Parameters/1/Type", "Float"), []),
    ("parameter-boolean", _set("/Parameters/1/Type", "Boolean"), []),
    (
        "parameter-undeclared",
        _delete("/Parameters/0"),
        [("yes", f"{YES}/Arguments", "Get 'Parameters.label': no parameter 'label'")],
    ),
    # --- step names
    (
        "name-space",
        _set(f"{SPOT}/Name", "bad name"),
        [(None, f"{SPOT}/Name", f"'bad name' {NAME_RULE}")],
    ),
    ("name-left-out", _delete(f"{SPOT}/Name"), [(None, f"{SPOT}/Name", f"None {NAME_RULE}")]),
    ("name-not-text", _set(f"{SPOT}/Name", 5), [(None, f"{SPOT}/Name", f"5 {NAME_RULE}")]),
    ("name-empty", _set(f"{SPOT}/Name", ""), [(None, f"{SPOT}/Name", f"'' {NAME_RULE}")]),
    (
        "name-257-characters",
        _set(f"{SPOT}/Name", "s" * 257),
        [(None, f"{SPOT}/Name", f"'{'s' * 257}' {NAME_RULE}")],
    ),
    ("name-256-characters", _set(f"{SPOT}/Name", "s-_9" * 64), []),
    ("step-not-an-object", _set(f"{SPOT}", "spot"), [(None, f"{SPOT}/Name", f"None {NAME_RULE}")]),
    (
        "duplicate-of-a-branch-step",
        _set(f"{SPOT}/Name", "no"),
        [("no", f"{SPOT}/Name", f"duplicate of {NO}")],
    ),
    (
        "bad-name-then-duplicate",  # a bad name does not end the check of the steps after it
        _each(_set(f"{SPOT}/Name", "bad name"), _set(f"{YES}/Name", "no")),
        [
            (None, f"{SPOT}/Name", f"'bad name' {NAME_RULE}"),
            ("no", f"{YES}/Name", f"duplicate of {NO}"),
        ],
    ),
    # --- DependsOn and cycles
    (
        "depends-on-unknown",
        _set(f"{SPOT}/DependsOn", ["ghost"]),
        [("spot", f"{SPOT}/DependsOn", "unknown step 'ghost'")],
    ),
    ("depends-on-a-branch-step", _set(f"{SPOT}/DependsOn", ["yes", "no"]), []),
    (
        "depends-on-unknown-in-a-branch",
        _set(f"{YES}/DependsOn", ["ghost"]),
        [("yes", f"{YES}/DependsOn", "unknown step 'ghost'")],
    ),
    (
        "cycle-through-depends-on",  # spot reads make's folder
        _set(f"{MAKE}/DependsOn", ["spot"]),
        [("make", "/Steps", "cycle: make → spot → make")],
    ),
    (
        "cycle-through-a-branch",  # a branch step runs after its Condition step
        _set(f"{COND}/Arguments/Conditions/0/RightValue", {"Get": "Steps.yes.X"}),
        [("condition-1", "/Steps", "cycle: condition-1 → yes → condition-1")],
    ),
    (
        "cycle-through-a-nested-condition",  # the innermost Condition step is the parent
        _each(
            lambda d: _cond(d)["IfSteps"].append(_node(d, NO_COND)),
            lambda d: d["Steps"].pop(1),
            _set(
                "/Steps/2/Arguments/IfSteps/1/Arguments/Conditions/0/RightValue",
                {"Get": "Steps.no.X"},
            ),
        ),
        [("condition-2", "/Steps", "cycle: condition-2 → no → condition-2")],
    ),
    ("nested-condition", _each(lambda d: _cond(d)["IfSteps"].append(d["Steps"].pop(1))), []),
    # --- Get references
    (
        "get-unknown-parameter",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Parameters.nope"}}),
        [("make", f"{MAKE}/Arguments", "Get 'Parameters.nope': no parameter 'nope'")],
    ),
    (
        "get-parameters-alone",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Parameters"}}),
        [("make", f"{MAKE}/Arguments", "Get 'Parameters': no parameter ''")],
    ),
    (
        "get-unknown-step",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Steps.nope.Outputs.x"}}),
        [("make", f"{MAKE}/Arguments", "Get 'Steps.nope.Outputs.x': no step 'nope'")],
    ),
    (
        "get-unknown-step-alone",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Steps.nope"}}),
        [("make", f"{MAKE}/Arguments", "Get 'Steps.nope': no step 'nope'")],
    ),
    (
        "get-unknown-namespace",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Things.x"}}),
        [("make", f"{MAKE}/Arguments", "Get 'Things.x': unknown namespace")],
    ),
    (
        "get-execution",
        _set(f"{MAKE}/Arguments/Environment", {"A": {"Get": "Execution.PipelineExecutionId"}}),
        [],
    ),
    (
        "get-in-a-branch-step",  # named once, for the branch step, not its Condition step
        _set(f"{YES}/Arguments/Environment", {"A": {"Get": "Parameters.nope"}}),
        [("yes", f"{YES}/Arguments", "Get 'Parameters.nope': no parameter 'nope'")],
    ),
    (
        "get-in-a-condition",
        _set(f"{COND}/Arguments/Conditions/0/RightValue", {"Get": "Parameters.nope"}),
        [("condition-1", f"{COND}/Arguments", "Get 'Parameters.nope': no parameter 'nope'")],
    ),
    # --- Condition steps
    (
        "condition-arguments-left-out",
        _delete(f"{COND}/Arguments"),
        [("condition-1", f"{COND}/Arguments", "must be an object")],
    ),
    (
        "condition-arguments-not-an-object",
        _set(f"{COND}/Arguments", "x"),
        [("condition-1", f"{COND}/Arguments", "must be an object")],
    ),
    (
        "conditions-empty",
        _set(f"{COND}/Arguments/Conditions", []),
        [("condition-1", f"{COND}/Arguments/Conditions", "must be a non-empty list")],
    ),
    (
        "conditions-left-out",
        _delete(f"{COND}/Arguments/Conditions"),
        [("condition-1", f"{COND}/Arguments/Conditions", "must be a non-empty list")],
    ),
    (
        "conditions-not-a-list",
        _set(f"{COND}/Arguments/Conditions", {"Type": "Equals"}),
        [("condition-1", f"{COND}/Arguments/Conditions", "must be a non-empty list")],
    ),
    (
        "comparison-type",
        _set(f"{COND}/Arguments/Conditions/0/Type", "Bigger"),
        [("condition-1", f"{COND}/Arguments/Conditions/0", COMPARISONS)],
    ),
    (
        "comparison-not-an-object",
        _set(f"{COND}/Arguments/Conditions/0", "x > 1"),
        [("condition-1", f"{COND}/Arguments/Conditions/0", COMPARISONS)],
    ),
    (
        "comparison-extra-key",
        _set(f"{COND}/Arguments/Conditions/0/Extra", 1),
        [
            (
                "condition-1",
                f"{COND}/Arguments/Conditions/0",
                "needs exactly Type, LeftValue and RightValue",
            )
        ],
    ),
    (
        "comparison-without-right-value",
        _delete(f"{COND}/Arguments/Conditions/0/RightValue"),
        [
            (
                "condition-1",
                f"{COND}/Arguments/Conditions/0",
                "needs exactly Type, LeftValue and RightValue",
            )
        ],
    ),
    ("comparison-each-type", _set(f"{COND}/Arguments/Conditions/0/Type", "NotEquals"), []),
    (
        "if-steps-not-a-list",
        _set(f"{COND}/Arguments/IfSteps", "yes"),
        [("condition-1", f"{COND}/Arguments/IfSteps", "must be a list of steps")],
    ),
    (
        "else-steps-not-a-list",
        _set(f"{COND}/Arguments/ElseSteps", {}),
        [("condition-1", f"{COND}/Arguments/ElseSteps", "must be a list of steps")],
    ),
    (
        "branches-left-out",
        _each(_delete(f"{COND}/Arguments/IfSteps"), _delete(f"{COND}/Arguments/ElseSteps")),
        [],
    ),
    (
        "condition-unknown-keys",
        _each(_set(f"{COND}/Arguments/Zed", 1), _set(f"{COND}/Arguments/Other", 2)),
        [("condition-1", f"{COND}/Arguments", "unknown keys ['Other', 'Zed']")],
    ),
    ("else-steps", _to_else, []),
    (
        "else-steps-are-checked",
        _each(_to_else, _set(f"{COND}/Arguments/ElseSteps/0/DependsOn", ["ghost"])),
        [("yes", f"{COND}/Arguments/ElseSteps/0/DependsOn", "unknown step 'ghost'")],
    ),
    (
        "else-steps-names-are-taken",
        _each(_to_else, _set(f"{SPOT}/Name", "yes")),
        [("yes", f"{COND}/Arguments/ElseSteps/0/Name", f"duplicate of {SPOT}")],
    ),
    # --- Std:JsonGet
    (
        "json-get-path",
        lambda d: _json_get(d).update(Path=1),
        [("condition-1", f"{COND}/Arguments", "Std:JsonGet needs a Path string")],
    ),
    (
        "json-get-not-an-object",
        _set(f"{COND}/Arguments/Conditions/0/LeftValue/Std:JsonGet", "Steps.make.PropertyFiles.n"),
        [("condition-1", f"{COND}/Arguments", "Std:JsonGet needs a Path string")],
    ),
    (
        "json-get-two-sources",
        lambda d: _json_get(d).update(S3Uri="s3://b/n/value.json"),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                "Std:JsonGet reads a PropertyFile or an S3Uri, got ['PropertyFile', 'S3Uri']",
            )
        ],
    ),
    (
        "json-get-no-source",
        lambda d: _json_get(d).pop("PropertyFile"),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                "Std:JsonGet reads a PropertyFile or an S3Uri, got []",
            )
        ],
    ),
    (
        "json-get-s3-uri",
        _each(
            lambda d: _json_get(d).pop("PropertyFile"),
            lambda d: _json_get(d).update(S3Uri="s3://b/n/value.json"),
        ),
        [],
    ),
    (
        "json-get-property-file-not-a-get",
        lambda d: _json_get(d).update(PropertyFile="n"),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                f"Std:JsonGet PropertyFile 'n' {NOT_A_PROPERTY_FILE}",
            )
        ],
    ),
    (
        "json-get-property-file-of-outputs",
        lambda d: _json_get(d).update(PropertyFile={"Get": "Steps.make.Outputs.n"}),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                f"Std:JsonGet PropertyFile {{'Get': 'Steps.make.Outputs.n'}} {NOT_A_PROPERTY_FILE}",
            )
        ],
    ),
    (
        "json-get-property-file-of-parameters",
        lambda d: _json_get(d).update(PropertyFile={"Get": "Parameters.size"}),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                f"Std:JsonGet PropertyFile {{'Get': 'Parameters.size'}} {NOT_A_PROPERTY_FILE}",
            )
        ],
    ),
    (
        "json-get-undeclared-property-file",
        lambda d: _json_get(d).update(PropertyFile={"Get": "Steps.make.PropertyFiles.m"}),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                "Std:JsonGet reads property file 'm', which step 'make' lacks",
            )
        ],
    ),
    (
        "json-get-property-file-of-a-training-step",  # only Processing steps declare them
        _each(
            _set(f"{SPOT}/PropertyFiles", [{"PropertyFileName": "n", "OutputName": "n"}]),
            lambda d: _json_get(d).update(PropertyFile={"Get": "Steps.spot.PropertyFiles.n"}),
        ),
        [
            (
                "condition-1",
                f"{COND}/Arguments",
                "Std:JsonGet reads property file 'n', which step 'spot' lacks",
            )
        ],
    ),
    (
        "json-get-in-a-branch-step",  # named once, for the branch step, not its Condition step
        lambda d: _node(d, f"{YES}/Arguments/AppSpecification/ContainerArguments").append(
            {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.make.PropertyFiles.n"}, "Path": 1}}
        ),
        [("yes", f"{YES}/Arguments", "Std:JsonGet needs a Path string")],
    ),
    # --- job requests (botocore's models), RetryPolicies
    (
        "processing-arguments-not-an-object",
        _set(f"{MAKE}/Arguments", ["x"]),
        [("make", f"{MAKE}/Arguments", "must be an object")],
    ),
    (
        "processing-arguments-left-out",
        _delete(f"{MAKE}/Arguments"),
        [("make", f"{MAKE}/Arguments", "must be an object")],
    ),
    (
        "processing-required",
        _delete(f"{MAKE}/Arguments/RoleArn"),
        [("make", f"{MAKE}/Arguments", "missing required 'RoleArn'")],
    ),
    (
        "processing-unknown-key",
        _set(f"{MAKE}/Arguments/Colour", "red"),
        [("make", f"{MAKE}/Arguments/Colour", f"unknown key (allowed: {PROCESSING_MEMBERS})")],
    ),
    (
        "branch-step-request",
        _set(f"{YES}/Arguments/ProcessingResources/ClusterConfig/InstanceCount", 0),
        [
            (
                "yes",
                f"{YES}/Arguments/ProcessingResources/ClusterConfig/InstanceCount",
                "0 is below the minimum 1",
            )
        ],
    ),
    (
        "training-spot-wait",
        _set(f"{SPOT}/Arguments/StoppingCondition/MaxWaitTimeInSeconds", 86399),
        [("spot", f"{SPOT}/Arguments/StoppingCondition/MaxWaitTimeInSeconds", SPOT_WAIT)],
    ),
    (
        "training-request",
        _delete(f"{SPOT}/Arguments/OutputDataConfig"),
        [("spot", f"{SPOT}/Arguments", "missing required 'OutputDataConfig'")],
    ),
    ("other-step-types-are-not-requests", _set(f"{SPOT}/Type", "Lambda"), []),
    (
        "retry-kinds-not-a-list",
        _set(f"{MAKE}/RetryPolicies/0/ExceptionType", "SageMaker.CAPACITY_ERROR"),
        [("make", f"{MAKE}/RetryPolicies/0/ExceptionType", "must be a non-empty list")],
    ),
    (
        "retry-kinds-empty",
        _set(f"{MAKE}/RetryPolicies/0/ExceptionType", []),
        [("make", f"{MAKE}/RetryPolicies/0/ExceptionType", "must be a non-empty list")],
    ),
    (
        "retry-kinds-left-out",
        lambda d: _node(d, f"{MAKE}/RetryPolicies").append({"MaxAttempts": 2}),
        [("make", f"{MAKE}/RetryPolicies/1/ExceptionType", "must be a non-empty list")],
    ),
]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [(edit, expected) for _, edit, expected in CASES],
    ids=[case for case, _, _ in CASES],
)
def test_the_validator_names_each_problem_with_its_step_and_path(
    edit: Callable[[dict[str, Any]], Any], expected: Expected
) -> None:
    document = _document()
    assert validate_document(document) == []
    assert [s["Name"] for s in document["Steps"]] == ["make", "condition-2", "spot", "condition-1"]
    assert (_node(document, NO)["Name"], _node(document, YES)["Name"]) == ("no", "yes")
    edit(document)
    assert [(p.step, p.path, p.message) for p in validate_document(document)] == expected


@pytest.mark.parametrize(
    "document",
    [[], None, "Steps", {}, {"Steps": {}}, {"Steps": "make"}],
    ids=["list", "null", "text", "no-steps", "steps-object", "steps-text"],
)
def test_what_is_not_a_definition_is_one_problem(document: Any) -> None:
    assert validate_document(document) == [
        Problem(None, "/Steps", "a pipeline definition is an object with a Steps list")
    ]


def test_an_empty_definition_is_valid() -> None:
    assert validate_document({"Steps": []}) == []
    assert validate_document({"Version": "2020-12-01", "Steps": [], "Parameters": []}) == []


def test_problems_read_with_and_without_their_step() -> None:
    assert str(Problem("make", "/Steps/0/DependsOn", "unknown step 'x'")) == (
        "step 'make': /Steps/0/DependsOn: unknown step 'x'"
    )
    assert str(Problem(None, "/Version", "unknown version 1")) == "/Version: unknown version 1"


def test_validate_text_parses_then_validates() -> None:
    assert validate_text(_text()) == []
    broken = _document()
    broken["Version"] = "1"
    assert validate_text(json.dumps(broken)) == [Problem(None, "/Version", "unknown version '1'")]
    assert validate_text("{not json") == [
        Problem(
            None,
            "/",
            "not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
            "(char 1)",
        )
    ]
