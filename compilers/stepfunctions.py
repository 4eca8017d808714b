"""The ``stepfunctions`` target: an AWS Step Functions state machine (ASL, JSONata) running the
same SageMaker jobs as the ``sagemaker`` target (shared builders in ``aws_jobs``).

Shape: a ``start`` Pass state merges parameter defaults into the execution input; the DAG follows
as nested sequences and Parallel states (``_sp_layout``: exact for series-parallel graphs, every
added precedence reported). With ``[stepfunctions] layout = "exact"`` (or ``"auto"``) a block
that is not series-parallel runs as parallel chains whose cross edges are run-time handshakes
(``_sfn_handshakes``) instead of added waits. Each step is a ``.sync`` Task; its state carries only
``{"params": ..., "uris": ...}`` where ``uris`` holds the Training output prefixes (the service
puts the job name in them), so payloads stay tiny. Processing output URIs are computed from the
execution name. Job names are ``{step}-{16 hex of sha256(execution ARN)}-{retry count}`` (a step
id over 40 characters is shortened to 29 plus 12 hex of its hash): legal, at most 63 characters,
unique per step, per execution and per retry. An unrecovered failure goes to a Fail
state whose cause names the step. The JSONata spelling shared with the control-flow layout lives
in ``_sfn_states``; pipelines with groups or output parameters are laid out by ``_sfn_flow``.
"""

from __future__ import annotations

import itertools
import json
import re
import statistics
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _sfn_handshakes
from . import aws_jobs as jobs
from ._sfn_handshakes import Segment
from ._sfn_states import (
    JOB_STEP_PART,
    RESOURCE,
    RETRY_ERRORS,
    START,
    JsonataExpressions,
    StateNames,
    job_name,
    job_step_part,
    literal,
)
from ._sfn_states import task as _task
from ._sp_layout import Handshakes, Parallel, Sequence, layout, makespan
from .canonical import dumps_json, dumps_json_compact
from .diff import DocumentSummary, StepSummary
from .target import Capabilities, Charge, Document, ReviewHooks, RunShape, Target

if TYPE_CHECKING:
    from pipecast.config import Config

    from .graph import CheckedPipeline

__all__ = [
    "COMPACT_ABOVE_STEPS",
    "JOB_STEP_PART",
    "RESOURCE",
    "RETRY_ERRORS",
    "TARGET",
    "JsonataExpressions",
    "compile",
    "describe",
    "detect",
    "document_problems",
    "job_name",
    "job_step_part",
    "literal",
    "parameter_defaults",
    "run_shape",
]

COMPACT_ABOVE_STEPS = 500  # beyond this the indented text is not even tried


class _Emitter:
    def __init__(self, checked: CheckedPipeline, config: Config) -> None:
        self.checked, self.config = checked, config
        self.ex = JsonataExpressions(checked, config.artifact_root)
        self.handshakes = _sfn_handshakes.Handshakes(config.artifact_root, checked.spec.name)
        self.names = StateNames.of(checked.spec)
        self.parallels = 0

    def machine(self, segments: list[Segment]) -> dict[str, Any]:
        """A (sub-)machine running ``segments`` one after another."""
        states: dict[str, dict[str, Any]] = {}
        for here, nxt in itertools.pairwise(segments):
            for name in here.exits:
                here.states[name]["Next"] = nxt.entry
        for name in segments[-1].exits:
            segments[-1].states[name]["End"] = True
        for segment in segments:
            states.update(segment.states)
        return {"StartAt": segments[0].entry, "States": states}

    def sequence(self, seq: Sequence) -> list[Segment]:
        return [self.step(i) if isinstance(i, str) else self.parallel(i) for i in seq.items]

    def step(self, step_id: str) -> Segment:
        step = self.checked.spec.step(step_id)
        fail = {
            "Type": "Fail",
            "Error": "StepFailed",
            "Cause": f"step '{step_id}' failed (see its SageMaker job)",
        }
        failed = self.names.new(f"{step_id}-failed")
        task = _task(self.checked, step, self.config, self.ex, failed)
        return Segment(step_id, {step_id: task, failed: fail}, (step_id,))

    def parallel(self, block: Parallel | Handshakes) -> Segment:
        self.parallels += 1
        name = self.names.new(f"parallel-{self.parallels}")
        if isinstance(block, Parallel):
            branches = [self.machine(self.sequence(b)) for b in block.branches]
        else:
            upstreams: dict[str, list[str]] = {}
            downstreams: dict[str, list[str]] = {}
            for u, v in block.waits:
                upstreams.setdefault(v, []).append(u)
                downstreams.setdefault(u, []).append(v)
            branches = [self.machine(self.chain(c, upstreams, downstreams)) for c in block.chains]
        state = {
            "Type": "Parallel",
            "Branches": branches,
            "Output": '{% {"params": $states.input.params, "uris": $merge($states.result.uris)} %}',
        }
        return Segment(name, {name: state}, (name,))

    def chain(
        self,
        steps: tuple[str, ...],
        upstreams: dict[str, list[str]],
        downstreams: dict[str, list[str]],
    ) -> list[Segment]:
        """One branch of an exact block: each step waits for its upstreams in other branches,
        runs, then signals its downstreams in other branches."""
        out: list[Segment] = []
        for step_id in steps:
            out += [self.handshakes.await_(u, step_id) for u in upstreams.get(step_id, ())]
            out.append(self.step(step_id))
            out += [self.handshakes.signal(step_id, v) for v in downstreams.get(step_id, ())]
        return out


def _start_state(checked: CheckedPipeline) -> dict[str, Any]:
    defaults = {p.name: p.default for p in checked.spec.parameters if p.optional}
    return {
        "Type": "Pass",
        "Comment": "merge parameter defaults into the execution input",
        "Output": '{% {"params": $merge(['
        + json.dumps(defaults, sort_keys=True, ensure_ascii=False)
        + ', $states.input]), "uris": {}} %}',
    }


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """The state machine definition; notes list every precedence the layout adds, and the
    handshakes that replace them with ``[stepfunctions] layout = "exact"`` (or ``"auto"``)."""
    if _flow_used(checked.spec):
        return _compile_flow(checked, config)
    mode = config.get("stepfunctions.layout", "nested")
    durations = _durations(checked)
    # ancestor bit sets make a transitive reduction unnecessary
    plan = layout(checked.graph, durations, mode=mode)
    emitter = _Emitter(checked, config)
    start = Segment(START, {START: _start_state(checked)}, (START,))
    body = emitter.machine([start, *emitter.sequence(plan.root)])
    document = {
        "Comment": f"pipecast pipeline {checked.spec.name}",
        "QueryLanguage": "JSONata",
        **body,
    }
    notes = tuple(
        f"note: step '{step}' now also waits for {', '.join(sorted(extra))}: Step Functions "
        "nests only sequences and parallel blocks, and this part of the graph is not "
        "series-parallel"
        for step, extra in sorted(plan.added.items())
    )
    if notes and mode == "nested":
        notes += (
            'hint: set layout = "exact" (or "auto": only where a wait would cost time) under '
            "[stepfunctions] in pipecast.toml to run these steps without added waits "
            "(run-time handshakes through S3)",
        )
    waits = _handshake_edges(plan.root)
    if waits:
        notes += (
            f"note: {len(waits)} edge(s) are enforced by run-time handshakes (layout = "
            f'"{mode}"); the state machine role needs {emitter.handshakes.permissions()}',
        )
    text = None if len(checked.spec.steps) > COMPACT_ABOVE_STEPS else dumps_json(document)
    limit = TARGET.limits.max_document_bytes  # what Step Functions accepts (PC009 checks it)
    if text is None or (limit is not None and len(text.encode("utf-8")) > limit):
        text = dumps_json_compact(document)
        notes += (
            f"note: {len(checked.spec.steps)} steps: written compact to stay under the "
            "1 MB definition limit",
        )
    return Document("stepfunctions", text, "stepfunctions.json", notes)


def _flow_used(spec: Any) -> bool:
    from . import _sfn_flow

    return _sfn_flow.uses_flow(spec)


def _compile_flow(checked: CheckedPipeline, config: Config) -> Document:
    """A pipeline with control flow or output parameters (:mod:`._sfn_flow`); its groups are
    laid out nested (run-time handshakes would be shared by every iteration of a loop)."""
    from . import _sfn_flow

    body, notes = _sfn_flow.compile_flow(checked, config)
    if config.get("stepfunctions.layout", "nested") != "nested":
        notes += (
            "note: control flow is laid out nested: the layout setting applies to pipelines "
            "without groups or output parameters",
        )
    document = {"Comment": f"pipecast pipeline {checked.spec.name}", "QueryLanguage": "JSONata"}
    document.update(body)
    text = dumps_json(document)
    limit = TARGET.limits.max_document_bytes
    if limit is not None and len(text.encode("utf-8")) > limit:
        text = dumps_json_compact(document)
        notes += ("note: written compact to stay under the 1 MB definition limit",)
    return Document("stepfunctions", text, "stepfunctions.json", notes)


def _check(spec: Any, config: Any) -> list[Any]:
    """S3 checks shared with SageMaker, the control-flow uses Step Functions refuses, and a step
    id taken by the ``start`` state (the step's Task would silently replace it)."""
    from pipecast.errors import Diagnostic

    from . import _sfn_scopes

    taken = [
        Diagnostic(
            "PC005",
            f"step id '{step.id}' is the name of the state machine's first state on "
            "stepfunctions (it merges the parameter defaults into the execution input); state "
            "names must be unique",
            step.location,
            "rename the step with .set_name(...)",
            step=step.id,
        )
        for step in spec.steps
        if step.id == START
    ]
    return [*jobs.s3_diagnostics(spec, config), *_sfn_scopes.flow_diagnostics(spec), *taken]


def _durations(checked: CheckedPipeline) -> dict[str, float]:
    """Expected seconds per step for the layout: a step without a hint counts as the median of
    the hints given (all equal when there are none), so one hint does not make the rest free."""
    hints = {s.id: float(s.expected_seconds) for s in checked.spec.steps if s.expected_seconds}
    typical = statistics.median(hints.values()) if hints else 1.0
    return {s.id: hints.get(s.id, typical) for s in checked.spec.steps}


def _handshake_edges(seq: Sequence) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for item in seq.items:
        if isinstance(item, Handshakes):
            found += item.waits
        elif isinstance(item, Parallel):
            for branch in item.branches:
                found += _handshake_edges(branch)
    return found


# ----- cost support ---------------------------------------------------------------------------

# what ``pipecast cost`` compiles with when the configuration leaves these out: the number of
# states and S3 calls does not depend on them
_ESTIMATE_CONFIG = {
    "artifact_root": "s3://pipecast-cost-estimate/runs",
    "sagemaker.role_arn": "arn:aws:iam::000000000000:role/pipecast-cost-estimate",
}


def run_shape(checked: CheckedPipeline, config: Config, seconds: Mapping[str, float]) -> RunShape:
    """``Target.run_shape``: the makespan of the layout this target compiles to (added waits
    included, handshakes counted as instant), and the per-run Standard-workflow charges: every
    state of the compiled machine entered once (an upper bound: a handshake takes one of its
    two sides; retries add transitions) and its S3 calls (handshake objects)."""
    from pipecast.errors import PipecastError

    from . import aws_jobs as jobs

    plan = layout(checked.graph, seconds, mode=config.get("stepfunctions.layout", "nested"))
    span = makespan(plan.root, seconds)
    if checked.target != TARGET.name:  # the graph check refused the pipeline for this target
        return RunShape(span, notes=("state transitions not counted: no state machine",))
    missing = {k: v for k, v in _ESTIMATE_CONFIG.items() if config.get(k) in (None, "")}
    try:
        text = compile(checked, config.with_overrides(missing)).text
    except PipecastError as exc:
        first = str(exc).splitlines()[0]
        return RunShape(
            span,
            notes=(f"state transitions not counted: the state machine does not compile ({first})",),
        )
    states, puts, gets = _count_states(json.loads(text))
    prices = jobs.service_prices()
    charges = (
        Charge(
            "Step Functions state transitions", states, prices["stepfunctions_state_transition"]
        ),
        Charge("S3 PUT requests (handshakes)", puts, prices["s3_put_request"]),
        Charge("S3 GET requests (handshakes)", gets, prices["s3_get_request"]),
    )
    notes = (
        "state transitions: every state entered once (a Map's body once, not once per "
        "iteration: a lower bound for loops), retries not counted",
    )
    return RunShape(span, tuple(c for c in charges if c.count), jobs.service_prices_as_of(), notes)


def _count_states(machine: Mapping[str, Any]) -> tuple[int, int, int]:
    """(states, S3 putObject tasks, S3 getObject tasks), nested branches included."""
    states = puts = gets = 0
    for state in machine.get("States", {}).values():
        states += 1
        resource = str(state.get("Resource", ""))
        puts += resource.startswith(_sfn_handshakes.PUT)
        gets += resource.startswith(_sfn_handshakes.GET)
        for branch in [*state.get("Branches", []), state.get("ItemProcessor", {})]:
            s, p, g = _count_states(branch)
            states, puts, gets = states + s, puts + p, gets + g
    return states, puts, gets


# ----- review support -----------------------------------------------------------------------------


def detect(document: Any) -> bool:
    return isinstance(document, dict) and "StartAt" in document and "States" in document


def _tasks(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in machine.get("States", {}).items():
        if state.get("Type") == "Task" and ":sagemaker:" in state.get("Resource", ""):
            found[name] = state
        for branch in state.get("Branches", []):
            found.update(_tasks(branch))
        if "ItemProcessor" in state:
            found.update(_tasks(state["ItemProcessor"]))
    return found


_READABLE = (
    (re.compile(r"\$states\.input\.values\.`([^`/]*)/([^`]*)`"), r"\1.\2"),
    (re.compile(r"\$states\.input\.params\.`([^`]*)`"), r"\1"),
    (re.compile(r"\$states\.input\.loops\.`([^`]*)`\.item"), r"item of \1"),
)


def _readable(text: Any) -> Any:
    """A JSONata condition or items expression with the payload paths spelled as in the DSL."""
    if not isinstance(text, str) or not text.startswith("{% "):
        return text
    text = text[3:-3]
    for pattern, replacement in _READABLE:
        text = pattern.sub(replacement, text)
    return text


def _groups(machine: dict[str, Any]) -> dict[str, StepSummary]:
    """Choice and Map states (control flow, DESIGN §12) as one summary entry each, so a changed
    condition, loop items or parallelism reads as one line."""
    found: dict[str, StepSummary] = {}
    for name, state in machine.get("States", {}).items():
        kind = state.get("Type")
        if kind == "Choice" and len(state.get("Choices", [])) == 1:
            fields = {"condition": _readable(state["Choices"][0].get("Condition"))}
            found[name] = StepSummary(name, "condition (Choice)", fields)
        elif kind == "Map" and "ItemProcessor" in state:
            mode = state["ItemProcessor"].get("ProcessorConfig", {}).get("Mode", "INLINE")
            reader = state.get("ItemReader", {}).get("Arguments", {}).get("Key")
            fields = {
                "items": _readable(reader if reader is not None else state.get("Items")),
                "parallelism": state.get("MaxConcurrency", 0) or None,
                "mode": mode.lower(),
            }
            found[name] = StepSummary(name, "loop (Map)", fields)
            found.update(_groups(state["ItemProcessor"]))
        for branch in state.get("Branches", []):
            found.update(_groups(branch))
    return found


def describe(document: dict[str, Any]) -> DocumentSummary:
    """Per Task state: job kind, image, instance type, spot, arguments, inputs, settings."""
    steps: dict[str, StepSummary] = {}
    for name, state in _tasks(document).items():
        args = state.get("Arguments", {})
        training = "createTrainingJob" in state.get("Resource", "")
        if training:
            alg = args.get("AlgorithmSpecification", {})
            image, arguments = alg.get("TrainingImage"), alg.get("ContainerArguments", [])
            command = alg.get("ContainerEntrypoint")
            instance = args.get("ResourceConfig", {}).get("InstanceType")
            inputs = {
                c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
                for c in args.get("InputDataConfig", [])
            }
        else:
            app = args.get("AppSpecification", {})
            image, arguments = app.get("ImageUri"), app.get("ContainerArguments", [])
            command = app.get("ContainerEntrypoint")
            instance = (
                args.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceType")
            )
            inputs = {
                i["InputName"]: i["S3Input"]["S3Uri"] for i in args.get("ProcessingInputs", [])
            }
        fields = {
            "image": image,
            "instance type": instance,
            "arguments": arguments,
            "inputs": inputs,
            "spot": bool(args.get("EnableManagedSpotTraining")),
            "retry": state.get("Retry"),
            "timeout": state.get("TimeoutSeconds"),
            "env": args.get("Environment", {}),
            "role": args.get("RoleArn"),
            "command": command,
        }
        steps[name] = StepSummary(
            name, "training job (spot)" if training else "processing job", fields
        )
    steps.update(_groups(document))
    name = str(document.get("Comment", "")).removeprefix("pipecast pipeline ") or "state machine"
    return DocumentSummary("stepfunctions", name, parameter_defaults(document), steps)


_DEFAULTS = re.compile(r"^\{% \{\"params\": \$merge\(\[(.*), \$states\.input\]\), ", re.S)


def parameter_defaults(document: dict[str, Any]) -> dict[str, Any]:
    """The parameter defaults the ``start`` state merges into the execution input (a state
    machine declares no parameters, so only those with a default are known)."""
    start = document.get("States", {}).get(document.get("StartAt", ""), {})
    found = _DEFAULTS.match(str(start.get("Output", "")))
    if found is None:
        return {}
    try:
        defaults = json.loads(found.group(1))
    except ValueError:
        return {}
    if not isinstance(defaults, dict):
        return {}
    return {k: {"default": v} for k, v in defaults.items()}


_STATE = re.compile(r"/States/([^/]+)")


def document_problems(text: str) -> list[tuple[str | None, str]]:
    """``Target.validate_document``: the ASL validator (structure, numeric limits, every job
    request against botocore's model), as (state, problem) pairs; a job's state is its step."""
    from . import stepfunctions_validate

    return [
        ((_STATE.findall(p.path) or [None])[-1], str(p))
        for p in stepfunctions_validate.validate_text(text)
    ]


TARGET = Target(
    name="stepfunctions",
    suffix="stepfunctions.json",
    description="AWS Step Functions state machine (JSONata) running SageMaker jobs",
    compile=compile,
    capabilities=Capabilities(
        unsupported={"caching"},
        supported={
            "output_parameters",
            "json_parameters",
            "conditions",
            "loops",
            "exit_handler",
            "scale_out",
        },
    ),
    limits=jobs.job_limits(step_id_max_length=48),
    config_section={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "role_arn": {
                "$ref": "#/$defs/role_arn",
                "description": "IAM role of the state machine (deploy)",
            },
            "tags": {"$ref": "#/$defs/tags"},
            "layout": {
                "enum": ["nested", "exact", "auto"],
                "default": "nested",
                "description": "nested: parts of the graph that are not series-parallel get "
                "added waits (reported at compile time); exact: those edges are enforced by "
                "run-time handshakes through S3 instead (needs s3:PutObject/GetObject under "
                "artifact_root and states:SendTaskSuccess); auto: handshakes only where the "
                "added waits would make the run longer (by the expected-duration hints)",
            },
        },
    },
    required_config=("artifact_root", "sagemaker.role_arn"),
    place=jobs.place,
    review=ReviewHooks(detect=detect, summarize=describe),
    deploy="pipecast.deploy.stepfunctions",
    run_shape=run_shape,
    check=_check,
    document_kind="Step Functions state machine",
    validate_document=document_problems,
)
