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

Moto runs a Distributed Map's iterations in threads of the same execution rather than as child
executions; that is the one thing it models loosely (the document still carries the child
execution settings, which the validators check).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from asl_interpreter import TaskFailed
from helpers import EXAMPLE_CONFIG, compile_text, load_example
from test_stepfunctions_moto import (  # noqa: F401 (the fixture)
    REGION,
    MotoStepFunctions,
    SageMakerResolver,
    moto_sfn,
)

from pipecast import dsl
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
        result = super().run(state, resource, request)  # records the job, applies `failures`
        step = state.removesuffix("-after-failure")
        training = "createTrainingJob" in resource
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
            name = request["TrainingJobName" if training else "ProcessingJobName"]
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

    def local_jobs(self) -> Counter[tuple[str, str]]:
        """(step, its parameters as JSON) for every step instance the local runner ran."""
        found: Counter[tuple[str, str]] = Counter()
        for key, result in self.local.steps.items():
            if result.status in ("succeeded", "failed"):
                params = {k: render_value(v) for k, v in result.parameters.items()}
                found[(key.split("/", 1)[0], normalised(params))] += 1
        return found

    def cloud_jobs(self) -> Counter[tuple[str, str]]:
        return Counter(
            (p.step, normalised(p.params)) for p in self.resolver.played
        )


def run_both(
    moto_sfn: MotoStepFunctions,
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


@pytest.fixture
def flow_sfn(moto_sfn: MotoStepFunctions) -> MotoStepFunctions:  # noqa: F811
    """``moto_sfn`` whose jobs run a behaviour (the service holds the fixture's resolver, so
    that resolver hands every job to ours)."""
    ours = BehaviourResolver()
    moto_sfn.resolver.run = ours.run  # type: ignore[method-assign]
    moto_sfn.resolver = ours
    return moto_sfn


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
    detected = sorted(p.params["camera"] for p in both.resolver.played if p.step == "detect-objects")
    assert detected == sorted(c for c in cameras if moving.get(c, 0) >= 1)
