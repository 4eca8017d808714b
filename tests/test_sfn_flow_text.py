"""The exact JSONata and notes of the Step Functions control-flow layout (``_sfn_flow``) and of
``stepfunctions.compile``: a ``dsl.OneOf`` of artifacts (one branch a Training job), conditions,
constants, a Distributed Map over a spot step's list, the layout's duration hints inside a
flow pipeline, and every compile note word for word. Compiled fresh; expressions are evaluated
the way Step Functions would (tests/asl_interpreter.py)."""

from __future__ import annotations

import dataclasses
import json
import operator
from typing import Any

import pytest
from asl_interpreter import evaluate
from helpers import EXAMPLE_CONFIG, compile_document, compile_text

from pipecast import dsl
from pipecast.compilers._sfn_flow import permissions
from pipecast.dsl import Dataset, Input, Model, Output, Spot
from pipecast.dsl.spec import Comparison, Constant, OutputRef

IMG = "r.example.com/x:1.0"
NESTED = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "nested"})
UNSET = dataclasses.replace(  # no [stepfunctions] layout at all
    EXAMPLE_CONFIG,
    data={k: v for k, v in EXAMPLE_CONFIG.data.items() if k != "stepfunctions"},
)
ROLE_NOTE = (
    "note: the state machine role needs, besides SageMaker: s3:GetObject and s3:ListBucket on "
    "arn:aws:s3:::acme-ml (values, Collected)"
)
DISTRIBUTED_ROLE_NOTE = (
    f"{ROLE_NOTE}; states:StartExecution, states:DescribeExecution and states:StopExecution on "
    "the state machine itself (Distributed Map child executions)"
)
FLOW_LAYOUT_NOTE = (
    "note: control flow is laid out nested: the layout setting applies to pipelines without "
    "groups or output parameters"
)


def _states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state by name, inside Parallel branches and Map bodies too."""
    found = {}
    for name, state in machine["States"].items():
        found[name] = state
        for inner in [*state.get("Branches", []), state.get("ItemProcessor", {"States": {}})]:
            found.update(_states(inner))
    return found


def _compiled(pipeline: Any, config: Any = EXAMPLE_CONFIG) -> dict[str, dict[str, Any]]:
    return _states(json.loads(compile_text(pipeline, "stepfunctions", config)))


# ----- dsl.OneOf of artifacts, one branch a Training job ------------------------------------------


@dsl.container_component(image=IMG, command=["probe"])
def probe(level: Output[int], items: Output[list], cfg: Output[dict]):
    """Decide."""


@dsl.container_component(image=IMG, command=["train"], spot=Spot("1h"))
def train(level: int, model: Output[Model]):
    """A spot step: its output URI is known only once the Training job ran."""


@dsl.container_component(image=IMG, command=["prep"])
def prep(level: int, model: Output[Model]):
    """A Processing job: its output URI is computed."""


@dsl.container_component(image=IMG, command=["use"])
def use_model(model: Input[Model]):
    """Use whichever model was made."""


@dsl.pipeline(name="pick")
def pick():
    with dsl.ParallelFor([1, 2]):
        p = probe()
        with dsl.If(p.outputs["level"] > 3):
            t = train(level=p.outputs["level"])
        with dsl.Elif(p.outputs["level"] > 1):
            q = prep(level=p.outputs["level"])
        with dsl.Else():
            f = prep(level=0).set_name("fallback")
        use_model(model=dsl.OneOf(t.outputs["model"], q.outputs["model"], f.outputs["model"]))


RUN = "s3://acme-ml/pipelines/pick/run-7"


def test_one_of_artifacts_reads_the_uri_of_the_branch_that_ran() -> None:
    """The Training branch's URI is the one its job reported (in ``uris``); a Processing
    branch's is its computed prefix, with the loop index; the last option is the fallback."""
    states = _compiled(pick)
    (source,) = states["use-model"]["Arguments"]["ProcessingInputs"]
    index = '$string($states.input.loops.`loop-1`.index) & "/"'
    assert source["S3Input"]["S3Uri"] == (
        '{% ($exists($states.input.uris.`train`) ? $states.input.uris.`train` & "/model" : '
        '$exists($states.input.uris.`prep`) ? "s3://acme-ml/pipelines/pick/" & $states.input.run'
        f' & "/prep/" & "model/" & {index} : "s3://acme-ml/pipelines/pick/" & $states.input.run'
        f' & "/fallback/" & "model/" & {index}) %}}'
    )
    loops = {"loop-1": {"index": 1, "item": 2}}
    ran = {
        "train": ({"train": "s3://acme-ml/pipelines/pick/run-7/train/1/job-1/output/model.tar.gz"}),
        "prep": {"prep": "ran"},
        "fallback": {"fallback": "ran"},
    }
    expected = {
        "train": "s3://acme-ml/pipelines/pick/run-7/train/1/job-1/output/model.tar.gz/model",
        "prep": f"{RUN}/prep/model/1/",
        "fallback": f"{RUN}/fallback/model/1/",
    }
    for branch, uris in ran.items():
        bindings = {"states": {"input": {"uris": uris, "run": "run-7", "loops": loops}}}
        assert evaluate(source["S3Input"]["S3Uri"], bindings) == expected[branch], branch
    # each option tells the reader it ran: the Training job with its URI, the others by name
    assert '"train": $states.result.ModelArtifacts.S3ModelArtifacts' in states["train"]["Output"]
    assert '$merge([$states.input.uris, {"prep": "ran"}])' in states["prep"]["Output"]


# ----- values: OneOf of parameters, constants, several comparisons --------------------------------


@dsl.container_component(image=IMG, command=["count"])
def count(n: Output[int], label: Output[str]):
    """Values."""


@dsl.container_component(image=IMG, command=["take"])
def take_int(n: int):
    """Take a number."""


@dsl.container_component(image=IMG, command=["take"])
def take_str(label: str):
    """Take a string."""


@dsl.pipeline(name="values")
def values():
    c = count()
    with dsl.If(c.outputs["n"] > 1):
        x = count().set_name("x")
    with dsl.Else():
        y = count().set_name("y")
    take_int(n=dsl.OneOf(x.outputs["n"])).set_name("one-int")
    take_str(label=dsl.OneOf(x.outputs["label"], y.outputs["label"])).set_name("one-str")


def test_one_of_parameters_are_typed_by_their_outputs() -> None:
    """An int reaches the container through ``$string``; a str as it is."""
    states = _compiled(values)
    arguments = states["one-int"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments == ["--n", "{% $string($states.input.values.`x/n`) %}"]
    arguments = states["one-str"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments == ["--label", "{% $states.input.values.`x/label|y/label` %}"]


@dsl.pipeline(name="dict-constant")
def dict_constant():
    p = probe()
    with dsl.If(p.outputs["cfg"] == {"b": 1, "a": "é"}):
        prep(level=1)


def test_a_constant_operand_is_canonical_json() -> None:
    """Keys sorted (so a reordered literal is no change to review), non-ASCII kept."""
    (condition,) = _compiled(dict_constant)["condition-1"]["Choices"]
    assert condition["Condition"] == (
        '{% ($states.input.values.`probe/cfg` = {"a": "é", "b": 1}) %}'
    )


def _with_conditions(pipeline: Any, when: tuple[Comparison, ...]) -> Any:
    """The spec of ``pipeline`` with its one condition's comparisons replaced (an IR document
    may hold several; all must hold)."""
    spec = pipeline.spec
    (group,) = spec.groups
    return dataclasses.replace(spec, groups=(dataclasses.replace(group, when=when),))


def test_every_comparison_of_a_condition_must_hold() -> None:
    level = OutputRef("probe", "level")
    when = (Comparison(">", level, Constant(1)), Comparison("==", level, Constant(2)))
    spec = _with_conditions(dict_constant, when)
    states = _states(json.loads(compile_text(spec, "stepfunctions")))
    (condition,) = states["condition-1"]["Choices"]
    text = (
        "{% ($states.input.values.`probe/level` > 1) and "
        "($states.input.values.`probe/level` = 2) %}"
    )
    assert condition["Condition"] == text
    for value, taken in ((2, True), (3, False), (1, False)):
        bindings = {"states": {"input": {"values": {"probe/level": value}}}}
        assert evaluate(text, bindings) is taken


def test_a_condition_without_comparisons_always_holds() -> None:
    spec = _with_conditions(dict_constant, ())
    states = _states(json.loads(compile_text(spec, "stepfunctions")))
    assert states["condition-1"]["Choices"][0]["Condition"] == "{% true %}"


# ----- a Distributed Map over a spot step's list -------------------------------------------------


@dsl.container_component(image=IMG, command=["names"], spot=Spot("1h"))
def spot_names(out: Output[list]):
    """A list written by a Training job (under the job's own prefix)."""


@dsl.container_component(image=IMG, command=["each"])
def each(name: str):
    """One item."""


@dsl.pipeline(name="spot-items")
def spot_items():
    listed = spot_names()
    with dsl.ParallelFor(listed.outputs["out"]) as name:
        each(name=name)


def test_a_loop_over_a_spot_steps_list_reads_it_under_the_jobs_prefix() -> None:
    document = compile_document(spot_items, "stepfunctions", NESTED)
    loop = _states(json.loads(document.text))["loop-1"]
    reader = loop["ItemReader"]
    assert loop["ItemProcessor"]["ProcessorConfig"] == {
        "Mode": "DISTRIBUTED",
        "ExecutionType": "STANDARD",
    }
    assert (loop["ToleratedFailurePercentage"], loop["MaxConcurrency"]) == (0, 0)
    assert "Items" not in loop
    key = (
        '{% $substringAfter($states.input.uris.`spot-names`, "s3://acme-ml/") & '
        '"/out/value.json" %}'
    )
    assert reader == {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {"InputType": "JSON"},
        "Arguments": {"Bucket": "acme-ml", "Key": key},
    }
    uris = {"spot-names": "s3://acme-ml/pipelines/spot-items/r/spot-names/job/output"}
    assert evaluate(key, {"states": {"input": {"uris": uris}}}) == (
        "pipelines/spot-items/r/spot-names/job/output/out/value.json"
    )
    assert document.notes == (DISTRIBUTED_ROLE_NOTE,)


# ----- the layout of a flow pipeline follows the duration hints ----------------------------------


@dsl.container_component(image=IMG, command=["src"])
def src(out: Output[Dataset], n: Output[int]):
    """A source with a value (so the pipeline is laid out by the flow layout)."""


@dsl.container_component(image=IMG, command=["join"])
def join(left: Input[Dataset], right: Input[Dataset]):
    """Join two."""


@dsl.container_component(image=IMG, command=["relay"])
def relay(data: Input[Dataset]):
    """Pass one on."""


def _n_graph(hints: dict[str, str]) -> Any:
    """The N graph a→c, b→c, b→d (not series-parallel) with expected durations ``hints``."""

    @dsl.pipeline(name="n-flow")
    def n_flow() -> None:
        a, b = src().set_name("a"), src().set_name("b")
        c = join(left=a.outputs["out"], right=b.outputs["out"]).set_name("c")
        d = relay(data=b.outputs["out"]).set_name("d")
        for task in (a, b, c, d):
            if task.id in hints:
                task.set_expected_duration(hints[task.id])

    return n_flow


ADDED = (
    "note: '{}' now also waits for {}: Step Functions nests only sequences and parallel blocks, "
    "and this part of the graph is not series-parallel"
)


@pytest.mark.parametrize(
    ("hints", "added"),
    [
        pytest.param({}, ("d", "a"), id="equal-steps-two-rounds-of-two"),
        pytest.param(
            {"a": "10m", "b": "1m", "c": "1m", "d": "10m"}, ("a", "b"), id="b-short-first"
        ),
    ],
)
def test_flow_layout_follows_duration_hints_and_says_what_it_added(
    hints: dict[str, str], added: tuple[str, str]
) -> None:
    document = compile_document(_n_graph(hints), "stepfunctions", NESTED)
    assert document.notes == (ADDED.format(*added), ROLE_NOTE)


# ----- notes: the role, the layout setting -------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "notes"),
    [
        pytest.param(NESTED, (ROLE_NOTE,), id="nested"),
        pytest.param(UNSET, (ROLE_NOTE,), id="layout-unset"),
        pytest.param(EXAMPLE_CONFIG, (ROLE_NOTE, FLOW_LAYOUT_NOTE), id="exact"),
        pytest.param(
            EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "auto"}),
            (ROLE_NOTE, FLOW_LAYOUT_NOTE),
            id="auto",
        ),
    ],
)
def test_flow_notes_name_the_role_and_a_layout_setting_that_does_not_apply(
    config: Any, notes: tuple[str, ...]
) -> None:
    assert compile_document(dict_constant, "stepfunctions", config).notes == notes


@pytest.mark.parametrize(
    ("root", "text"),
    [
        (
            "s3://bucket",
            "s3:GetObject and s3:ListBucket on arn:aws:s3:::bucket (values, Collected)",
        ),
        (
            "s3://bucket/deep/prefix",
            "s3:GetObject and s3:ListBucket on arn:aws:s3:::bucket (values, Collected)",
        ),
    ],
)
def test_permissions_name_the_bucket(root: str, text: str) -> None:
    assert permissions(dict_constant.spec, root) == text
    assert permissions(spot_items.spec, root) == (
        f"{text}; states:StartExecution, states:DescribeExecution and states:StopExecution on "
        "the state machine itself (Distributed Map child executions)"
    )


# ----- notes of a pipeline without control flow --------------------------------------------------


@dsl.container_component(image=IMG, command=["plain-src"])
def plain_src(out: Output[Dataset]):
    """No value."""


@dsl.pipeline(name="n-plain")
def n_plain():
    a, b = plain_src().set_name("a"), plain_src().set_name("b")
    join(left=a.outputs["out"], right=b.outputs["out"]).set_name("c")
    relay(data=b.outputs["out"]).set_name("d")


HINT = (
    'hint: set layout = "exact" (or "auto": only where a wait would cost time) under '
    "[stepfunctions] in pipecast.toml to run these steps without added waits (run-time "
    "handshakes through S3)"
)


@pytest.mark.parametrize(
    ("config", "notes"),
    [
        pytest.param(
            NESTED,
            (
                "note: step 'd' now also waits for a: Step Functions nests only sequences and "
                "parallel blocks, and this part of the graph is not series-parallel",
                HINT,
            ),
            id="nested",
        ),
        pytest.param(
            EXAMPLE_CONFIG,
            (
                'note: 1 edge(s) are enforced by run-time handshakes (layout = "exact"); the '
                "state machine role needs s3:PutObject and s3:GetObject on "
                "arn:aws:s3:::acme-ml/pipelines/n-plain/*/_pipecast/*, and states:SendTaskSuccess",
            ),
            id="exact",
        ),
    ],
)
def test_plain_notes_word_for_word(config: Any, notes: tuple[str, ...]) -> None:
    assert compile_document(n_plain, "stepfunctions", config).notes == notes


@dsl.pipeline(name="three")
def three():
    c = count()
    with dsl.If(c.outputs["n"] > 2):
        x = count().set_name("x")
    with dsl.Elif(c.outputs["n"] > 1):
        y = count().set_name("y")
    with dsl.Else():
        z = count().set_name("z")
    take_int(n=dsl.OneOf(x.outputs["n"], y.outputs["n"], z.outputs["n"])).set_name("take")


def test_one_of_three_values_reads_the_branch_that_ran() -> None:
    read = _compiled(three)["read x/n|y/n|z/n"]
    key = read["Arguments"]["Key"]

    def at(step: str) -> str:
        return f'"pipelines/three/" & $states.input.run & "/{step}/n/" & "value.json"'

    assert key == (
        f"{{% ($exists($states.input.uris.`x`) ? {at('x')} : "
        f"$exists($states.input.uris.`y`) ? {at('y')} : {at('z')}) %}}"
    )
    for ran in ("x", "y", "z"):
        bindings = {"states": {"input": {"run": "r", "uris": {ran: "ran"}}}}
        assert evaluate(key, bindings) == f"pipelines/three/r/{ran}/n/value.json"
    assert '"x/n|y/n|z/n": $parse($states.result.Body)' in read["Output"]


PYTHON_OPERATORS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@pytest.mark.parametrize(
    ("op", "jsonata"),
    [("==", "="), ("!=", "!="), ("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")],
)
def test_each_comparison_operator_in_jsonata(op: str, jsonata: str) -> None:
    level = OutputRef("probe", "level")
    spec = _with_conditions(dict_constant, (Comparison(op, level, Constant(2)),))
    states = _states(json.loads(compile_text(spec, "stepfunctions")))
    text = states["condition-1"]["Choices"][0]["Condition"]
    assert text == f"{{% ($states.input.values.`probe/level` {jsonata} 2) %}}"
    for value in (1, 2, 3):
        holds = PYTHON_OPERATORS[op](value, 2)
        assert evaluate(text, {"states": {"input": {"values": {"probe/level": value}}}}) is holds
