"""The graph check's rules for scale-out of one step (DESIGN §13, ``task.set_instances``).

The DSL reports a bad count or shard name at the user's line (:mod:`pipecast.dsl._scale`);
these rules check the same on any spec (a hand-written or loaded IR document) and add what only
the whole pipeline or a target knows:

- PC040: ``instances`` is at least 1, and within the target's limit for how the step runs
  (SageMaker: a Processing job for on-demand steps, a Training job for spot steps);
- PC041: ``shard`` names artifact inputs of the step;
- PC042: a sharded input is a folder of objects the platform can split: it must be bound (to
  an importer's prefix or manifest, or an upstream output prefix) and reach the container as a
  path, not as a URI the container would read whole;
- PC043: every output of a scaled-out step is a prefix (an artifact folder the machines write
  into side by side); an output parameter is one file that each machine would overwrite.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pipecast.dsl.spec import Placeholder
from pipecast.errors import Diagnostic, did_you_mean

if TYPE_CHECKING:
    from ._checks import Index
    from .target import Target

__all__ = ["SCALE_CHECKS", "SCALE_TARGET_CHECKS"]

Found = Iterator[Diagnostic]


def instance_counts(ix: Index) -> Found:
    """PC040: at least one machine."""
    for step in ix.spec.steps:
        count = step.instances
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            yield Diagnostic(
                "PC040",
                f"step '{step.id}': instances must be a whole number of machines, at least 1; "
                f"got {count!r}",
                ix.where(step),
                "e.g. .set_instances(4, shard=['frames'])",
                step=step.id,
            )


def shard_inputs(ix: Index) -> Found:
    """PC041 (names), PC042 (what a sharded input is bound to and how it is passed)."""
    for step, comp in ix.wired_steps():
        artifacts = [i.name for i in comp.inputs if i.kind == "artifact"]
        as_uri = {
            part.name
            for arg in comp.args
            for part in arg
            if isinstance(part, Placeholder) and part.kind == "inputUri"
        }
        for name in step.shard:
            if name not in artifacts:
                seen = "a parameter" if comp.input(name) is not None else "not an input"
                yield Diagnostic(
                    "PC041",
                    f"step '{step.id}': shard names '{name}', which is {seen} of "
                    f"'{comp.name}'{did_you_mean(name, artifacts)}",
                    ix.where(step),
                    "shard splits artifact inputs by object; its artifact inputs: "
                    f"{', '.join(artifacts) or 'none'}",
                    step=step.id,
                )
            elif step.argument(name) is None:
                yield Diagnostic(
                    "PC042",
                    f"step '{step.id}': sharded input '{name}' is not bound, so there is "
                    "nothing to split",
                    ix.where(step),
                    f"bind '{name}' to an importer (an S3 prefix or a manifest) or to an "
                    "upstream output, or leave it out of shard",
                    step=step.id,
                )
            elif name in as_uri:
                yield Diagnostic(
                    "PC042",
                    f"step '{step.id}': sharded input '{name}' reaches the container as a URI "
                    "(dsl.input_uri), which every machine would read whole",
                    ix.where(step),
                    f"pass '{name}' as a path (dsl.input_path, the default) so each machine "
                    "sees only its shard's folder, or leave it out of shard",
                    step=step.id,
                )


def prefix_outputs(ix: Index) -> Found:
    """PC043: a scaled-out step writes only artifact folders."""
    for step, comp in ix.wired_steps():
        if step.instances == 1 or not isinstance(step.instances, int):
            continue
        for out in comp.outputs:
            if out.kind == "parameter":
                yield Diagnostic(
                    "PC043",
                    f"step '{step.id}' runs on {step.instances} machines, but its output "
                    f"'{out.name}' is a parameter (one file every machine would overwrite)",
                    ix.where(step),
                    "write the result into an artifact folder (Output[Dataset]) under a file "
                    "name derived from the inputs, and read it downstream",
                    step=step.id,
                )


def instance_limits(ix: Index, target: Target) -> Found:
    """PC040: the target's limit on machines per job, for how the step runs."""
    limits = target.limits.max_instances
    for step in ix.spec.steps:
        count = step.instances
        if isinstance(count, bool) or not isinstance(count, int) or count <= 1:
            continue
        found = limits.get("spot" if step.spot is not None else "default")
        if found is None:
            continue
        job, limit = found
        if count > limit:
            yield Diagnostic(
                "PC040",
                f"step '{step.id}': {count} instances exceed {target.name}'s limit of {limit} "
                f"per {job}",
                ix.where(step),
                f"ask for at most {limit}, or split the input over several steps",
                step=step.id,
            )


SCALE_CHECKS = (instance_counts, shard_inputs, prefix_outputs)
SCALE_TARGET_CHECKS = (instance_limits,)
