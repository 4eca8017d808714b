"""Control flow on Step Functions (DESIGN §12): conditions, loops, values between steps,
fan-in and exit handlers, as JSONata states around the same SageMaker ``.sync`` Tasks.

Every group is one node of its parent's graph, laid out like the steps (``_sp_layout``), so
each scope keeps its parallelism:

- a **condition** is a ``Choice`` state (its comparisons in JSONata) whose default skips the
  body through a ``Pass`` state;
- a **loop** is a ``Map`` state, ``MaxConcurrency`` = parallelism (0: no limit): inline over a
  literal list, a list parameter or an enclosing loop's item; over a step's list output it is a
  **Distributed Map** reading the list from S3 (``ItemReader``, child executions,
  ``ToleratedFailurePercentage`` 0), so the list never passes through the 256 KiB state payload;
- an **exit handler** is a one-branch ``Parallel`` whose ``Catch`` runs a copy of the exit task
  and then fails the execution; on success the exit task runs where the layout puts it.

The state payload is ``{"params", "uris", "values", "loops", "run"}``: ``run`` is the
execution name (a Distributed Map's child executions have names of their own, and every output
stays under the parent's run prefix), ``loops`` the index and item of each enclosing loop,
``values`` the output parameters read so far. A value is read from the run's S3 prefix with the
AWS SDK integration (``s3:getObject`` and ``$parse`` of the body) just before the state that
uses it. Inside a loop, outputs go to ``{step}/{output}/{index}/``, so ``Collected`` of an
artifact is the prefix ``{step}/{output}/`` (one folder per iteration, ``0/``, ``1/``, ...) and
``Collected`` of a parameter lists that prefix (``s3:listObjectsV2``) and reads each value in
index order. Job names of loop steps carry the Map index (see :func:`loop_job_name`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import (
    Binding,
    CollectedRef,
    Comparison,
    Constant,
    GroupSpec,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    RunStatusRef,
    StepSpec,
)

from . import aws_jobs as jobs
from ._sfn_handshakes import Segment
from ._sfn_scopes import distributed, flow_diagnostics, representative, scope_graph, shared
from ._sfn_states import START, JsonataExpressions, StateNames
from ._sfn_states import Expr as _Expr
from ._sfn_states import field as _field
from ._sfn_states import finish as _finish
from ._sfn_states import lit as _lit
from ._sfn_states import task as _task
from ._sp_layout import Parallel, Sequence, layout

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.dsl.spec import PipelineSpec

    from .graph import CheckedPipeline

__all__ = [
    "GET_OBJECT",
    "LIST_OBJECTS",
    "compile_flow",
    "flow_diagnostics",
    "loop_job_name",
    "permissions",
    "uses_flow",
]

GET_OBJECT = "arn:aws:states:::aws-sdk:s3:getObject"
LIST_OBJECTS = "arn:aws:states:::aws-sdk:s3:listObjectsV2"
ITEM_READER = "arn:aws:states:::s3:getObject"
KEYS = ("params", "uris", "values", "loops", "run")
LOOP_STEP_PART = 26  # + "-" + 12 hex + "-" + indices (up to 19) + "-" + retry (up to 3) = 63
_LOOP_VERBATIM_UP_TO = 24
ERROR_CHARS = 120  # of a failure's cause in RUN_STATUS (container arguments are ≤ 256)


def uses_flow(spec: PipelineSpec) -> bool:
    """Groups or output parameters: the pipeline needs this module's payload and states."""
    return bool(spec.groups) or any(
        o.kind == "parameter" for c in spec.components for o in c.outputs
    )


def _wrap(text: str) -> str:
    return "{% " + text + " %}"


def carry(**changes: str) -> str:
    """The state payload (a JSONata object constructor) with some members replaced."""
    return "{" + ", ".join(f'"{k}": {changes.get(k, "$states.input." + k)}' for k in KEYS) + "}"


def _loop_step_part(step_id: str) -> str:
    """A loop step's share of its job names: verbatim up to 24 characters, else 13 characters,
    ``-`` and 12 hex of sha256 of the id (26): distinct ids give distinct parts."""
    import hashlib

    if len(step_id) <= _LOOP_VERBATIM_UP_TO:
        return step_id
    digest = hashlib.sha256(step_id.encode("utf-8")).hexdigest()[:12]
    return f"{step_id[: LOOP_STEP_PART - 13]}-{digest}"


def _index(loop: str) -> str:
    return f"$string($states.input.loops.{_field(loop)}.index)"


def loop_job_name(step_id: str, loops: list[str]) -> _Expr:
    """``{step part}-{12 hex}-{i[-j...]}-{retry}`` for a step inside loops: the hex is sha256 of
    the execution ARN and the indices, the indices are the Map indices themselves, so names are
    unique per step, execution, iteration and retry, and at most 63 characters while the indices
    take at most 19 (e.g. two nested loops of up to 10^9 items)."""
    idx = ' & "-" & '.join(_index(loop) for loop in loops)
    return _Expr(
        f"{_lit(_loop_step_part(step_id) + '-')} & $substring($hash($states.context.Execution.Id"
        f' & "/" & {idx}, "SHA-256"), 0, 12) & "-" & {idx} & "-" & '
        "$string($states.context.State.RetryCount)"
    )


def permissions(spec: PipelineSpec, root: str) -> str:
    """The IAM actions the state machine role needs beyond SageMaker (a compile note, README)."""
    bucket = root.removeprefix("s3://").partition("/")[0]
    found = [f"s3:GetObject and s3:ListBucket on arn:aws:s3:::{bucket} (values, Collected)"]
    if any(distributed(spec, g) for g in spec.groups):
        found += [
            "states:StartExecution, states:DescribeExecution and states:StopExecution on the "
            "state machine itself (Distributed Map child executions)"
        ]
    return "; ".join(found)


# ----- expressions -------------------------------------------------------------------------------


class FlowExpressions(JsonataExpressions):
    """Run-time values for one job request: the run id from the payload, and the values and
    URIs control flow brings, for the step (``reader``) being emitted."""

    def __init__(self, checked: CheckedPipeline, root: str, flow: FlowEmitter) -> None:
        super().__init__(checked, root)
        self.flow = flow
        self.reader: list[str] = []  # loops around the step being emitted
        self.synthetic: dict[str, Any] = {}
        self.overrides: dict[tuple[str, str], Any] = {}

    def run_id(self) -> Any:
        return _Expr("$states.input.run")

    def parameter(self, name: str) -> Any:
        if name in self.synthetic:
            return self.synthetic[name]
        return super().parameter(name)

    def step_output(self, step_id: str, kind: str, output: str) -> Any:
        if (step_id, output) in self.overrides:
            return self.overrides[(step_id, output)]
        if kind == "training":
            return super().step_output(step_id, kind, output)
        theirs = self.flow.loops[step_id]
        return self.flow.output_prefix(step_id, output, theirs[: shared(theirs, self.reader)])


# ----- emission ----------------------------------------------------------------------------------


@dataclass
class _Read:
    """A value to read before a state: its name in ``values`` and how to read it."""

    name: str
    producer: str
    output: str
    collected: bool = False
    options: tuple[OutputRef, ...] = ()


class FlowEmitter:
    """Builds the state machine of a pipeline with groups or output parameters."""

    def __init__(self, checked: CheckedPipeline, config: Config) -> None:
        self.checked, self.config, self.spec = checked, config, checked.spec
        self.root = config.artifact_root
        self.bucket, _, key_root = self.root.removeprefix("s3://").partition("/")
        self.key_root = f"{key_root}/" if key_root else ""
        self.loops = {
            s.id: [g.id for g in self.spec.groups_of(s) if g.kind == "loop"]
            for s in self.spec.steps
        }
        self.ex = FlowExpressions(checked, self.root, self)
        self.names = StateNames.of(self.spec)
        self.one_of_options = {
            o.step
            for s in self.spec.steps
            for _, b in s.arguments
            if isinstance(b, OneOfRef)
            for o in b.options
        }
        self.parallels = 0
        self.added: dict[str, set[str]] = {}

    # ----- paths -------------------------------------------------------------------------

    def output_prefix(self, step_id: str, output: str, loops: list[str]) -> Any:
        """``{root}/{pipeline}/{run}/{step}/{output}/{i}/...`` for the given enclosing loops."""
        parts: list[Any] = [f"{self.root}/{self.spec.name}/", self.ex.run_id(), f"/{step_id}/"]
        parts.append(f"{output}/")
        for loop in loops:
            parts += [_Expr(_index(loop)), "/"]
        return self.ex.join(parts)

    def _key(self, step_id: str, output: str, loops: list[str], file: bool = True) -> Any:
        parts: list[Any] = [f"{self.key_root}{self.spec.name}/", self.ex.run_id()]
        parts.append(f"/{step_id}/{output}/")
        for loop in loops:
            parts += [_Expr(_index(loop)), "/"]
        if file:
            parts.append(jobs.PARAMETER_FILE)
        return self.ex.join(parts)

    def _value_key(self, producer: str, output: str) -> Any:
        """The S3 key of an output parameter the current state can see."""
        step = self.spec.step(producer)
        if jobs.job_kind(step) == "training":
            uri = f"$states.input.uris.{_field(producer)}"
            tail = _lit(f"/{output}/{jobs.PARAMETER_FILE}")
            return _Expr(f"$substringAfter({uri}, {_lit('s3://' + self.bucket + '/')}) & {tail}")
        return self._key(producer, output, self.loops[producer])

    # ----- segments ----------------------------------------------------------------------

    def link(self, segments: list[Segment]) -> Segment:
        states: dict[str, dict[str, Any]] = {}
        for here, nxt in itertools.pairwise(segments):
            for name in here.exits:
                here.states[name]["Next"] = nxt.entry
        for segment in segments:
            states.update(segment.states)
        return Segment(segments[0].entry, states, segments[-1].exits)

    def machine(self, segments: list[Segment]) -> dict[str, Any]:
        linked = self.link(segments)
        for name in linked.exits:
            linked.states[name]["End"] = True
        return {"StartAt": linked.entry, "States": linked.states}

    def scope(self, scope: str | None) -> list[Segment]:
        graph = scope_graph(self.spec, self.checked.graph, scope)
        durations = {n: 1.0 for n in graph.nodes}
        for s in self.spec.steps:
            rep = representative(self.spec, s, scope)
            if rep is not None:
                durations[rep] = durations.get(rep, 0.0) + float(s.expected_seconds or 1)
        plan = layout(graph, durations, mode="nested")
        for node, extra in plan.added.items():
            self.added.setdefault(node.lstrip("@"), set()).update(e.lstrip("@") for e in extra)
        return self.sequence(plan.root)

    def sequence(self, seq: Sequence) -> list[Segment]:
        out: list[Segment] = []
        for item in seq.items:
            if isinstance(item, Parallel):
                out.append(self.parallel(item))
            elif isinstance(item, str) and item.startswith("@"):
                out.append(self.group(item[1:]))
            else:
                assert isinstance(item, str)  # scopes are laid out without handshakes
                out.append(self.step(item))
        return out

    def parallel(self, block: Parallel) -> Segment:
        self.parallels += 1
        name = self.names.new(f"parallel-{self.parallels}")
        state = {
            "Type": "Parallel",
            "Branches": [self.machine(self.sequence(b)) for b in block.branches],
            "Output": _wrap(carry(uris="$merge($states.result.uris)")),
        }
        return Segment(name, {name: state}, (name,))

    # ----- values --------------------------------------------------------------------------

    def _reads_for(self, bindings: list[Binding]) -> list[_Read]:
        reads: list[_Read] = []
        for b in bindings:
            if isinstance(b, OutputRef) and self._is_parameter(b):
                reads.append(_Read(f"{b.step}/{b.output}", b.step, b.output))
            elif isinstance(b, CollectedRef) and self._is_parameter(OutputRef(b.step, b.output)):
                reads.append(_Read(f"*{b.step}/{b.output}", b.step, b.output, collected=True))
            elif isinstance(b, OneOfRef) and self._is_parameter(b.options[0]):
                name = "|".join(f"{o.step}/{o.output}" for o in b.options)
                reads.append(_Read(name, b.options[0].step, b.options[0].output, options=b.options))
        return reads

    def _is_parameter(self, ref: OutputRef) -> bool:
        out = self.spec.component(self.spec.step(ref.step).component).output(ref.output)
        return out is not None and out.kind == "parameter"

    def read(self, read: _Read, reader_loops: list[str]) -> Segment:
        """States putting one value into ``values`` (a Fail state names the producer when the
        value cannot be read: the step did not write it)."""
        self.ex.reader = reader_loops
        name = self.names.new(f"read {read.name}"[:70])
        failed = self.names.new(f"{name}-failed")
        fail = {
            "Type": "Fail",
            "Error": "StepFailed",
            "Cause": f"step '{read.producer}' failed (its output parameter '{read.output}' "
            "could not be read)",
        }
        catch = [{"ErrorEquals": ["States.ALL"], "Next": failed}]
        store = f"$merge([$states.input.values, {{{_lit(read.name)}: %s}}])"
        if read.collected:
            return self._collect(read, reader_loops, name, failed, fail, catch, store)
        if read.options:
            keys = [(o, _finish(self._value_key(o.step, o.output))) for o in read.options]
            key = " : ".join(
                f"$exists($states.input.uris.{_field(o.step)}) ? {_unwrap(k)}" for o, k in keys[:-1]
            )
            key = f"({key} : {_unwrap(keys[-1][1])})"
            key_value: Any = _wrap(key)
        else:
            key_value = _finish(self._value_key(read.producer, read.output))
        state = {
            "Type": "Task",
            "Resource": GET_OBJECT,
            "Arguments": {"Bucket": self.bucket, "Key": key_value},
            "Output": _wrap(carry(values=store % "$parse($states.result.Body)")),
            "Catch": catch,
        }
        return Segment(name, {name: state, failed: fail}, (name,))

    def _collect(
        self,
        read: _Read,
        reader_loops: list[str],
        name: str,
        failed: str,
        fail: dict[str, Any],
        catch: list[dict[str, Any]],
        store: str,
    ) -> Segment:
        """``s3:listObjectsV2`` of the iterations' values, then a Map reading each, in index
        order (one listing page: up to 1,000 iterations, far more than fit in the 256
        characters of a container argument)."""
        theirs = self.loops[read.producer]
        common = theirs[: shared(theirs, reader_loops)]
        prefix = _unwrap(_finish(self._key(read.producer, read.output, common, file=False)))
        order = (
            '$sort($states.result.Contents[$substringAfter(Key, $p) ~> $contains("/")], '
            'function($a, $b) { $number($substringBefore($substringAfter($a.Key, $p), "/")) > '
            '$number($substringBefore($substringAfter($b.Key, $p), "/")) }).Key'
        )
        listing = {
            "Type": "Task",
            "Resource": LIST_OBJECTS,
            "Arguments": {"Bucket": self.bucket, "Prefix": _wrap(prefix)},
            "Output": _wrap(
                carry(
                    values=f'$merge([$states.input.values, {{"_keys": '
                    f"[($p := {prefix}; {order})]}}])"
                )
            ),
            "Catch": catch,
        }
        getter = self.names.new(f"{name}-get")
        each = self.names.new(f"{name}-each")
        mapped = {
            "Type": "Map",
            "Items": "{% $states.input.values._keys %}",
            "ItemSelector": {"key": "{% $states.context.Map.Item.Value %}"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": getter,
                "States": {
                    getter: {
                        "Type": "Task",
                        "Resource": GET_OBJECT,
                        "Arguments": {"Bucket": self.bucket, "Key": "{% $states.input.key %}"},
                        "Output": "{% $parse($states.result.Body) %}",
                        "End": True,
                    }
                },
            },
            "Output": _wrap(
                carry(
                    values=store.replace("$states.input.values", _without_keys()) % "$states.result"
                )
            ),
            "Catch": catch,
        }
        listing["Next"] = each
        return Segment(name, {name: listing, each: mapped, failed: fail}, (each,))

    def _reads(self, bindings: list[Binding], loops: list[str]) -> list[Segment]:
        return [self.read(r, loops) for r in self._reads_for(bindings)]

    def operand(self, b: Binding) -> str:
        """A comparison operand or loop item source as a JSONata expression (typed)."""
        if isinstance(b, Constant):
            return json.dumps(b.value, sort_keys=True, ensure_ascii=False)
        if isinstance(b, ParameterRef):
            return f"$states.input.params.{_field(b.name)}"
        if isinstance(b, LoopItemRef):
            item = f"$states.input.loops.{_field(b.loop)}.item"
            return item if b.key is None else f"$lookup({item}, {_lit(b.key)})"
        if isinstance(b, OutputRef):
            return f"$states.input.values.{_field(b.step + '/' + b.output)}"
        if isinstance(b, CollectedRef):
            return f"$states.input.values.{_field('*' + b.step + '/' + b.output)}"
        if isinstance(b, OneOfRef):
            name = "|".join(f"{o.step}/{o.output}" for o in b.options)
            return f"$states.input.values.{_field(name)}"
        assert isinstance(b, RunStatusRef)
        return (
            "($exists($states.input.failure) ? $string($states.input.failure) : "
            '$string({"error": null, "failed_step": null, "state": "SUCCEEDED"}))'
        )

    # ----- steps ---------------------------------------------------------------------------

    def step(self, step_id: str, suffix: str = "") -> Segment:
        spec_step = self.spec.step(step_id)
        loops = self.loops[step_id]
        comp = self.spec.component(spec_step.component)
        reads = self._reads([b for _, b in spec_step.arguments], loops)
        view, synthetic, overrides = self._view(spec_step, comp)
        self.ex.reader, self.ex.synthetic, self.ex.overrides = loops, synthetic, overrides
        name = step_id if not suffix else self.names.new(step_id + suffix)
        failed = self.names.new(f"{name}-failed")
        task = _task(self.checked, view, self.config, self.ex, failed)
        kind = jobs.job_kind(spec_step)
        args = task["Arguments"]
        if loops:
            key = "TrainingJobName" if kind == "training" else "ProcessingJobName"
            args[key] = _finish(loop_job_name(step_id, loops))
            self._iteration_paths(spec_step, args, kind, loops)
        if kind == "training":
            uri = "$states.result.ModelArtifacts.S3ModelArtifacts"
            merged = f"$merge([$states.input.uris, {{{_lit(step_id)}: {uri}}}])"
            task["Output"] = _wrap(carry(uris=merged))
        elif step_id in self.one_of_options:  # a OneOf reader asks which branch ran
            merged = f'$merge([$states.input.uris, {{{_lit(step_id)}: "ran"}}])'
            task["Output"] = _wrap(carry(uris=merged))
        fail = {
            "Type": "Fail",
            "Error": "StepFailed",
            "Cause": f"step '{step_id}' failed (see its SageMaker job)",
        }
        self.ex.synthetic, self.ex.overrides = {}, {}
        return self.link([*reads, Segment(name, {name: task, failed: fail}, (name,))])

    def _view(
        self, step: StepSpec, comp: Any
    ) -> tuple[StepSpec, dict[str, Any], dict[tuple[str, str], Any]]:
        """The step with control-flow bindings replaced by names the shared request builders
        know (synthetic parameters, plain outputs), and what those names stand for."""
        args: list[tuple[str, Binding]] = []
        synthetic: dict[str, Any] = {}
        overrides: dict[tuple[str, str], Any] = {}
        for name, b in step.arguments:
            inp = comp.input(name)
            artifact = inp is not None and inp.kind == "artifact"
            if artifact and isinstance(b, CollectedRef):
                b = OutputRef(b.step, b.output)
            elif artifact and isinstance(b, OneOfRef):
                overrides[(b.options[0].step, b.options[0].output)] = self._one_of_uri(b)
                b = b.options[0]
            elif not artifact and not isinstance(b, (Constant, ParameterRef)):
                key = "\x00" + name
                expr = self.operand(b)
                param = self._param_type(b)
                synthetic[key] = _Expr(expr if param == "str" else f"$string({expr})")
                b = ParameterRef(key)
            args.append((name, b))
        return replace(step, arguments=tuple(args)), synthetic, overrides

    def _param_type(self, b: Binding) -> str | None:
        if isinstance(b, OutputRef):
            out = self.spec.component(self.spec.step(b.step).component).output(b.output)
            return out.type if out is not None else None
        if isinstance(b, OneOfRef):
            return self._param_type(b.options[0])
        if isinstance(b, RunStatusRef):
            return "str"
        return None

    def _one_of_uri(self, b: OneOfRef) -> Any:
        exprs = []
        for o in b.options:
            kind = jobs.job_kind(self.spec.step(o.step))
            if kind == "training":
                uri = JsonataExpressions.step_output(self.ex, o.step, kind, o.output)
            else:
                uri = self.output_prefix(o.step, o.output, self.loops[o.step])
            exprs.append((o, _unwrap(_finish(uri))))
        text = " : ".join(
            f"$exists($states.input.uris.{_field(o.step)}) ? {e}" for o, e in exprs[:-1]
        )
        return _Expr(f"({text} : {exprs[-1][1]})")

    def _iteration_paths(
        self, step: StepSpec, args: dict[str, Any], kind: str, loops: list[str]
    ) -> None:
        """A loop step writes each iteration under ``{output}/{i}/`` (Training: the step's
        prefix ``{i}/``, where the service adds the job name)."""
        if kind == "processing":
            for out in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
                out["S3Output"]["S3Uri"] = _finish(
                    self.output_prefix(step.id, out["OutputName"], loops)
                )
            return
        parts: list[Any] = [f"{self.root}/{self.spec.name}/", self.ex.run_id(), f"/{step.id}/"]
        for loop in loops:
            parts += [_Expr(_index(loop)), "/"]
        args["OutputDataConfig"]["S3OutputPath"] = _finish(self.ex.join(parts))
        if "CheckpointConfig" in args:
            parts[2] = f"/{step.id}/_checkpoints/"
            args["CheckpointConfig"]["S3Uri"] = _finish(self.ex.join(parts))

    # ----- groups --------------------------------------------------------------------------

    def group(self, group_id: str) -> Segment:
        group = self.spec.group(group_id)
        assert group is not None
        outer = self._outer_loops(group)
        operands = [c.left for c in (*group.when, *group.unless)]
        operands += [c.right for c in (*group.when, *group.unless)]
        if group.kind == "loop" and not distributed(self.spec, group):
            operands.append(group.items)  # type: ignore[arg-type]
        reads = self._reads(operands, outer)
        if group.kind == "condition":
            body = self.condition(group)
        elif group.kind == "loop":
            body = self.loop(group, outer)
        else:
            body = self.exit_handler(group)
        return self.link([*reads, body])

    def _outer_loops(self, group: GroupSpec) -> list[str]:
        chain: list[str] = []
        parent = self.spec.group(group.parent) if group.parent else None
        while parent is not None:
            if parent.kind == "loop":
                chain.append(parent.id)
            parent = self.spec.group(parent.parent) if parent.parent else None
        return chain[::-1]

    def _comparison(self, c: Comparison) -> str:
        op = {"==": "=", "!=": "!="}.get(c.op, c.op)
        return f"({self.operand(c.left)} {op} {self.operand(c.right)})"

    def condition(self, group: GroupSpec) -> Segment:
        holds = " and ".join(self._comparison(c) for c in group.when) or "true"
        if group.unless:
            holds = f"({holds}) and $not({' or '.join(self._comparison(c) for c in group.unless)})"
        name = self.names.new(group.id)
        skip = self.names.new(f"{group.id}-not-taken")
        body = self.link(self.scope(group.id))
        choice = {
            "Type": "Choice",
            "Choices": [{"Condition": _wrap(holds), "Next": body.entry}],
            "Default": skip,
        }
        states = {name: choice, **body.states, skip: {"Type": "Pass"}}
        return Segment(name, states, (*body.exits, skip))

    def loop(self, group: GroupSpec, outer: list[str]) -> Segment:
        name = self.names.new(group.id)
        done = self.names.new(f"{group.id}-iteration-done")
        iteration = self.link(self.scope(group.id))
        iteration.states[done] = {"Type": "Pass", "Output": {}}  # keeps the Map result small
        for exit_name in iteration.exits:
            iteration.states[exit_name]["Next"] = done
        iteration.states[done]["End"] = True
        entry = {
            "index": "$states.context.Map.Item.Index",
            "item": "$states.context.Map.Item.Value",
        }
        item = "{" + ", ".join(f'"{k}": {v}' for k, v in entry.items()) + "}"
        state: dict[str, Any] = {"Type": "Map"}
        processor: dict[str, Any] = {"ProcessorConfig": {"Mode": "INLINE"}}
        if distributed(self.spec, group):
            assert isinstance(group.items, OutputRef)
            self.ex.reader = outer
            producer = self.spec.step(group.items.step)
            key = (
                self._value_key(producer.id, group.items.output)
                if jobs.job_kind(producer) == "training"
                else self._key(producer.id, group.items.output, self.loops[producer.id])
            )
            state["ItemReader"] = {
                "Resource": ITEM_READER,
                "ReaderConfig": {"InputType": "JSON"},
                "Arguments": {"Bucket": self.bucket, "Key": _finish(key)},
            }
            processor["ProcessorConfig"] = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
            state["ToleratedFailurePercentage"] = 0  # no failed iteration is tolerated
        else:
            assert group.items is not None
            items = group.items
            if isinstance(items, Constant):
                state["Items"] = _finish(items.value)
            else:
                state["Items"] = _wrap(self.operand(items))
        loops = f"$merge([$states.input.loops, {{{_lit(group.id)}: {item}}}])"
        state["ItemSelector"] = {  # an object: what every ASL parser accepts
            k: _wrap(loops if k == "loops" else f"$states.input.{k}") for k in KEYS
        }
        state["ItemProcessor"] = {
            **processor,
            "StartAt": iteration.entry,
            "States": iteration.states,
        }
        state["MaxConcurrency"] = group.parallelism or 0
        state["Output"] = "{% $states.input %}"
        return Segment(name, {name: state}, (name,))

    def exit_handler(self, group: GroupSpec) -> Segment:
        """The guarded steps as a one-branch Parallel; its Catch records the failure, runs the
        exit task and fails the execution. On success the exit task runs where it is laid out."""
        name = self.names.new(group.id)
        caught = self.names.new(f"{group.id}-failed")
        cause = "$states.errorOutput.Cause"
        step_of = f'$substringBefore($substringAfter({cause}, "step \'"), "\'")'
        failure = (
            '{"error": $substring($string(' + cause + f"), 0, {ERROR_CHARS}), "
            f'"failed_step": ($contains($string({cause}), "step \'") ? {step_of} : null), '
            '"state": "FAILED"}'
        )
        assert group.exit_step is not None
        on_failure = self.step(group.exit_step, suffix="-after-failure")
        for exit_name in on_failure.exits:
            on_failure.states[exit_name]["Next"] = caught
        state = {
            "Type": "Parallel",
            "Branches": [self.machine(self.scope(group.id))],
            "Output": "{% $states.result[0] %}",
            "Catch": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "Next": on_failure.entry,
                    "Output": _wrap(f'$merge([$states.input, {{"failure": {failure}}}])'),
                }
            ],
        }
        fail = {
            "Type": "Fail",
            "Error": "StepFailed",
            "Cause": f"a step under exit handler '{group.id}' failed; exit task "
            f"'{group.exit_step}' ran",
        }
        return Segment(name, {name: state, **on_failure.states, caught: fail}, (name,))


def _unwrap(value: Any) -> str:
    """The JSONata text of a finished value (an expression, or a literal string)."""
    if isinstance(value, str) and value.startswith("{% ") and value.endswith(" %}"):
        return value[3:-3]
    return _lit(str(value))


def _without_keys() -> str:
    return '$sift($states.input.values, function($v, $k) { $k != "_keys" })'


def start_state(checked: CheckedPipeline) -> dict[str, Any]:
    defaults = {p.name: p.default for p in checked.spec.parameters if p.optional}
    return {
        "Type": "Pass",
        "Comment": "merge parameter defaults into the execution input",
        "Output": '{% {"params": $merge(['
        + json.dumps(defaults, sort_keys=True, ensure_ascii=False)
        + ', $states.input]), "uris": {}, "values": {}, "loops": {}, '
        '"run": $states.context.Execution.Name} %}',
    }


def compile_flow(
    checked: CheckedPipeline, config: Config
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The state machine body (``StartAt``, ``States``) and notes for a pipeline with control
    flow or output parameters."""
    emitter = FlowEmitter(checked, config)
    start = Segment(START, {START: start_state(checked)}, (START,))
    body = emitter.machine([start, *emitter.scope(None)])
    notes = tuple(
        f"note: '{node}' now also waits for {', '.join(sorted(extra))}: Step Functions nests "
        "only sequences and parallel blocks, and this part of the graph is not series-parallel"
        for node, extra in sorted(emitter.added.items())
    )
    notes += (
        "note: the state machine role needs, besides SageMaker: "
        + permissions(checked.spec, config.artifact_root),
    )
    return body, notes
