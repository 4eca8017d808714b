"""Control flow on Step Functions (DESIGN §12), proven by execution against the local runner.

Each pipeline runs twice with the same parameters and the same step behaviour: once in the local
runner (the reference semantics, steps replaced by fakes) and once as the compiled state machine
in moto's Step Functions interpreter (the ``moto_sfn`` fixture of ``test_stepfunctions_moto``:
jsonata-python as its JSONata engine, SageMaker ``.sync`` jobs played by a resolver, AWS SDK S3
calls against moto's S3). Here the resolver also *runs* each job's behaviour: it reads the
job's container arguments (``--name value``) and writes the output parameters the behaviour
returns to the S3 key the job's request says (``{output S3Uri}/value.json``), as a container
would, so ``s3:getObject``/``listObjectsV2`` states, ``Choice`` conditions, ``Map`` items and the
Distributed Map's ``ItemReader`` read real objects. Compared: the jobs each step ran (their
parameter arguments, per iteration), the branches taken, and the final status. Every compiled
document is also checked by asl-validator and statelint.

Where moto lacks a feature, a test-side shim (the ``flow_sfn`` fixture) models it:

- **ToleratedFailurePercentage**: moto's Distributed Map counts failed child executions but
  never fails the Map Run (a TODO in moto 5.x). The shim wraps the Map Run: when the failed
  items exceed the state's ``ToleratedFailurePercentage`` of the items, the Map state fails with
  ``States.ExceedToleratedFailureThreshold``, as Step Functions documents.

- **A whole-number ToleratedFailurePercentage**: moto's ASL grammar reads only a decimal
  number there (``0.0``), while statelint requires an integer and Step Functions takes either;
  the document says ``0`` and the shim hands moto ``0.0``.

Moto runs a Distributed Map's iterations as workers of the same execution rather than as child
executions; the document's child-execution settings (``ProcessorConfig``, ``ItemReader``) are
checked by asl-validator and statelint instead.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from asl_interpreter import TaskFailed, evaluate
from helpers import EXAMPLE_CONFIG, ROOT, compile_text, load_example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import (  # noqa: E501
    DistributedIterationComponent,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from test_literals import TEXT, TEXT_BMP
from test_stepfunctions_moto import (  # noqa: F401 (the fixture)
    REGION,
    MotoStepFunctions,
    SageMakerResolver,
    moto_sfn,
)

from pipecast import dsl
from pipecast.compilers.stepfunctions_validate import validate_document
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.dsl.spec import render_value
from pipecast.testing import run_offline

BUCKET = EXAMPLE_CONFIG.artifact_root.removeprefix("s3://").partition("/")[0]
Behaviour = dict[str, Any]  # step id → callable(params: dict[str, str]) -> dict[output, value]


class StepBroke(Exception):
    """A behaviour raises this to make the step fail (locally and as a SageMaker job)."""


def parse_args(arguments: list[str]) -> dict[str, str]:
    return {k.removeprefix("--"): v for k, v in zip(arguments[::2], arguments[1::2], strict=True)}


@dataclass
class Played:
    """One job as the behaviour saw it: the step, its parameter arguments."""

    step: str
    params: dict[str, str]


@dataclass
class BehaviourResolver(SageMakerResolver):
    """Plays jobs by running a behaviour and writing its output parameters to S3."""

    behaviour: Behaviour = field(default_factory=dict)
    played: list[Played] = field(default_factory=list)
    spec: Any = None

    def run(self, state: str, resource: str, request: dict[str, Any]) -> dict[str, Any]:
        training = "createTrainingJob" in resource
        name = request["TrainingJobName" if training else "ProcessingJobName"]
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name), name  # SageMaker's rule
        with self.cond:
            assert all(j.name != name for j in self.jobs), f"job name reused: {name}"
        result = super().run(state, resource, request)  # records the job, applies `failures`
        step = state.removesuffix("-after-failure")
        spec = request["AlgorithmSpecification" if training else "AppSpecification"]
        args = parse_args(spec.get("ContainerArguments", []))
        comp = self.spec.component(self.spec.step(step).component)
        params = {
            k: v
            for k, v in args.items()
            if (i := comp.input(k)) is not None and i.kind == "parameter"
        }
        with self.cond:
            self.played.append(Played(step, params))
        try:
            values = self.behaviour.get(step, lambda _: {})(params)
        except StepBroke as exc:
            raise TaskFailed("States.TaskFailed", f"{name}: {exc}") from None
        s3 = boto3.client("s3", region_name=REGION)
        for out in comp.outputs:
            if out.kind != "parameter" or out.name not in values:
                continue
            local = args[out.name]  # the container's path for it: <output folder>/value.json
            if training:
                uri = result["ModelArtifacts"]["S3ModelArtifacts"] + f"/{out.name}/"
                assert local == f"/opt/ml/model/{out.name}/value.json"
            else:
                outputs = request["ProcessingOutputConfig"]["Outputs"]
                uri = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == out.name)
                assert local == f"/opt/ml/processing/output/{out.name}/value.json"
            key = uri.removeprefix(f"s3://{BUCKET}/") + "value.json"
            s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(values[out.name]).encode())
        return result


def local_fakes(spec: Any, behaviour: Behaviour) -> dict[str, Any]:
    """The same behaviour as local-runner fakes (parameters rendered as on a command line)."""
    fakes = {}
    for step in spec.steps:
        comp = spec.component(step.component)

        def fake(_step: str = step.id, _comp: Any = comp, **kwargs: Any) -> None:
            params = {
                k: render_value(v)
                for k, v in kwargs.items()
                if (i := _comp.input(k)) is not None and i.kind == "parameter"
            }
            values = behaviour.get(_step, lambda _: {})(params)  # StepBroke fails the step
            for out in _comp.outputs:
                if out.kind == "parameter" and out.name in values:
                    Path(kwargs[out.name]).write_text(json.dumps(values[out.name]))

        fakes[step.id] = fake
    return fakes


def normalised(params: dict[str, str]) -> str:
    """Parameters as compared: RUN_STATUS by meaning (state and failed step; the error text is
    each platform's own: a local exception, a Step Functions cause)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        try:
            status = json.loads(v)
        except ValueError:
            status = None
        if isinstance(status, dict) and set(status) == {"state", "failed_step", "error"}:
            out[k] = {"state": status["state"], "failed_step": status["failed_step"]}
        else:
            out[k] = v
    return json.dumps(out, sort_keys=True)


@dataclass
class Both:
    local: Any
    described: dict[str, Any]
    resolver: BehaviourResolver
    document: dict[str, Any]

    client: Any = None

    def failures(self) -> list[Any]:
        """The failure events of the execution (what a failed assertion shows)."""
        events = self.client.get_execution_history(
            executionArn=self.described["executionArn"], maxResults=1000
        )["events"]
        return [
            {k: v for k, v in e.items() if k.endswith("Details")}
            for e in events
            if "Failed" in e["type"] or "Aborted" in e["type"]
        ][:3]

    def local_spec(self) -> Any:
        return self.resolver.spec

    def iterations(self, map_state: str) -> list[int]:
        """The indices of the iterations a Map state of the execution itself started."""
        events = self.client.get_execution_history(
            executionArn=self.described["executionArn"], maxResults=1000
        )["events"]
        return sorted(
            e["mapIterationStartedEventDetails"]["index"]
            for e in events
            if e["type"] == "MapIterationStarted"
            and e["mapIterationStartedEventDetails"]["name"] == map_state
        )

    def local_jobs(self) -> Counter[tuple[str, str]]:
        """(step, its parameters as JSON) for every step instance the local runner ran."""
        found: Counter[tuple[str, str]] = Counter()
        for key, result in self.local.steps.items():
            if result.status in ("succeeded", "failed"):
                params = {k: render_value(v) for k, v in result.parameters.items()}
                found[(key.split("/", 1)[0], normalised(params))] += 1
        return found

    def cloud_jobs(self) -> Counter[tuple[str, str]]:
        return Counter((p.step, normalised(p.params)) for p in self.resolver.played)


def run_both(
    moto_sfn: MotoStepFunctions,  # noqa: F811 (a parameter, not the fixture)
    pipeline: Any,
    behaviour: Behaviour,
    tmp_path: Path,
    params: dict[str, Any] | None = None,
    name: str = "run-1",
) -> Both:
    spec = pipeline.spec
    local = run_offline(pipeline, tmp_path / name, params, fakes=local_fakes(spec, behaviour))
    resolver = moto_sfn.resolver
    assert isinstance(resolver, BehaviourResolver)
    resolver.behaviour, resolver.spec = behaviour, spec
    document = compile_text(pipeline, "stepfunctions")
    described = moto_sfn.execute(document, params or {}, name=name)
    return Both(local, described, resolver, json.loads(document), moto_sfn.client)


def _tolerated_failures(original: Any) -> Any:
    """The ToleratedFailurePercentage shim (see the module docstring)."""

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        record = eval_input.map_run_record
        failed = record.item_counter.failed.get()
        total = max(record.item_counter.total.get(), 1)
        if failed and failed * 100.0 / total > record.tolerated_failure_percentage:
            details = MapRunFailedEventDetails(
                error="States.ExceedToleratedFailureThreshold",
                cause="The specified tolerated failure threshold was exceeded",
            )
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName.from_name("States.ExceedToleratedFailureThreshold"),
                    event_type=HistoryEventType.MapRunFailed,
                    event_details=EventDetails(mapRunFailedEventDetails=details),
                )
            )

    return map_run


@pytest.fixture
def flow_sfn(
    moto_sfn: MotoStepFunctions,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> MotoStepFunctions:
    """``moto_sfn`` whose jobs run a behaviour (the service holds the fixture's resolver, so
    that resolver hands every job to ours), with the shim of the module docstring."""
    component = DistributedIterationComponent
    monkeypatch.setattr(component, "_map_run", _tolerated_failures(component._map_run))
    ours = BehaviourResolver()
    moto_sfn.resolver.run = ours.run  # type: ignore[method-assign]
    moto_sfn.resolver = ours
    execute = moto_sfn.execute

    def in_moto_grammar(document: str, params: dict[str, Any], name: str = "run-1") -> Any:
        return execute(decimal_tolerance(document), params, name)

    moto_sfn.execute = in_moto_grammar  # type: ignore[method-assign]
    return moto_sfn


def decimal_tolerance(document: str) -> str:
    """The document with ``ToleratedFailurePercentage`` as a decimal (the shim above)."""

    def walk(machine: dict[str, Any]) -> None:
        for state in machine["States"].values():
            if isinstance(state.get("ToleratedFailurePercentage"), int):
                state["ToleratedFailurePercentage"] = float(state["ToleratedFailurePercentage"])
            if "ItemProcessor" in state:
                walk(state["ItemProcessor"])
            for branch in state.get("Branches", []):
                walk(branch)

    parsed = json.loads(document)
    walk(parsed)
    return json.dumps(parsed)


def assert_same(both: Both) -> None:
    assert both.described["status"] != "FAILED" or not both.local.succeeded, both.failures()
    assert both.cloud_jobs() == both.local_jobs()
    expected = "SUCCEEDED" if both.local.succeeded else "FAILED"
    assert both.described["status"] == expected, both.described.get("cause")


# ----- the example ----------------------------------------------------------------------------


def triage_behaviour(moving: dict[str, int], broken: set[str] = frozenset()) -> Behaviour:
    def count(p: dict[str, str]) -> dict[str, Any]:
        if p["camera"] in broken:
            raise StepBroke(f"camera {p['camera']} unreadable")
        return {"moving": moving.get(p["camera"], 0)}

    return {"count-motion": count}


@pytest.mark.parametrize(
    ("cameras", "moving"),
    [
        (["lobby", "gate", "dock", "yard"], {"lobby": 3, "dock": 1}),  # some branches taken
        (["lobby"], {}),  # one item, branch not taken
        ([], {}),  # no items
        (["a", "b", "c", "d", "e"], {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}),  # every branch
    ],
)
def test_camera_triage_runs_the_same_jobs_as_the_local_runner(
    flow_sfn: MotoStepFunctions, tmp_path: Path, cameras: list[str], moving: dict[str, int]
) -> None:
    both = run_both(
        flow_sfn,
        load_example("camera_triage"),
        triage_behaviour(moving),
        tmp_path,
        {"cameras": cameras},
    )
    assert_same(both)
    # the Map ran one iteration per item, as the local runner's loop did
    loop = next(g.id for g in both.local_spec().groups if g.kind == "loop")
    local_loops = json.loads((both.local.run_dir / "run.json").read_text())["loops"]
    assert both.iterations(loop) == list(range(len(local_loops[loop]))) == list(range(len(cameras)))
    detected = sorted(
        p.params["camera"] for p in both.resolver.played if p.step == "detect-objects"
    )
    assert detected == sorted(c for c in cameras if moving.get(c, 0) >= 1)


def test_a_failing_iteration_fails_the_run_and_the_exit_task_sees_it(
    flow_sfn: MotoStepFunctions, tmp_path: Path
) -> None:
    both = run_both(
        flow_sfn,
        load_example("camera_triage"),
        triage_behaviour({"gate": 2}, broken={"gate"}),
        tmp_path,
        {"cameras": ["gate"]},
    )
    assert not both.local.succeeded
    assert_same(both)
    status = next(p.params["status"] for p in both.resolver.played if p.step == "status-report")
    assert json.loads(status)["failed_step"] == "count-motion"
    assert json.loads(status)["state"] == "FAILED"


def test_a_failing_iteration_among_many_stops_the_map(
    flow_sfn: MotoStepFunctions, tmp_path: Path
) -> None:
    """Step Functions stops a Map at its first failed iteration (``ToleratedFailurePercentage``
    0 semantics); the local runner lets the other iterations finish. Both fail the run, both run
    the exit task with the failed step, and the cloud runs no job the local runner did not."""
    cameras = ["lobby", "gate", "dock", "yard"]
    both = run_both(
        flow_sfn,
        load_example("camera_triage"),
        triage_behaviour({"lobby": 1, "dock": 1}, broken={"dock"}),
        tmp_path,
        {"cameras": cameras},
    )
    assert_same_failure(both, "count-motion")


def assert_same_failure(both: Both, step: str) -> None:
    assert not both.local.succeeded and both.described["status"] == "FAILED"
    cloud, local = both.cloud_jobs(), both.local_jobs()
    assert cloud - local == Counter(), "the cloud ran a job the local runner did not"
    exits = [p for p in both.resolver.played if "status" in p.params]
    assert len(exits) == 1 and json.loads(exits[0].params["status"])["failed_step"] == step


# ----- small pipelines: a list output (Distributed Map), nested loops, dict items -------------

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/flow/step:1.0.0"
SMALL = Resources(cpu=1, memory="2GiB")


@dsl.container_component(image=IMAGE, command=["list"], resources=SMALL)
def list_shards(prefix: str, shards: Output[list]):
    """List the shards under a prefix (a list output: the items of a Distributed Map)."""


@dsl.container_component(image=IMAGE, command=["measure"], resources=SMALL)
def measure(shard: str, frames: Output[Dataset], size: Output[int]):
    """Measure one shard."""


@dsl.container_component(
    image=IMAGE, command=["chunk"], resources=SMALL, spot=Spot(max_wait="1h"), timeout="30m"
)
def chunk(shard: str, part: str, frames: Input[Dataset], score: Output[float]):
    """Process one part of one shard on spot capacity (a Training job)."""


@dsl.container_component(image=IMAGE, command=["tag"], resources=SMALL)
def tag(label: str, weight: int, note: str):
    """Tag with a dict item's fields."""


@dsl.container_component(image=IMAGE, command=["total"], resources=SMALL)
def total(sizes: list, frames: Input[Dataset], summary: Output[Dataset]):
    """Fan in every shard's size and frames."""


LABELS = [
    {"label": "plain", "weight": 1},
    {"label": "{% $states.input %}", "weight": 2},  # a user string shaped like JSONata
]


@dsl.pipeline(name="shard-flow")
def shard_flow(
    prefix: str = "s3://acme-ml/in/",
    parts: list = ["a", "b"],  # noqa: B006
    note: str = "n",
):
    """Items from a step (Distributed Map), a nested loop over a parameter, dict items."""
    shards = list_shards(prefix=prefix)
    with dsl.ParallelFor(shards.outputs["shards"], parallelism=3) as shard:
        size = measure(shard=shard)
        with dsl.ParallelFor(parts, parallelism=1) as part:
            chunk(shard=shard, part=part, frames=size.outputs["frames"])
    with dsl.ParallelFor(LABELS) as item:
        tag(label=item["label"], weight=item["weight"], note=note)
    total(sizes=dsl.Collected(size.outputs["size"]), frames=dsl.Collected(size.outputs["frames"]))


def shard_behaviour(shards: list[str], broken: set[str] = frozenset()) -> Behaviour:
    def chunk_(p: dict[str, str]) -> dict[str, Any]:
        if f"{p['shard']}/{p['part']}" in broken:
            raise StepBroke("chunk failed")
        return {"score": 0.5}

    return {
        "list-shards": lambda p: {"shards": shards},
        "measure": lambda p: {"size": len(p["shard"])},
        "chunk": chunk_,
    }


@pytest.mark.parametrize(
    "shards", [["s0", "shard-11", "x"], ["only"], [], [f"s{i}" for i in range(12)]]
)
def test_items_from_a_step_output_nested_loops_and_dict_items(
    flow_sfn: MotoStepFunctions, tmp_path: Path, shards: list[str]
) -> None:
    both = run_both(flow_sfn, shard_flow, shard_behaviour(shards), tmp_path, {"parts": ["p", "q"]})
    assert_same(both)
    chunks = sorted(
        (p.params["shard"], p.params["part"]) for p in both.resolver.played if p.step == "chunk"
    )
    assert chunks == sorted((s, part) for s in shards for part in ("p", "q"))
    tags = sorted(p.params["label"] for p in both.resolver.played if p.step == "tag")
    assert tags == sorted(i["label"] for i in LABELS)  # the JSONata-shaped label, verbatim


def test_the_collected_folder_and_values_are_in_iteration_order(
    flow_sfn: MotoStepFunctions, tmp_path: Path
) -> None:
    shards = [f"s{'x' * i}" for i in range(11)]  # 11 iterations: "10" sorts before "2" as text
    both = run_both(flow_sfn, shard_flow, shard_behaviour(shards), tmp_path)
    assert_same(both)
    (job,) = [j for j in both.resolver.jobs if j.state == "total"]
    (frames,) = [i for i in job.request["ProcessingInputs"] if i["InputName"] == "frames"]
    assert frames["S3Input"]["S3Uri"] == (
        f"{EXAMPLE_CONFIG.artifact_root}/shard-flow/run-1/measure/frames/"
    )
    sizes = json.loads(next(p.params["sizes"] for p in both.resolver.played if p.step == "total"))
    assert sizes == [len(s) for s in shards]


def test_a_failing_nested_iteration_fails_the_run(
    flow_sfn: MotoStepFunctions, tmp_path: Path
) -> None:
    both = run_both(flow_sfn, shard_flow, shard_behaviour(["s0"], broken={"s0/b"}), tmp_path)
    assert not both.local.succeeded and both.described["status"] == "FAILED"
    assert both.cloud_jobs() - both.local_jobs() == Counter()
    assert not any(p.step == "total" for p in both.resolver.played)


def test_the_document_says_how_each_loop_runs() -> None:
    document = json.loads(compile_text(shard_flow, "stepfunctions"))
    maps = {}

    def walk(machine: dict[str, Any]) -> None:
        for name, state in machine["States"].items():
            if state["Type"] == "Map":
                maps[name] = state
                walk(state["ItemProcessor"])
            for branch in state.get("Branches", []):
                walk(branch)

    walk(document)
    spec = shard_flow.spec
    loops = {g.id: g for g in spec.groups if g.kind == "loop"}
    assert set(loops) <= set(maps)
    for gid, group in loops.items():
        state = maps[gid]
        assert state["MaxConcurrency"] == (group.parallelism or 0)
        mode = state["ItemProcessor"]["ProcessorConfig"]["Mode"]
        from_step = type(group.items).__name__ == "OutputRef"
        assert mode == ("DISTRIBUTED" if from_step else "INLINE"), gid
        if from_step:
            assert state["ToleratedFailurePercentage"] == 0
            assert state["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
            assert "Items" not in state


# ----- If / Elif / Else, OneOf, a spot step's value, an exit handler around a failing step -----


@dsl.container_component(image=IMAGE, command=["probe"], resources=SMALL)
def probe(mode: str, kind: Output[str], level: Output[int]):
    """Decide which way to go."""


@dsl.container_component(
    image=IMAGE, command=["heavy"], resources=SMALL, spot=Spot(max_wait="1h"), timeout="30m"
)
def heavy(level: int, score: Output[float]):
    """The expensive path, on spot capacity (its value lands under the Training job's prefix)."""


@dsl.container_component(image=IMAGE, command=["light"], resources=SMALL)
def light(level: int, score: Output[float]):
    """The cheap path."""


@dsl.container_component(image=IMAGE, command=["skip"], resources=SMALL)
def skip(kind: str):
    """Neither path."""


@dsl.container_component(image=IMAGE, command=["publish"], resources=SMALL)
def publish(score: float, kind: str):
    """Publish whichever score was made."""


@dsl.container_component(image=IMAGE, command=["notify"], resources=SMALL)
def notify(status: str):
    """The exit task."""


@dsl.pipeline(name="branch-flow")
def branch_flow(mode: str = "big", threshold: int = 5):
    """Exclusive branches joined with OneOf, under an exit handler."""
    done = notify(status=dsl.RUN_STATUS)
    with dsl.ExitHandler(done):
        p = probe(mode=mode)
        with dsl.If(p.outputs["kind"] == "big"):
            h = heavy(level=p.outputs["level"])
        with dsl.Elif(p.outputs["level"] < threshold):
            lt = light(level=p.outputs["level"])
        with dsl.Else():
            fb = light(level=p.outputs["level"]).set_name("fallback")
        skip(kind=p.outputs["kind"])
        one = dsl.OneOf(h.outputs["score"], lt.outputs["score"], fb.outputs["score"])
        publish(score=one, kind=p.outputs["kind"])


def branch_behaviour(broken: set[str] = frozenset()) -> Behaviour:
    def step(name: str, result: Any) -> Any:
        def run(p: dict[str, str]) -> Any:
            if name in broken:
                raise StepBroke(f"{name} broke")
            return result(p)

        return run

    return {
        "probe": step("probe", lambda p: {"kind": p["mode"], "level": len(p["mode"])}),
        "heavy": step("heavy", lambda p: {"score": 2.5}),
        "light": step("light", lambda p: {"score": 0.25}),
        "fallback": step("fallback", lambda p: {"score": 0.125}),
        "publish": step("publish", lambda p: {}),
        "skip": step("skip", lambda p: {}),
    }


@pytest.mark.parametrize(
    ("mode", "threshold"),
    [("big", 5), ("tiny", 5), ("enormous", 5), ("big", 1)],  # If, Elif, Else, If
)
def test_branches_and_one_of_match_the_local_runner(
    flow_sfn: MotoStepFunctions, tmp_path: Path, mode: str, threshold: int
) -> None:
    params = {"mode": mode, "threshold": threshold}
    both = run_both(flow_sfn, branch_flow, branch_behaviour(), tmp_path, params)
    assert_same(both)
    ran = {p.step for p in both.resolver.played}
    taken = {k for k, v in both.local.branches.items() if v}
    assert ("heavy" in ran) == (branch_flow.spec.step("heavy").group in taken)
    assert ("fallback" in ran) == (mode != "big" and len(mode) >= threshold)


@pytest.mark.parametrize("broken", ["probe", "heavy", "publish"])
def test_a_failing_step_inside_the_exit_handler(
    flow_sfn: MotoStepFunctions, tmp_path: Path, broken: str
) -> None:
    both = run_both(flow_sfn, branch_flow, branch_behaviour({broken}), tmp_path, {"mode": "big"})
    assert not both.local.succeeded
    assert_same(both)  # the same jobs: the exit task with FAILED and the failed step's id
    status = json.loads(
        next(p.params["status"] for p in both.resolver.played if p.step == "notify")
    )
    assert status["state"] == "FAILED" and status["failed_step"] == broken
    assert both.described["status"] == "FAILED"


def test_a_failing_step_beside_running_branches(
    flow_sfn: MotoStepFunctions, tmp_path: Path
) -> None:
    """``skip`` runs beside the branches: on Step Functions its failure cancels the Parallel
    state's other branches, while the local runner lets independent steps finish. The run
    fails on both, the exit task gets the same failed step, and the cloud ran nothing extra."""
    both = run_both(flow_sfn, branch_flow, branch_behaviour({"skip"}), tmp_path, {"mode": "big"})
    assert_same_failure(both, "skip")


# ----- literals stay literal in the new states (DESIGN §15) -------------------------------------


@dsl.container_component(image=IMAGE, command=["echo"], resources=SMALL)
def echo(text: str, key: str):
    """Receives a user string."""


def literal_flow(items: list[str], const: str) -> Any:
    """Loop items and a condition constant written by the user."""

    @dsl.pipeline(name="literal-flow")
    def pipe(word: str = "w"):
        with dsl.ParallelFor(items) as item, dsl.If(item == const):
            echo(text=item, key="match")
        with dsl.ParallelFor([{"k": i} for i in items]) as row:
            echo(text=row["k"], key="row")
        with dsl.If(word == const):
            echo(text=const, key="word")

    return pipe


def choice_and_map_states(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in document["States"].values():
        if state["Type"] in ("Choice", "Map"):
            yield state
        if "ItemProcessor" in state:
            yield from choice_and_map_states(state["ItemProcessor"])
        for branch in state.get("Branches", []):
            yield from choice_and_map_states(branch)


@settings(max_examples=60, deadline=None)
@given(st.lists(TEXT, max_size=3), TEXT)
def test_loop_items_and_condition_constants_evaluate_to_the_user_strings(
    items: list[str], const: str
) -> None:
    """Evaluated with jsonata-python by Step Functions' rule (a ``{% %}`` string is JSONata):
    the Map's items are the user's strings, and a Choice holds exactly when they are equal."""
    document = json.loads(compile_text(literal_flow(items, const), "stepfunctions"))
    maps = [s for s in choice_and_map_states(document) if s["Type"] == "Map"]
    assert evaluate(maps[0]["Items"], {}) == items
    assert evaluate(maps[1]["Items"], {}) == [{"k": i} for i in items]
    choices = [s for s in choice_and_map_states(document) if s["Type"] == "Choice"]
    (word,) = [c for c in choices if "params" in c["Choices"][0]["Condition"]]
    (per_item,) = [c for c in choices if c is not word]
    loop = next(g.id for g in literal_flow(items, const).spec.groups if g.kind == "loop")
    for value in (const, const + "x", *items):
        payload = {"params": {"word": value}, "loops": {loop: {"index": 0, "item": value}}}
        for choice in (word, per_item):
            holds = evaluate(choice["Choices"][0]["Condition"], {"states": {"input": payload}})
            assert holds is (value == const)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(TEXT_BMP, min_size=1, max_size=3, unique=True), TEXT_BMP)
def test_loop_items_and_condition_constants_in_moto(
    flow_sfn: MotoStepFunctions, items: list[str], const: str
) -> None:
    """Moto runs the machine: every job gets the user's string byte for byte, and only the
    iterations whose item equals the constant take the branch."""
    before = len(flow_sfn.resolver.played)
    pipe = literal_flow(items, const)
    flow_sfn.resolver.spec = pipe.spec
    described = flow_sfn.execute(
        compile_text(pipe, "stepfunctions"), {"word": const}, name=f"run-{before}"
    )
    assert described["status"] == "SUCCEEDED"
    played = flow_sfn.resolver.played[before:]
    got = Counter((p.params["key"], p.params["text"]) for p in played)
    expected = Counter(("row", i) for i in items) + Counter(("word", const) for _ in [0])
    expected += Counter(("match", i) for i in items if i == const)
    assert got == expected


# ----- review: a changed condition, loop items or parallelism is one readable line -------------


def variant(items: list[str], parallelism: int, op: str) -> Any:
    @dsl.pipeline(name="review-flow")
    def pipe(limit: int = 3):
        with dsl.ParallelFor(items, parallelism=parallelism) as item:
            m = measure(shard=item)
            cond = m.outputs["size"] > limit if op == ">" else m.outputs["size"] <= limit
            with dsl.If(cond):
                echo(text=item, key="k")

    return pipe


@pytest.mark.parametrize(
    ("new", "line"),
    [
        ((["a", "b"], 3, ">"), "parallelism: 2 → 3"),
        ((["a", "c"], 2, ">"), 'items[1]: "b" → "c"'),
        ((["a", "b"], 2, "<="), "condition: (measure.size > limit) → (measure.size <= limit)"),
    ],
)
def test_diff_shows_a_changed_condition_items_or_parallelism_as_one_line(
    new: tuple[Any, ...], line: str
) -> None:
    from pipecast.compilers.diff import compare_texts

    old_text = compile_text(variant(["a", "b"], 2, ">"), "stepfunctions")
    new_text = compile_text(variant(*new), "stepfunctions")
    rendered = compare_texts(old_text, new_text).render("text")
    changed = [row.strip() for row in rendered.splitlines() if "→" in row]
    assert changed == [line], rendered


# ----- every document passes asl-validator, statelint and our validator ------------------------

DOCUMENTS = {
    "camera-triage": lambda: load_example("camera_triage"),
    "shard-flow": lambda: shard_flow,
    "branch-flow": lambda: branch_flow,
    "literal-flow": lambda: literal_flow(["{% $states.input %}", "b"], "%}"),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_documents_pass_asl_validator_statelint_and_ours(name: str, tmp_path: Path) -> None:
    text = compile_text(DOCUMENTS[name](), "stepfunctions")
    path = tmp_path / f"{name}.json"
    path.write_text(text)
    assert [str(p) for p in validate_document(json.loads(text))] == []
    statelint = Path(sys.executable).with_name("statelint")
    lint = subprocess.run([str(statelint), str(path)], capture_output=True, text=True)
    lines = lint.stdout.splitlines()[1:] if lint.returncode else lint.stdout.splitlines()
    problems = [
        line
        for line in lines
        # statelint's ReaderConfig predates InputType, which Step Functions requires to read a
        # JSON list with s3:getObject (asl-validator knows it)
        if not re.fullmatch(r'\s*Field "InputType" not allowed in .*ItemReader\.ReaderConfig', line)
    ]
    assert problems == [], lint.stdout
    binary = ROOT / ".tools" / "node_modules" / ".bin" / "asl-validator"
    if not binary.exists():
        pytest.skip("asl-validator not installed (make setup installs it into .tools/)")
    result = subprocess.run([str(binary), "--json-path", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_looks_inside_map_states() -> None:
    """A broken state inside a Map's ItemProcessor is found (not only top-level ones)."""
    document = json.loads(compile_text(shard_flow, "stepfunctions"))
    for state in choice_and_map_states(document):
        if state["Type"] == "Map":
            inner = state["ItemProcessor"]["States"]
            name = next(n for n, s in inner.items() if s["Type"] == "Task")
            inner[name]["Next"] = "nowhere"
            break
    assert any("nowhere" in str(p) for p in validate_document(document))


# ----- what Step Functions refuses, and what the role needs -------------------------------------


@dsl.pipeline(name="collect-spot")
def collect_spot(parts: list = ["a"]):  # noqa: B006
    with dsl.ParallelFor(parts) as part:
        m = measure(shard=part)
        c = chunk(shard="s", part=part, frames=m.outputs["frames"])
    total(sizes=dsl.Collected(c.outputs["score"]), frames=dsl.Collected(m.outputs["frames"]))


def test_collecting_a_spot_steps_output_is_a_clear_error() -> None:
    from pipecast.errors import PipelineError

    with pytest.raises(PipelineError) as info:
        compile_text(collect_spot, "stepfunctions")
    text = str(info.value)
    assert "PC008" in text and "dsl.Collected" in text and "spot" in text


def test_compile_prints_the_permissions_the_state_machine_needs() -> None:
    from pipecast._api import compile_spec
    from pipecast.compilers import load_target

    for pipeline, distributed in ((load_example("camera_triage"), False), (shard_flow, True)):
        document = compile_spec(pipeline.spec, load_target("stepfunctions"), EXAMPLE_CONFIG)
        (note,) = [n for n in document.notes if "role needs" in n]
        assert "s3:GetObject" in note and "s3:ListBucket" in note
        assert ("states:StartExecution" in note) == distributed


def test_deploy_checks_the_role_for_what_the_definition_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``deploy`` asks IAM's policy simulator (botocore's Stubber plays IAM: moto has no
    simulator) for each permission the definition needs, and refuses a role that lacks one."""
    import botocore.session
    from botocore.stub import Stubber

    from pipecast.deploy import stepfunctions as backend
    from pipecast.errors import DeployError

    text = compile_text(shard_flow, "stepfunctions")
    needed = backend.needed_permissions(text)
    assert ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/*") in needed
    assert ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}") in needed
    assert ("states:StartExecution", "*") in needed
    assert (
        backend.needed_permissions(compile_text(load_example("video_analysis"), "stepfunctions"))
        == []
    )

    role_arn = "arn:aws:iam::123456789012:role/pipecast-states"
    config = EXAMPLE_CONFIG.with_overrides({"stepfunctions.role_arn": role_arn})
    iam = botocore.session.get_session().create_client("iam", region_name=REGION)
    stubber = Stubber(iam)
    for action, resource in needed:
        decision = "implicitDeny" if action == "states:StartExecution" else "allowed"
        stubber.add_response(
            "simulate_principal_policy",
            {"EvaluationResults": [{"EvalActionName": action, "EvalDecision": decision}]},
            {"PolicySourceArn": role_arn, "ActionNames": [action], "ResourceArns": [resource]},
        )
    monkeypatch.setattr(backend, "client", lambda service, region: iam)
    with stubber, pytest.raises(DeployError) as info:
        backend.create("shard-flow", text, config, {})
    assert "states:StartExecution" in str(info.value) and "s3:" not in str(info.value)
    stubber.assert_no_pending_responses()

    denied = Stubber(iam)  # a caller without iam:SimulatePrincipalPolicy: no verdict, no refusal
    denied.add_client_error("simulate_principal_policy", "AccessDenied")
    with denied:
        assert backend.role_problems(text, config) == []


@pytest.mark.parametrize(
    ("step", "indices"),
    [
        ("count-motion", [0]),
        ("a" * 48, [999_999_998, 999_999_998]),  # the longest step id, two loops of 10^9 items
        ("a" * 24, [12345, 6789, 0]),
    ],
)
def test_loop_job_names_carry_the_map_index_within_63_characters(
    step: str, indices: list[int]
) -> None:
    from pipecast.compilers._sfn_flow import loop_job_name

    loops = [f"loop-{i}" for i in range(len(indices))]
    arn = "arn:aws:states:us-east-1:123456789012:execution:machine:" + "x" * 80
    names = set()
    for retry in (0, 99):
        for shift in (0, 1):
            payload = {
                "loops": {lp: {"index": i + shift} for lp, i in zip(loops, indices, strict=True)}
            }
            context = {"Execution": {"Id": arn}, "State": {"RetryCount": retry}}
            text = "{% " + loop_job_name(step, loops).text + " %}"
            name = evaluate(text, {"states": {"input": payload, "context": context}})
            assert len(name) <= 63 and re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name), name
            assert name.endswith("-".join(str(i + shift) for i in indices) + f"-{retry}")
            names.add(name)
    assert len(names) == 4  # per iteration and per retry
    other = loop_job_name(step + "b" if len(step) < 48 else step[:-1] + "b", loops).text
    assert other != loop_job_name(step, loops).text
