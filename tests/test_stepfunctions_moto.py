"""Step Functions executions through moto's own ASL interpreter, not ours.

``tests/asl_interpreter.py`` is small and ours, so it can share our blind spots. Here moto's
Step Functions parser (``execute_state_machine``) parses and runs the compiled JSONata state
machines: its Parallel threads, Retry, Catch, Fail, ``Arguments``/``Output`` and context object.
Moto 5.2.5 cannot do three things by itself, so the ``moto_sfn`` fixture patches the narrowest
point of each (monkeypatch, undone after each test):

- JSONata: moto's evaluator is a stub meant for a JVM bridge (``_eval_jsonata`` is ``None``), so we
  plug in ``jsonata-python`` there; moto still composes each expression with its bindings.
- ``$hash``: moto declares it as a stub that returns the text "Function $hash is currently not
  supported", which would silently name jobs ``extract-frames-Function $hash i-0`` in every
  execution; we drop that stub and register Step Functions' ``$hash`` with the engine.
- ``sagemaker:*.sync``: moto lists SageMaker as an unsupported optimised integration (only
  ``.waitForTaskToken``); ``.sync`` fails with a ``States.Runtime`` error. The Task factory now
  routes ``sagemaker`` to a test service that hands the request to :class:`SageMakerResolver`.

- ``aws-sdk:*`` (the S3 and ``sfn:sendTaskSuccess`` handshakes of ``layout = "exact"``): moto
  calls boto3 with the parameters exactly as written. Step Functions itself maps them onto the
  API's input shape (PascalCase members to the SDK's names, a JSON ``Body`` to bytes) and turns
  a response's streaming ``Body`` into a string; moto has these helpers but leaves its
  ``_normalise_parameters``/``_normalise_response`` hooks empty, so the fixture fills them.

Retry waits (60 s and up) are recorded instead of slept. Parallel branches really run in threads.
To show that no step starts before its predecessors finish, one step's job at a time is held
open until every step the compiled document lets run meanwhile has finished: a precedence the
layout forgot then shows up as a job starting before its upstream finished, without timing.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
import jsonata
import networkx as nx
import pytest
from asl_interpreter import Job, TaskFailed, completed_job, states_hash
from helpers import EXAMPLE_CONFIG, compile_text, load_example
from moto import mock_aws
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.intrinsic import jsonata as moto_intrinsics
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (  # noqa: E501
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
from test_stepfunctions import assert_order

from pipecast import dsl
from pipecast._api import compile_spec
from pipecast.compilers import graph, load_target
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot
from pipecast.dsl.spec import ImporterRef, OutputRef, ParameterRef, PipelineSpec

REGION = "us-east-1"
HOLD_LIMIT = 30.0  # seconds a held job waits before the test reports a stall
STATES_ROLE = "arn:aws:iam::123456789012:role/pipecast-states"
NESTED = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "nested"})
EXACT = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "exact"})
ARTIFACT_BUCKET = EXAMPLE_CONFIG.artifact_root.removeprefix("s3://").partition("/")[0]


# ----- the SageMaker side: a resolver that plays jobs and records them ------------------------


@dataclass
class SageMakerResolver:
    """Plays SageMaker ``.sync`` jobs for moto's Task states, from several threads at once.

    Each job records a logical start and finish tick (no wall clock in assertions).
    ``failures[step]`` makes that step's next N jobs fail the way a failed ``.sync`` job does
    (``States.TaskFailed``). ``hold`` keeps one step's job running until every step in
    ``release_after`` has finished: the adversarial schedule in which any step the state machine
    lets start early does start early (see :func:`free_of`).
    """

    failures: dict[str, int] = field(default_factory=dict)
    hold: str | None = None
    release_after: frozenset[str] = frozenset()
    release_when: Callable[[], bool] | None = None  # instead of release_after: an outside event
    hold_limit: float = HOLD_LIMIT
    jobs: list[Job] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    stalled: list[str] = field(default_factory=list)
    clock: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)

    def _tick(self) -> int:
        self.clock += 1
        return self.clock

    def run(self, state: str, resource: str, request: dict[str, Any]) -> dict[str, Any]:
        kind = "training" if "createTrainingJob" in resource else "processing"
        name = request["TrainingJobName" if kind == "training" else "ProcessingJobName"]
        with self.cond:
            job = Job(state, name, kind, request, start=self._tick())
            self.jobs.append(job)
            if state == self.hold:
                released = self._hold()
                if not released:  # a safety net: reported and asserted on, never expected
                    self.stalled.append(state)
            job.end = self._tick()
            fail = self.failures.get(state, 0) > 0
            if fail:
                self.failures[state] -= 1
            else:
                self.finished.add(state)
            self.cond.notify_all()
        if fail:
            raise TaskFailed("States.TaskFailed", json.dumps({"JobName": name, "Status": "Failed"}))
        return completed_job(kind, name, request)

    def _hold(self) -> bool:
        """Keep the held job open until its release condition holds (under ``cond``)."""
        if self.release_when is None:
            return self.cond.wait_for(
                lambda: self.release_after <= self.finished, timeout=self.hold_limit
            )
        deadline = time.monotonic() + self.hold_limit
        while not self.release_when():  # an S3 object: nothing notifies, so look every 10 ms
            if time.monotonic() > deadline:
                return False
            self.cond.wait(0.01)
        return True

    def last_jobs(self) -> dict[str, Job]:
        """The last attempt of each step (the one whose outputs downstream steps must get)."""
        return {job.state: job for job in self.jobs}


def waits_in(
    machine: dict[str, Any], done: frozenset[str] = frozenset()
) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """For each Task state of an ASL (sub-)machine, the Tasks it waits for, read off the
    document itself: ``Next`` chains and Parallel joins. Returns those and all Tasks run."""
    waits: dict[str, frozenset[str]] = {}
    name: str | None = machine["StartAt"]
    while name is not None:
        state = machine["States"][name]
        if state["Type"] == "Task":
            waits[name] = done
            done = done | {name}
        elif state["Type"] == "Parallel":
            joined = set(done)
            for branch in state["Branches"]:
                sub, ran = waits_in(branch, done)
                waits.update(sub)
                joined |= ran
            done = frozenset(joined)
        name = None if state.get("End") else state.get("Next")
    return waits, done


def free_of(document: str, step: str) -> frozenset[str]:
    """The steps the compiled state machine lets finish while ``step`` is still running."""
    waits, _ = waits_in(json.loads(document))
    return frozenset(s for s, before in waits.items() if s != step and step not in before)


# ----- the moto side: three narrow patches ------------------------------------------------------


def evaluate_jsonata(expression: str) -> Any:
    """Moto's JSONata hook: the composed expression (bindings inlined) in, plain JSON out."""
    try:
        compiled = jsonata.Jsonata(expression)
        compiled.register_lambda("hash", states_hash)
        return json.loads(json.dumps(compiled.evaluate(None)))
    except Exception as exc:  # moto turns this into States.QueryEvaluationError
        raise moto_jsonata.JSONataException("UNKNOWN", str(exc)) from exc


def error_name(name: str) -> ErrorName:
    """Moto's spelling of an error name: its own type for ``States.*``, custom otherwise."""
    if name.startswith("States."):
        return StatesErrorName.from_name(name)
    return CustomErrorName(name)


def sagemaker_service(resolver: SageMakerResolver) -> type[StateTaskService]:
    """A moto Task service for ``sagemaker:create*Job.sync`` backed by ``resolver``.

    A class per resolver (a closure, not an attribute) because moto deep-copies state machines.
    """

    class SageMakerSync(StateTaskService):
        def _validate_service_integration_is_supported(self) -> None:
            """Every SageMaker action is played by the resolver."""

        def _eval_service_task(
            self,
            env: Any,
            resource_runtime_part: Any,
            normalised_parameters: dict[str, Any],
            state_credentials: Any,
        ) -> None:
            try:
                result = resolver.run(self.name, self.resource.resource_arn, normalised_parameters)
            except TaskFailed as exc:
                raise FailureEventException(self._job_failed(env, exc)) from exc
            env.stack.append(result)

        def _job_failed(self, env: Any, exc: TaskFailed) -> FailureEvent:
            details = TaskFailedEventDetails(
                error=exc.error,
                cause=exc.cause,
                resource=self._get_sfn_resource(),
                resourceType=self._get_sfn_resource_type(),
            )
            return FailureEvent(
                env=env,
                error_name=error_name(exc.error),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=details),
            )

    return SageMakerSync


@dataclass
class MotoStepFunctions:
    """What a test drives: the resolver, the recorded retry waits and an execution runner."""

    resolver: SageMakerResolver
    retry_waits: list[float]
    client: Any
    machines: int = 0

    def execute(self, document: str, params: dict[str, Any], name: str = "run-1") -> dict[str, Any]:
        """Create the state machine, start one execution, wait for its end, describe it."""
        self.machines += 1
        machine = self.client.create_state_machine(
            name=f"machine-{self.machines}", definition=document, roleArn=STATES_ROLE
        )["stateMachineArn"]
        arn = self.client.start_execution(
            stateMachineArn=machine, name=name, input=json.dumps(params)
        )["executionArn"]
        # a safety net against a hung run, not a timing assertion: moto interprets the machine in
        # threads, and a large exact layout took over a minute on a loaded 2-core machine
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            described = self.client.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.01)
        raise AssertionError(f"execution {name} did not finish in 5 minutes")


@pytest.fixture
def moto_sfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoStepFunctions]:
    """Moto executing state machines, with the three patches of the module docstring."""
    resolver = SageMakerResolver()
    waits: list[float] = []
    service = sagemaker_service(resolver)
    original_factory = state_task_factory.state_task_service_for

    def service_for(service_name: str) -> StateTaskService:
        return service() if service_name == "sagemaker" else original_factory(service_name)

    monkeypatch.setattr(moto_jsonata, "_eval_jsonata", evaluate_jsonata)
    monkeypatch.delitem(moto_intrinsics._DECLARATION_BY_VARIABLE_REFERENCE, "$hash")
    monkeypatch.setattr(state_task_factory, "state_task_service_for", service_for)
    monkeypatch.setattr(retrier_decl, "time", _RecordedSleep(waits))
    monkeypatch.setattr(StateTaskServiceAwsSdk, "_normalise_parameters", _sdk_request)
    monkeypatch.setattr(StateTaskServiceAwsSdk, "_normalise_response", _sdk_response)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name=REGION)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=ARTIFACT_BUCKET)
        yield MotoStepFunctions(resolver, waits, client)


def _sdk_operation(task: StateTaskServiceAwsSdk) -> Any:
    service = task._get_boto_service_name()
    action = task.resource.api_action
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(action[0].upper() + action[1:])


def _sdk_request(task: StateTaskServiceAwsSdk, parameters: dict[str, Any], *_: Any) -> None:
    """Step Functions' request mapping for AWS SDK integrations (see the module docstring)."""
    task._to_boto_request(parameters, _sdk_operation(task).input_shape)


def _sdk_response(task: StateTaskServiceAwsSdk, response: Any, *_: Any) -> None:
    """Step Functions' response mapping: streaming bodies become strings."""
    task._from_boto_response(response, _sdk_operation(task).output_shape)


@dataclass
class _RecordedSleep:
    """Stands in for the ``time`` module inside moto's retrier: records waits, sleeps none."""

    waits: list[float]

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


# ----- pipelines: the examples and small generated DAGs ----------------------------------------

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"
SMALL = Resources(cpu=2, memory="4GiB")


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.source"], resources=SMALL)
def source(out: Output[Dataset], seed: int = 0) -> None:
    """Produce data."""


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.relay"], resources=SMALL)
def relay(data: Input[Dataset], out: Output[Dataset]) -> None:
    """Transform one input."""


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.join"], resources=SMALL)
def join(left: Input[Dataset], right: Input[Dataset], out: Output[Dataset]) -> None:
    """Join two inputs."""


def generated(seed: int, steps: int = 9) -> dsl.Pipeline:
    """A seeded random DAG: each step reads one or two earlier steps (any earlier layer, so the
    shape is usually not series-parallel); every third step runs as spot (a Training job, whose
    output URI holds its job name); one step retries."""
    rng = random.Random(seed)

    @dsl.pipeline(name=f"gen-{seed}")
    def pipeline() -> None:
        made = [source(seed=0), source(seed=1)]
        for i in range(2, steps):
            if rng.random() < 0.5:
                a, b = rng.sample(made, 2)
                task = join(left=a.output, right=b.output)
            else:
                task = relay(data=rng.choice(made).output)
            if i % 3 == 0:
                task.set_spot(Spot(max_wait="2h"))
            made.append(task)
        made[-2].set_retry(Retry(max_attempts=2))

    return pipeline


PIPELINES: dict[str, Callable[[], Any]] = {
    "video_analysis": lambda: load_example("video_analysis"),
    "multi_camera": lambda: load_example("multi_camera"),
    "gen-3": lambda: generated(3),
    "gen-11": lambda: generated(11),
}


def required_params(spec: PipelineSpec) -> dict[str, str]:
    """Execution input: a value for each parameter without a default."""
    return {p.name: f"s3://in/{p.name}/" for p in spec.parameters if not p.optional}


# ----- what each job must receive: from the IR and the run-scoped layout (DESIGN §6) ----------


def received(job: Job) -> dict[str, str]:
    """The input URIs a job was given, by input name."""
    if job.kind == "training":
        return {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in job.request.get("InputDataConfig", [])
        }
    return {i["InputName"]: i["S3Input"]["S3Uri"] for i in job.request.get("ProcessingInputs", [])}


def written(job: Job, output: str, run_prefix: str) -> str:
    """Where a job wrote ``output``: checked against the request, then returned."""
    step_root = f"{run_prefix}/{job.state}/"
    if job.kind == "training":
        assert job.request["OutputDataConfig"]["S3OutputPath"] == step_root, job.state
        return f"{step_root}{job.name}/output/model/{output}"
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in job.request["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs[output] == f"{step_root}{output}/", job.state
    return outputs[output]


def assert_uris_handed_over(
    spec: PipelineSpec, jobs: dict[str, Job], params: dict[str, Any], execution: str
) -> int:
    """Every artifact input of every job is exactly the URI its upstream wrote (or the
    importer's URI). Returns how many hand-overs came from a Training job."""
    run_prefix = f"{EXAMPLE_CONFIG.artifact_root}/{spec.name}/{execution}"
    importers = {i.id: i.uri for i in spec.importers}
    from_training = 0
    values = {p.name: params.get(p.name, p.default) for p in spec.parameters}
    for step in spec.steps:
        expected: dict[str, str] = {}
        for name, binding in step.arguments:
            if isinstance(binding, OutputRef):
                expected[name] = written(jobs[binding.step], binding.output, run_prefix)
                from_training += jobs[binding.step].kind == "training"
            elif isinstance(binding, ImporterRef):
                uri = importers[binding.importer]
                expected[name] = values[uri.name] if isinstance(uri, ParameterRef) else uri.value
        assert received(jobs[step.id]) == expected, step.id
    return from_training


# ----- the tests --------------------------------------------------------------------------------


def holds() -> list[tuple[str, str]]:
    """(pipeline, step) for every step some other step depends on."""
    return [
        (name, u)
        for name, make in PIPELINES.items()
        for u in sorted({u for u, _ in graph.check(make().spec).graph.edges})
    ]


@pytest.mark.parametrize(("pipeline", "held"), holds())
def test_moto_runs_each_step_after_all_its_predecessors(
    moto_sfn: MotoStepFunctions, pipeline: str, held: str
) -> None:
    spec = PIPELINES[pipeline]().spec
    text = compile_text(spec, "stepfunctions", NESTED)
    moto_sfn.resolver.hold, moto_sfn.resolver.release_after = held, free_of(text, held)
    described = moto_sfn.execute(text, required_params(spec))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert moto_sfn.resolver.stalled == []
    assert sorted(j.state for j in moto_sfn.resolver.jobs) == sorted(s.id for s in spec.steps)
    assert_order(moto_sfn.resolver, graph.check(spec))


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_moto_hands_each_job_exactly_its_upstream_uris(
    moto_sfn: MotoStepFunctions, pipeline: str
) -> None:
    spec = PIPELINES[pipeline]().spec
    params = required_params(spec)
    described = moto_sfn.execute(
        compile_text(spec, "stepfunctions", NESTED), params, name="exec-42"
    )
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert assert_uris_handed_over(spec, moto_sfn.resolver.last_jobs(), params, "exec-42") > 0
    names = [j.name for j in moto_sfn.resolver.jobs]
    assert len(set(names)) == len(names) and all(len(n) <= 63 for n in names)


def test_moto_retries_a_failed_training_job_under_a_new_name(moto_sfn: MotoStepFunctions) -> None:
    spec = load_example("video_analysis").spec
    moto_sfn.resolver.failures = {"detect-objects": 1}
    params = {"video_uri": "s3://in/v/"}
    described = moto_sfn.execute(compile_text(spec, "stepfunctions", NESTED), params, name="exec-7")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    names = [j.name for j in moto_sfn.resolver.jobs if j.state == "detect-objects"]
    assert len(names) == 2 and names[0].endswith("-0") and names[1].endswith("-1")
    assert names[0][:-2] == names[1][:-2]
    assert moto_sfn.retry_waits == [60]  # Retry(backoff="1m"): recorded, not slept
    # downstream gets the URI of the attempt that succeeded (its job name is in it)
    assert_uris_handed_over(spec, moto_sfn.resolver.last_jobs(), params, "exec-7")
    track = moto_sfn.resolver.last_jobs()["track"]
    assert names[1] in received(track)["detections"]


def test_moto_retries_inside_a_parallel_branch(moto_sfn: MotoStepFunctions) -> None:
    spec = load_example("multi_camera").spec
    moto_sfn.resolver.failures = {"detect-north": 1}
    params = required_params(spec)
    described = moto_sfn.execute(compile_text(spec, "stepfunctions", NESTED), params, name="exec-8")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    north = [j.name for j in moto_sfn.resolver.jobs if j.state == "detect-north"]
    assert len(set(north)) == 2
    assert_uris_handed_over(spec, moto_sfn.resolver.last_jobs(), params, "exec-8")


@pytest.mark.parametrize(
    ("example", "failing", "never_started"),
    [
        ("video_analysis", "track", {"summarize"}),  # no Retry: the first failure is final
        ("video_analysis", "detect-objects", {"track", "summarize"}),  # retries exhausted
        ("multi_camera", "detect-south", {"merge", "summarize"}),  # inside a Parallel branch
    ],
)
def test_moto_unrecovered_failure_ends_in_the_fail_state_naming_the_step(
    moto_sfn: MotoStepFunctions, example: str, failing: str, never_started: set[str]
) -> None:
    spec = load_example(example).spec
    moto_sfn.resolver.failures = {failing: 99}
    described = moto_sfn.execute(compile_text(spec, "stepfunctions", NESTED), required_params(spec))
    assert described["status"] == "FAILED"
    assert described["error"] == "StepFailed"
    assert f"'{failing}'" in described["cause"]
    history = moto_sfn.client.get_execution_history(executionArn=described["executionArn"])
    entered = [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if e["type"] == "FailStateEntered"
    ]
    assert entered == [f"{failing}-failed"]
    step = next(s for s in spec.steps if s.id == failing)
    attempts = [j.name for j in moto_sfn.resolver.jobs if j.state == failing]
    assert len(attempts) == (step.retry.max_attempts if step.retry else 1)  # IR: all attempts
    assert len(set(attempts)) == len(attempts)
    assert len(moto_sfn.retry_waits) == len(attempts) - 1
    assert never_started.isdisjoint(j.state for j in moto_sfn.resolver.jobs)


def test_moto_job_names_differ_between_executions_sharing_a_long_prefix(
    moto_sfn: MotoStepFunctions,
) -> None:
    text = compile_text(load_example("video_analysis"), "stepfunctions", NESTED)
    prefix = "nightly-run-for-the-video-analysis-pipeline-2026-11-25-"
    for suffix in ("a", "b"):
        described = moto_sfn.execute(text, {"video_uri": "s3://x/"}, name=prefix + suffix)
        assert described["status"] == "SUCCEEDED", described.get("cause")
    names = [j.name for j in moto_sfn.resolver.jobs]
    assert len(names) == 8 and len(set(names)) == 8


# ----- layout = "exact": run-time handshakes instead of added waits -----------------------------

EXACT_PIPELINES: dict[str, Callable[[], Any]] = {
    "corridor_handoff": lambda: load_example("corridor_handoff"),
    "gen-3": lambda: generated(3),
    "gen-11": lambda: generated(11),
    "gen-5x12": lambda: generated(5, steps=12),
}


def exact_holds() -> list[tuple[str, str]]:
    return [
        (name, u)
        for name, make in EXACT_PIPELINES.items()
        for u in sorted({u for u, _ in graph.check(make().spec).graph.edges})
    ]


def entered(moto_sfn: MotoStepFunctions, described: dict[str, Any]) -> list[str]:
    history = moto_sfn.client.get_execution_history(executionArn=described["executionArn"])
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history["events"]
        if "stateEnteredEventDetails" in e
    ]


def test_exact_pipelines_are_not_series_parallel() -> None:
    """Otherwise the tests below would prove nothing about handshakes."""
    for name, make in EXACT_PIPELINES.items():
        text = compile_text(make().spec, "stepfunctions", EXACT)
        assert '"arn:aws:states:::aws-sdk:s3:putObject.waitForTaskToken"' in text, name
        nested = compile_spec(make().spec, load_target("stepfunctions"), NESTED)
        assert any("now also waits for" in n for n in nested.notes), name


@pytest.mark.parametrize(("pipeline", "held"), exact_holds())
def test_moto_exact_layout_holds_back_only_the_steps_downstream(
    moto_sfn: MotoStepFunctions, pipeline: str, held: str
) -> None:
    """While one step runs, every step not downstream of it in the DAG can finish: the
    execution stalls if the state machine made any of them wait for the held step (which the
    nested layout does), and ``assert_order`` fails if a downstream step started early."""
    spec = EXACT_PIPELINES[pipeline]().spec
    dag = graph.check(spec).graph
    text = compile_text(spec, "stepfunctions", EXACT)
    moto_sfn.resolver.hold = held
    moto_sfn.resolver.release_after = frozenset(dag) - nx.descendants(dag, held) - {held}
    described = moto_sfn.execute(text, required_params(spec))
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert moto_sfn.resolver.stalled == []
    assert sorted(j.state for j in moto_sfn.resolver.jobs) == sorted(s.id for s in spec.steps)
    assert_order(moto_sfn.resolver, graph.check(spec))


def test_nested_layout_stalls_where_exact_does_not(moto_sfn: MotoStepFunctions) -> None:
    """The check above can fail: the nested layout makes a hand-off wait for the far camera."""
    spec = load_example("corridor_handoff").spec
    dag = graph.check(spec).graph
    moto_sfn.resolver.hold = "track-east"
    moto_sfn.resolver.release_after = (
        frozenset(dag) - nx.descendants(dag, "track-east") - {"track-east"}
    )
    moto_sfn.resolver.hold_limit = 0.5  # give up quickly: the stall is what is asserted
    moto_sfn.execute(compile_text(spec, "stepfunctions", NESTED), required_params(spec))
    assert moto_sfn.resolver.stalled == ["track-east"]


def handshake_key(spec: PipelineSpec, execution: str, upstream: str, downstream: str) -> str:
    prefix = EXAMPLE_CONFIG.artifact_root.removeprefix(f"s3://{ARTIFACT_BUCKET}/")
    return f"{prefix}/{spec.name}/{execution}/_pipecast/handshakes/{upstream}/{downstream}.json"


def handshake_edges(document: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(upstream, downstream, the job before the downstream in its branch or None), from the
    compiled document's state names and ``Next`` chains."""
    found = []
    for branch in _branches(document):
        name, previous_job = branch["StartAt"], None
        while name is not None:
            state = branch["States"][name]
            if " waits for " in name and ": " not in name:
                downstream, upstream = name.split(" waits for ")
                found.append((upstream, downstream, previous_job))
            if ":sagemaker:" in state.get("Resource", ""):
                previous_job = name
            name = None if state.get("End") else state.get("Next")
    return found


def _branches(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            yield branch
            yield from _branches(branch)


@pytest.mark.parametrize("pipeline", list(EXACT_PIPELINES))
@pytest.mark.parametrize("first", ["downstream", "upstream"])
def test_moto_exact_layout_hands_over_uris_whoever_comes_first(
    moto_sfn: MotoStepFunctions, pipeline: str, first: str
) -> None:
    """Each job gets exactly its upstream URIs (Training URIs too) across a handshake, both
    when the downstream was already waiting (resumed by a task token) and when the upstream had
    finished first (its outputs read from S3)."""
    spec = EXACT_PIPELINES[pipeline]().spec
    text = compile_text(spec, "stepfunctions", EXACT)
    edges = handshake_edges(json.loads(text))
    s3 = boto3.client("s3", region_name=REGION)
    if first == "downstream":  # the upstream's job ends only once the downstream is waiting
        upstream, downstream, _ = edges[0]
        moto_sfn.resolver.hold = upstream
    else:  # the job before the downstream ends only once the upstream has signalled
        upstream, downstream, before = next(e for e in edges if e[2] is not None)
        moto_sfn.resolver.hold = before
    key = handshake_key(spec, "exec-1", upstream, downstream)
    moto_sfn.resolver.release_when = lambda: (
        "Contents" in s3.list_objects_v2(Bucket=ARTIFACT_BUCKET, Prefix=key)
    )
    params = required_params(spec)
    described = moto_sfn.execute(text, params, name="exec-1")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert moto_sfn.resolver.stalled == []
    assert_uris_handed_over(spec, moto_sfn.resolver.last_jobs(), params, "exec-1")
    states = entered(moto_sfn, described)
    resumed = f"{upstream} signals {downstream}: resume it" in states
    found = f"{downstream} waits for {upstream}: already done" in states
    assert (resumed, found) == (first == "downstream", first == "upstream")
    recorded = json.loads(s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read())
    assert set(recorded) == ({"token"} if first == "downstream" else {"uris"})  # one writer


def training_handshakes() -> list[tuple[str, str, str]]:
    """(pipeline, upstream, downstream): a Training job's output read across a handshake."""
    found = []
    for name, make in EXACT_PIPELINES.items():
        spec = make().spec
        text = compile_text(spec, "stepfunctions", EXACT)
        for upstream, downstream, _ in handshake_edges(json.loads(text)):
            reads = spec.step(downstream).upstream_steps()
            if upstream in reads and spec.step(upstream).spot is not None:
                found.append((name, upstream, downstream))
    return found


@pytest.mark.parametrize(("pipeline", "upstream", "downstream"), training_handshakes())
def test_moto_exact_layout_carries_a_training_uri_through_a_handshake(
    moto_sfn: MotoStepFunctions, pipeline: str, upstream: str, downstream: str
) -> None:
    """A spot (Training) job's output URI holds its job name, so only the handshake can bring
    it to a step in another branch; after a retry (where the step has one) it must be the
    successful attempt's."""
    spec = EXACT_PIPELINES[pipeline]().spec
    params = required_params(spec)
    retried = spec.step(upstream).retry is not None
    moto_sfn.resolver.failures = {upstream: 1} if retried else {}
    text = compile_text(spec, "stepfunctions", EXACT)
    described = moto_sfn.execute(text, params, name="exec-9")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    jobs = moto_sfn.resolver.last_jobs()
    assert_uris_handed_over(spec, jobs, params, "exec-9")
    attempts = [j.name for j in moto_sfn.resolver.jobs if j.state == upstream]
    assert len(attempts) == 1 + retried and attempts[-1].endswith(f"-{int(retried)}")
    assert any(f"/{attempts[-1]}/" in uri for uri in received(jobs[downstream]).values())


def test_some_handshake_carries_a_training_uri() -> None:
    assert training_handshakes(), "no generated DAG reads a Training output across a handshake"


def test_moto_exact_layout_failure_upstream_of_a_handshake_fails_the_run(
    moto_sfn: MotoStepFunctions,
) -> None:
    """A job failing for good ends in its Fail state; the branch waiting for it never runs."""
    spec = load_example("corridor_handoff").spec
    moto_sfn.resolver.failures = {"track-middle": 99}
    described = moto_sfn.execute(compile_text(spec, "stepfunctions", EXACT), required_params(spec))
    assert described["status"] == "FAILED"
    assert described["error"] == "StepFailed" and "'track-middle'" in described["cause"]
    ran = {j.state for j in moto_sfn.resolver.jobs}
    assert {"handoff-west-middle", "handoff-middle-east", "report"}.isdisjoint(ran)


def test_moto_exact_layout_broken_handshake_fails_with_a_clear_cause(
    moto_sfn: MotoStepFunctions,
) -> None:
    """Without access to the bucket a handshake cannot happen: the run fails naming the edge
    and the permissions to check, instead of hanging."""
    spec = load_example("corridor_handoff").spec
    config = EXACT.with_overrides({"artifact_root": "s3://no-such-bucket/pipelines"})
    described = moto_sfn.execute(compile_text(spec, "stepfunctions", config), required_params(spec))
    assert described["status"] == "FAILED"
    assert described["error"] == "HandshakeFailed"
    assert "s3:PutObject" in described["cause"] and "states:SendTaskSuccess" in described["cause"]
    assert " -> handoff-" in described["cause"]


def mixed() -> dsl.Pipeline:
    """Two "N" blocks in series: the first costs time if serialised (a and d are long), the
    second does not (equal steps), so ``auto`` handshakes the first and nests the second."""

    @dsl.pipeline(name="mixed")
    def pipeline() -> None:
        a = source(seed=0).set_name("a").set_expected_duration("10m")
        b = source(seed=1).set_name("b").set_expected_duration("1m")
        c = join(left=a.output, right=b.output).set_name("c").set_expected_duration("1m")
        d = relay(data=b.output).set_name("d").set_expected_duration("10m").set_spot(Spot())
        e = join(left=c.output, right=d.output).set_name("e").set_expected_duration("1m")
        p = relay(data=e.output).set_name("p").set_expected_duration("1m")
        q = relay(data=e.output).set_name("q").set_expected_duration("1m")
        join(left=p.output, right=q.output).set_name("r").set_expected_duration("1m")
        relay(data=q.output).set_name("s").set_expected_duration("1m")

    return pipeline


def test_moto_auto_layout_mixes_nested_waits_and_handshakes_correctly(
    moto_sfn: MotoStepFunctions,
) -> None:
    """``auto`` keeps a free block nested (its waits reported) and handshakes a costly one in
    the same machine: every edge still holds and every job gets exactly its upstream URIs."""
    spec = mixed().spec
    auto = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "auto"})
    document = compile_spec(spec, load_target("stepfunctions"), auto)
    assert any("1 edge(s) are enforced by run-time handshakes" in n for n in document.notes)
    assert any("now also waits for" in n for n in document.notes)
    params = required_params(spec)
    described = moto_sfn.execute(document.text, params, name="e-3")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert_order(moto_sfn.resolver, graph.check(spec))
    assert_uris_handed_over(spec, moto_sfn.resolver.last_jobs(), params, "e-3")
