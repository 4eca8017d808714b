"""The pipeline spec (IR): frozen, typed plain data that every target and the local runner read.

This is the one public module compilers, the runner, deploy and the runtime import the IR from
(``pipecast.dsl.spec``). It is a leaf: it imports nothing from the DSL's builders, the compilers
or the runner, so a target (or another tool) can read a spec without pulling them in. The DSL
only builds it; nothing downstream sees DSL objects: resources, spot and retry settings are plain
integers (bytes, seconds) here, not the user-facing ``Resources``/``Spot``/``Retry`` that accept
``"16GiB"`` or ``"2h"``.

It round-trips through JSON (:func:`PipelineSpec.to_dict` / :func:`PipelineSpec.from_dict`) and
its JSON form validates against ``schemas/pipeline.schema.json``. Source locations are kept for
diagnostics but are not part of the document (they differ between machines and would break
byte-for-byte determinism).

The value rules every layer shares live here too, once: which constant fits a parameter type
(:func:`value_matches`), which parameter fits an input (:func:`parameter_fits`), which artifact
fits an artifact input (:func:`artifact_fits`), and how a value is spelled on a command line
(:func:`render_value`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias, cast

from pipecast.errors import DefinitionError, SourceLocation

__all__ = [
    "ARTIFACT_TYPES",
    "COMPARISON_OPERATORS",
    "IR_VERSION",
    "PARAMETER_TYPES",
    "PER_TARGET_FEATURES",
    "Arg",
    "ArgPart",
    "Binding",
    "Caching",
    "CollectedRef",
    "Comparison",
    "ComponentSpec",
    "Constant",
    "GroupKind",
    "GroupSpec",
    "ImporterRef",
    "ImporterSpec",
    "InputSpec",
    "LoopItemRef",
    "OneOfRef",
    "OutputRef",
    "OutputSpec",
    "ParamValue",
    "ParameterRef",
    "ParameterSpec",
    "PipelineSpec",
    "Placeholder",
    "PlaceholderKind",
    "ResourceSpec",
    "RetrySpec",
    "RunStatusRef",
    "SpotSpec",
    "StepSpec",
    "artifact_fits",
    "binding_from_dict",
    "binding_upstream",
    "format_bytes",
    "parameter_fits",
    "render_value",
    "value_matches",
]

# 2: output parameters, list/dict values, groups (condition, loop, exit handler) and the
# bindings they bring; version 1 documents load unchanged (they have none of these)
IR_VERSION = 2

# features a step may keep on some targets only (``.set_caching(True, targets=(...))``): the
# feature's name → the StepSpec field that holds it
PER_TARGET_FEATURES: Mapping[str, str] = {
    "caching": "caching",
    "retry": "retry",
    "spot": "spot",
    "timeout": "timeout_seconds",
}
ARTIFACT_TYPES = ("Artifact", "Dataset", "Model")
PARAMETER_TYPES = ("str", "int", "float", "bool", "list", "dict")
ParamValue: TypeAlias = str | int | float | bool | list[Any] | dict[str, Any]
PlaceholderKind = Literal["inputPath", "inputUri", "outputPath", "value"]


def render_value(value: ParamValue) -> str:
    """How a parameter value is spelled on a command line, identically on every target."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def value_matches(ptype: str, value: Any) -> bool:
    """Whether ``value`` is a valid constant for a parameter of type ``ptype`` (int fits float)."""
    if ptype == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if ptype == "int":
        return isinstance(value, int)
    if ptype == "float":  # NaN and infinities have no JSON spelling, so no document can carry them
        return isinstance(value, (int, float)) and math.isfinite(value)
    if ptype == "list":
        return isinstance(value, list)
    if ptype == "dict":
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, str)


def parameter_fits(param_type: str, input_type: str) -> bool:
    """Whether a pipeline parameter of ``param_type`` may feed an input of ``input_type``."""
    return param_type == input_type or (param_type == "int" and input_type == "float")


def artifact_fits(expected: str, produced: str) -> bool:
    """Whether an artifact of type ``produced`` may feed an input expecting ``expected``
    (``Artifact`` on either side accepts any artifact)."""
    return "Artifact" in (expected, produced) or produced == expected


def format_bytes(size: int) -> str:
    """The shortest exact binary-unit spelling of a byte count (``17179869184`` → ``16GiB``)."""
    for unit, factor in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


# ----- step settings: plain numbers ----------------------------------------------------------


def _resources_from_dict(res: Mapping[str, Any]) -> ResourceSpec:
    """Resources from JSON: the schema checks the types; a hand-edited document may still hold
    values no target can use, and those are a clear error here rather than half a compile."""

    def positive(value: Any) -> bool:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return number and 0 < value < math.inf

    for key in ("cpu", "memory", *(() if res["disk"] is None else ("disk",))):
        if not positive(res[key]) or (key != "cpu" and not isinstance(res[key], int)):
            raise DefinitionError(
                f"resources.{key} must be a positive {'number' if key == 'cpu' else 'byte count'}"
                f", got {res[key]!r}",
                code="PC101",
                hint="the IR spells memory and disk in bytes: 17179869184 is 16GiB",
            )
    return ResourceSpec(res["cpu"], res["memory"], res["gpu"], res["gpu_type"], res["disk"])


@dataclass(frozen=True)
class ResourceSpec:
    """What one step needs, in plain units: vCPUs, bytes of memory, GPUs, bytes of disk."""

    cpu: float
    memory_bytes: int
    gpu: int = 0
    gpu_type: str | None = None
    disk_bytes: int | None = None


@dataclass(frozen=True)
class SpotSpec:
    """Run on spot capacity, waiting at most ``max_wait_seconds`` (queueing plus running)."""

    max_wait_seconds: int
    checkpoints: bool = False  # a checkpoint folder synced to the run (SageMaker spot jobs)


@dataclass(frozen=True)
class RetrySpec:
    """Up to ``max_attempts`` attempts in total, with exponential backoff."""

    max_attempts: int
    backoff_seconds: int
    backoff_rate: float


# ----- component interface ---------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """A part of a container argument filled in per target: a path, a URI or a value."""

    kind: PlaceholderKind
    name: str

    def to_dict(self) -> dict[str, str]:
        return {self.kind: self.name}


ArgPart: TypeAlias = str | Placeholder
Arg: TypeAlias = tuple[ArgPart, ...]


def _arg_to_json(arg: Arg) -> Any:
    """One part: a string or a placeholder object; several parts (concatenated): a list."""
    parts = [p if isinstance(p, str) else p.to_dict() for p in arg]
    return parts[0] if len(parts) == 1 else parts


@dataclass(frozen=True)
class InputSpec:
    """One declared input: an artifact (a file/directory) or a parameter (a plain value)."""

    name: str
    kind: Literal["artifact", "parameter"]
    type: str
    default: ParamValue | None = None
    optional: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "type": self.type}
        if self.optional:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class OutputSpec:
    """One declared output: an artifact (a directory the container writes into) or a parameter
    (a file the container writes the value into, as JSON)."""

    name: str
    type: str
    kind: Literal["artifact", "parameter"] = "artifact"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.kind == "parameter":
            out["kind"] = "parameter"
        return out


@dataclass(frozen=True)
class ComponentSpec:
    """A container interface: image, command, argument template, inputs and outputs.

    ``python_function`` (``module:function``) is set for ``@dsl.component`` functions; the
    command then runs ``pipecast.runtime`` which imports and calls it inside the image.
    """

    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[Arg, ...]
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    description: str | None = None
    python_function: str | None = None
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def output(self, name: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "command": list(self.command),
            "args": [_arg_to_json(arg) for arg in self.args],
            "inputs": [i.to_dict() for i in self.inputs],
            "outputs": [o.to_dict() for o in self.outputs],
        }
        if self.description:
            out["description"] = self.description
        if self.python_function:
            out["python_function"] = self.python_function
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComponentSpec:
        def part(p: Any) -> ArgPart:
            if isinstance(p, str):
                return p
            ((kind, name),) = p.items()
            return Placeholder(cast(PlaceholderKind, kind), name)

        def arg(a: Any) -> Arg:
            return tuple(part(p) for p in a) if isinstance(a, list) else (part(a),)

        comp = cls(
            name=data["name"],
            image=data["image"],
            command=tuple(data["command"]),
            args=tuple(arg(a) for a in data["args"]),
            inputs=tuple(
                InputSpec(i["name"], i["kind"], i["type"], i.get("default"), "default" in i)
                for i in data["inputs"]
            ),
            outputs=tuple(
                OutputSpec(o["name"], o["type"], o.get("kind", "artifact")) for o in data["outputs"]
            ),
            description=data.get("description"),
            python_function=data.get("python_function"),
        )
        comp.check_placeholders()
        return comp

    def check_placeholders(self) -> None:
        """Every placeholder names an input of its kind or an output (the DSL guarantees it; a
        hand-edited IR document may not, and a target would then fail half-way)."""
        wanted = {"value": "parameter", "inputPath": "artifact", "inputUri": "artifact"}
        kinds = {i.name: i.kind for i in self.inputs}
        outputs = {o.name for o in self.outputs}
        for arg in self.args:
            for p in arg:
                if isinstance(p, str):
                    continue
                ok = (
                    p.name in outputs
                    if p.kind == "outputPath"
                    else kinds.get(p.name) == wanted[p.kind]
                )
                if not ok:
                    raise DefinitionError(
                        f"component '{self.name}': placeholder {{{p.kind!r}: {p.name!r}}} names no "
                        f"{'output' if p.kind == 'outputPath' else wanted[p.kind] + ' input'}",
                        code="PC106",
                        hint=f"inputs: {', '.join(kinds) or 'none'}; outputs: "
                        f"{', '.join(sorted(outputs)) or 'none'}",
                    )


# ----- bindings: where a step's input comes from ----------------------------------------------


@dataclass(frozen=True)
class Constant:
    value: ParamValue

    def to_dict(self) -> dict[str, Any]:
        return {"constant": self.value}


@dataclass(frozen=True)
class ParameterRef:
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.name}


@dataclass(frozen=True)
class OutputRef:
    step: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"output": {"step": self.step, "name": self.output}}


@dataclass(frozen=True)
class ImporterRef:
    importer: str

    def to_dict(self) -> dict[str, Any]:
        return {"importer": self.importer}


@dataclass(frozen=True)
class LoopItemRef:
    """The current item of loop group ``loop`` (``key``: one field of a dict item)."""

    loop: str
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loop": self.loop}
        if self.key is not None:
            out["key"] = self.key
        return {"loop_item": out}


@dataclass(frozen=True)
class CollectedRef:
    """Fan-in after a loop: output ``output`` of ``step`` from every iteration, in order."""

    step: str
    output: str

    def to_dict(self) -> dict[str, Any]:
        return {"collected": {"step": self.step, "name": self.output}}


@dataclass(frozen=True)
class OneOfRef:
    """The one of several outputs (from exclusive branches) that was produced."""

    options: tuple[OutputRef, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"one_of": [{"step": o.step, "name": o.output} for o in self.options]}


@dataclass(frozen=True)
class RunStatusRef:
    """``dsl.RUN_STATUS``: the status of the steps an exit handler guards, as a JSON string."""

    def to_dict(self) -> dict[str, Any]:
        return {"run_status": True}


Binding: TypeAlias = (
    Constant
    | ParameterRef
    | OutputRef
    | ImporterRef
    | LoopItemRef
    | CollectedRef
    | OneOfRef
    | RunStatusRef
)


def binding_from_dict(data: Mapping[str, Any]) -> Binding:
    if "constant" in data:
        return Constant(data["constant"])
    if "parameter" in data:
        return ParameterRef(data["parameter"])
    if "output" in data:
        return OutputRef(data["output"]["step"], data["output"]["name"])
    if "loop_item" in data:
        return LoopItemRef(data["loop_item"]["loop"], data["loop_item"].get("key"))
    if "collected" in data:
        return CollectedRef(data["collected"]["step"], data["collected"]["name"])
    if "one_of" in data:
        return OneOfRef(tuple(OutputRef(o["step"], o["name"]) for o in data["one_of"]))
    if "run_status" in data:
        return RunStatusRef()
    return ImporterRef(data["importer"])


def binding_upstream(binding: Binding) -> tuple[OutputRef, ...]:
    """The step outputs a binding reads (data edges): one, several (``OneOf``) or none."""
    if isinstance(binding, OutputRef):
        return (binding,)
    if isinstance(binding, CollectedRef):
        return (OutputRef(binding.step, binding.output),)
    if isinstance(binding, OneOfRef):
        return binding.options
    return ()


# ----- groups: conditions, loops, exit handlers -----------------------------------------------

GroupKind = Literal["condition", "loop", "exit_handler"]
COMPARISON_OPERATORS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True)
class Comparison:
    """``left op right``; operands are constants, parameters, output parameters or loop items."""

    op: str
    left: Binding
    right: Binding

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "left": self.left.to_dict(), "right": self.right.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        return cls(data["op"], binding_from_dict(data["left"]), binding_from_dict(data["right"]))


@dataclass(frozen=True)
class GroupSpec:
    """A block of steps under one construct. Groups nest through ``parent``; a step names its
    innermost group.

    - ``condition`` (``dsl.If``/``Elif``/``Else``): its steps run when every comparison in
      ``when`` holds and none in ``unless`` does (the earlier branches of its ``chain``).
    - ``loop`` (``dsl.ParallelFor``): its steps run once per item of ``items`` (a list
      constant, a list parameter, a list output or an enclosing loop's item), at most
      ``parallelism`` iterations at a time (None: no limit).
    - ``exit_handler`` (``dsl.ExitHandler``): ``exit_step`` runs after its steps end,
      whether they succeeded or failed.
    """

    id: str
    kind: GroupKind
    parent: str | None = None
    when: tuple[Comparison, ...] = ()
    unless: tuple[Comparison, ...] = ()
    chain: str | None = None
    items: Binding | None = None
    parallelism: int | None = None
    exit_step: str | None = None
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "parent": self.parent}
        if self.kind == "condition":
            out["when"] = [c.to_dict() for c in self.when]
            out["unless"] = [c.to_dict() for c in self.unless]
            out["chain"] = self.chain
        elif self.kind == "loop":
            assert self.items is not None
            out["items"] = self.items.to_dict()
            out["parallelism"] = self.parallelism
        else:
            out["exit_step"] = self.exit_step
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupSpec:
        items = data.get("items")
        return cls(
            id=data["id"],
            kind=data["kind"],
            parent=data.get("parent"),
            when=tuple(Comparison.from_dict(c) for c in data.get("when", ())),
            unless=tuple(Comparison.from_dict(c) for c in data.get("unless", ())),
            chain=data.get("chain"),
            items=None if items is None else binding_from_dict(items),
            parallelism=data.get("parallelism"),
            exit_step=data.get("exit_step"),
        )


# ----- pipeline-level entities -------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterSpec:
    """A pipeline parameter, set per run (execution input on AWS, run parameter on Kubeflow)."""

    name: str
    type: str
    default: ParamValue | None = None
    optional: bool = False
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.optional:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class ImporterSpec:
    """An external artifact (an S3 prefix, or a manifest file listing objects) fed into steps."""

    id: str
    uri: Constant | ParameterRef
    artifact_type: str
    manifest: bool = False
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uri": self.uri.to_dict(),
            "artifact_type": self.artifact_type,
            "manifest": self.manifest,
        }


@dataclass(frozen=True)
class Caching:
    """Reuse a previous identical step's outputs for up to ``expire_after_seconds``."""

    enabled: bool
    expire_after_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "expire_after_seconds": self.expire_after_seconds}


@dataclass(frozen=True)
class StepSpec:
    """One step (task): a component invocation with its bindings and its resolved settings."""

    id: str
    component: str
    arguments: tuple[tuple[str, Binding], ...]
    after: tuple[str, ...] = ()
    resources: ResourceSpec | None = None
    spot: SpotSpec | None = None
    retry: RetrySpec | None = None
    timeout_seconds: int | None = None
    expected_seconds: int | None = None
    env: tuple[tuple[str, str], ...] = ()
    caching: Caching | None = None
    instance_type: str | None = None
    group: str | None = None
    # scale-out (DESIGN §13): machines at once, and the artifact inputs split across them
    instances: int = 1
    shard: tuple[str, ...] = ()
    # per-target settings: feature ("caching", "spot", "retry", "timeout") → the targets that
    # keep it, sorted; on every other target the feature is dropped, with a note (PC014)
    only_on: tuple[tuple[str, tuple[str, ...]], ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def argument(self, name: str) -> Binding | None:
        return next((b for n, b in self.arguments if n == name), None)

    def upstream_steps(self) -> tuple[str, ...]:
        """Steps this one reads outputs from (data edges), sorted, without duplicates."""
        return tuple(sorted({r.step for _, b in self.arguments for r in binding_upstream(b)}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "component": self.component,
            "arguments": {name: b.to_dict() for name, b in self.arguments},
            "after": list(self.after),
            "env": dict(self.env),
        }
        if self.resources is not None:
            r = self.resources
            out["resources"] = {
                "cpu": r.cpu,
                "memory": r.memory_bytes,
                "gpu": r.gpu,
                "gpu_type": r.gpu_type,
                "disk": r.disk_bytes,
            }
        if self.spot is not None:
            out["spot"] = {"max_wait_seconds": self.spot.max_wait_seconds}
            if self.spot.checkpoints:  # absent when off: IR documents without it are unchanged
                out["spot"]["checkpoints"] = True
        if self.retry is not None:
            out["retry"] = {
                "max_attempts": self.retry.max_attempts,
                "backoff_seconds": self.retry.backoff_seconds,
                "backoff_rate": self.retry.backoff_rate,
            }
        if self.timeout_seconds is not None:
            out["timeout_seconds"] = self.timeout_seconds
        if self.expected_seconds is not None:
            out["expected_seconds"] = self.expected_seconds
        if self.caching is not None:
            out["caching"] = self.caching.to_dict()
        if self.instance_type is not None:
            out["instance_type"] = self.instance_type
        if self.group is not None:
            out["group"] = self.group
        if self.instances != 1:  # absent at the default: IR documents without it are unchanged
            out["instances"] = self.instances
        if self.shard:
            out["shard"] = list(self.shard)
        if self.only_on:  # absent when unused: IR documents without it are unchanged
            out["only_on"] = {feature: list(targets) for feature, targets in self.only_on}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepSpec:
        res = data.get("resources")
        spot = data.get("spot")
        retry = data.get("retry")
        caching = data.get("caching")
        return cls(
            id=data["id"],
            component=data["component"],
            arguments=tuple(
                (name, binding_from_dict(b)) for name, b in sorted(data["arguments"].items())
            ),
            after=tuple(data.get("after", ())),
            resources=None if res is None else _resources_from_dict(res),
            spot=None
            if spot is None
            else SpotSpec(spot["max_wait_seconds"], spot.get("checkpoints", False)),
            retry=None
            if retry is None
            else RetrySpec(retry["max_attempts"], retry["backoff_seconds"], retry["backoff_rate"]),
            timeout_seconds=data.get("timeout_seconds"),
            expected_seconds=data.get("expected_seconds"),
            env=tuple(sorted(data.get("env", {}).items())),
            caching=None
            if caching is None
            else Caching(caching["enabled"], caching.get("expire_after_seconds")),
            instance_type=data.get("instance_type"),
            group=data.get("group"),
            instances=data.get("instances", 1),
            shard=tuple(data.get("shard", ())),
            only_on=tuple(
                (feature, tuple(targets))
                for feature, targets in sorted(data.get("only_on", {}).items())
            ),
        )

    def without(self, features: Iterable[str]) -> StepSpec:
        """This step with ``features`` (of :data:`PER_TARGET_FEATURES`) switched off: what a
        target outside a feature's ``only_on`` list compiles."""
        cleared = {PER_TARGET_FEATURES[f]: None for f in features}
        return replace(self, **cleared) if cleared else self  # type: ignore[arg-type]

    def dropped_on(self, target: str) -> tuple[str, ...]:
        """The features this step sets that ``target`` is not in the ``only_on`` list of."""
        return tuple(
            feature
            for feature, targets in self.only_on
            if target not in targets and getattr(self, PER_TARGET_FEATURES[feature]) is not None
        )


@dataclass(frozen=True)
class PipelineSpec:
    """A whole pipeline: parameters, components (by name), importers and steps.

    Steps are kept in definition order; targets order them topologically with a name tie-break.
    """

    name: str
    parameters: tuple[ParameterSpec, ...]
    components: tuple[ComponentSpec, ...]
    importers: tuple[ImporterSpec, ...]
    steps: tuple[StepSpec, ...]
    description: str | None = None
    groups: tuple[GroupSpec, ...] = ()
    location: SourceLocation | None = field(default=None, compare=False, repr=False)

    def component(self, name: str) -> ComponentSpec:
        return self._components_by_name()[name]

    def step(self, step_id: str) -> StepSpec:
        return self._steps_by_id()[step_id]

    def parameter(self, name: str) -> ParameterSpec | None:
        return next((p for p in self.parameters if p.name == name), None)

    def importer(self, importer_id: str) -> ImporterSpec | None:
        return next((i for i in self.importers if i.id == importer_id), None)

    def group(self, group_id: str) -> GroupSpec | None:
        return self._groups_by_id().get(group_id)

    def groups_of(self, step: StepSpec) -> tuple[GroupSpec, ...]:
        """The groups around ``step``, outermost first (unknown group ids are left out)."""
        chain: list[GroupSpec] = []
        seen: set[str] = set()
        gid = step.group
        while gid is not None and gid not in seen:
            seen.add(gid)
            found = self._groups_by_id().get(gid)
            if found is None:
                break
            chain.append(found)
            gid = found.parent
        return tuple(reversed(chain))

    def _groups_by_id(self) -> dict[str, GroupSpec]:
        cache: dict[str, GroupSpec] | None = self.__dict__.get("_by_group")
        if cache is None:
            cache = {g.id: g for g in self.groups}
            object.__setattr__(self, "_by_group", cache)
        return cache

    def _components_by_name(self) -> dict[str, ComponentSpec]:
        cache: dict[str, ComponentSpec] | None = self.__dict__.get("_by_component")
        if cache is None:
            cache = {c.name: c for c in self.components}
            object.__setattr__(self, "_by_component", cache)
        return cache

    def _steps_by_id(self) -> dict[str, StepSpec]:
        cache: dict[str, StepSpec] | None = self.__dict__.get("_by_step")
        if cache is None:
            cache = {s.id: s for s in self.steps}
            object.__setattr__(self, "_by_step", cache)
        return cache

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ir_version": IR_VERSION,
            "name": self.name,
            "parameters": [p.to_dict() for p in self.parameters],
            "components": [c.to_dict() for c in sorted(self.components, key=lambda c: c.name)],
            "importers": [i.to_dict() for i in self.importers],
            "steps": [s.to_dict() for s in self.steps],
        }
        if self.groups:
            out["groups"] = [g.to_dict() for g in self.groups]
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineSpec:
        """Rebuild a spec from its JSON form; validate with the schema first for clear errors."""
        return cls(
            name=data["name"],
            description=data.get("description"),
            parameters=tuple(
                ParameterSpec(p["name"], p["type"], p.get("default"), "default" in p)
                for p in data["parameters"]
            ),
            components=tuple(ComponentSpec.from_dict(c) for c in data["components"]),
            importers=tuple(
                ImporterSpec(
                    i["id"],
                    cast("Constant | ParameterRef", binding_from_dict(i["uri"])),
                    i["artifact_type"],
                    i.get("manifest", False),
                )
                for i in data["importers"]
            ),
            steps=tuple(StepSpec.from_dict(s) for s in data["steps"]),
            groups=tuple(GroupSpec.from_dict(g) for g in data.get("groups", ())),
        )

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        return cls.from_dict(json.loads(text))
