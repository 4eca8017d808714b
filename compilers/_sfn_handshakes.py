"""Run-time handshakes between Parallel branches of a Step Functions state machine.

ASL nests only sequences and Parallel blocks, so a DAG that is not series-parallel cannot be run
exactly by nesting alone (``_sp_layout`` would add waits). With ``[stepfunctions] layout =
"exact"`` each such edge ``upstream → downstream`` between two branches becomes a handshake on one
S3 object of the run, ``{run}/_pipecast/handshakes/{upstream}/{downstream}.json``, created at
most once (``IfNoneMatch: "*"``), so exactly one side wins the race:

- the downstream branch tries to create it holding its task token and pauses
  (``putObject.waitForTaskToken``). If the upstream got there first, the create fails and the
  downstream reads the upstream's outputs from the object instead of waiting;
- the upstream branch, once its job succeeded, tries to create it holding its outputs. If the
  downstream got there first, the create fails and the upstream reads the token and resumes the
  downstream (``sfn:sendTaskSuccess``).

Either way the downstream continues as soon as both it and the upstream are ready, with the
upstream's Training output URIs merged into its state. No polling: each edge costs a fixed
handful of state transitions. The state machine's role needs ``s3:PutObject`` and
``s3:GetObject`` under the artifact root, and ``states:SendTaskSuccess``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

PUT = "arn:aws:states:::aws-sdk:s3:putObject"
GET = "arn:aws:states:::aws-sdk:s3:getObject"
SEND = "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess"
MAX_STATE_NAME = 80
KEEP = '{% {"params": $states.input.params, "uris": $states.input.uris} %}'


def state_name(text: str) -> str:
    """``text`` if it fits Step Functions' 80 characters, else a prefix plus a hash of it."""
    if len(text) <= MAX_STATE_NAME:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: MAX_STATE_NAME - 9]}~{digest}"


@dataclass(frozen=True)
class Segment:
    """Consecutive states of one branch: enter at ``entry``; every state in ``exits`` continues
    to whatever follows the segment."""

    entry: str
    states: dict[str, dict[str, Any]]
    exits: tuple[str, ...]


class Handshakes:
    """Builds the await/signal segments for edges of one pipeline (bucket and key prefix come
    from ``artifact_root``; the key is scoped to the execution like every other output)."""

    def __init__(self, artifact_root: str, pipeline: str) -> None:
        bucket, _, prefix = artifact_root.removeprefix("s3://").partition("/")
        self.bucket = bucket
        self.prefix = "/".join(p for p in (prefix.strip("/"), pipeline) if p) + "/"

    def _where(self, upstream: str, downstream: str) -> dict[str, str]:
        key = (
            "{% "
            + json.dumps(self.prefix)
            + " & $states.context.Execution.Name & "
            + json.dumps(f"/_pipecast/handshakes/{upstream}/{downstream}.json")
            + " %}"
        )
        return {"Bucket": self.bucket, "Key": key}

    @staticmethod
    def _catch(target: str, keep_input: bool) -> list[dict[str, Any]]:
        rule: dict[str, Any] = {"ErrorEquals": ["States.ALL"], "Next": target}
        if keep_input:
            rule["Output"] = "{% $states.input %}"
        return [rule]

    @staticmethod
    def _fail(upstream: str, downstream: str) -> dict[str, Any]:
        return {
            "Type": "Fail",
            "Error": "HandshakeFailed",
            "Cause": f"handshake {upstream} -> {downstream} failed (the role needs "
            "s3:PutObject, s3:GetObject, states:SendTaskSuccess)",
        }

    def await_(self, upstream: str, downstream: str) -> Segment:
        """Before ``downstream`` runs: continue once ``upstream`` has finished."""
        base = f"{downstream} waits for {upstream}"
        wait, done, failed = (state_name(base + s) for s in ("", ": already done", ": failed"))
        where = self._where(upstream, downstream)
        states = {
            wait: {
                "Type": "Task",
                "Comment": f"pause until '{upstream}' has finished",
                "Resource": PUT + ".waitForTaskToken",
                "Arguments": {
                    **where,
                    "Body": {"token": "{% $states.context.Task.Token %}"},
                    "IfNoneMatch": "*",
                },
                "Output": '{% {"params": $states.input.params, '
                '"uris": $merge([$states.input.uris, $states.result.uris])} %}',
                "Catch": self._catch(done, keep_input=True),
            },
            done: {
                "Type": "Task",
                "Resource": GET,
                "Arguments": where,
                "Output": '{% {"params": $states.input.params, '
                '"uris": $merge([$states.input.uris, $parse($states.result.Body).uris])} %}',
                "Catch": self._catch(failed, keep_input=False),
            },
            failed: self._fail(upstream, downstream),
        }
        return Segment(wait, states, (wait, done))

    def signal(self, upstream: str, downstream: str) -> Segment:
        """After ``upstream`` succeeded: let ``downstream`` go (now or when it gets there)."""
        base = f"{upstream} signals {downstream}"
        signal, wake, send, failed = (
            state_name(base + s) for s in ("", ": resume it", ": send", ": failed")
        )
        where = self._where(upstream, downstream)
        states = {
            signal: {
                "Type": "Task",
                "Resource": PUT,
                "Arguments": {
                    **where,
                    "Body": {"uris": "{% $states.input.uris %}"},
                    "IfNoneMatch": "*",
                },
                "Output": KEEP,
                "Catch": self._catch(wake, keep_input=True),
            },
            wake: {
                "Type": "Task",
                "Resource": GET,
                "Arguments": where,
                "Output": '{% {"params": $states.input.params, "uris": $states.input.uris, '
                '"token": $parse($states.result.Body).token} %}',
                "Catch": self._catch(failed, keep_input=False),
            },
            send: {
                "Type": "Task",
                "Resource": SEND,
                "Arguments": {
                    "TaskToken": "{% $states.input.token %}",
                    "Output": '{% $string({"uris": $states.input.uris}) %}',
                },
                "Output": KEEP,
                "Catch": self._catch(failed, keep_input=False),
            },
            failed: self._fail(upstream, downstream),
        }
        states[wake]["Next"] = send
        return Segment(signal, states, (signal, send))

    def permissions(self) -> str:
        """What the state machine's role must be allowed, for the compile notes and the README."""
        return (
            f"s3:PutObject and s3:GetObject on arn:aws:s3:::{self.bucket}/{self.prefix}*"
            "/_pipecast/*, and states:SendTaskSuccess"
        )
