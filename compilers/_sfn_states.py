"""The JSONata spelling of Step Functions states that both layouts of the ``stepfunctions``
target share (plain DAGs in :mod:`.stepfunctions`, control flow in :mod:`._sfn_flow`): literal
protection, run-time values for the shared job builders, job names and the job Task state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import aws_jobs as jobs

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import PipelineSpec, StepSpec

    from .graph import CheckedPipeline

__all__ = [
    "JOB_STEP_PART",
    "RESOURCE",
    "RETRY_ERRORS",
    "START",
    "Expr",
    "JsonataExpressions",
    "StateNames",
    "field",
    "finish",
    "job_name",
    "job_step_part",
    "lit",
    "literal",
    "task",
]

RESOURCE = "arn:aws:states:::sagemaker:{action}.sync"
START = "start"  # the first state of every machine: it merges the parameter defaults
RETRY_ERRORS = ["SageMaker.AmazonSageMakerException", "States.TaskFailed"]


class Expr:
    """A JSONata expression fragment (not yet wrapped in ``{% %}``)."""

    def __init__(self, text: str) -> None:
        self.text = text


def lit(text: str) -> str:
    """A JSONata string literal evaluating to ``text`` exactly (JSON escapes; non-ASCII kept
    as is, since some JSONata engines decode ``\\u`` surrogate pairs one half at a time)."""
    return json.dumps(text, ensure_ascii=False)


def literal(text: str) -> str:
    """``text`` as a field value that Step Functions hands over unchanged.

    In a JSONata state a string that starts with ``{%`` and ends with ``%}`` is an expression,
    so a user's string shaped like one would run (``{% $states.input %}`` would hand the job the
    whole state). Any string containing either delimiter is written as an expression that
    evaluates to the string literal instead; every other string stays as it is.
    """
    if "{%" in text or "%}" in text:
        return "{% " + lit(text) + " %}"
    return text


def field(name: str) -> str:
    return "`" + name.replace("`", "") + "`"


class JsonataExpressions:
    """Step Functions (JSONata) spelling of run-time values for the shared job builders."""

    def __init__(self, checked: CheckedPipeline, root: str) -> None:
        self._types = {p.name: p.type for p in checked.spec.parameters}
        self._root, self._name = root, checked.spec.name

    def run_id(self) -> Any:
        return Expr("$states.context.Execution.Name")

    def parameter(self, name: str) -> Any:
        ref = f"$states.input.params.{field(name)}"
        return Expr(ref if self._types.get(name) == "str" else f"$string({ref})")

    def join(self, parts: list[Any]) -> Any:
        if all(isinstance(p, str) for p in parts):
            return "".join(parts)
        return Expr(" & ".join(p.text if isinstance(p, Expr) else lit(p) for p in parts))

    def step_output(self, step_id: str, kind: str, output: str) -> Any:
        if kind == "training":
            return Expr(f"$states.input.uris.{field(step_id)} & {lit('/' + output)}")
        return self.join([f"{self._root}/{self._name}/", self.run_id(), f"/{step_id}/{output}/"])


def finish(value: Any) -> Any:
    """Replace expression fragments by ``{% ... %}`` strings and protect literal strings
    (:func:`literal`), recursively."""
    if isinstance(value, Expr):
        return "{% " + value.text + " %}"
    if isinstance(value, str):
        return literal(value)
    if isinstance(value, dict):
        return {k: finish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finish(v) for v in value]
    return value


JOB_STEP_PART = 42  # + "-" + 16 hex + "-" + retry count (at most 3 digits) = 63
_VERBATIM_UP_TO = 40  # shorter than a hashed part, so the two kinds never coincide


def job_step_part(step_id: str) -> str:
    """The step's share of its job names: the id itself when it is at most 40 characters, else
    its first 29 characters, ``-`` and 12 hex of sha256 of the whole id (42 characters).

    Distinct ids give distinct parts: verbatim parts are shorter than hashed ones, and two long
    ids sharing their first 29 characters differ in the hash of everything. Step ids are
    ``[a-z0-9-]``, so the part is legal in a SageMaker job name.
    """
    if len(step_id) <= _VERBATIM_UP_TO:
        return step_id
    digest = hashlib.sha256(step_id.encode("utf-8")).hexdigest()[:12]
    return f"{step_id[: JOB_STEP_PART - 13]}-{digest}"


def job_name(step_id: str) -> Expr:
    """``{step part}-{sha256(execution ARN)[:16]}-{retry}``: legal, at most 63 characters, and
    unique per step, per execution and per retry (see :func:`job_step_part`)."""
    return Expr(
        f"{lit(job_step_part(step_id) + '-')} & $substring($hash($states.context.Execution.Id,"
        f' "SHA-256"), 0, 16) & "-" & $string($states.context.State.RetryCount)'
    )


def task(
    checked: CheckedPipeline,
    step: StepSpec,
    config: Config,
    ex: JsonataExpressions,
    failed: str,
) -> dict[str, Any]:
    """The Task state running ``step``'s SageMaker job; any error goes to the state ``failed``."""
    instance = checked.placement[step.id]  # placed once by the graph check
    kind, request = jobs.request(
        checked.spec, step, instance, config.artifact_root, config.require("sagemaker.role_arn"), ex
    )
    name_key = "TrainingJobName" if kind == "training" else "ProcessingJobName"
    action = "createTrainingJob" if kind == "training" else "createProcessingJob"
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": RESOURCE.format(action=action),
        "Arguments": finish({**request, name_key: job_name(step.id)}),
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": failed}],
    }
    if kind == "training":
        uri = "$states.result.ModelArtifacts.S3ModelArtifacts"
        state["Output"] = (
            '{% {"params": $states.input.params, "uris": $merge(['
            f"$states.input.uris, {{{lit(step.id)}: {uri}}}])}} %}}"
        )
    else:
        state["Output"] = "{% $states.input %}"
    if step.retry is not None and step.retry.max_attempts > 1:
        state["Retry"] = [
            {
                "ErrorEquals": RETRY_ERRORS,
                "IntervalSeconds": step.retry.backoff_seconds,
                "BackoffRate": step.retry.backoff_rate,
                "MaxAttempts": step.retry.max_attempts - 1,
            }
        ]
    if step.timeout_seconds is not None:
        wait = step.spot.max_wait_seconds if step.spot is not None else 0
        state["TimeoutSeconds"] = max(step.timeout_seconds, wait)
    return state


class StateNames:
    """State names unique across a whole machine, as Step Functions requires (also between
    branches). A step's Task state is named by its step id; generated states (a step's Fail
    state, Parallel blocks, groups) take the name they want, or that name with a number when a
    step or an earlier state has it: a step may well be called ``parallel-1`` or ``x-failed``."""

    def __init__(self, reserved: Iterable[str]) -> None:
        self._taken = set(reserved)

    @classmethod
    def of(cls, spec: PipelineSpec) -> StateNames:
        """The names of a machine for ``spec``: its step ids and :data:`START` taken."""
        return cls([*(s.id for s in spec.steps), START])

    def new(self, wanted: str) -> str:
        name, n = wanted[:80], 1
        while name in self._taken:
            n += 1
            name = f"{wanted[:76]}-{n}"
        self._taken.add(name)
        return name
