"""Control flow for the ``kubeflow`` target: pipecast's groups as kfp's own constructs.

kfp builds its groups from ``with`` blocks while the pipeline function runs, so every task must
be created inside the blocks of its groups, and after the tasks it reads. This module walks the
IR's group tree and creates the tasks in such an order: at each level the *units* (a step, a
loop, an exit handler, or a whole ``If``/``Elif``/``Else`` chain, which kfp needs written one
branch right after the other) are ordered by their dependencies, ties broken by the position of
their first step in the pipeline's deterministic order. A pipeline without groups is therefore
built in exactly that order (its documents do not change).

What each construct becomes (DESIGN §12; the local runner is the reference):

- ``If``/``Elif``/``Else`` → ``dsl.If``/``dsl.Elif``/``dsl.Else`` (kfp writes each branch's
  ``triggerPolicy.condition`` in CEL, the later ones with the earlier negated);
- ``ParallelFor(items, parallelism)`` → ``dsl.ParallelFor`` (``iteratorPolicy.parallelismLimit``),
  ``item["key"]`` → kfp's loop-item sub-variable;
- ``Collected`` → ``dsl.Collected``, ``OneOf`` → ``dsl.OneOf``;
- ``ExitHandler(task)`` → ``dsl.ExitHandler(task)``; ``RUN_STATUS`` → the exit task's input
  becomes a ``dsl.PipelineTaskFinalStatus`` (kfp fills it; :mod:`.kubeflow_status` turns it
  into pipecast's JSON where it can, and says what differs).

User strings in conditions: kfp writes a string constant into the CEL expression as
``'<text>'`` without escaping it, so :func:`cel_quoted` hands kfp the text with CEL's escapes
already applied: the expression then compares with exactly the user's string.
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from pipecast.dsl.spec import (
    Binding,
    CollectedRef,
    Comparison,
    Constant,
    GroupSpec,
    ImporterRef,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    PipelineSpec,
    RunStatusRef,
    StepSpec,
)
from pipecast.errors import Diagnostic

if TYPE_CHECKING:
    from pipecast.dsl.spec import ComponentSpec

    from .graph import CheckedPipeline

__all__ = [
    "FlowBuilder",
    "cel_quoted",
    "flow_diagnostics",
    "kfp_output_name",
    "run_status_inputs",
]


# (kind, id): a step, or a group (a whole If/Elif/Else chain is one unit, by its chain id)
_Unit = tuple[str, str]
_MakeTask = Callable[[StepSpec, dict[str, Any]], Any]

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SINGLE_OUTPUT = "Output"
_CEL_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def cel_quoted(text: str) -> str:
    """``text`` escaped for the inside of a single-quoted CEL string literal (kfp adds the
    quotes): backslash, quotes and control characters as CEL escapes, the rest as it is."""
    out = []
    for char in text:
        if char in _CEL_ESCAPES:
            out.append(_CEL_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


class FlowBuilder:
    """Creates the kfp tasks of one pipeline inside kfp's group blocks (see the module doc).

    ``make_task(step, kwargs)`` creates and configures the kfp task of one step; this class
    decides the order, the blocks around it and what each binding becomes in kfp."""

    def __init__(
        self,
        kfp: Any,
        checked: CheckedPipeline,
        params: dict[str, Any],
        importers: dict[str, Any],
        make_task: _MakeTask,
    ) -> None:
        self.kfp = kfp
        self.checked = checked
        self.spec = checked.spec
        self.params = params
        self.importers = importers
        self.make_task = make_task
        self.tasks: dict[str, Any] = {}
        # a scaled-out step's outputs, merged from its shards (``make_task`` fills it)
        self.merged: dict[str, dict[str, Any]] = {}
        self.loop_items: dict[str, Any] = {}
        self.position = {s: i for i, s in enumerate(checked.order)}
        self.exit_of = {g.exit_step: g.id for g in self.spec.groups if g.kind == "exit_handler"}
        self.children: dict[str | None, list[GroupSpec]] = {}
        for group in self.spec.groups:
            self.children.setdefault(group.parent, []).append(group)
        self.paths = {s.id: self._path(s) for s in self.spec.steps}
        # each step and edge listed under every level it lies inside, once: ordering a level
        # then reads only its own members (linear overall, not steps × groups)
        self.members: dict[str | None, list[str]] = {}
        for step_id in checked.order:
            for level in (None, *self.paths[step_id]):
                self.members.setdefault(level, []).append(step_id)
        self.level_edges: dict[str | None, list[tuple[str, str]]] = {}
        for u, v, data in checked.graph.edges(data=True):
            if data.get("exit") and not data.get("data") and not data.get("explicit"):
                continue  # kfp orders an exit task itself (and refuses other edges to it)
            for a, b in zip((None, *self.paths[u]), (None, *self.paths[v]), strict=False):
                if a != b:
                    break
                self.level_edges.setdefault(a, []).append((u, v))

    # ----- order -----------------------------------------------------------------------------

    def _path(self, step: StepSpec) -> list[str]:
        """The ids of the groups around ``step``, outermost first (an exit task stands just
        outside its handler, as in the pipeline function)."""
        return [g.id for g in self.spec.groups_of(step)]

    def _unit(self, step_id: str, level: str | None) -> _Unit | None:
        """What ``step_id`` belongs to among the children of group ``level`` (None: the
        pipeline), or None when it is not inside ``level``."""
        path = self.paths[step_id]
        depth = 0 if level is None else path.index(level) + 1 if level in path else -1
        if depth < 0:
            return None
        if depth == len(path):
            return ("step", step_id)
        group = self.spec.group(path[depth])
        assert group is not None
        if group.kind == "condition":
            return ("chain", group.chain or group.id)
        return ("group", group.id)

    def _ordered_units(self, level: str | None) -> list[_Unit]:
        """The units directly inside ``level`` in an order kfp accepts (Kahn's algorithm, ties
        by the first step's position in the pipeline's order)."""
        first: dict[_Unit, int] = {}
        for step_id in self.members.get(level, []):
            unit = self._unit(step_id, level)
            if unit is not None:
                first.setdefault(unit, self.position[step_id])
        edges: dict[_Unit, set[_Unit]] = {u: set() for u in first}
        indegree = dict.fromkeys(first, 0)

        def link(before: _Unit, after: _Unit) -> None:
            if before != after and after not in edges[before]:
                edges[before].add(after)
                indegree[after] += 1

        for u, v in self.level_edges.get(level, []):
            a, b = self._unit(u, level), self._unit(v, level)
            if a is not None and b is not None:
                link(a, b)
        for exit_step, handler in self.exit_of.items():
            a = self._unit(exit_step, level) if exit_step in self.paths else None
            if a is not None and ("group", handler) in edges:
                link(a, ("group", handler))  # the exit task exists before its handler opens
        ready = [(first[u], u) for u, n in indegree.items() if n == 0]
        heapq.heapify(ready)
        order: list[_Unit] = []
        while ready:
            _, unit = heapq.heappop(ready)
            order.append(unit)
            for nxt in edges[unit]:
                indegree[nxt] -= 1
                if indegree[nxt] == 0:
                    heapq.heappush(ready, (first[nxt], nxt))
        return order

    # ----- building ----------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        """Create every task; returns them by step id."""
        self._build_level(None)
        return self.tasks

    def _build_level(self, level: str | None) -> None:
        for kind, ident in self._ordered_units(level):
            if kind == "step":
                self._build_step(self.spec.step(ident))
            elif kind == "chain":
                self._build_chain(level, ident)
            else:
                group = self.spec.group(ident)
                assert group is not None
                with self._block(group):
                    self._build_level(group.id)

    def _build_chain(self, level: str | None, chain: str) -> None:
        branches = [
            g
            for g in self.children.get(level, [])
            if g.kind == "condition" and (g.chain or g.id) == chain
        ]
        for position, group in enumerate(branches):
            dsl = self.kfp.dsl
            if position == 0:
                block: Any = dsl.If(self._condition(group.when))
            elif group.when:
                block = dsl.Elif(self._condition(group.when))
            else:
                block = dsl.Else()
            with block:
                self._build_level(group.id)

    def _block(self, group: GroupSpec) -> AbstractContextManager[Any]:
        dsl = self.kfp.dsl
        if group.kind == "loop":
            assert group.items is not None
            loop = dsl.ParallelFor(self._value(group.items), parallelism=group.parallelism)
            return _LoopBlock(loop, self.loop_items, group.id)
        if group.kind == "exit_handler" and group.exit_step in self.tasks:
            return dsl.ExitHandler(self.tasks[group.exit_step])  # type: ignore[no-any-return]
        return nullcontext()

    def _condition(self, when: tuple[Comparison, ...]) -> Any:
        """kfp's condition for one comparison (the DSL writes one per branch; the earlier
        branches' negations are kfp's ``Elif``/``Else`` to write)."""
        (comparison,) = when
        left, right = self._operand(comparison.left), self._operand(comparison.right)
        return _OPERATORS[comparison.op](left, right)

    def _operand(self, binding: Binding) -> Any:
        if isinstance(binding, Constant) and isinstance(binding.value, str):
            return cel_quoted(binding.value)
        return self._value(binding)

    def _value(self, binding: Binding) -> Any:
        """What a binding is in kfp's DSL (a constant or a pipeline channel)."""
        if isinstance(binding, Constant):
            return binding.value
        if isinstance(binding, ParameterRef):
            return self.params[binding.name]
        if isinstance(binding, ImporterRef):
            return self.importers[binding.importer].output
        if isinstance(binding, OutputRef):
            return self._output(binding)
        if isinstance(binding, LoopItemRef):
            item = self.loop_items[binding.loop]
            return item if binding.key is None else self._item_key(item, binding.key)
        if isinstance(binding, CollectedRef):
            return self.kfp.dsl.Collected(self._output(OutputRef(binding.step, binding.output)))
        if isinstance(binding, OneOfRef):
            return self.kfp.dsl.OneOf(*(self._output(o) for o in binding.options))
        raise TypeError(f"no kfp value for {binding!r}")  # RunStatusRef: kfp fills it

    def _item_key(self, item: Any, key: str) -> Any:
        """kfp's variable for ``item[key]``. Not ``getattr(item, key)``: kfp resolves a key
        through ``__getattr__`` only when the loop argument has no attribute of that name, so
        keys such as ``name`` or ``items`` would silently read the loop argument itself."""
        subvars = item._referenced_subvars
        if key not in subvars:
            subvars[key] = self.kfp.dsl.for_loop.LoopArgumentVariable(
                loop_argument=item, subvar_name=key
            )
        return subvars[key]

    def _output(self, ref: OutputRef) -> Any:
        if ref.step in self.merged:  # a scaled-out step: its shards' outputs, merged
            return self.merged[ref.step][ref.output]
        comp = self.spec.component(self.spec.step(ref.step).component)
        return self.tasks[ref.step].outputs[kfp_output_name(comp, ref.output)]

    def _build_step(self, step: StepSpec) -> None:
        kwargs = {
            name: self._value(binding)
            for name, binding in step.arguments
            if not isinstance(binding, RunStatusRef)
        }
        self.tasks[step.id] = self.make_task(step, kwargs)


class _LoopBlock:
    """``with dsl.ParallelFor(...) as item``, keeping ``item`` for the loop's bindings."""

    def __init__(self, loop: Any, items: dict[str, Any], loop_id: str) -> None:
        self.loop, self.items, self.loop_id = loop, items, loop_id

    def __enter__(self) -> Any:
        self.items[self.loop_id] = self.loop.__enter__()
        return self.items[self.loop_id]

    def __exit__(self, *exc: Any) -> Any:
        return self.loop.__exit__(*exc)


_IDENTIFIER = re.compile(r"^[A-Za-z_][0-9A-Za-z_]*$")  # kfp's rule for loop-item keys


def flow_diagnostics(spec: PipelineSpec) -> list[Diagnostic]:
    """PC008 for the control-flow shapes kfp refuses or would change the meaning of: an exit
    task that reads other steps or waits for them (kfp runs it after its handler only), an exit
    handler inside a loop or condition, a comparison of a text-typed loop item with a number,
    and a dict loop item read by a key that is not a Python name (kfp's loop-item variables are
    attributes)."""
    out: list[Diagnostic] = []
    exit_steps = {g.exit_step for g in spec.groups if g.kind == "exit_handler"}
    for group in spec.groups:
        out += _group_problems(spec, group)
    for step in spec.steps:
        if step.id in exit_steps and (step.after or step.upstream_steps()):
            waits = sorted({*step.after, *step.upstream_steps()})
            out.append(
                Diagnostic(
                    "PC008",
                    f"step '{step.id}': an exit task that reads or waits for other steps "
                    f"({', '.join(waits)}) is not expressible on kubeflow",
                    step.location,
                    "KFP starts an exit task when its handler ends and nothing else; pass it "
                    "pipeline parameters and constants only, or compile for a target that "
                    "supports it (`pipecast run --local` does)",
                    step=step.id,
                )
            )
        out += _after_problems(spec, step)
        for name, binding in step.arguments:
            if (
                isinstance(binding, LoopItemRef)
                and binding.key is not None
                and not _IDENTIFIER.match(binding.key)
            ):
                out.append(
                    Diagnostic(
                        "PC008",
                        f"step '{step.id}': argument {name} reads loop item key "
                        f"{binding.key!r}, which is not a Python name, and kfp reads dict "
                        "loop items by attribute: not expressible on kubeflow",
                        step.location,
                        "name the dict keys like Python variables (letters, digits, _), "
                        "or compile for a target that supports it",
                        step=step.id,
                    )
                )
    return out


def _after_problems(spec: PipelineSpec, step: StepSpec) -> list[Diagnostic]:
    """``.after(task)`` on a task inside a condition the step is not in: kfp refuses it (the
    local runner waits for the task, or for its branch to be skipped)."""
    mine = {g.id for g in spec.groups_of(step)}
    out = []
    for upstream in step.after:
        try:
            around = spec.groups_of(spec.step(upstream))
        except KeyError:  # an unknown step: reported by the reference checks
            continue
        outside = [g for g in around if g.kind == "condition" and g.id not in mine]
        if outside:
            out.append(
                Diagnostic(
                    "PC008",
                    f"step '{step.id}': .after('{upstream}'), a step inside condition "
                    f"'{outside[0].id}' that '{step.id}' is not in, is not expressible on "
                    "kubeflow (kfp refuses a dependency into a dsl.If from outside it)",
                    step.location,
                    f"move '{step.id}' into the same branch, read the branches' output with "
                    "dsl.OneOf, or compile for a target that supports it (`pipecast run "
                    "--local` does)",
                    step=step.id,
                )
            )
    return out


def _group_problems(spec: PipelineSpec, group: GroupSpec) -> list[Diagnostic]:
    """An exit handler inside another group, and comparisons kfp would type as text."""
    if group.kind == "exit_handler" and group.parent is not None:
        return [
            Diagnostic(
                "PC008",
                f"exit handler '{group.id}' inside '{group.parent}' is not expressible on "
                "kubeflow: kfp allows dsl.ExitHandler only at the top of the pipeline",
                group.location,
                "move the `with dsl.ExitHandler(...)` block out of the loop or condition, or "
                "compile for a target that supports it (`pipecast run --local` does)",
            )
        ]
    problems = []
    if group.kind == "condition" and not _chain_shape_ok(spec, group):
        problems.append(
            Diagnostic(
                "PC008",
                f"condition '{group.id}' is not an If/Elif/Else branch of one comparison whose "
                "`unless` is the earlier branches' comparisons: not expressible on kubeflow",
                group.location,
                "write it with dsl.If / dsl.Elif / dsl.Else (an IR edited by hand may hold "
                "other shapes), or compile for a target that supports it",
            )
        )
    for c in group.when:
        sides = [(c.left, c.right), (c.right, c.left)]
        for item, other in sides:
            if _text_typed_item(spec, item) and _operand_type(spec, other) != "str":
                problems.append(
                    Diagnostic(
                        "PC008",
                        f"condition '{group.id}' compares a loop item of a run-time list (or "
                        "a dict item's field) with a value that is not text: not expressible "
                        "on kubeflow, where kfp types such items as text and would compare text",
                        group.location,
                        "loop over a literal list, compare inside the step, or compile for a "
                        "target that supports it (`pipecast run --local` does)",
                    )
                )
                break
    return problems


def _chain_shape_ok(spec: PipelineSpec, group: GroupSpec) -> bool:
    """The shape kfp's If/Elif/Else write: branch ``i`` has one comparison (none for a last
    Else) and is taken unless one of the branches before it was."""
    chain = group.chain or group.id
    branches = [
        g
        for g in spec.groups
        if g.kind == "condition" and (g.chain or g.id) == chain and g.parent == group.parent
    ]
    earlier: list[Comparison] = []
    for position, branch in enumerate(branches):
        last = position == len(branches) - 1
        if len(branch.when) > 1 or (not branch.when and (position == 0 or not last)):
            return False
        if list(branch.unless) != earlier:
            return False
        earlier += branch.when
    return True


def _text_typed_item(spec: PipelineSpec, binding: Binding) -> bool:
    """A loop item kfp types as text: a field of a dict item, or an item of a list known only
    at run time (kfp infers an item's type from a literal list only)."""
    if not isinstance(binding, LoopItemRef):
        return False
    return binding.key is not None or _operand_type(spec, binding) is None


def _operand_type(spec: PipelineSpec, binding: Binding) -> str | None:
    """The pipecast type of a comparison operand, None when only the run knows it."""
    if isinstance(binding, Constant):
        return type(binding.value).__name__  # "bool", "int", "str", ...: pipecast's type names
    if isinstance(binding, ParameterRef):
        param = spec.parameter(binding.name)
        return None if param is None else param.type
    if isinstance(binding, OutputRef):
        comp = spec.component(spec.step(binding.step).component)
        out = comp.output(binding.output)
        return None if out is None else out.type
    if isinstance(binding, LoopItemRef) and binding.key is None:
        loop = spec.group(binding.loop)
        items = loop.items if loop is not None else None
        if isinstance(items, Constant) and isinstance(items.value, list):
            kinds = {_operand_type(spec, Constant(v)) for v in items.value}
            if len(kinds) == 1 and kinds <= {"str", "int", "float", "bool"}:
                return kinds.pop()
    return None


def kfp_output_name(comp: ComponentSpec, name: str) -> str:
    """The name of output ``name`` in kfp: the same, except a Python component's single return
    value, which pipecast names ``Output`` like kfp but which kfp refuses as the name of a
    container component's parameter: it becomes ``output`` (``output_2``, ... if taken)."""
    if name != _SINGLE_OUTPUT:
        return name
    taken = {i.name for i in comp.inputs} | {o.name for o in comp.outputs}
    candidate, n = "output", 1
    while candidate in taken:
        n += 1
        candidate = f"output_{n}"
    return candidate


def run_status_inputs(step: StepSpec) -> Iterator[str]:
    """The inputs of ``step`` bound to ``dsl.RUN_STATUS``."""
    return (name for name, b in step.arguments if isinstance(b, RunStatusRef))
