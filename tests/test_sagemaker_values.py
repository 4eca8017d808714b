"""SageMaker's spelling of run-time values and its review notes, word for word.

``PipelineExpressions`` (``Get``/``Std:Join``), ``_sagemaker_values`` (``Std:JsonGet``, property
files, comparisons and their review text) and the warnings/errors ``sagemaker.diagnostics``
adds for one step (retries, checkpointed cached spot steps, expression-keyword env names),
each with its code, message, hint, step and line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import EXAMPLE_CONFIG, compile_text, marked_line, shown_path

from pipecast import dsl
from pipecast.compilers import _sagemaker_values as sv
from pipecast.compilers import sagemaker
from pipecast.compilers.sagemaker import PipelineExpressions
from pipecast.dsl import Dataset, Output, Retry, Spot
from pipecast.dsl.spec import Comparison, Constant, OutputRef, ParameterRef

IMG = "r.example.com/x:1.0"
RUN = {"Get": "Execution.PipelineExecutionId"}
P = {"Get": "Parameters.p"}


@dsl.container_component(image=IMG, command=["x"])
def work(out: Output[Dataset], text: str = "-", n: int = 0):
    """Work."""


@dsl.pipeline(name="typed")
def typed(text: str = "a", n: int = 1, on: bool = True):
    work(text=text, n=n)


JOINS: list[tuple[str, list[Any], Any]] = [
    ("one-string", ["s3://b/"], "s3://b/"),
    ("strings-merge", ["s3://b/", "run", "/out"], "s3://b/run/out"),
    ("empty-parts-dropped", ["", "a", ""], "a"),
    ("nothing", [], {"Std:Join": {"On": "", "Values": []}}),
    ("only-empty", [""], {"Std:Join": {"On": "", "Values": []}}),
    ("expression", [RUN], {"Std:Join": {"On": "", "Values": [RUN]}}),
    (
        "text-around-an-expression",
        ["s3://b/", "p/", RUN, "/", "out"],
        {"Std:Join": {"On": "", "Values": ["s3://b/p/", RUN, "/out"]}},
    ),
    (
        "nested-join-flattened",
        ["a", {"Std:Join": {"On": "", "Values": ["b", P]}}, "c", "d"],
        {"Std:Join": {"On": "", "Values": ["a", "b", P, "cd"]}},
    ),
    (
        "nested-join-of-text",  # its parts are taken as they are; text after them merges
        ["a", {"Std:Join": {"On": "", "Values": ["b"]}}, "c"],
        {"Std:Join": {"On": "", "Values": ["a", "bc"]}},
    ),
    (
        "other-separator-kept-whole",
        ["a", {"Std:Join": {"On": "/", "Values": ["b", P]}}],
        {"Std:Join": {"On": "", "Values": ["a", {"Std:Join": {"On": "/", "Values": ["b", P]}}]}},
    ),
]


@pytest.mark.parametrize(("parts", "expected"), [c[1:] for c in JOINS], ids=[c[0] for c in JOINS])
def test_join(parts: list[Any], expected: Any) -> None:
    before = repr(parts)
    assert PipelineExpressions(typed.spec).join(parts) == expected
    assert repr(parts) == before  # the parts are not changed


def test_parameters_steps_and_the_run_id() -> None:
    ex = PipelineExpressions(typed.spec, {"\x00s\x00a": {"Std:Join": {"On": "", "Values": [1]}}})
    assert ex.run_id() == RUN
    assert ex.parameter("text") == {"Get": "Parameters.text"}  # a string as it is
    for name in ("n", "on"):  # anything else converted to text
        assert ex.parameter(name) == {
            "Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{name}"}]}
        }
    assert ex.parameter("\x00s\x00a") == {"Std:Join": {"On": "", "Values": [1]}}
    assert ex.step_output("s", "processing", "out") == {
        "Get": "Steps.s.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"
    }
    assert ex.step_output("s", "training", "out") == {
        "Std:Join": {
            "On": "/",
            "Values": [{"Get": "Steps.s.ModelArtifacts.S3ModelArtifacts"}, "out"],
        }
    }
    assert sagemaker.value_name("s", "a") == "\x00s\x00a"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        *[(86400, "P1D"), (30 * 86400, "P30D"), (3600, "PT1H"), (7200, "PT2H"), (60, "PT1M")],
        *[(90, "PT90S"), (5400, "PT90M"), (1, "PT1S")],
    ],
)
def test_iso_duration(seconds: int, text: str) -> None:
    assert sagemaker.iso_duration(seconds) == text


# ----- _sagemaker_values ------------------------------------------------------------------------


def test_json_get_reads_a_property_file_or_a_training_uri() -> None:
    assert sv.json_get("s", "processing", "n", "ignored") == {
        "Std:JsonGet": {"PropertyFile": {"Get": "Steps.s.PropertyFiles.n"}, "Path": "$"}
    }
    assert sv.json_get("s", "training", "n", "s3://u") == {
        "Std:JsonGet": {"S3Uri": "s3://u", "Path": "$"}
    }
    assert sv.property_files(["n", "m"], "value.json") == [
        {"PropertyFileName": "n", "OutputName": "n", "FilePath": "value.json"},
        {"PropertyFileName": "m", "OutputName": "m", "FilePath": "value.json"},
    ]
    assert sv.property_files([], "value.json") == []


def _read(ref: OutputRef) -> Any:
    return f"read {ref.step}.{ref.output}"


@pytest.mark.parametrize(
    ("op", "kind"),
    [
        *[("==", "Equals"), ("!=", "NotEquals"), ("<", "LessThan"), ("<=", "LessThanOrEqualTo")],
        *[(">", "GreaterThan"), (">=", "GreaterThanOrEqualTo")],
    ],
)
def test_comparison_json_and_text_for_each_operator(op: str, kind: str) -> None:
    c = Comparison(op, OutputRef("s", "n"), ParameterRef("p"))
    assert sv.comparison_json(c, _read) == {
        "Type": kind,
        "LeftValue": "read s.n",
        "RightValue": {"Get": "Parameters.p"},
    }
    condition = {"Type": kind, "LeftValue": P, "RightValue": "x"}
    assert sv.comparison_text(condition) == f'{{Parameters.p}} {op} "x"'


def test_operands_constants_stay_data() -> None:
    assert sv.operand_json(Constant("Parameters.p"), _read) == "Parameters.p"
    assert sv.operand_json(Constant([1]), _read) == [1]
    assert sv.operand_json(ParameterRef("p"), _read) == P
    assert sv.operand_json(OutputRef("s", "n"), _read) == "read s.n"


TEXTS: list[tuple[str, Any, str]] = [
    ("get", P, "{Parameters.p}"),
    ("property-file", sv.json_get("s", "processing", "n", None), "{Steps.s.PropertyFiles.n}"),
    ("uri-get", {"Std:JsonGet": {"S3Uri": P, "Path": "$"}}, "{Parameters.p}"),
    (
        "training-uri",
        {
            "Std:JsonGet": {
                "S3Uri": {
                    "Std:Join": {
                        "On": "/",
                        "Values": [
                            {"Get": "Steps.t.ModelArtifacts.S3ModelArtifacts"},
                            "n",
                            "value.json",
                        ],
                    }
                },
                "Path": "$",
            }
        },
        "{json at {Steps.t.ModelArtifacts.S3ModelArtifacts}/n/value.json}",
    ),
    ("literal-uri", {"Std:JsonGet": {"S3Uri": "s3://b/k", "Path": "$"}}, "{json at s3://b/k}"),
    ("join", {"Std:Join": {"On": "-", "Values": ["a", P, 3]}}, "a-{Parameters.p}-3"),
    ("join-without-separator", {"Std:Join": {"Values": ["a", "b"]}}, "ab"),
    ("join-without-values", {"Std:Join": {"On": "-"}}, ""),
    ("string", "Parameters.p", '"Parameters.p"'),
    ("unicode", "café", '"café"'),
    ("number", 3, "3"),
    ("boolean", True, "true"),
    ("list", [1, "a"], '[1, "a"]'),
]


@pytest.mark.parametrize(("value", "text"), [c[1:] for c in TEXTS], ids=[c[0] for c in TEXTS])
def test_operand_text(value: Any, text: str) -> None:
    assert sv.operand_text(value) == text


def test_comparison_text_of_compound_and_unknown_conditions() -> None:
    left = {"Type": "GreaterThan", "LeftValue": P, "RightValue": 1}
    right = {"Type": "Equals", "LeftValue": "a", "RightValue": "b"}
    assert sv.comparison_text({"Type": "Or", "Conditions": [left, right]}) == (
        '({Parameters.p} > 1) or ("a" == "b")'
    )
    assert sv.comparison_text({"Type": "Or"}) == ""
    assert sv.comparison_text({"Type": "Not", "Expression": left}) == "not ({Parameters.p} > 1)"
    assert sv.comparison_text({"Type": "Not", "Condition": right}) == 'not ("a" == "b")'
    assert sv.comparison_text({"Type": "In", "X": 1}) == "In {'Type': 'In', 'X': 1}"
    assert sv.comparison_text("x > 1") == "'x > 1'"
    assert sv.comparison_text(None) == "None"


# ----- notes of one step: code, message, hint, step, line, severity -----------------------------


@dsl.pipeline(name="noted")
def noted():
    work().set_name("retried").set_retry(Retry(3))  # retried
    work().set_name("once").set_retry(Retry(1))
    work().set_name("checkpointed").set_spot(Spot(checkpoints=True)).set_caching(True)  # cp
    work().set_name("spot-uncached").set_spot(Spot(checkpoints=True)).set_caching(False)
    work().set_name("cached-no-checkpoints").set_spot(Spot()).set_caching(True)
    work().set_name("env").set_env(Get="1", **{"Std:X": "2", "GET": "3"})  # env


def test_each_step_note_whole() -> None:
    notes = sagemaker.diagnostics(noted.spec, EXAMPLE_CONFIG)
    got = [
        (d.code, d.message, d.hint, d.step, d.severity, d.location.line if d.location else None)
        for d in notes
    ]
    at = lambda marker: marked_line(__file__, marker)  # noqa: E731
    service = "SageMaker.CAPACITY_ERROR, SageMaker.JOB_INTERNAL_ERROR, SageMaker.RESOURCE_LIMIT"
    assert got == [
        (
            "PC008",
            f"step 'retried': on SageMaker, Retry(3) retries only service faults ({service}); "
            "a container that exits with an error is not retried",
            "stepfunctions, kubeflow and the local runner retry any failure; make the container "
            "retry its own transient errors if it must on SageMaker",
            "retried",
            "warning",
            at("retried"),
        ),
        (
            "PC008",
            "step 'checkpointed': caching will never hit: Spot(checkpoints=True) puts the run's "
            "checkpoint folder in CheckpointConfig, which SageMaker hashes into the cache key",
            "drop checkpoints=True (an interrupted job then restarts from the beginning) or "
            "caching for this step",
            "checkpointed",
            "warning",
            at("cp"),
        ),
        *(
            (
                "PC008",
                f"step 'env': env name '{key}' is an expression keyword in SageMaker pipeline "
                "definitions: the Environment would be read as a reference, not passed to the job",
                f"rename the variable (e.g. {key.upper()}_VALUE); stepfunctions and kubeflow pass "
                "it as is",
                "env",
                "error",
                at("env"),
            )
            for key in ("Get", "Std:X")
        ),
    ]
    assert {d.location.file for d in notes if d.location} == {shown_path(__file__)}


# ----- review text: describe, pipeline_name, detect, document_problems --------------------------


@dsl.container_component(image=IMG, command=["x"])
def counted(out: Output[Dataset], n: Output[int], text: str = "-"):
    """A folder and a count (a property file)."""


@dsl.pipeline(name="described")
def described(text: str = "a"):
    first = counted(text=text).set_retry(Retry(2)).set_env(MODE="fast").set_caching(True, "6h")
    work(text="x").set_name("after").after(first)


def test_describe_lists_every_field_of_a_processing_step_in_order() -> None:
    summary = sagemaker.describe(json.loads(compile_text(described, "sagemaker")))
    assert (summary.target, summary.name) == ("sagemaker", "described")
    assert summary.parameters == {"text": {"type": "String", "default": "a"}}
    step = summary.steps["counted"]
    assert (step.id, step.kind) == ("counted", "processing job")
    assert list(step.fields.items()) == [
        ("depends on", []),
        ("property files", {"n": "n/value.json"}),
        ("image", IMG),
        ("command", ["x"]),
        (
            "arguments",
            [
                *("--text", "{Parameters.text}", "--out", "/opt/ml/processing/output/out"),
                *("--n", "/opt/ml/processing/output/n/value.json"),
            ],
        ),
        ("instance type", "ml.t3.medium"),
        ("inputs", {}),
        ("spot", False),
        ("role", "arn:aws:iam::123456789012:role/pipecast-jobs"),
        ("timeout", 86400),
        ("env", {"MODE": "fast"}),
        (
            "retry",
            [
                {
                    "BackoffRate": 2.0,
                    "ExceptionType": sagemaker.RETRYABLE,
                    "IntervalSeconds": 30,
                    "MaxAttempts": 1,
                }
            ],
        ),
        ("caching", {"Enabled": True, "ExpireAfter": "PT6H"}),
    ]
    after = summary.steps["after"].fields
    assert (after["depends on"], after["retry"], after["caching"]) == (["counted"], None, None)
    assert "property files" not in after and "runs when" not in after


def test_describe_an_else_branch_and_steps_of_other_types() -> None:
    gate = {"Type": "GreaterThan", "LeftValue": P, "RightValue": 1}
    document = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "p", "Type": "Integer"}],
        "Steps": [
            {
                "Name": "c",
                "Type": "Condition",
                "DependsOn": ["l"],
                "Arguments": {
                    "Conditions": [gate, {**gate, "Type": "LessThan", "RightValue": 9}],
                    "IfSteps": [{"Name": "yes", "Type": "Lambda", "Arguments": {}}],
                    "ElseSteps": [{"Name": "no", "Type": "Fail"}],
                },
            },
            {"Name": "l", "Type": "Lambda", "Arguments": {"StoppingCondition": {"X": 1}}},
            {"Name": "u"},
        ],
    }
    summary = sagemaker.describe(document)
    assert summary.name == "pipeline"  # no output names it
    assert summary.parameters == {"p": {"type": "Integer", "default": None}}
    both = "{Parameters.p} > 1 and {Parameters.p} < 9"
    assert {name: (s.kind, dict(s.fields)) for name, s in summary.steps.items()} == {
        "c": (
            "condition step",
            {
                "depends on": ["l"],
                "conditions": ["{Parameters.p} > 1", "{Parameters.p} < 9"],
                "if steps": ["yes"],
                "else steps": ["no"],
            },
        ),
        "yes": (
            "lambda step",
            {
                "depends on": [],
                "runs when": [both],
                "timeout": None,
                "env": {},
                "retry": None,
                "caching": None,
            },
        ),
        "no": (
            "fail step",
            {
                "depends on": [],
                "runs when": [f"not ({both})"],
                "timeout": None,
                "env": {},
                "retry": None,
                "caching": None,
            },
        ),
        "l": (
            "lambda step",
            {"depends on": [], "timeout": None, "env": {}, "retry": None, "caching": None},
        ),
        "u": (
            "? step",
            {"depends on": [], "timeout": None, "env": {}, "retry": None, "caching": None},
        ),
    }


def _named(values: list[Any]) -> dict[str, Any]:
    join = {"Std:Join": {"On": "", "Values": values}}
    return {"Steps": [{"Name": "s", "Arguments": {"Out": {"Deep": [join]}}}]}


@pytest.mark.parametrize(
    ("document", "name"),
    [
        (_named(["s3://b/pipelines/video/", RUN, "/s/"]), "video"),
        (_named(["s3://b/video", RUN]), "video"),
        (_named(["video/", RUN]), "video"),
        (_named(["/", RUN, "/s/"]), "pipeline"),  # nothing before the id
        (_named([P, RUN]), "pipeline"),  # not text
        (_named(["s3://b/video/", P]), "pipeline"),  # not the execution id
        ({"Steps": []}, "pipeline"),
        ({}, "pipeline"),
    ],
    ids=["prefix", "no-slash", "bare", "empty", "expression", "other-get", "no-steps", "none"],
)
def test_pipeline_name_is_read_off_the_output_prefix(document: dict[str, Any], name: str) -> None:
    assert sagemaker.pipeline_name(document) == name


def test_pipeline_name_of_a_step_inside_a_branch() -> None:
    inner = _named(["s3://b/inner/", RUN])["Steps"]
    document = {"Steps": [{"Name": "c", "Type": "Condition", "Arguments": {"IfSteps": inner}}]}
    assert sagemaker.pipeline_name(document) == "inner"


def test_detect_and_document_problems() -> None:
    assert sagemaker.detect({"Version": "2020-12-01", "Steps": []})
    assert not sagemaker.detect({"Version": "2020-12-02", "Steps": []})
    assert not sagemaker.detect({"Version": "2020-12-01"})
    assert not sagemaker.detect([])
    text = json.dumps({"Version": "1", "Steps": [{"Name": "a", "DependsOn": ["b"]}]})
    assert sagemaker.document_problems(text) == [
        (None, "/Version: unknown version '1'"),
        ("a", "/Steps/0/DependsOn: unknown step 'b'"),
    ]
