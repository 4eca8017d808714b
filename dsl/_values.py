"""Run-time values inside a pipeline function: what comparisons build, loop items, fan-in
(``dsl.Collected``), exclusive joins (``dsl.OneOf``) and ``dsl.RUN_STATUS``.

Pipeline parameters and output handles compare (``task.output > 0``) into a :class:`Condition`
for ``dsl.If``; using one in a Python ``if``/``for`` is an error that names the DSL construct to
use instead, because the value is only known when the pipeline runs.
"""

from __future__ import annotations

from typing import Any

from pipecast.errors import DefinitionError, SourceLocation

from ._location import user_location

__all__ = [
    "RUN_STATUS",
    "Collected",
    "Condition",
    "LoopItem",
    "OneOf",
    "Operand",
    "RunStatus",
]


def _python_control_error(what: str, statement: str, construct: str) -> DefinitionError:
    return DefinitionError(
        f"{what} was used in a Python `{statement}`",
        code="PC120",
        location=user_location(),
        hint=f"its value is only known when the pipeline runs: write {construct}",
    )


class Operand:
    """Something known only at run time that conditions may compare (parameters, output
    parameters, loop items). ``==`` and friends build a :class:`Condition` instead of a bool."""

    def _describe(self) -> str:
        return repr(self)

    def __eq__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition("==", self, other)

    def __ne__(self, other: object) -> Condition:  # type: ignore[override]
        return Condition("!=", self, other)

    def __lt__(self, other: object) -> Condition:
        return Condition("<", self, other)

    def __le__(self, other: object) -> Condition:
        return Condition("<=", self, other)

    def __gt__(self, other: object) -> Condition:
        return Condition(">", self, other)

    def __ge__(self, other: object) -> Condition:
        return Condition(">=", self, other)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise _python_control_error(self._describe(), "if", "`with dsl.If(value == ...):`")

    def __iter__(self) -> Any:
        raise _python_control_error(
            self._describe(), "for", "`with dsl.ParallelFor(value) as item:`"
        )


class Condition:
    """``left op right`` as written in ``dsl.If(...)``; turned into the IR by the builder."""

    def __init__(self, op: str, left: Any, right: Any) -> None:
        self.op, self.left, self.right = op, left, right
        self.location: SourceLocation | None = user_location()

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"a comparison ({self.op}) of run-time values was used in a Python condition",
            code="PC120",
            location=self.location,
            hint="write `with dsl.If(a " + self.op + " b):` around the steps it guards",
        )

    def __repr__(self) -> str:
        return f"<condition {self.left!r} {self.op} {self.right!r}>"


class LoopItem(Operand):
    """The current item of a ``dsl.ParallelFor`` (``item["key"]`` for one field of a dict)."""

    def __init__(self, loop: Any, key: str | None = None, type_name: str | None = None) -> None:
        self.loop = loop  # the builder's loop group
        self.key = key
        self.type = type_name  # known for literal lists of one type, else None

    def __getitem__(self, key: str) -> LoopItem:
        if self.key is not None or not isinstance(key, str):
            raise DefinitionError(
                f"loop item field {key!r} cannot be read here",
                code="PC100",
                location=user_location(),
                hint="items of a loop are values or dicts: item['key'] reads one field",
            )
        return LoopItem(self.loop, key, None)

    def _describe(self) -> str:
        return "a loop item" + (f" ['{self.key}']" if self.key else "")

    def __repr__(self) -> str:
        return f"<loop item {self.loop.id}{'' if self.key is None else f'[{self.key!r}]'}>"


class Collected:
    """``dsl.Collected(task.outputs["x"])``: after a loop, the output of every iteration, in
    iteration order (a JSON list for a parameter, a folder of ``0/``, ``1/``, ... for an
    artifact)."""

    def __init__(self, output: Any) -> None:
        self.output = output
        self.location = user_location()

    def __repr__(self) -> str:
        return f"<collected {self.output!r}>"


class OneOf:
    """``dsl.OneOf(a.output, b.output)``: the same output from exclusive branches (``If`` /
    ``Elif`` / ``Else``); exactly one of them runs, and its value is the one passed on."""

    def __init__(self, *outputs: Any) -> None:
        self.outputs = outputs
        self.location = user_location()

    def __repr__(self) -> str:
        return f"<one of {', '.join(repr(o) for o in self.outputs)}>"


class RunStatus:
    """``dsl.RUN_STATUS``: bound to a ``str`` input of an exit task, it receives the JSON string
    ``{"state": "SUCCEEDED"|"FAILED", "failed_step": id|null, "error": text|null}``."""

    def __repr__(self) -> str:
        return "dsl.RUN_STATUS"


RUN_STATUS = RunStatus()
