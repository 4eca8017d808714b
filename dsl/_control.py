"""Control flow in a pipeline function, with kfp's names: ``dsl.If`` / ``dsl.Elif`` /
``dsl.Else``, ``dsl.ParallelFor`` and ``dsl.ExitHandler`` (``dsl.OneOf``, ``dsl.Collected`` and
``dsl.RUN_STATUS`` live in ``_values``).

Each ``with`` block opens a group; every task created inside it belongs to the innermost open
group. Groups become :class:`~pipecast.dsl.spec.GroupSpec` in the IR. Mistakes found while the
pipeline function runs (an ``Elif`` without an ``If``, a comparison that is not one) are
collected like every other DSL error; rules that need the whole pipeline (an output used
outside its branch, ``parallelism`` < 1, ...) are the graph check's, so they hold for specs
loaded from JSON too.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from pipecast.errors import DefinitionError, SourceLocation

from ._component import current_builder
from ._location import user_location
from ._pipeline import (
    OutputHandle,
    PipelineParameter,
    Task,
    _Builder,
    _resolve,
    _TaskIdRef,
    resolve_comparison,
)
from ._values import Condition, LoopItem
from .spec import (
    Binding,
    Comparison,
    Constant,
    GroupKind,
    GroupSpec,
    LoopItemRef,
    OutputRef,
    ParameterRef,
    value_matches,
)

__all__ = ["Elif", "Else", "ExitHandler", "If", "ParallelFor"]

_CONSTANT_TYPES = ("str", "int", "float", "bool", "list", "dict")


class _Group:
    """A control-flow block while the pipeline function runs (becomes a ``GroupSpec``)."""

    def __init__(self, builder: _Builder, kind: GroupKind, location: SourceLocation | None):
        self.builder = builder
        self.kind = kind
        self.location = location
        self.parent = builder.current_group()
        self.id = f"{kind.replace('_', '-')}-{len(builder.groups) + 1}"
        self.when: tuple[Comparison, ...] = ()
        self.unless: tuple[Comparison, ...] = ()
        self.chain: str | None = None
        self.items: Binding | None = None
        self.parallelism: int | None = None
        self.exit_task: Task | None = None
        builder.groups.append(self)

    def to_spec(self) -> GroupSpec:
        return GroupSpec(
            id=self.id,
            kind=self.kind,
            parent=None if self.parent is None else self.parent.id,
            when=tuple(resolve_comparison(c) for c in self.when),
            unless=tuple(resolve_comparison(c) for c in self.unless),
            chain=self.chain,
            items=None if self.items is None else _resolve(self.items),
            parallelism=self.parallelism,
            exit_step=None if self.exit_task is None else self.exit_task.id,
            location=self.location,
        )


def _builder(construct: str) -> _Builder:
    builder = current_builder()
    if builder is None:
        raise DefinitionError(
            f"{construct} was used outside a pipeline",
            code="PC102",
            location=user_location(),
            hint="use it inside a @dsl.pipeline function",
        )
    return builder


def _operand(value: Any, location: SourceLocation | None) -> Binding:
    """A comparison operand as an IR binding (constants are checked to be JSON values)."""
    if isinstance(value, PipelineParameter):
        return ParameterRef(value.name)
    if isinstance(value, OutputHandle):
        return OutputRef(_TaskIdRef(value.task), value.name)  # type: ignore[arg-type]
    if isinstance(value, LoopItem):
        return LoopItemRef(value.loop.id, value.key)
    if any(value_matches(t, value) for t in _CONSTANT_TYPES):
        return Constant(value)
    raise DefinitionError(
        f"{value!r} cannot be compared in a condition",
        code="PC140",
        location=location,
        hint="compare pipeline parameters, output parameters, loop items and constants "
        "(str, int, float, bool, list, dict)",
    )


def _comparison(condition: Any, construct: str) -> Comparison:
    location = user_location()
    if not isinstance(condition, Condition):
        raise DefinitionError(
            f"{construct} takes a comparison, got {condition!r}",
            code="PC140",
            location=location,
            hint=f"e.g. {construct}(task.outputs['count'] > 0) or {construct}(param == 'x')",
        )
    return Comparison(
        condition.op, _operand(condition.left, location), _operand(condition.right, location)
    )


class _Block:
    """Enter/exit bookkeeping shared by every construct: the builder's stack of open groups."""

    group: _Group

    def _open(self) -> None:
        builder = self.group.builder
        builder.group_stack.append(self.group)
        builder.open_chain = None

    def _close(self) -> None:
        builder = self.group.builder
        if builder.group_stack and builder.group_stack[-1] is self.group:
            builder.group_stack.pop()
        builder.open_chain = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._close()


class If(_Block):
    """``with dsl.If(task.outputs["count"] > 0):`` — the steps inside run only when the
    comparison holds (operators ``== != < <= > >=``; operands: pipeline parameters, output
    parameters, loop items, constants). Untaken branches are skipped, not failed."""

    _construct = "dsl.If"

    def __init__(self, condition: Any, name: str | None = None) -> None:
        builder = _builder(self._construct)
        comparison = _comparison(condition, self._construct)
        previous = self._previous(builder)
        self.group = _Group(builder, "condition", user_location())
        self.group.when = (comparison,)
        self.group.unless = previous
        self.group.chain = self._chain_id(builder)

    def _previous(self, builder: _Builder) -> tuple[Comparison, ...]:
        return ()

    def _chain_id(self, builder: _Builder) -> str:
        return self.group.id

    def __enter__(self) -> None:
        self._open()

    def _close(self) -> None:
        super()._close()
        self.group.builder.open_chain = self.group


class Elif(If):
    """``with dsl.Elif(...):`` right after a ``dsl.If`` or ``dsl.Elif`` block: runs when its
    comparison holds and none of the earlier branches' did."""

    _construct = "dsl.Elif"

    def _previous(self, builder: _Builder) -> tuple[Comparison, ...]:
        chain = builder.open_chain
        if chain is None or chain.parent is not builder.current_group():
            raise DefinitionError(
                f"{self._construct} must follow a dsl.If or dsl.Elif block directly",
                code="PC140",
                location=user_location(),
                hint="put it right after the `with dsl.If(...):` block it continues",
            )
        self._continues = chain
        return (*chain.unless, *chain.when)

    def _chain_id(self, builder: _Builder) -> str:
        chain: str = self._continues.chain or self._continues.id
        return chain


class Else(Elif):
    """``with dsl.Else():`` after ``dsl.If``/``dsl.Elif``: runs when no earlier branch did."""

    _construct = "dsl.Else"

    def __init__(self, name: str | None = None) -> None:
        builder = _builder(self._construct)
        previous = self._previous(builder)
        self.group = _Group(builder, "condition", user_location())
        self.group.unless = previous
        self.group.chain = self._chain_id(builder)

    def _close(self) -> None:
        _Block._close(self)  # nothing may continue an Else


class ParallelFor(_Block):
    """``with dsl.ParallelFor(items, parallelism=None) as item:`` — the steps inside run once
    per item (a literal list, a ``list`` pipeline parameter, a ``list`` output parameter or an
    enclosing loop's item), at most ``parallelism`` iterations at once (None: no limit).
    ``item`` (or ``item["key"]`` for dict items) binds to parameter inputs."""

    def __init__(self, items: Any, parallelism: int | None = None, name: str | None = None):
        builder = _builder("dsl.ParallelFor")
        location = user_location()
        self.group = _Group(builder, "loop", location)
        self.item_type: str | None = None
        if isinstance(items, list):
            self.group.items = Constant(items)
            kinds = {type(item) for item in items}
            if len(kinds) == 1 and kinds <= {str, int, float, bool}:
                self.item_type = next(iter(kinds)).__name__
        elif isinstance(items, PipelineParameter) and items.type == "list":
            self.group.items = ParameterRef(items.name)
        elif isinstance(items, OutputHandle) and items.kind == "parameter" and items.type == "list":
            self.group.items = OutputRef(_TaskIdRef(items.task), items.name)  # type: ignore[arg-type]
        elif isinstance(items, LoopItem):
            self.group.items = LoopItemRef(items.loop.id, items.key)
        else:
            builder.groups.remove(self.group)
            raise DefinitionError(
                f"dsl.ParallelFor loops over a list, got {items!r}",
                code="PC140",
                location=location,
                hint="pass a list literal, a `list` pipeline parameter, a `list` output "
                "parameter or an enclosing loop's item",
            )
        if parallelism is not None and (
            isinstance(parallelism, bool) or not isinstance(parallelism, int)
        ):
            builder.groups.remove(self.group)
            raise DefinitionError(
                f"parallelism must be a whole number, got {parallelism!r}",
                code="PC140",
                location=location,
                hint="e.g. dsl.ParallelFor(items, parallelism=4), or None for no limit",
            )
        self.group.parallelism = parallelism  # < 1 is the graph check's (PC025)

    def __enter__(self) -> LoopItem:
        self._open()
        return LoopItem(self.group, None, self.item_type)


class ExitHandler(_Block):
    """``with dsl.ExitHandler(exit_task):`` — ``exit_task`` (created before the block) runs
    after the steps inside end, whether they succeeded or failed; bind ``dsl.RUN_STATUS`` to
    one of its ``str`` inputs to learn which."""

    def __init__(self, exit_task: Any, name: str | None = None) -> None:
        builder = _builder("dsl.ExitHandler")
        location = user_location()
        if not isinstance(exit_task, Task):
            raise DefinitionError(
                f"dsl.ExitHandler takes the exit task, got {exit_task!r}",
                code="PC140",
                location=location,
                hint="create the task first: `report = post_status(status=dsl.RUN_STATUS)`, "
                "then `with dsl.ExitHandler(report):`",
            )
        self.group = _Group(builder, "exit_handler", location)
        self.group.exit_task = exit_task

    def __enter__(self) -> None:
        self._open()
