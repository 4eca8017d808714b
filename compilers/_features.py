"""Features a target cannot express (PC008) and per-target settings (PC004, PC014).

Why one module: the three questions "can this target express it?", "which targets can?" and
"did the user say to keep it only on some targets?" are answered from the same data, the
registered targets' :class:`~pipecast.compilers.target.Capabilities`, so the messages always
name targets that really can, and a new target changes them without touching this code.

- :func:`features` (a target check): every feature a step uses that the target cannot express.
  Ordinary features are reported per step; control-flow features once per construct (the
  outermost ``dsl.If``/``ParallelFor``/``ExitHandler`` around the steps) or once per feature,
  naming the steps, so a loop of twenty steps is one diagnostic, not twenty times three.
- :func:`project` (run by the graph check before a target's checks): the spec as that target
  compiles it, each step without the features its ``targets=(...)`` leaves this target out of,
  and one PC014 note per dropped feature, so nothing is dropped silently.
- :func:`per_target_names` (a spec check): ``targets=(...)`` names registered targets only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from pipecast.dsl.spec import PER_TARGET_FEATURES, GroupSpec, PipelineSpec, StepSpec
from pipecast.errors import Diagnostic, SourceLocation, UsageError, did_you_mean

from .target import FEATURES, Target

__all__ = ["able_targets", "features", "per_target_names", "project"]

Found = Iterator[Diagnostic]

# control-flow features whose construct is a group of this kind (reported once per construct)
_CONSTRUCT_KIND = {"conditions": "condition", "loops": "loop", "exit_handler": "exit_handler"}
_NAMED = 10  # steps named in one grouped diagnostic; the rest are counted


def able_targets(feature: str, besides: str | None = None) -> list[str]:
    """The registered targets (other than ``besides``) whose capabilities include ``feature``,
    in registry order. A target that cannot be loaded here is left out, and so is one that only
    records settings (the IR: ``keeps_per_target``), which expresses nothing on a service."""
    from pipecast.compilers import load_target, target_names

    found = []
    for name in target_names():
        if name == besides:
            continue
        try:
            target = load_target(name)
        except UsageError:
            continue
        caps = target.capabilities
        if caps.supports(feature) and not caps.keeps_per_target:
            found.append(name)
    return found


def _names(targets: list[str]) -> str:
    if len(targets) <= 1:
        return "".join(targets)
    return f"{', '.join(targets[:-1])} and {targets[-1]}"


def _targets_text(targets: Iterable[str]) -> str:
    """``targets=("a", "b")`` as the user writes it (a one-name tuple keeps its comma)."""
    names = [f'"{t}"' for t in targets]
    return f"targets=({names[0]},)" if len(names) == 1 else f"targets=({', '.join(names)})"


def _hint(feature: str, target: Target, able: list[str]) -> str:
    spec = FEATURES[feature]
    can = f"{_names(able)} can express it" if able else "no registered target can express it"
    workaround = target.capabilities.hints.get(feature)
    if workaround:  # the target's own advice: what to do instead on it
        return f"{can}; {workaround}"
    if spec.hint:  # the feature's own advice (where else it runs) says the rest
        own = spec.hint.format(target=target.name)
        return f"{can}; {own}" if able else own
    if feature in PER_TARGET_FEATURES and able:
        return (
            f"{can}; keep it there and drop it on {target.name} with {_targets_text(able)} "
            "on the same call, or remove it"
        )
    return f"{can}; remove it for {target.name}, or compile for one of those"


def _construct(spec: PipelineSpec, step: StepSpec, feature: str) -> GroupSpec | None:
    """The construct a control-flow feature of ``step`` belongs to (None: report per feature)."""
    kind = _CONSTRUCT_KIND.get(feature)
    if kind is None:
        return None
    outer = next((g for g in spec.groups_of(step) if g.kind == kind), None)
    if outer is None and kind == "exit_handler":  # the exit task itself
        outer = next((g for g in spec.groups if g.exit_step == step.id), None)
    return outer


def features(
    spec: PipelineSpec,
    steps: Iterable[StepSpec],
    target: Target,
    where: Callable[[StepSpec], SourceLocation | None],
) -> Found:
    """PC008: every feature one of ``steps`` (those whose component exists) uses that
    ``target`` cannot express, with the targets that can. Opt-in (control-flow) features are
    grouped: one diagnostic per construct, or per feature, naming the steps."""
    able: dict[str, list[str]] = {}
    grouped: dict[tuple[str, str | None], list[StepSpec]] = {}
    groups: dict[str, GroupSpec] = {}
    for step in steps:
        for name, feature in FEATURES.items():
            if target.capabilities.supports(name) or not feature.used(spec, step):
                continue
            if feature.part_of and not target.capabilities.supports(feature.part_of):
                continue  # the whole construct is refused already, in its own diagnostic
            if name not in able:
                able[name] = able_targets(name, besides=target.name)
            if not feature.default:
                outer = _construct(spec, step, name)
                if outer is not None:
                    groups[outer.id] = outer
                grouped.setdefault((name, outer.id if outer else None), []).append(step)
                continue
            yield Diagnostic(
                "PC008",
                f"step '{step.id}': {name.replace('_', ' ')} ({feature.how}) is not "
                f"expressible on {target.name}",
                where(step),
                _hint(name, target, able[name]),
                step=step.id,
            )
    for (name, group_id), members in grouped.items():
        feature = FEATURES[name]
        ids = ", ".join(f"'{s.id}'" for s in members[:_NAMED])
        if len(members) > _NAMED:
            ids += f" and {len(members) - _NAMED} more"
        group = groups.get(group_id) if group_id else None
        what = f"{name.replace('_', ' ')} ({feature.how})"
        subject = f"step {ids}" if len(members) == 1 else f"steps {ids}"
        yield Diagnostic(
            "PC008",
            f"{what} is not expressible on {target.name}; it is used by {subject}",
            (group.location if group else None) or where(members[0]),
            _hint(name, target, able[name]),
            step=members[0].id,
        )


def project(spec: PipelineSpec, target: Target) -> tuple[PipelineSpec, list[Diagnostic]]:
    """``spec`` as ``target`` compiles it: each step without the features whose ``targets=``
    leaves this target out, plus a PC014 note for each (a target that keeps every setting as
    written, the IR, gets the spec unchanged)."""
    if target.capabilities.keeps_per_target or not any(s.only_on for s in spec.steps):
        return spec, []
    notes: list[Diagnostic] = []
    steps = []
    for step in spec.steps:
        dropped = step.dropped_on(target.name)
        steps.append(step.without(dropped))
        for feature in dropped:
            kept = dict(step.only_on)[feature]
            notes.append(
                Diagnostic(
                    "PC014",
                    f"step '{step.id}': {feature} is left out on {target.name}, as "
                    f"{_targets_text(kept)} asks",
                    step.location,
                    f"add '{target.name}' to targets=(...) to keep it here",
                    severity="warning",
                    step=step.id,
                )
            )
    return replace(spec, steps=tuple(steps)), notes


def per_target_names(
    spec: PipelineSpec, where: Callable[[StepSpec], SourceLocation | None]
) -> Found:
    """PC004: every target named in a step's ``targets=(...)`` is registered."""
    if not any(s.only_on for s in spec.steps):
        return
    from pipecast.compilers import target_names

    known = target_names()
    for step in spec.steps:
        for feature, targets in step.only_on:
            for name in targets:
                if name not in known:
                    yield Diagnostic(
                        "PC004",
                        f"step '{step.id}': {feature} targets=(...) names no target "
                        f"'{name}'{did_you_mean(name, known)}",
                        where(step),
                        f"targets: {', '.join(known)}",
                        step=step.id,
                    )
