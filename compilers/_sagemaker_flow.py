"""Control flow on SageMaker Pipelines: literal-list loops unrolled, conditions flattened.

SageMaker Pipelines has no loop and its ``ConditionStep`` holds job steps only (the official
definition schema lists no Condition step inside ``IfSteps``), so the pipeline is rewritten
before any job request is built:

- a step inside ``dsl.ParallelFor`` over a list literal becomes one step per item,
  ``<step>-<i>`` (``<step>-<i>-<j>`` in nested loops); the loop item becomes a constant of that
  iteration, an output read in the same iteration names that iteration's step, and
  ``dsl.Collected`` names every iteration's step, in order;
- each condition group (per iteration) becomes one ``ConditionStep`` named like the group
  (``condition-2``, ``condition-2-0``) whose ``Conditions`` are the conjunction of its own
  comparisons and those of every condition around it (an ``Elif``/``Else`` adds the negation
  of each earlier branch's comparison: ``<`` becomes ``>=``, ``==`` becomes ``NotEquals``, ...,
  exact for the same-typed operands the graph check allows); its ``IfSteps`` are the steps
  directly inside it.

The result is a :class:`Plan`: loop-free step instances over a loop-free spec (so the shared
job builders in ``aws_jobs`` read it unchanged), plus the condition instances. The rules a
flattened document cannot keep are reported by :func:`flow_diagnostics` (PC008/PC009), never
dropped: a condition reading a value produced inside another branch, ``.after()`` across a
branch, collected values that have no faithful string form, and names over the 64-character
limit. Pure functions: spec in, plan out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipecast.dsl.spec import (
    Binding,
    CollectedRef,
    Comparison,
    Constant,
    GroupSpec,
    LoopItemRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    StepSpec,
)
from pipecast.errors import Diagnostic, SourceLocation

__all__ = [
    "NEGATED",
    "RUNTIME_LOOPS_HINT",
    "ConditionInstance",
    "Instance",
    "Plan",
    "flow_diagnostics",
    "instance_id",
    "plan",
]

NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_NAME_LIMIT = 64
_SCALARS = ("str", "int", "float", "bool")
RUNTIME_LOOPS_HINT = (
    "on SageMaker loop over a list literal (it is unrolled into one step per item), or use "
    ".set_instances(...) for data-parallel work on one step"
)


def instance_id(base: str, index: tuple[int, ...]) -> str:
    """``<id>`` outside loops, ``<id>-<i>[-<j>...]`` for an iteration."""
    return "-".join([base, *(str(i) for i in index)])


@dataclass(frozen=True)
class Instance:
    """One step of the flattened pipeline: a step (or one iteration of it) with its bindings
    resolved. ``collected`` maps an argument to the instances it fans in (in iteration
    order); ``condition`` is the innermost condition instance it runs under."""

    step: StepSpec
    origin: str
    index: tuple[int, ...]
    condition: str | None
    conditions: tuple[str, ...]  # every condition instance around it, outermost first
    collected: Mapping[str, tuple[str, ...]]
    after: tuple[str, ...]  # instances it waits for through .after() (not through data)


@dataclass(frozen=True)
class ConditionInstance:
    """A condition group in one iteration: its own comparisons (loop items resolved to
    constants, outputs to instance ids) and the condition instances around it."""

    id: str
    group: str
    comparisons: tuple[Comparison, ...]  # when, then the negation of each unless
    outer: tuple[str, ...]  # enclosing condition instances, outermost first
    location: SourceLocation | None


@dataclass(frozen=True)
class Plan:
    """The flattened pipeline: ``spec`` holds the instances as steps (no groups)."""

    spec: PipelineSpec
    instances: tuple[Instance, ...]
    conditions: Mapping[str, ConditionInstance]

    def conjunction(self, condition: str) -> tuple[Comparison, ...]:
        """Every comparison that must hold for steps directly in ``condition`` to run."""
        found = self.conditions[condition]
        chain = [*found.outer, condition]
        return tuple(c for cid in chain for c in self.conditions[cid].comparisons)


class _Unroller:
    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self.loops = {s.id: [g for g in spec.groups_of(s) if g.kind == "loop"] for s in spec.steps}

    def group_loops(self, group: GroupSpec) -> list[GroupSpec]:
        """The loops around ``group`` (outermost first), not counting itself."""
        chain: list[GroupSpec] = []
        parent = self.spec.group(group.parent) if group.parent else None
        while parent is not None:
            if parent.kind == "loop":
                chain.append(parent)
            parent = self.spec.group(parent.parent) if parent.parent else None
        return chain[::-1]

    def items(self, loop: GroupSpec, outer: tuple[int, ...]) -> list[Any]:
        value = self.value(loop.items, self.group_loops(loop), outer)
        if not isinstance(value, list):
            raise _RunTimeItems(loop)
        return value

    def value(self, binding: Binding | None, loops: list[GroupSpec], index: tuple[int, ...]) -> Any:
        if isinstance(binding, Constant):
            return binding.value
        if isinstance(binding, LoopItemRef):
            position = next(i for i, g in enumerate(loops) if g.id == binding.loop)
            item = self.items(loops[position], index[:position])[index[position]]
            return item if binding.key is None else item[binding.key]
        raise _RunTimeItems(None)

    def expand(self, step_id: str) -> list[tuple[int, ...]]:
        indices: list[tuple[int, ...]] = [()]
        for loop in self.loops[step_id]:
            indices = [
                (*index, i) for index in indices for i in range(len(self.items(loop, index)))
            ]
        return indices

    def shared(self, reader_loops: list[GroupSpec], producer: str) -> int:
        n = 0
        for mine, theirs in zip(self.loops[producer], reader_loops, strict=False):
            if mine.id != theirs.id:
                break
            n += 1
        return n

    def iterations(
        self, producer: str, reader_loops: list[GroupSpec], index: tuple[int, ...]
    ) -> tuple[str, ...]:
        """Every instance of ``producer`` a reader at ``index`` sees (the runner's rule)."""
        n = self.shared(reader_loops, producer)
        return tuple(instance_id(producer, i) for i in self.expand(producer) if i[:n] == index[:n])

    def resolve(self, binding: Binding, loops: list[GroupSpec], index: tuple[int, ...]) -> Binding:
        if isinstance(binding, LoopItemRef):
            return Constant(self.value(binding, loops, index))
        if isinstance(binding, OutputRef):
            n = len(self.loops.get(binding.step, []))
            return OutputRef(instance_id(binding.step, index[:n]), binding.output)
        return binding

    def comparisons(self, group: GroupSpec, index: tuple[int, ...]) -> tuple[Comparison, ...]:
        loops = self.group_loops(group)
        outer = index[: len(loops)]

        def one(c: Comparison, op: str) -> Comparison:
            return Comparison(
                op, self.resolve(c.left, loops, outer), self.resolve(c.right, loops, outer)
            )

        return tuple(one(c, c.op) for c in group.when) + tuple(
            one(c, NEGATED[c.op]) for c in group.unless
        )


class _RunTimeItems(Exception):
    """A loop whose items are not a literal (refused by the ``runtime_loops`` feature)."""

    def __init__(self, loop: GroupSpec | None) -> None:
        super().__init__(loop.id if loop else "loop")
        self.loop = loop


def plan(spec: PipelineSpec, order: tuple[str, ...], after: Mapping[str, list[str]]) -> Plan:
    """Flatten ``spec``: ``order`` is the steps' document order, ``after`` each step's
    explicit-only predecessors (the graph compiler's, so loop-free documents are unchanged)."""
    u = _Unroller(spec)
    instances: list[Instance] = []
    conditions: dict[str, ConditionInstance] = {}
    for step_id in order:
        step = spec.step(step_id)
        loops = u.loops[step_id]
        for index in u.expand(step_id):
            chain: list[str] = []
            for group in spec.groups_of(step):
                if group.kind != "condition":
                    continue
                cid = instance_id(group.id, index[: len(u.group_loops(group))])
                if cid not in conditions:
                    conditions[cid] = ConditionInstance(
                        cid, group.id, u.comparisons(group, index), tuple(chain), group.location
                    )
                chain.append(cid)
            collected: dict[str, tuple[str, ...]] = {}
            arguments: list[tuple[str, Binding]] = []
            for name, binding in step.arguments:
                if isinstance(binding, CollectedRef):
                    producers = u.iterations(binding.step, loops, index)
                    collected[name] = producers
                    arguments.append((name, binding))
                else:
                    arguments.append((name, u.resolve(binding, loops, index)))
            waits = tuple(
                sorted(
                    {p for pred in after.get(step_id, []) for p in u.iterations(pred, loops, index)}
                )
            )
            new = replace(
                step,
                id=instance_id(step_id, index),
                arguments=tuple(arguments),
                after=waits,
                group=None,
            )
            instances.append(
                Instance(
                    new,
                    step_id,
                    index,
                    chain[-1] if chain else None,
                    tuple(chain),
                    collected,
                    waits,
                )
            )
    flat = replace(spec, steps=tuple(i.step for i in instances), groups=())
    return Plan(flat, tuple(instances), conditions)


# ----- what a flattened SageMaker document cannot keep ----------------------------------------


def _output_kind(spec: PipelineSpec, step_id: str, output: str) -> tuple[str, str] | None:
    try:
        out = spec.component(spec.step(step_id).component).output(output)
    except KeyError:
        return None
    return None if out is None else (out.kind, out.type)


def _operand_type(spec: PipelineSpec, origin: Mapping[str, str], b: Binding) -> str | None:
    if isinstance(b, Constant):
        v = b.value
        return (
            "bool"
            if isinstance(v, bool)
            else "int"
            if isinstance(v, int)
            else "float"
            if isinstance(v, float)
            else "str"
            if isinstance(v, str)
            else "list"
            if isinstance(v, list)
            else "dict"
        )
    if isinstance(b, ParameterRef):
        p = spec.parameter(b.name)
        return None if p is None else p.type
    if isinstance(b, OutputRef):
        found = _output_kind(spec, origin.get(b.step, b.step), b.output)
        return None if found is None else found[1]
    return None


def flow_diagnostics(spec: PipelineSpec) -> list[Diagnostic]:
    """PC008/PC009 for what a flattened SageMaker definition cannot express faithfully, and
    PC025 for a loop over an enclosing item that is not a list (nothing to unroll)."""
    if not spec.groups and not any(
        isinstance(b, CollectedRef) for s in spec.steps for _, b in s.arguments
    ):  # nothing to flatten: only the rules a flat definition can break
        return [
            *_parameter_problems(spec),
            *(
                d
                for s in spec.steps
                for d in _reads(spec, s.id, s.arguments, {}, s.location or spec.location)
            ),
        ]
    try:
        found = plan(
            spec, tuple(s.id for s in spec.steps), {s.id: list(s.after) for s in spec.steps}
        )
    except _RunTimeItems as exc:
        if exc.loop is None:
            return []  # refused by the runtime_loops feature check, with its own message
        return [_not_a_list(spec, exc.loop)]
    return [*_parameter_problems(spec), *_problems(spec, found)]


def _not_a_list(spec: PipelineSpec, loop: GroupSpec) -> Diagnostic:
    """A loop over an enclosing loop's item (or a key of it) that is not a list in some
    iteration: nothing to unroll (the other targets find out at run time)."""
    ref = loop.items
    assert isinstance(ref, LoopItemRef)
    what = f"the item of loop '{ref.loop}'" + ("" if ref.key is None else f" at '{ref.key}'")
    return Diagnostic(
        "PC025",
        f"loop '{loop.id}' iterates over {what}, which is not a list in every iteration",
        loop.location or spec.location,
        "make that value a list in every item of the enclosing loop's list literal",
    )


def _parameter_problems(spec: PipelineSpec) -> list[Diagnostic]:
    return [
        Diagnostic(
            "PC008",
            f"pipeline parameter '{p.name}' is a {p.type}: SageMaker pipeline parameters are "
            "String, Integer, Float or Boolean",
            p.location or spec.location,
            "use a list literal in the pipeline (a loop over it is unrolled), or a str "
            "parameter the step parses; Step Functions, Kubeflow and the local runner take "
            f"{p.type} parameters",
        )
        for p in spec.parameters
        if p.type in ("list", "dict")
    ]


def _problems(spec: PipelineSpec, found: Plan) -> Iterator[Diagnostic]:
    origin = {i.step.id: i.origin for i in found.instances}
    by_id = {i.step.id: i for i in found.instances}
    originals = {s.id for s in spec.steps}
    yield from _names(spec, found, originals)
    for inst in found.instances:
        where = spec.step(inst.origin).location or spec.location
        for pred in inst.after:
            if not _runs_whenever(by_id[pred].conditions, inst.conditions):
                yield Diagnostic(
                    "PC008",
                    f"step '{inst.step.id}' runs after '{pred}', which runs only in a branch "
                    f"'{inst.step.id}' is not in: on SageMaker a step cannot wait for a step "
                    "that may not run",
                    where,
                    "move the step into the same dsl.If block, or drop the .after(); Step "
                    "Functions, Kubeflow and the local runner run it either way",
                    step=inst.origin,
                )
        yield from _collected(spec, inst, where)
        yield from _reads(spec, inst.origin, inst.step.arguments, origin, where)
    for cond in found.conditions.values():
        where = cond.location or spec.location
        for c in cond.comparisons:
            for b in (c.left, c.right):
                if isinstance(b, OutputRef) and by_id[b.step].conditions:
                    yield Diagnostic(
                        "PC008",
                        f"condition '{cond.id}' reads '{b.step}.{b.output}', which is produced "
                        "inside another branch: SageMaker evaluates every condition step of the "
                        "flattened pipeline, and that step may not have run",
                        where,
                        "compare values produced outside every dsl.If, or compile for Step "
                        "Functions or Kubeflow, which nest conditions",
                    )
            types = {_operand_type(spec, origin, b) for b in (c.left, c.right)}
            if types & {"list", "dict"}:
                yield Diagnostic(
                    "PC008",
                    f"condition '{cond.id}' compares a list or dict: SageMaker conditions compare "
                    "strings, numbers and booleans",
                    where,
                    "compare a scalar (e.g. a count) instead",
                )
            elif "str" in types and c.op not in ("==", "!="):
                yield Diagnostic(
                    "PC008",
                    f"condition '{cond.id}' orders strings ({c.op}): SageMaker compares only "
                    "numbers with <, <=, > and >=",
                    where,
                    "compare strings with == or != on SageMaker",
                )
    for group in spec.groups:
        if group.kind == "loop" and group.parallelism is not None:
            yield Diagnostic(
                "PC008",
                f"loop '{group.id}': parallelism={group.parallelism} is not kept on SageMaker, "
                "where the unrolled iterations all start at once",
                group.location or spec.location,
                "limit the whole pipeline with ParallelismConfiguration "
                "(MaxParallelExecutionSteps) when you create it; Step Functions (Map "
                "MaxConcurrency), Kubeflow and the local runner keep the per-loop limit",
                severity="warning",
            )


def _reads(
    spec: PipelineSpec,
    step: str,
    arguments: tuple[tuple[str, Binding], ...],
    origin: Mapping[str, str],
    where: SourceLocation | None,
) -> Iterator[Diagnostic]:
    """A list or dict output read into a parameter input (``origin``: instance → step)."""
    comp = spec.component(spec.step(step).component)
    for name, b in arguments:
        inp = comp.input(name)
        if isinstance(b, OutputRef) and inp is not None and inp.kind == "parameter":
            kind = _output_kind(spec, origin.get(b.step, b.step), b.output)
            if kind is not None and kind[1] not in _SCALARS:
                yield Diagnostic(
                    "PC008",
                    f"step '{step}': input '{name}' reads the {kind[1]} output "
                    f"'{b.output}': SageMaker passes a value read with Std:JsonGet as text "
                    "only for str, int, float and bool values",
                    where,
                    "write the list/dict into an output artifact (a JSON file) and read it "
                    "as an Input[Dataset]; Step Functions, Kubeflow and the local runner "
                    "pass it",
                    step=step,
                )


def _runs_whenever(producer: tuple[str, ...], reader: tuple[str, ...]) -> bool:
    """The producer's conditions are a prefix of the reader's: it ran whenever the reader runs."""
    return reader[: len(producer)] == producer


def _names(spec: PipelineSpec, found: Plan, originals: set[str]) -> Iterator[Diagnostic]:
    seen: dict[str, str] = {}
    for inst in found.instances:
        for name, what in ((inst.step.id, f"step '{inst.origin}'"),):
            yield from _name(spec, name, what, inst.origin, seen, originals)
    for cond in found.conditions.values():
        yield from _name(spec, cond.id, f"condition '{cond.group}'", None, seen, originals)


def _name(
    spec: PipelineSpec,
    name: str,
    what: str,
    step: str | None,
    seen: dict[str, str],
    originals: set[str],
) -> Iterator[Diagnostic]:
    where = spec.step(step).location if step else spec.location
    if len(name) > _NAME_LIMIT:
        yield Diagnostic(
            "PC009",
            f"{what} becomes SageMaker step '{name}', longer than {_NAME_LIMIT} characters",
            where,
            "choose a shorter .set_name(), or loop over fewer items",
            step=step,
        )
    other = seen.get(name)
    if other is not None or (step is None and name in originals):
        yield Diagnostic(
            "PC009",
            f"{what} becomes SageMaker step '{name}', a name {other or 'a step'} already has",
            where,
            "rename one of them with .set_name()",
            step=step,
        )
    seen[name] = what


def _collected(
    spec: PipelineSpec, inst: Instance, where: SourceLocation | None
) -> Iterator[Diagnostic]:
    comp = spec.component(spec.step(inst.origin).component)
    for name, producers in inst.collected.items():
        inp = comp.input(name)
        binding = inst.step.argument(name)
        assert isinstance(binding, CollectedRef)
        if inp is not None and inp.kind == "artifact":
            if inst.step.spot is not None:
                yield Diagnostic(
                    "PC008",
                    f"step '{inst.origin}': input '{name}' collects artifacts, but a spot step "
                    "runs as a SageMaker Training job, whose channels cannot form the "
                    "0/, 1/, ... folder",
                    where,
                    "run the fan-in step without spot (a Processing job), or compile for Step "
                    "Functions or Kubeflow",
                    step=inst.origin,
                )
            elif not producers:
                yield Diagnostic(
                    "PC008",
                    f"step '{inst.origin}': input '{name}' collects the artifacts of a loop over "
                    "an empty list: SageMaker has no empty input folder to give",
                    where,
                    "loop over a non-empty list",
                    step=inst.origin,
                )
            others = sum(1 for i in comp.inputs if i.kind == "artifact" and i.name != name)
            if others + len(producers) > 10:
                yield Diagnostic(
                    "PC009",
                    f"step '{inst.step.id}': collecting '{name}' from {len(producers)} "
                    f"iterations gives {others + len(producers)} processing inputs; SageMaker "
                    "allows 10",
                    where,
                    "loop over fewer items, or write the iterations' results under one prefix",
                    step=inst.origin,
                )
        else:
            kind = _output_kind(spec, binding.step, binding.output)
            if kind is not None and kind[1] not in ("int", "float", "bool"):
                yield Diagnostic(
                    "PC008",
                    f"step '{inst.origin}': input '{name}' collects the {kind[1]} output "
                    f"'{binding.step}.{binding.output}': SageMaker can join numbers and booleans "
                    "into a JSON list, not quote strings or nest lists",
                    where,
                    "collect an output artifact instead (one folder per iteration), or compile "
                    "for Step Functions or Kubeflow",
                    step=inst.origin,
                )
