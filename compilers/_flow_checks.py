"""The graph checks for values between steps and control flow (DESIGN §12): groups, scopes,
comparisons, output parameters and the exit handler.

Like the rest of the table (``_checks``), each check is a small function yielding diagnostics,
never raising, so every problem is reported together with the others; they run on any spec,
including one loaded from JSON, whatever the DSL caught already.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pipecast.dsl.spec import (
    COMPARISON_OPERATORS,
    Binding,
    CollectedRef,
    Comparison,
    Constant,
    GroupSpec,
    InputSpec,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    RunStatusRef,
    StepSpec,
    artifact_fits,
    parameter_fits,
)
from pipecast.errors import Diagnostic, SourceLocation

if TYPE_CHECKING:
    from ._checks import Index
    from .target import Target

__all__ = ["FLOW_CHECKS", "FLOW_TARGET_CHECKS", "flow_binding_problem", "group_members"]

Found = Iterator[Diagnostic]
Problem = tuple[str, str, str]  # code, message, hint
_NUMBERS = ("int", "float")


def group_members(spec: PipelineSpec) -> dict[str, list[str]]:
    """Group id → the steps inside it, directly or in nested groups (definition order)."""
    members: dict[str, list[str]] = {}
    for step in spec.steps:
        for group in spec.groups_of(step):
            members.setdefault(group.id, []).append(step.id)
    return members


def _chain(ix: Index, step: StepSpec) -> tuple[GroupSpec, ...]:
    return ix.spec.groups_of(step)


def _where_group(ix: Index, group: GroupSpec) -> SourceLocation | None:
    return group.location or ix.spec.location


# ----- the shape of the groups ------------------------------------------------------------------


def group_shapes(ix: Index) -> Found:
    """PC004/PC024/PC025: groups refer to known groups and steps; a loop's parallelism is at
    least 1 and its items a list; an exit task is outside its own handler; handlers do not
    nest."""
    spec = ix.spec
    ids = {g.id for g in spec.groups}
    for step in spec.steps:
        if step.group is not None and step.group not in ids:
            yield Diagnostic(
                "PC004",
                f"step '{step.id}' is in unknown group '{step.group}'",
                ix.where(step),
                f"groups: {', '.join(sorted(ids)) or 'none'}",
                step=step.id,
            )
    for group in spec.groups:
        loc = _where_group(ix, group)
        if group.parent is not None and group.parent not in ids:
            yield Diagnostic(
                "PC004",
                f"group '{group.id}' is inside unknown group '{group.parent}'",
                loc,
                "check the group ids",
            )
        if group.kind == "loop":
            yield from _loop_shape(ix, group, loc)
        elif group.kind == "exit_handler":
            yield from _exit_shape(ix, group, loc)


def _loop_shape(ix: Index, group: GroupSpec, loc: SourceLocation | None) -> Found:
    if group.parallelism is not None and group.parallelism < 1:
        yield Diagnostic(
            "PC025",
            f"loop '{group.id}': parallelism is {group.parallelism}; it must be at least 1",
            loc,
            "dsl.ParallelFor(items, parallelism=N) with N ≥ 1, or None for no limit",
        )
    items = group.items
    problem: str | None = None
    if isinstance(items, Constant):
        problem = None if isinstance(items.value, list) else f"a constant {items.value!r}"
    elif isinstance(items, ParameterRef):
        p = ix.parameters.get(items.name)
        problem = (
            f"unknown parameter '{items.name}'"
            if p is None
            else None
            if p.type == "list"
            else f"parameter '{p.name}' of type {p.type}"
        )
    elif isinstance(items, OutputRef):
        t = _output_type(ix, items)
        problem = None if t == ("parameter", "list") else f"output '{items.step}.{items.output}'"
    elif not isinstance(items, LoopItemRef):
        problem = repr(items)
    if problem is not None:
        yield Diagnostic(
            "PC025",
            f"loop '{group.id}' iterates over {problem}, not a list",
            loc,
            "loop over a list literal, a `list` pipeline parameter, a `list` output "
            "parameter or an enclosing loop's item",
        )


def _exit_shape(ix: Index, group: GroupSpec, loc: SourceLocation | None) -> Found:
    exit_step = ix.steps.get(group.exit_step or "")
    if exit_step is None:
        yield Diagnostic(
            "PC004",
            f"exit handler '{group.id}' runs unknown step '{group.exit_step}'",
            loc,
            "create the exit task before `with dsl.ExitHandler(task):`",
        )
        return
    if any(g.id == group.id for g in _chain(ix, exit_step)):
        yield Diagnostic(
            "PC024",
            f"exit task '{exit_step.id}' is inside its own exit handler '{group.id}'",
            ix.where(exit_step),
            "create the exit task before the `with dsl.ExitHandler(...)` block, outside it",
            step=exit_step.id,
        )
    parent = ix.spec.group(group.parent) if group.parent else None
    while parent is not None:
        if parent.kind == "exit_handler":
            yield Diagnostic(
                "PC024",
                f"exit handler '{group.id}' is nested inside exit handler '{parent.id}'",
                loc,
                "use one dsl.ExitHandler around the steps; nested handlers are not supported",
            )
            break
        parent = ix.spec.group(parent.parent) if parent.parent else None


# ----- where values may be used -----------------------------------------------------------------


def value_scopes(ix: Index) -> Found:
    """PC020/PC021/PC022/PC024: an output is read only where its step surely ran (inside its
    branch, or joined with dsl.OneOf; inside its loop, or fanned in with dsl.Collected); a loop
    item only inside its loop; ``Collected`` only of a loop's step; ``RUN_STATUS`` only by an
    exit task. Group operands (conditions, loop items) follow the same rules."""
    exits = {g.exit_step for g in ix.spec.groups if g.kind == "exit_handler"}
    for step in ix.spec.steps:
        inside = {g.id for g in _chain(ix, step)}
        for name, binding in step.arguments:
            where = f"input '{name}' of step '{step.id}'"
            for code, message, hint in _scope_problems(ix, binding, inside, where):
                yield Diagnostic(code, message, ix.where(step), hint, step=step.id)
            if isinstance(binding, RunStatusRef) and step.id not in exits:
                yield Diagnostic(
                    "PC024",
                    f"{where} is dsl.RUN_STATUS, but '{step.id}' is no exit handler's task",
                    ix.where(step),
                    "bind dsl.RUN_STATUS to the task given to `dsl.ExitHandler(task)`",
                    step=step.id,
                )
    for group in ix.spec.groups:
        # a group's operands are read just outside the group, inside its parents
        inside = {g.id for g in _group_chain(ix, group)} - {group.id}
        operands = [c.left for c in group.when] + [c.right for c in group.when]
        operands += [c.left for c in group.unless] + [c.right for c in group.unless]
        if group.items is not None:
            operands.append(group.items)
        for binding in operands:
            what = f"{'loop' if group.kind == 'loop' else 'condition'} '{group.id}'"
            for code, message, hint in _scope_problems(ix, binding, inside, what):
                yield Diagnostic(code, message, _where_group(ix, group), hint)


def _group_chain(ix: Index, group: GroupSpec) -> list[GroupSpec]:
    chain, seen = [], set()
    current: GroupSpec | None = group
    while current is not None and current.id not in seen:
        seen.add(current.id)
        chain.append(current)
        current = ix.spec.group(current.parent) if current.parent else None
    return chain[::-1]


def _outside(ix: Index, producer: str, inside: set[str]) -> list[GroupSpec]:
    """The groups around ``producer`` that the reader is not inside."""
    step = ix.steps.get(producer)
    return [] if step is None else [g for g in _chain(ix, step) if g.id not in inside]


def _scope_problems(ix: Index, binding: Binding, inside: set[str], where: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(binding, LoopItemRef) and binding.loop not in inside:
        problems.append(
            (
                "PC021",
                f"{where} uses the item of loop '{binding.loop}' outside that loop",
                "use the loop item only inside its `with dsl.ParallelFor(...) as item:` block",
            )
        )
    elif isinstance(binding, OutputRef):
        for g in _outside(ix, binding.step, inside):
            if g.kind == "condition":
                problems.append(
                    (
                        "PC020",
                        f"{where} reads '{binding.step}.{binding.output}' outside its branch "
                        f"'{g.id}', where the step may not have run",
                        "read it inside the same dsl.If block, or join the outputs of "
                        "every branch with dsl.OneOf(a.output, b.output)",
                    )
                )
                break
            if g.kind == "loop":
                problems.append(
                    (
                        "PC021",
                        f"{where} reads '{binding.step}.{binding.output}' outside its loop "
                        f"'{g.id}', which runs it once per item",
                        f"fan in with dsl.Collected(...) to get every iteration's "
                        f"'{binding.output}'",
                    )
                )
                break
    elif isinstance(binding, CollectedRef):
        outer = _outside(ix, binding.step, inside)
        if not any(g.kind == "loop" for g in outer):
            problems.append(
                (
                    "PC022",
                    f"{where} collects '{binding.step}.{binding.output}', which is not "
                    "produced in a loop around which it is read",
                    "dsl.Collected fans in the outputs of a dsl.ParallelFor, after the loop; "
                    "pass the output directly",
                )
            )
        elif any(g.kind == "condition" for g in outer):
            problems.append(
                (
                    "PC020",
                    f"{where} collects '{binding.step}.{binding.output}', which runs inside a "
                    "condition, so some iterations may have no value",
                    "collect an output of a step outside the dsl.If block, or put the "
                    "reader inside it",
                )
            )
    elif isinstance(binding, OneOfRef):
        problems.extend(_one_of_problems(ix, binding, inside, where))
    return problems


def _one_of_problems(ix: Index, binding: OneOfRef, inside: set[str], where: str) -> list[Problem]:
    """The options come from different branches of one If/Elif/Else chain (exactly one runs),
    and from no loop the reader is outside."""
    branches: list[GroupSpec] = []
    for option in binding.options:
        outer = _outside(ix, option.step, inside)
        if any(g.kind == "loop" for g in outer):
            return [
                (
                    "PC021",
                    f"{where} joins '{option.step}.{option.output}' from inside a loop",
                    "fan in a loop's outputs with dsl.Collected",
                )
            ]
        conditions = [g for g in outer if g.kind == "condition"]
        if not conditions:
            return [
                (
                    "PC020",
                    f"{where}: dsl.OneOf option '{option.step}.{option.output}' is not inside a "
                    "branch, so it is not exclusive with the others",
                    "dsl.OneOf joins outputs of the branches of one dsl.If/Elif/Else",
                )
            ]
        branches.append(conditions[0])
    chains = {g.chain or g.id for g in branches}
    if len(chains) > 1 or len({g.id for g in branches}) < len(branches):
        return [
            (
                "PC020",
                f"{where}: dsl.OneOf joins outputs of branches that are not exclusive "
                f"({', '.join(g.id for g in branches)})",
                "give dsl.OneOf one output from each branch of a single dsl.If/Elif/Else",
            )
        ]
    return []


# ----- comparisons ------------------------------------------------------------------------------


def comparisons(ix: Index) -> Found:
    """PC023: a condition compares values of one type (int and float mix) with a known
    operator (ordering only for numbers and text), and never an artifact."""
    for group in ix.spec.groups:
        for c in (*group.when, *group.unless):
            problem = _comparison_problem(ix, c)
            if problem is not None:
                yield Diagnostic(
                    "PC023",
                    f"condition '{group.id}': {problem}",
                    _where_group(ix, group),
                    "compare a value with a value of the same type, e.g. "
                    "dsl.If(task.outputs['count'] > 0); artifacts cannot be compared",
                )


def _comparison_problem(ix: Index, c: Comparison) -> str | None:
    if c.op not in COMPARISON_OPERATORS:
        return f"unknown operator {c.op!r} (one of {' '.join(COMPARISON_OPERATORS)})"
    types = []
    for side in (c.left, c.right):
        t = _operand_type(ix, side)
        if t == "artifact":
            return f"{_describe(side)} is an artifact, not a value"
        types.append(t)
    left, right = types
    if left is None or right is None:
        return None  # a loop item of a run-time list: checked when it runs
    if left != right and not {left, right} <= set(_NUMBERS):
        return f"{_describe(c.left)} ({left}) {c.op} {_describe(c.right)} ({right})"
    if c.op not in ("==", "!=") and left not in (*_NUMBERS, "str"):
        return f"{c.op} orders numbers and text, not {left}"
    return None


def _describe(binding: Binding) -> str:
    if isinstance(binding, OutputRef):
        return f"output '{binding.step}.{binding.output}'"
    if isinstance(binding, ParameterRef):
        return f"parameter '{binding.name}'"
    if isinstance(binding, Constant):
        return repr(binding.value)
    if isinstance(binding, LoopItemRef):
        return f"the item of loop '{binding.loop}'"
    return type(binding).__name__


def _constant_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "str", list: "list", dict: "dict"}.get(
        type(value), "?"
    )


def _operand_type(ix: Index, binding: Binding) -> str | None:
    """The type of a comparison operand; "artifact" for one; None when unknown until run time."""
    if isinstance(binding, Constant):
        return _constant_type(binding.value)
    if isinstance(binding, ParameterRef):
        p = ix.parameters.get(binding.name)
        return None if p is None else p.type
    if isinstance(binding, OutputRef):
        t = _output_type(ix, binding)
        return None if t is None else "artifact" if t[0] == "artifact" else t[1]
    if isinstance(binding, LoopItemRef):
        return _loop_item_type(ix, binding)
    return None


def _loop_item_type(ix: Index, ref: LoopItemRef) -> str | None:
    """The item type of a loop over a literal list of one type; None otherwise."""
    loop = ix.spec.group(ref.loop)
    if loop is None or ref.key is not None or not isinstance(loop.items, Constant):
        return None
    items = loop.items.value
    types = {_constant_type(v) for v in items} if isinstance(items, list) else set()
    return types.pop() if len(types) == 1 else None


def _output_type(ix: Index, ref: OutputRef) -> tuple[str, str] | None:
    """(kind, type) of an upstream output, or None when the step or output is unknown."""
    step = ix.steps.get(ref.step)
    comp = ix.components.get(step.component) if step else None
    out = comp.output(ref.output) if comp else None
    return None if out is None else (out.kind, out.type)


# ----- bindings of the new kinds (called from ``_checks._binding_problem``) ----------------------


def flow_binding_problem(
    ix: Index, inp: InputSpec, binding: Binding, where: str
) -> tuple[bool, Problem | None]:
    """(whether this module checks ``binding``, the problem if any): output parameters, loop
    items, ``Collected``, ``OneOf`` and ``RUN_STATUS``; other bindings are ``_checks``'."""
    if isinstance(binding, OutputRef):
        found = _output_type(ix, binding)
        if found is None or found[0] != "parameter":
            return False, None  # artifacts and unknown outputs: the classic rules
        return True, _fits(inp, "parameter", found[1], f"output '{binding.step}.{binding.output}'")
    if isinstance(binding, LoopItemRef):
        if inp.kind == "artifact":
            return True, ("PC003", f"{where} is an artifact, got a loop item", "use a parameter")
        t = _loop_item_type(ix, binding)
        if t is not None and not parameter_fits(t, inp.type):
            return True, (
                "PC003",
                f"{where} is {inp.type}, the loop's items are {t}",
                f"loop over {inp.type} values",
            )
        return True, None
    if isinstance(binding, RunStatusRef):
        ok = inp.kind == "parameter" and inp.type == "str"
        return True, None if ok else (
            "PC003",
            f"{where} is {inp.type}, dsl.RUN_STATUS is a JSON string",
            "declare the input as str",
        )
    if isinstance(binding, CollectedRef):
        found = _output_type(ix, OutputRef(binding.step, binding.output))
        if found is None:
            return True, _unknown(where, binding.step, binding.output)
        kind, t = found
        return True, _fits(inp, kind, "list" if kind == "parameter" else t, "dsl.Collected")
    if isinstance(binding, OneOfRef):
        seen: set[tuple[str, str]] = set()
        for option in binding.options:
            found = _output_type(ix, option)
            if found is None:
                return True, _unknown(where, option.step, option.output)
            seen.add(found)
        if len(seen) != 1:
            return True, (
                "PC003",
                f"{where}: dsl.OneOf joins outputs of different types",
                "join outputs of one type",
            )
        kind, t = seen.pop()
        return True, _fits(inp, kind, t, "dsl.OneOf")
    return False, None


def _unknown(where: str, step: str, output: str) -> Problem:
    return "PC004", f"{where} reads unknown output '{output}' of step '{step}'", "check the ids"


def _fits(inp: InputSpec, kind: str, produced: str, what: str) -> Problem | None:
    if inp.kind != kind:
        return (
            "PC003",
            f"input '{inp.name}' is {'an artifact' if inp.kind == 'artifact' else 'a parameter'}"
            f" ({inp.type}), {what} gives {'an artifact' if kind == 'artifact' else 'a value'} "
            f"({produced})",
            "connect artifacts to Input[...] inputs and values to parameter inputs",
        )
    ok = (
        artifact_fits(inp.type, produced)
        if kind == "artifact"
        else parameter_fits(produced, inp.type)
    )
    if not ok:
        return (
            "PC003",
            f"input '{inp.name}' is {inp.type}, {what} gives {produced}",
            (f"declare the input as {produced}"),
        )
    return None


FLOW_CHECKS = (group_shapes, value_scopes, comparisons)


def json_pipeline_parameters(ix: Index, target: Target) -> Found:
    """PC008: a list or dict pipeline parameter on a target that cannot pass one."""
    if target.capabilities.supports("json_parameters"):
        return
    for p in ix.spec.parameters:
        if p.type in ("list", "dict"):
            yield Diagnostic(
                "PC008",
                f"pipeline parameter '{p.name}' is a {p.type}, which is not expressible on "
                f"{target.name}",
                p.location or ix.spec.location,
                f"the local runner (`pipecast run --local`) and `--target ir` take it; "
                f"for {target.name}, pass a str and parse it in the step",
            )


FLOW_TARGET_CHECKS = (json_pipeline_parameters,)
