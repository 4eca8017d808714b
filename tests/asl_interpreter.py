"""A small, faithful interpreter for the ASL subset pipecast emits, for execution tests.

Supports Pass, Task (``arn:aws:states:::sagemaker:*.sync`` through a resolver that plays the
SageMaker jobs), Parallel, Fail and Succeed; Retry and Catch; ``Arguments``/``Output`` with JSONata
(jsonata-python, plus Step Functions' ``$hash``). Parallel branches run one after another, in the
order given by ``reverse_branches``: running every execution both ways exposes any precedence a
layout forgot (a dependency between branches holds in only one of the two orders).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import jsonata


class ExecutionFailed(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause


class TaskFailed(Exception):
    def __init__(self, error: str = "States.TaskFailed", cause: str = "job failed") -> None:
        super().__init__(error)
        self.error, self.cause = error, cause


def states_hash(value: Any, algorithm: str) -> str:
    return hashlib.new(algorithm.replace("-", "").lower(), str(value).encode()).hexdigest()


def evaluate(value: Any, bindings: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        expr = jsonata.Jsonata(value[2:-2].strip())
        expr.register_lambda("hash", states_hash)
        return expr.evaluate(None, bindings)
    if isinstance(value, dict):
        return {k: evaluate(v, bindings) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, bindings) for v in value]
    return value


@dataclass
class Job:
    state: str
    name: str
    kind: str
    request: dict[str, Any]
    start: int
    end: int = -1


@dataclass
class SageMakerPlayer:
    """Plays SageMaker jobs: records each request; ``failures[state]`` makes the next N fail."""

    failures: dict[str, int] = field(default_factory=dict)
    jobs: list[Job] = field(default_factory=list)
    clock: int = 0

    def run(self, state: str, resource: str, request: dict[str, Any]) -> dict[str, Any]:
        kind = "training" if "createTrainingJob" in resource else "processing"
        name = request["TrainingJobName" if kind == "training" else "ProcessingJobName"]
        assert all(j.name != name for j in self.jobs), f"job name reused: {name}"
        self.clock += 1
        job = Job(state, name, kind, request, self.clock)
        self.jobs.append(job)
        self.clock += 1
        job.end = self.clock
        if self.failures.get(state, 0) > 0:
            self.failures[state] -= 1
            raise TaskFailed("States.TaskFailed", f"{name} failed")
        return completed_job(kind, name, request)


def _matches(errors: list[str], error: str) -> bool:
    return "States.ALL" in errors or error in errors


def run_machine(
    machine: dict[str, Any],
    data: Any,
    context: dict[str, Any],
    player: SageMakerPlayer,
    reverse_branches: bool = False,
) -> Any:
    name = machine["StartAt"]
    while True:
        state = machine["States"][name]
        kind = state["Type"]
        if kind == "Fail":
            raise ExecutionFailed(state.get("Error", ""), state.get("Cause", ""))
        if kind == "Succeed":
            return data
        ctx = {**context, "State": {"Name": name, "RetryCount": 0}}
        try:
            result = _run_state(name, state, data, ctx, player, reverse_branches)
        except TaskFailed as exc:
            catch = next(
                (c for c in state.get("Catch", []) if _matches(c["ErrorEquals"], exc.error)), None
            )
            if catch is None:
                raise ExecutionFailed(exc.error, exc.cause) from None
            name = catch["Next"]
            continue
        bindings = {"states": {"input": data, "result": result, "context": ctx}}
        data = evaluate(state["Output"], bindings) if "Output" in state else result
        if state.get("End"):
            return data
        name = state["Next"]


def _run_state(
    name: str,
    state: dict[str, Any],
    data: Any,
    ctx: dict[str, Any],
    player: SageMakerPlayer,
    reverse: bool,
) -> Any:
    kind = state["Type"]
    if kind == "Pass":
        return data
    if kind == "Parallel":
        branches = list(enumerate(state["Branches"]))
        results: dict[int, Any] = {}
        for i, branch in reversed(branches) if reverse else branches:
            results[i] = run_machine(branch, data, ctx, player, reverse)
        return [results[i] for i in range(len(branches))]
    assert kind == "Task", kind
    attempts = 0
    retry = state.get("Retry", [])
    while True:
        ctx["State"]["RetryCount"] = attempts
        bindings = {"states": {"input": data, "context": ctx}}
        request = evaluate(state["Arguments"], bindings)
        try:
            return player.run(name, state["Resource"], request)
        except TaskFailed as exc:
            rule = next((r for r in retry if _matches(r["ErrorEquals"], exc.error)), None)
            if rule is None or attempts >= rule.get("MaxAttempts", 3):
                raise
            attempts += 1


def execute(
    document: dict[str, Any],
    params: dict[str, Any],
    *,
    execution_name: str = "run-1",
    failures: dict[str, int] | None = None,
    reverse_branches: bool = False,
) -> tuple[Any, SageMakerPlayer]:
    player = SageMakerPlayer(failures=dict(failures or {}))
    context = {
        "Execution": {
            "Name": execution_name,
            "Id": f"arn:aws:states:us-east-1:123456789012:execution:p:{execution_name}",
        }
    }
    return run_machine(document, params, context, player, reverse_branches), player


def completed_job(kind: str, name: str, request: dict[str, Any]) -> dict[str, Any]:
    """What a ``.sync`` task returns for a job that completed (as Describe*Job does): a
    Training job's output URI has the service-chosen job name in it."""
    if kind == "training":
        prefix = request["OutputDataConfig"]["S3OutputPath"]
        return {
            "TrainingJobName": name,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": f"{prefix}{name}/output/model"},
        }
    return {"ProcessingJobName": name, "ProcessingJobStatus": "Completed"}
