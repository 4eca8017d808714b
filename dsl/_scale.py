"""Scale-out of one step (DESIGN §13): the checks the DSL runs when a user asks for it.

``task.set_instances(count, shard=[...])`` and the decorators' ``instances=``/``shard=`` share
these, so a mistake is reported at the line that made it, with the same code the graph check
uses for a spec loaded from JSON (one rule, one code): PC040 for the count, PC041 for ``shard``.
The service limits per job type depend on the target, so only the graph check knows them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipecast.errors import DefinitionError, SourceLocation, did_you_mean

from .spec import ComponentSpec

__all__ = ["check_scale"]


def check_scale(
    count: object,
    shard: Sequence[str] | None,
    component: ComponentSpec,
    location: SourceLocation | None,
) -> tuple[int, tuple[str, ...]]:
    """``(count, shard names)`` once both are valid for ``component``, else a DefinitionError.

    ``shard`` must name artifact inputs of the component: a parameter or an output has no
    objects to split across machines.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise DefinitionError(
            f"instances must be a whole number of machines, at least 1; got {count!r}",
            code="PC040",
            location=location,
            hint="e.g. .set_instances(4, shard=['frames'])",
        )
    if shard is None:
        return count, ()
    if isinstance(shard, str) or not all(isinstance(s, str) for s in shard):
        raise DefinitionError(
            f"shard must be a list of input names, got {shard!r}",
            code="PC041",
            location=location,
            hint=f"e.g. shard=[{_example(component)!r}]",
        )
    artifacts = [i.name for i in component.inputs if i.kind == "artifact"]
    for name in shard:
        if name not in artifacts:
            inp = component.input(name)
            seen = "a parameter" if inp is not None else "not an input"
            raise DefinitionError(
                f"shard names '{name}', which is {seen} of '{component.name}'"
                f"{did_you_mean(name, artifacts) if inp is None else ''}",
                code="PC041",
                location=location,
                hint="shard splits artifact inputs by object; its artifact inputs: "
                f"{', '.join(artifacts) or 'none'}",
            )
    return count, tuple(sorted(set(shard)))


def _example(component: ComponentSpec) -> str:
    return next((i.name for i in component.inputs if i.kind == "artifact"), "frames")
