"""The exact states the Step Functions target writes beside its jobs: the handshake states of
``layout = "exact"`` (``_sfn_handshakes``), the JSONata spelling shared by both layouts
(``_sfn_states``), the value reads, loop and exit-handler states of the flow layout, and what
``run_shape`` and ``document_problems`` make of a machine. Word for word, so a changed cause,
key or path is a failing test, not a silent change to what an operator reads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pytest
from asl_interpreter import evaluate
from helpers import EXAMPLE_CONFIG, compile_document, compile_text

from pipecast import dsl
from pipecast.compilers import _sfn_flow, _sfn_states, graph, load_target, stepfunctions
from pipecast.compilers._sfn_handshakes import GET, KEEP, PUT, SEND, Handshakes, state_name
from pipecast.dsl import Dataset, Input, Output, Retry, Spot

IMG = "r.example.com/x:1.0"
NESTED = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "nested"})

# ----- _sfn_handshakes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        pytest.param("a" * 80, "a" * 80, id="80-kept"),
        pytest.param(
            "a" * 81,
            "a" * 71 + "~" + hashlib.sha256(b"a" * 81).hexdigest()[:8],
            id="81-cut-and-hashed",
        ),
    ],
)
def test_state_names_fit_80_characters(text: str, name: str) -> None:
    assert state_name(text) == name and len(name) <= 80


@pytest.mark.parametrize(
    ("root", "prefix"),
    [
        ("s3://bkt", "pipe/"),
        ("s3://bkt/runs", "runs/pipe/"),
        ("s3://bkt/runs/deep/", "runs/deep/pipe/"),
    ],
)
def test_handshake_objects_live_under_the_run(root: str, prefix: str) -> None:
    hs = Handshakes(root, "pipe")
    assert (hs.bucket, hs.prefix) == ("bkt", prefix)
    assert hs.permissions() == (
        f"s3:PutObject and s3:GetObject on arn:aws:s3:::bkt/{prefix}*/_pipecast/*, and "
        "states:SendTaskSuccess"
    )


WHERE = {
    "Bucket": "bkt",
    "Key": '{% "runs/pipe/" & $states.context.Execution.Name & '
    '"/_pipecast/handshakes/up/down.json" %}',
}
FAIL = {
    "Type": "Fail",
    "Error": "HandshakeFailed",
    "Cause": "handshake up -> down failed (the role needs s3:PutObject, s3:GetObject, "
    "states:SendTaskSuccess)",
}


def test_the_downstream_side_of_a_handshake() -> None:
    segment = Handshakes("s3://bkt/runs", "pipe").await_("up", "down")
    wait, done, failed = (
        "down waits for up",
        "down waits for up: already done",
        ("down waits for up: failed"),
    )
    assert (segment.entry, segment.exits) == (wait, (wait, done))
    assert segment.states == {
        wait: {
            "Type": "Task",
            "Comment": "pause until 'up' has finished",
            "Resource": PUT + ".waitForTaskToken",
            "Arguments": {
                **WHERE,
                "Body": {"token": "{% $states.context.Task.Token %}"},
                "IfNoneMatch": "*",
            },
            "Output": '{% {"params": $states.input.params, '
            '"uris": $merge([$states.input.uris, $states.result.uris])} %}',
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "Next": done, "Output": "{% $states.input %}"}
            ],
        },
        done: {
            "Type": "Task",
            "Resource": GET,
            "Arguments": WHERE,
            "Output": '{% {"params": $states.input.params, '
            '"uris": $merge([$states.input.uris, $parse($states.result.Body).uris])} %}',
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": failed}],
        },
        failed: FAIL,
    }


def test_the_upstream_side_of_a_handshake() -> None:
    segment = Handshakes("s3://bkt/runs", "pipe").signal("up", "down")
    signal, wake, send, failed = (
        "up signals down" + s for s in ("", ": resume it", ": send", ": failed")
    )
    assert (segment.entry, segment.exits) == (signal, (signal, send))
    assert segment.states == {
        signal: {
            "Type": "Task",
            "Resource": PUT,
            "Arguments": {
                **WHERE,
                "Body": {"uris": "{% $states.input.uris %}"},
                "IfNoneMatch": "*",
            },
            "Output": KEEP,
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "Next": wake, "Output": "{% $states.input %}"}
            ],
        },
        wake: {
            "Type": "Task",
            "Resource": GET,
            "Arguments": WHERE,
            "Output": '{% {"params": $states.input.params, "uris": $states.input.uris, '
            '"token": $parse($states.result.Body).token} %}',
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": failed}],
            "Next": send,
        },
        send: {
            "Type": "Task",
            "Resource": SEND,
            "Arguments": {
                "TaskToken": "{% $states.input.token %}",
                "Output": '{% $string({"uris": $states.input.uris}) %}',
            },
            "Output": KEEP,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": failed}],
        },
        failed: FAIL,
    }
    assert KEEP == '{% {"params": $states.input.params, "uris": $states.input.uris} %}'


# ----- _sfn_states -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ("plain", "plain"),
        ("caméra", "caméra"),
        ("{% $states.input %}", '{% "{% $states.input %}" %}'),
        ("50%} off", '{% "50%} off" %}'),
        ("{%", '{% "{%" %}'),
        ('a "{%" b', '{% "a \\"{%\\" b" %}'),
    ],
)
def test_a_literal_string_is_never_run_as_an_expression(text: str, written: str) -> None:
    assert _sfn_states.literal(text) == written
    assert evaluate(written, {}) == text


def test_small_spellings() -> None:
    assert _sfn_states.lit('é/"x"') == '"é/\\"x\\""'
    assert _sfn_states.field("a`b-c") == "`ab-c`"
    expr = _sfn_states.Expr("$x")
    finished = _sfn_states.finish({"a": [expr, "{%", 3, None], "b": "s"})
    assert finished == {"a": ["{% $x %}", '{% "{%" %}', 3, None], "b": "s"}


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], n: int = 1, label: str = "x"):
    """A Processing job."""


@dsl.pipeline(name="exprs")
def exprs(n: int = 1, label: str = "x"):
    make(n=n, label=label)


def test_run_time_values_of_a_plain_machine() -> None:
    ex = _sfn_states.JsonataExpressions(graph.check(exprs.spec), "s3://b/r")
    assert ex.run_id().text == "$states.context.Execution.Name"
    assert ex.parameter("n").text == "$string($states.input.params.`n`)"
    assert ex.parameter("label").text == "$states.input.params.`label`"
    assert ex.join(["a", "b"]) == "ab"
    assert ex.join(["a", ex.run_id(), "/c"]).text == ('"a" & $states.context.Execution.Name & "/c"')
    assert ex.step_output("s", "training", "m").text == '$states.input.uris.`s` & "/m"'
    assert ex.step_output("s", "processing", "m").text == (
        '"s3://b/r/exprs/" & $states.context.Execution.Name & "/s/m/"'
    )


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        pytest.param(None, None, id="none"),
        pytest.param(Retry(1), None, id="one-attempt-is-no-retry"),
        pytest.param(
            Retry(2, "5s", 1.5),
            [
                {
                    "ErrorEquals": ["SageMaker.AmazonSageMakerException", "States.TaskFailed"],
                    "IntervalSeconds": 5,
                    "BackoffRate": 1.5,
                    "MaxAttempts": 1,
                }
            ],
            id="two-attempts",
        ),
    ],
)
def test_retry_of_a_task(retry: Retry | None, expected: Any) -> None:
    @dsl.pipeline(name="r")
    def r() -> None:
        task = make()
        if retry is not None:
            task.set_retry(retry)

    state = json.loads(compile_text(r, "stepfunctions"))["States"]["make"]
    assert state.get("Retry") == expected


# ----- value reads, loops and exit handlers of the flow layout -----------------------------------


@dsl.container_component(image=IMG, command=["count"])
def count(n: Output[int]):
    """A value."""


@dsl.container_component(image=IMG, command=["use"])
def use(n: int, data: Input[Dataset]):
    """Use a value and a folder."""


@dsl.container_component(image=IMG, command=["notify"])
def notify(status: str):
    """The exit task."""


@dsl.pipeline(name="flow")
def flow(names: list = ["a", "b"]):  # noqa: B006
    done = notify(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(done):
        c = count()
        with dsl.ParallelFor(names, parallelism=2):
            m = make()
            use(n=c.outputs["n"], data=m.outputs["data"])


def _flow_states() -> dict[str, Any]:
    machine = json.loads(compile_text(flow, "stepfunctions", NESTED))
    found = {}

    def walk(m: dict[str, Any]) -> None:
        for name, state in m["States"].items():
            found[name] = state
            for inner in [*state.get("Branches", []), state.get("ItemProcessor", {"States": {}})]:
                walk(inner)

    walk(machine)
    return found


def test_the_start_state_merges_defaults() -> None:
    states = _flow_states()
    assert states["start"] == {
        "Type": "Pass",
        "Comment": "merge parameter defaults into the execution input",
        "Output": '{% {"params": $merge([{"names": ["a", "b"]}, $states.input]), "uris": {}, '
        '"values": {}, "loops": {}, "run": $states.context.Execution.Name} %}',
        "Next": "exit-handler-1",
    }


def test_a_value_is_read_from_s3_before_the_step_that_uses_it() -> None:
    states = _flow_states()
    read = states["read count/n"]
    assert read == {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Arguments": {
            "Bucket": "acme-ml",
            "Key": '{% "pipelines/flow/" & $states.input.run & "/count/n/" & "value.json" %}',
        },
        "Output": '{% {"params": $states.input.params, "uris": $states.input.uris, "values": '
        '$merge([$states.input.values, {"count/n": $parse($states.result.Body)}]), '
        '"loops": $states.input.loops, "run": $states.input.run} %}',
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "read count/n-failed"}],
        "Next": "use",
    }
    assert states["read count/n-failed"] == {
        "Type": "Fail",
        "Error": "StepFailed",
        "Cause": "step 'count' failed (its output parameter 'n' could not be read)",
    }


def test_a_loop_is_a_map_with_its_items_and_parallelism() -> None:
    loop = _flow_states()["loop-2"]
    assert {k: v for k, v in loop.items() if k != "ItemProcessor"} == {
        "Type": "Map",
        "Items": "{% $states.input.params.`names` %}",
        "ItemSelector": {
            "params": "{% $states.input.params %}",
            "uris": "{% $states.input.uris %}",
            "values": "{% $states.input.values %}",
            "loops": '{% $merge([$states.input.loops, {"loop-2": {"index": '
            '$states.context.Map.Item.Index, "item": $states.context.Map.Item.Value}}]) %}',
            "run": "{% $states.input.run %}",
        },
        "MaxConcurrency": 2,
        "Output": "{% $states.input %}",
        "End": True,
    }
    assert loop["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert loop["ItemProcessor"]["States"]["loop-2-iteration-done"] == {
        "Type": "Pass",
        "Output": {},
        "End": True,
    }


def test_an_exit_handler_records_the_failure_and_fails_the_run() -> None:
    states = _flow_states()
    handler = states["exit-handler-1"]
    (catch,) = handler["Catch"]
    assert (catch["ErrorEquals"], catch["Next"]) == (["States.ALL"], "notify-after-failure")
    assert handler["Output"] == "{% $states.result[0] %}"
    assert states["exit-handler-1-failed"] == {
        "Type": "Fail",
        "Error": "StepFailed",
        "Cause": "a step under exit handler 'exit-handler-1' failed; exit task 'notify' ran",
    }
    assert states["notify-after-failure"]["Next"] == "exit-handler-1-failed"
    cause = "step 'use' failed (see its SageMaker job)"
    bindings = {"states": {"input": {"run": "r"}, "errorOutput": {"Cause": cause}}}
    assert evaluate(catch["Output"], bindings)["failure"] == {
        "error": cause[:120],
        "failed_step": "use",
        "state": "FAILED",
    }
    bindings["states"]["errorOutput"]["Cause"] = "x" * 200
    assert evaluate(catch["Output"], bindings)["failure"] == {
        "error": "x" * 120,
        "failed_step": None,
        "state": "FAILED",
    }


def test_a_flow_machine_over_the_size_limit_is_written_compact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = dataclasses.replace(
        stepfunctions.TARGET,
        limits=dataclasses.replace(stepfunctions.TARGET.limits, max_document_bytes=1000),
    )
    monkeypatch.setattr(stepfunctions, "TARGET", small)
    document = stepfunctions.compile(graph.check(flow.spec, load_target("stepfunctions")), NESTED)
    assert "\n" not in document.text.strip()
    assert document.notes[-1] == "note: written compact to stay under the 1 MB definition limit"


# ----- run_shape and document_problems -----------------------------------------------------------


def test_run_shape_counts_every_state_and_handshake_call() -> None:
    @dsl.pipeline(name="n")
    def n() -> None:
        a, b = make().set_name("a"), make().set_name("b")
        use(n=1, data=a.outputs["data"]).set_name("c").after(b)
        use(n=1, data=b.outputs["data"]).set_name("d")

    checked = graph.check(n.spec, load_target("stepfunctions"))
    seconds = {"a": 600.0, "b": 60.0, "c": 60.0, "d": 600.0}
    shape = stepfunctions.run_shape(checked, EXAMPLE_CONFIG, seconds)  # exact: one handshake
    assert [(c.item, c.count) for c in shape.charges] == [
        ("Step Functions state transitions", 17),
        ("S3 PUT requests (handshakes)", 2),
        ("S3 GET requests (handshakes)", 2),
    ]
    assert shape.makespan_seconds == 660.0  # the critical path a→c
    assert shape.notes == (
        "state transitions: every state entered once (a Map's body once, not once per "
        "iteration: a lower bound for loops), retries not counted",
    )
    nested = stepfunctions.run_shape(checked, NESTED, seconds)
    assert [(c.item, c.count) for c in nested.charges] == [("Step Functions state transitions", 11)]
    assert nested.makespan_seconds == 720.0  # b first, then a beside d, then c


def test_document_problems_name_the_state() -> None:
    machine = json.loads(compile_text(exprs, "stepfunctions"))
    del machine["States"]["make"]["Arguments"]["RoleArn"]
    machine["StartAt"] = "nope"
    assert stepfunctions.document_problems(json.dumps(machine)) == [
        (None, "/StartAt: 'nope' is not a state in this scope"),
        ("make", "/States/make/Arguments: /: missing required 'RoleArn'"),
    ]


def test_permissions_note_of_a_compiled_flow() -> None:
    document = compile_document(flow, "stepfunctions", NESTED)
    assert document.notes == (
        "note: the state machine role needs, besides SageMaker: "
        + _sfn_flow.permissions(flow.spec, "s3://acme-ml/pipelines"),
    )


@dsl.container_component(image=IMG, command=["fit"], spot=Spot("1h"))
def fit(n: int, model: Output[Dataset]):
    """A spot step (a Training job) in a flow pipeline."""


@dsl.container_component(image=IMG, command=["total"])
def total(counts: list):
    """Every iteration's value, in order."""


@dsl.pipeline(name="gather")
def gather():
    with dsl.ParallelFor([1, 2, 3]):
        c = count().set_name("counted")
    model = fit(n=2)
    use(n=1, data=model.outputs["model"]).set_name("from-fit")
    total(counts=dsl.Collected(c.outputs["n"]))


def test_a_training_output_in_a_flow_machine_is_the_uri_its_job_reported() -> None:
    states = _states_of(gather)
    (source,) = states["from-fit"]["Arguments"]["ProcessingInputs"]
    assert source["S3Input"]["S3Uri"] == '{% $states.input.uris.`fit` & "/model" %}'
    assert states["fit"]["Output"] == (
        '{% {"params": $states.input.params, "uris": $merge([$states.input.uris, {"fit": '
        '$states.result.ModelArtifacts.S3ModelArtifacts}]), "values": $states.input.values, '
        '"loops": $states.input.loops, "run": $states.input.run} %}'
    )


def test_parallel_branches_merge_their_uris() -> None:
    (parallel,) = [s for s in _states_of(gather).values() if s["Type"] == "Parallel"]
    assert parallel["Output"] == (
        '{% {"params": $states.input.params, "uris": $merge($states.result.uris), '
        '"values": $states.input.values, "loops": $states.input.loops, '
        '"run": $states.input.run} %}'
    )


def test_collected_values_are_listed_then_read_in_iteration_order() -> None:
    states = _states_of(gather)
    prefix = '"pipelines/gather/" & $states.input.run & "/counted/n/"'
    listing = states["read *counted/n"]
    assert (listing["Resource"], listing["Arguments"]) == (
        "arn:aws:states:::aws-sdk:s3:listObjectsV2",
        {"Bucket": "acme-ml", "Prefix": "{% " + prefix + " %}"},
    )
    assert listing["Next"] == "read *counted/n-each"
    contents = [{"Key": f"pipelines/gather/r/counted/n/{i}/value.json"} for i in (10, 2, 0, 1)]
    bindings = {
        "states": {
            "input": {"params": {}, "uris": {}, "values": {}, "loops": {}, "run": "r"},
            "result": {"Contents": contents},
        }
    }
    keys = evaluate(listing["Output"], bindings)["values"]["_keys"]
    assert keys == [f"pipelines/gather/r/counted/n/{i}/value.json" for i in (0, 1, 2, 10)]
    each = states["read *counted/n-each"]
    assert each["Items"] == "{% $states.input.values._keys %}"
    assert each["ItemSelector"] == {"key": "{% $states.context.Map.Item.Value %}"}
    assert each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    catch = [{"ErrorEquals": ["States.ALL"], "Next": "read *counted/n-failed"}]
    assert listing["Catch"] == each["Catch"] == catch
    assert states["read *counted/n-failed"] == {
        "Type": "Fail",
        "Error": "StepFailed",
        "Cause": "step 'counted' failed (its output parameter 'n' could not be read)",
    }
    assert each["ItemProcessor"]["States"]["read *counted/n-get"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Arguments": {"Bucket": "acme-ml", "Key": "{% $states.input.key %}"},
        "Output": "{% $parse($states.result.Body) %}",
        "End": True,
    }
    values = {"_keys": ["k"], "other": 1}
    bindings = {
        "states": {
            "input": {"params": {}, "uris": {}, "values": values, "loops": {}, "run": "r"},
            "result": [4, 5, 6],
        }
    }
    assert evaluate(each["Output"], bindings)["values"] == {"other": 1, "*counted/n": [4, 5, 6]}


def _states_of(pipeline: Any) -> dict[str, Any]:
    machine = json.loads(compile_text(pipeline, "stepfunctions", NESTED))
    found = {}

    def walk(m: dict[str, Any]) -> None:
        for name, state in m["States"].items():
            found[name] = state
            for inner in [*state.get("Branches", []), state.get("ItemProcessor", {"States": {}})]:
                walk(inner)

    walk(machine)
    return found


def test_a_flow_step_fails_into_a_fail_state_naming_it() -> None:
    states = _flow_states()
    assert states["use"]["Catch"] == [{"ErrorEquals": ["States.ALL"], "Next": "use-failed"}]
    assert states["use-failed"] == {
        "Type": "Fail",
        "Error": "StepFailed",
        "Cause": "step 'use' failed (see its SageMaker job)",
    }


def test_the_exit_task_gets_the_run_status_as_a_json_string() -> None:
    states = _flow_states()
    for name in ("notify", "notify-after-failure"):
        arguments = states[name]["Arguments"]["AppSpecification"]["ContainerArguments"]
        assert arguments == [
            "--status",
            "{% ($exists($states.input.failure) ? $string($states.input.failure) : "
            '$string({"error": null, "failed_step": null, "state": "SUCCEEDED"})) %}',
        ]
    status = states["notify"]["Arguments"]["AppSpecification"]["ContainerArguments"][1]
    succeeded = json.loads(evaluate(status, {"states": {"input": {}}}))
    assert succeeded == {"error": None, "failed_step": None, "state": "SUCCEEDED"}
    failure = {"error": "boom", "failed_step": "use", "state": "FAILED"}
    failed = json.loads(evaluate(status, {"states": {"input": {"failure": failure}}}))
    assert failed == failure


@dsl.pipeline(name="per-item")
def per_item():
    with dsl.ParallelFor(["a", "b"]), dsl.ParallelFor([1, 2]):
        c = count()
        make(n=c.outputs["n"])


def test_a_value_inside_loops_is_read_from_its_iterations_folder() -> None:
    key = _states_of(per_item)["read count/n"]["Arguments"]["Key"]
    assert key == (
        '{% "pipelines/per-item/" & $states.input.run & "/count/n/" & '
        '$string($states.input.loops.`loop-1`.index) & "/" & '
        '$string($states.input.loops.`loop-2`.index) & "/" & "value.json" %}'
    )
    loops = {"loop-1": {"index": 1}, "loop-2": {"index": 0}}
    bindings = {"states": {"input": {"run": "r", "loops": loops}}}
    assert evaluate(key, bindings) == "pipelines/per-item/r/count/n/1/0/value.json"


def test_a_loop_over_a_literal_list_writes_the_items() -> None:
    loop = _states_of(gather)["loop-1"]
    assert (loop["Items"], loop["MaxConcurrency"]) == ([1, 2, 3], 0)
    literal = _states_of(per_item)
    assert literal["loop-1"]["Items"] == ["a", "b"]
