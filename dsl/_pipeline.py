"""``@dsl.pipeline``, tasks, pipeline parameters and importers: building the spec from user code.

A pipeline function is run once, on first use, with parameter placeholders; every component call
inside it records a :class:`Task`. Mistakes in a call (unknown argument, wrong type, missing input)
are collected with the user's file:line, so one build reports all of them together.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pipecast.errors import DefinitionError, Diagnostic, PipelineError, SourceLocation, did_you_mean

from ._collect import SINK, collecting, is_invalid
from ._component import BUILDER, Component, current_builder
from ._location import user_location
from ._resources import Resources, Retry, Spot
from ._values import Collected, LoopItem, OneOf, Operand, RunStatus
from .spec import (
    ARTIFACT_TYPES,
    Binding,
    Caching,
    CollectedRef,
    Comparison,
    Constant,
    ImporterRef,
    ImporterSpec,
    LoopItemRef,
    OneOfRef,
    OutputRef,
    ParameterRef,
    ParameterSpec,
    PipelineSpec,
    RunStatusRef,
    StepSpec,
    artifact_fits,
    parameter_fits,
    value_matches,
)
from .types import Artifact, parameter_type_name
from .units import parse_duration

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "Importer",
    "OutputHandle",
    "Pipeline",
    "PipelineParameter",
    "Task",
    "importer",
    "pipeline",
]

STEP_ID_RE = re.compile(r"^[a-z][a-z0-9-]{0,47}$")
STEP_ID_HINT = (
    "step ids are lowercase letters, digits and hyphens, start with a letter and have "
    "at most 48 characters (they become job and state names)"
)


class PipelineParameter(Operand):
    """A pipeline parameter inside the pipeline function: pass it to components, importers,
    conditions (``dsl.If(param == "x")``) or loops (``dsl.ParallelFor(param)``)."""

    def __init__(self, name: str, type_name: str) -> None:
        self.name = name
        self.type = type_name

    def __repr__(self) -> str:
        return f"<pipeline parameter {self.name}: {self.type}>"

    def __str__(self) -> str:
        raise DefinitionError(
            f"pipeline parameter '{self.name}' was used as text",
            code="PC120",
            location=user_location(),
            hint="pass the parameter itself to a component input; formatting it into a string "
            "is not possible because its value is only known when the pipeline runs",
        )

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"pipeline parameter '{self.name}' was used in a condition",
            code="PC120",
            location=user_location(),
            hint="its value is only known when the pipeline runs; pass it to a component, "
            f"or guard steps with `with dsl.If({self.name} == ...):`",
        )

    def _describe(self) -> str:
        return f"pipeline parameter '{self.name}'"


class OutputHandle(Operand):
    """One output of a task (``task.output`` or ``task.outputs['name']``): an artifact, or an
    output parameter (a value, which conditions may compare)."""

    def __init__(self, task: Task, name: str, type_name: str, kind: str = "artifact") -> None:
        self.task = task
        self.name = name
        self.type = type_name
        self.kind = kind

    def _describe(self) -> str:
        return f"output '{self.name}' of '{self.task.id}'"

    def __repr__(self) -> str:
        return f"<output {self.task.id}.{self.name}: {self.type}>"


class Importer:
    """An external artifact brought into the pipeline; use ``.output`` as a component input."""

    def __init__(
        self,
        spec_id: str,
        uri: Constant | ParameterRef,
        artifact_type: str,
        manifest: bool,
        location: SourceLocation | None,
    ) -> None:
        self.id = spec_id
        self.uri = uri
        self.artifact_type = artifact_type
        self.manifest = manifest
        self.location = location

    @property
    def output(self) -> Importer:
        return self

    @property
    def type(self) -> str:
        return self.artifact_type

    def spec(self) -> ImporterSpec:
        return ImporterSpec(self.id, self.uri, self.artifact_type, self.manifest, self.location)


class _Outputs(Mapping[str, OutputHandle]):
    def __init__(self, task: Task) -> None:
        self._task = task
        self._handles = {
            o.name: OutputHandle(task, o.name, o.type, o.kind) for o in task.component.spec.outputs
        }

    def __getitem__(self, name: str) -> OutputHandle:
        try:
            return self._handles[name]
        except KeyError:
            raise DefinitionError(
                f"'{self._task.component.name}' has no output {name!r}"
                f"{did_you_mean(name, self._handles)}",
                code="PC121",
                location=user_location(),
                hint=f"its outputs: {', '.join(self._handles) or 'none'}",
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._handles)

    def __len__(self) -> int:
        return len(self._handles)


class Task:
    """One step of a pipeline. Every ``set_*`` method returns the task, so calls chain."""

    def __init__(
        self,
        component: Component,
        step_id: str,
        arguments: dict[str, Binding],
        location: SourceLocation | None,
    ) -> None:
        d = component.defaults
        self.component = component
        self.id = step_id
        self.arguments = arguments
        self.location = location
        self.name_location: SourceLocation | None = None
        self.explicit_after: dict[str, Task] = {}
        self.resources: Resources | None = d.resources
        self.spot: Spot | None = d.spot
        self.retry: Retry | None = d.retry
        self.timeout_seconds: int | None = d.timeout_seconds
        self.expected_seconds: int | None = d.expected_seconds
        self.env: dict[str, str] = dict(d.env)
        self.caching: Caching | None = None
        self.instance_type: str | None = d.instance_type
        self.only_on: dict[str, tuple[str, ...]] = {}  # feature → targets (see _keep_on)
        self.group: Any = None  # the innermost control-flow group (``_control``) around it
        self.outputs: Mapping[str, OutputHandle] = _Outputs(self)

    def __repr__(self) -> str:
        return f"<task {self.id} ({self.component.name})>"

    @property
    def output(self) -> OutputHandle:
        """The only output; a task with several outputs needs ``.outputs['name']``."""
        names = list(self.outputs)
        if len(names) != 1:
            raise DefinitionError(
                f"'{self.id}' has {len(names)} outputs, so .output is ambiguous",
                code="PC122",
                location=user_location(),
                hint=f"use .outputs['name'] with one of: {', '.join(names)}"
                if names
                else "this component declares no Output[...] parameter",
            )
        return self.outputs[names[0]]

    def after(self, *tasks: Task) -> Task:
        """Run after ``tasks`` even though no data flows between them."""
        for t in tasks:
            if not isinstance(t, Task):
                raise DefinitionError(
                    f".after() takes tasks, got {t!r}",
                    code="PC123",
                    location=user_location(),
                    hint="pass the value a component call returned",
                )
            self.explicit_after[str(id(t))] = t
        return self

    def set_name(self, step_id: str) -> Task:
        """Give the step a stable id of your choosing (job, state and task names derive from it)."""
        if not isinstance(step_id, str) or not STEP_ID_RE.fullmatch(step_id):
            raise DefinitionError(
                f"step id {step_id!r} is not valid",
                code="PC124",
                location=user_location(),
                hint=STEP_ID_HINT,
            )
        self.id = step_id
        self.name_location = user_location()
        return self

    def set_resources(self, resources: Resources) -> Task:
        with collecting():
            if not is_invalid(_expect(resources, Resources)):
                self.resources = resources
        return self

    def set_spot(self, spot: Spot | None, *, targets: Sequence[str] | None = None) -> Task:
        """Run on spot capacity; ``targets``: keep it on those targets only (see set_caching)."""
        with collecting():
            if spot is not None and is_invalid(_expect(spot, Spot)):
                return self
            self._keep_on("spot", targets)
            self.spot = spot
        return self

    def set_retry(self, retry: Retry, *, targets: Sequence[str] | None = None) -> Task:
        """Retry failures; ``targets``: keep it on those targets only (see set_caching)."""
        with collecting():
            if is_invalid(_expect(retry, Retry)):
                return self
            self._keep_on("retry", targets)
            self.retry = retry
        return self

    def set_timeout(self, timeout: str | int, *, targets: Sequence[str] | None = None) -> Task:
        """Stop the step after ``timeout``; ``targets``: only there (see set_caching)."""
        with collecting():
            seconds = parse_duration(timeout, "timeout")
            self._keep_on("timeout", targets)
            self.timeout_seconds = seconds
        return self

    def set_expected_duration(self, duration: str | int) -> Task:
        """Say how long the step usually takes (``"20m"``, ``"2h"`` or seconds).

        A layout hint only: targets that must serialise parts of the graph (Step Functions)
        use it to decide which steps to run side by side and which one after another. It has
        no effect on what runs, is not a limit (that is ``set_timeout``), and other targets
        ignore it.
        """
        with collecting():
            self.expected_seconds = parse_duration(duration, "expected_duration")
        return self

    def _keep_on(self, feature: str, targets: Sequence[str] | None) -> None:
        """Record on which targets ``feature`` applies (None: every target).

        Why: a feature some target cannot express is a compile error there (PC008). Naming the
        targets that should keep it makes dropping it everywhere else a decision written in the
        pipeline, shown as a note when compiling (PC014), never a silent loss.
        """
        if targets is None:
            self.only_on.pop(feature, None)
            return
        if isinstance(targets, str) or not all(isinstance(t, str) and t for t in targets):
            raise DefinitionError(
                f"targets= takes a tuple of target names, got {targets!r}",
                code="PC107",
                location=user_location(),
                hint='e.g. targets=("sagemaker", "kubeflow")',
            )
        if not targets:
            raise DefinitionError(
                f"targets=() keeps {feature} on no target",
                code="PC107",
                location=user_location(),
                hint=f"leave the {feature} setting out instead",
            )
        self.only_on[feature] = tuple(sorted(set(targets)))

    def set_env(self, **variables: str) -> Task:
        for key, value in variables.items():
            if not isinstance(value, str):
                raise DefinitionError(
                    f"env {key}={value!r} is not a string",
                    code="PC107",
                    location=user_location(),
                    hint=f"write {key}=str(...)",
                )
        self.env.update(variables)
        return self

    def set_caching(
        self,
        enabled: bool = True,
        expire_after: str | int = "30d",
        *,
        targets: Sequence[str] | None = None,
    ) -> Task:
        """Reuse outputs of an identical earlier run for up to ``expire_after``.

        ``targets=("sagemaker", "kubeflow")`` keeps caching on those targets and drops it on
        every other one, with a note when compiling; without it, caching is asked of every
        target, and one that cannot cache refuses the pipeline (PC008). The same ``targets=``
        works on ``set_spot``, ``set_retry`` and ``set_timeout``.
        """
        with collecting():
            if not isinstance(enabled, bool):
                raise DefinitionError(
                    f"set_caching takes True or False, got {enabled!r}",
                    code="PC107",
                    location=user_location(),
                    hint="e.g. .set_caching(True)",
                )
            caching = Caching(
                enabled, parse_duration(expire_after, "expire_after") if enabled else None
            )
            self._keep_on("caching", targets)
            self.caching = caching
        return self

    def set_instance_type(self, instance_type: str) -> Task:
        """Pin the AWS instance type (wins over the one chosen from resources)."""
        if not isinstance(instance_type, str) or not instance_type.startswith("ml."):
            raise DefinitionError(
                f"instance type {instance_type!r} is not an ml.* type",
                code="PC125",
                location=user_location(),
                hint="e.g. .set_instance_type('ml.g5.xlarge')",
            )
        self.instance_type = instance_type
        return self

    def to_spec(self) -> StepSpec:
        return StepSpec(
            id=self.id,
            component=self.component.name,
            arguments=tuple(sorted((name, b) for name, b in self.arguments.items())),
            after=tuple(sorted({t.id for t in self.explicit_after.values()})),
            resources=None if self.resources is None else self.resources.to_spec(),
            spot=None if self.spot is None else self.spot.to_spec(),
            retry=None if self.retry is None else self.retry.to_spec(),
            timeout_seconds=self.timeout_seconds,
            expected_seconds=self.expected_seconds,
            env=tuple(sorted(self.env.items())),
            caching=self.caching,
            instance_type=self.instance_type,
            group=None if self.group is None else self.group.id,
            only_on=tuple(sorted(self.only_on.items())),
            location=self.location,
        )


def _expect(value: Any, cls: type) -> Any:
    if not isinstance(value, cls):
        raise DefinitionError(
            f"expected {cls.__name__}(...), got {value!r}",
            code="PC107",
            location=user_location(),
            hint=f"e.g. {cls.__name__}(...)",
        )
    return value


class _Builder:
    """Collects tasks, importers and diagnostics while a pipeline function runs."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.tasks: list[Task] = []
        self.importers: list[Importer] = []
        self.diagnostics: list[Diagnostic] = []
        self.recovered: list[Diagnostic] = []  # the settings left out (see ``_collect``)
        self.components: dict[str, Component] = {}
        self._counts: dict[str, int] = {}
        # control flow (``_control``): every group in definition order, the open ones, and the
        # If/Elif chain a following Elif/Else may continue
        self.groups: list[Any] = []
        self.group_stack: list[Any] = []
        self.open_chain: Any = None

    def current_group(self) -> Any:
        return self.group_stack[-1] if self.group_stack else None

    def _next_id(self, base: str) -> str:
        n = self._counts.get(base, 0) + 1
        self._counts[base] = n
        return base if n == 1 else f"{base}-{n}"

    def error(self, code: str, message: str, location: SourceLocation | None, hint: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, location, hint))

    def recover(self, diagnostic: Diagnostic) -> None:
        """A mistake in a step setting, reported while the function runs on (``_collect``)."""
        self.diagnostics.append(diagnostic)
        self.recovered.append(diagnostic)

    def add_task(self, comp: Component, kwargs: dict[str, Any]) -> Task:
        location = user_location()
        known = self.components.get(comp.name)
        if known is not None and known.spec != comp.spec:
            self.error(
                "PC126",
                f"two different components are named '{comp.name}'",
                location,
                "give one of them another name with name=... in its decorator",
            )
        self.components.setdefault(comp.name, comp)
        step_id = self._next_id(comp.name[:48].rstrip("-"))
        arguments: dict[str, Binding] = {}
        spec = comp.spec
        for arg_name, value in kwargs.items():
            inp = spec.input(arg_name)
            if inp is None:
                if spec.output(arg_name) is not None:
                    self.error(
                        "PC004",
                        f"'{arg_name}' is an output of '{comp.name}', not an input",
                        location,
                        f"outputs are not passed in; read them from "
                        f"task.outputs['{arg_name}'] after the call",
                    )
                else:
                    names = [i.name for i in spec.inputs]
                    self.error(
                        "PC004",
                        f"'{comp.name}' has no input '{arg_name}'{did_you_mean(arg_name, names)}",
                        location,
                        f"its inputs: {', '.join(names) or 'none'}",
                    )
                continue
            binding = self._bind(comp, inp.name, inp.kind, inp.type, value, location)
            if binding is not None:
                arguments[arg_name] = binding
        for inp in spec.inputs:
            if inp.name in kwargs:
                continue
            if inp.optional:
                arguments[inp.name] = Constant(inp.default)  # type: ignore[arg-type]
            else:
                self.error(
                    "PC002",
                    f"'{comp.name}' needs input '{inp.name}' ({inp.type})",
                    location,
                    f"pass {inp.name}=... in the call",
                )
        task = Task(comp, step_id, arguments, location)
        task.group = self.current_group()
        self.open_chain = None
        self.tasks.append(task)
        return task

    def _bind(
        self,
        comp: Component,
        name: str,
        kind: str,
        type_name: str,
        value: Any,
        location: SourceLocation | None,
    ) -> Binding | None:
        where = f"input '{name}' of '{comp.name}'"
        if isinstance(value, (Collected, OneOf)):
            return self._bind_join(where, kind, type_name, value, location)
        if kind == "artifact":
            return self._bind_artifact(where, type_name, value, location)
        return self._bind_parameter(where, name, type_name, value, location)

    def _bind_artifact(
        self, where: str, type_name: str, value: Any, location: SourceLocation | None
    ) -> Binding | None:
        """An artifact input: an artifact output of another task or an importer."""
        if isinstance(value, OutputHandle) and value.kind == "parameter":
            self.error(
                "PC003",
                f"{where} is an artifact ({type_name}), got output parameter "
                f"'{value.name}' ({value.type})",
                location,
                "artifacts come from Output[...] artifacts or dsl.importer",
            )
            return None
        if isinstance(value, (OutputHandle, Importer)):
            if not artifact_fits(type_name, value.type):
                self.error(
                    "PC003",
                    f"{where} expects {type_name}, got {value.type}",
                    location,
                    f"connect an output of type {type_name}",
                )
                return None
            if isinstance(value, Importer):
                return ImporterRef(value.id)
            return OutputRef(_TaskIdRef(value.task), value.name)  # type: ignore[arg-type]
        if isinstance(value, Task):
            self.error(
                "PC003",
                f"{where} got a task, not an output",
                location,
                "use task.output (one output) or task.outputs['name']",
            )
            return None
        hint = (
            "bring external data in with dsl.importer(uri=...).output"
            if isinstance(value, (str, PipelineParameter))
            else "connect another task's output"
        )
        self.error("PC003", f"{where} is an artifact ({type_name}), got {value!r}", location, hint)
        return None

    def _bind_parameter(
        self,
        where: str,
        name: str,
        type_name: str,
        value: Any,
        location: SourceLocation | None,
    ) -> Binding | None:
        """A parameter input: a pipeline parameter, an output parameter, a loop item,
        RUN_STATUS or a constant of the input's type."""
        if isinstance(value, PipelineParameter):
            if not parameter_fits(value.type, type_name):
                self.error(
                    "PC003",
                    f"{where} is {type_name}, but pipeline parameter "
                    f"'{value.name}' is {value.type}",
                    location,
                    f"declare '{value.name}: {type_name}' or pass a {type_name}",
                )
                return None
            return ParameterRef(value.name)
        if isinstance(value, OutputHandle) and value.kind == "parameter":
            if not parameter_fits(value.type, type_name):
                self.error(
                    "PC003",
                    f"{where} is {type_name}, but output '{value.name}' of "
                    f"'{value.task.id}' is {value.type}",
                    location,
                    f"connect a {type_name} output",
                )
                return None
            return OutputRef(_TaskIdRef(value.task), value.name)  # type: ignore[arg-type]
        if isinstance(value, LoopItem):
            if value.type is not None and not parameter_fits(value.type, type_name):
                self.error(
                    "PC003",
                    f"{where} is {type_name}, but the loop's items are {value.type}",
                    location,
                    f"loop over {type_name} values",
                )
                return None
            return LoopItemRef(value.loop.id, value.key)
        if isinstance(value, RunStatus):
            if type_name != "str":
                self.error(
                    "PC003",
                    f"{where} is {type_name}, but dsl.RUN_STATUS is a JSON string",
                    location,
                    f"declare '{name}: str' and parse it with json.loads",
                )
                return None
            return RunStatusRef()
        if isinstance(value, (OutputHandle, Importer, Task)):
            self.error(
                "PC003",
                f"{where} is a {type_name} parameter, got an artifact "
                f"({getattr(value, 'type', 'task')})",
                location,
                "artifacts go to Input[...] inputs; pass a value or pipeline parameter",
            )
            return None
        if not value_matches(type_name, value):
            self.error(
                "PC003",
                f"{where} is {type_name}, got {value!r}",
                location,
                f"pass a {type_name} value",
            )
            return None
        return Constant(value)

    def _bind_join(
        self,
        where: str,
        kind: str,
        type_name: str,
        value: Collected | OneOf,
        location: SourceLocation | None,
    ) -> Binding | None:
        """``dsl.Collected`` (a list of every iteration's value, or a folder per iteration)
        and ``dsl.OneOf`` (the output of whichever exclusive branch ran)."""
        handles = [value.output] if isinstance(value, Collected) else list(value.outputs)
        what = "dsl.Collected" if isinstance(value, Collected) else "dsl.OneOf"
        if not handles or not all(isinstance(h, OutputHandle) for h in handles):
            self.error(
                "PC003",
                f"{what} takes task outputs, got {', '.join(repr(h) for h in handles) or 'none'}",
                location,
                f"e.g. {what}(task.outputs['name'])",
            )
            return None
        kinds = {h.kind for h in handles}
        types = {h.type for h in handles}
        if len(kinds) > 1 or (isinstance(value, OneOf) and len(types) > 1):
            self.error(
                "PC003",
                f"{what} joins outputs of different types ({', '.join(sorted(types))})",
                location,
                "join outputs of one type",
            )
            return None
        produced = "list" if isinstance(value, Collected) and "parameter" in kinds else types.pop()
        ok = (
            artifact_fits(type_name, produced)
            if kind == "artifact" and "artifact" in kinds
            else kind == "parameter"
            and "parameter" in kinds
            and parameter_fits(produced, type_name)
        )
        if not ok:
            self.error(
                "PC003",
                f"{where} is {type_name}, {what} gives {produced}",
                location,
                "a collected parameter is a list; a collected artifact is a folder of folders",
            )
            return None
        refs = [OutputRef(_TaskIdRef(h.task), h.name) for h in handles]  # type: ignore[arg-type]
        if isinstance(value, Collected):
            return CollectedRef(refs[0].step, refs[0].output)
        return OneOfRef(tuple(refs))


class _TaskIdRef(str):
    """A step id resolved lazily: ``set_name`` may rename the upstream task after it is used."""

    task: Task

    def __new__(cls, task: Task) -> _TaskIdRef:
        obj = super().__new__(cls, "")
        obj.task = task
        return obj


def _resolve(binding: Binding) -> Binding:
    """The binding with every lazily named upstream step replaced by its final id."""

    def step_id(step: str) -> str:
        return step.task.id if isinstance(step, _TaskIdRef) else step

    if isinstance(binding, OutputRef):
        return OutputRef(step_id(binding.step), binding.output)
    if isinstance(binding, CollectedRef):
        return CollectedRef(step_id(binding.step), binding.output)
    if isinstance(binding, OneOfRef):
        return OneOfRef(tuple(OutputRef(step_id(o.step), o.output) for o in binding.options))
    return binding


def resolve_comparison(comparison: Comparison) -> Comparison:
    return Comparison(comparison.op, _resolve(comparison.left), _resolve(comparison.right))


def importer(
    uri: Any, artifact_type: type[Artifact] = Artifact, manifest: bool = False
) -> Importer:
    """Bring an external artifact in: an S3 prefix, a local path, or (``manifest=True``) a
    SageMaker manifest file listing the objects to use (``[{"prefix": "s3://..."}, "key", ...]``).
    """
    location = user_location()
    builder = current_builder()
    if builder is None:
        raise DefinitionError(
            "dsl.importer() was called outside a pipeline",
            code="PC102",
            location=location,
            hint="call it inside a @dsl.pipeline function",
        )
    if isinstance(uri, PipelineParameter):
        if uri.type != "str":
            raise DefinitionError(
                f"importer uri parameter '{uri.name}' is {uri.type}, not str",
                code="PC003",
                location=location,
                hint="declare it as str",
            )
        uri_binding: Constant | ParameterRef = ParameterRef(uri.name)
    elif isinstance(uri, str) and uri:
        uri_binding = Constant(uri)
    else:
        raise DefinitionError(
            f"importer uri must be a string or a str parameter, got {uri!r}",
            code="PC003",
            location=location,
            hint="e.g. dsl.importer(uri='s3://bucket/videos/')",
        )
    if not (isinstance(artifact_type, type) and issubclass(artifact_type, Artifact)):
        raise DefinitionError(
            f"artifact_type must be Artifact, Dataset or Model, got {artifact_type!r}",
            code="PC003",
            location=location,
            hint=f"one of {', '.join(ARTIFACT_TYPES)}",
        )
    if not isinstance(manifest, bool):
        raise DefinitionError(
            "manifest must be True or False",
            code="PC003",
            location=location,
            hint="manifest=True when uri is a manifest file",
        )
    imp = Importer(
        builder._next_id("importer"), uri_binding, artifact_type.type_name, manifest, location
    )
    builder.importers.append(imp)
    return imp


class Pipeline:
    """A pipeline definition. ``.spec`` is its IR, ``.graph`` its step graph (both cached)."""

    def __init__(
        self,
        func: Callable[..., Any],
        name: str,
        description: str | None,
        location: SourceLocation | None,
    ) -> None:
        self.func = func
        self.name = name
        self.description = description
        self.location = location
        self._spec: PipelineSpec | None = None
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __repr__(self) -> str:
        return f"<pipecast pipeline {self.name!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise DefinitionError(
            f"pipeline '{self.name}' was called directly",
            code="PC127",
            location=user_location(),
            hint="compile it (pipecast.compile) or run it (pipecast run --local)",
        )

    @property
    def spec(self) -> PipelineSpec:
        """The frozen IR; building it runs the pipeline function once."""
        if self._spec is None:
            self._spec = self._build()
        return self._spec

    @property
    def graph(self) -> nx.DiGraph:
        """The step graph (nodes: step ids; edges: data and ``.after()`` dependencies)."""
        from pipecast.compilers.graph import build_graph

        return build_graph(self.spec)

    def _parameters(self) -> tuple[list[ParameterSpec], list[Diagnostic]]:
        params: list[ParameterSpec] = []
        problems: list[Diagnostic] = []
        try:
            hints = typing.get_type_hints(self.func)
        except Exception as exc:
            return [], [
                Diagnostic(
                    "PC105",
                    f"cannot read the type hints: {exc}",
                    self.location,
                    "annotate parameters with str, int, float or bool",
                )
            ]
        for pname, p in inspect.signature(self.func).parameters.items():
            ptype = parameter_type_name(hints.get(pname))
            if ptype is None:
                problems.append(
                    Diagnostic(
                        "PC105",
                        f"pipeline parameter '{pname}' has type {hints.get(pname)!r}",
                        self.location,
                        "pipeline parameters are str, int, float, bool, list or dict",
                    )
                )
                continue
            if p.default is p.empty:
                params.append(ParameterSpec(pname, ptype, location=self.location))
            elif value_matches(ptype, p.default):
                params.append(ParameterSpec(pname, ptype, p.default, True, self.location))
            else:
                problems.append(
                    Diagnostic(
                        "PC105",
                        f"default {p.default!r} of pipeline parameter '{pname}' is not a {ptype}",
                        self.location,
                        f"give '{pname}' a {ptype} default",
                    )
                )
        return params, problems

    def _build(self) -> PipelineSpec:
        params, problems = self._parameters()
        builder = _Builder(self.name)
        builder.diagnostics.extend(problems)
        token, sink = BUILDER.set(builder), SINK.set(builder.recover)
        try:
            self.func(**{p.name: PipelineParameter(p.name, p.type) for p in params})
        except DefinitionError as exc:
            builder.diagnostics.append(exc.diagnostic)
        finally:
            SINK.reset(sink)
            BUILDER.reset(token)
            builder.group_stack.clear()
        self._check_ids(builder)
        errors = [d for d in builder.diagnostics if d.severity == "error"]
        if errors and not set(errors) <= set(builder.recovered):
            raise PipelineError(builder.diagnostics, pipeline=self.name)
        spec = self._assemble(builder, params)
        if errors:  # only settings left out: the rest is whole, so the caller may check it too
            raise PipelineError(builder.diagnostics, pipeline=self.name, spec=spec)
        return spec

    def _assemble(self, builder: _Builder, params: list[ParameterSpec]) -> PipelineSpec:
        steps = []
        for task in builder.tasks:
            spec = task.to_spec()
            steps.append(
                StepSpec(
                    **{
                        **spec.__dict__,
                        "arguments": tuple((n, _resolve(b)) for n, b in spec.arguments),
                    }
                )
            )
        return PipelineSpec(
            name=self.name,
            description=self.description,
            parameters=tuple(params),
            components=tuple(
                sorted((c.spec for c in builder.components.values()), key=lambda c: c.name)
            ),
            importers=tuple(i.spec() for i in builder.importers),
            steps=tuple(steps),
            groups=tuple(g.to_spec() for g in builder.groups),
            location=self.location,
        )

    @staticmethod
    def _check_ids(builder: _Builder) -> None:
        seen: dict[str, Task] = {}
        for task in builder.tasks:
            first = seen.get(task.id)
            if first is None:
                seen[task.id] = task
                continue
            at = first.name_location or first.location
            builder.error(
                "PC005",
                f"duplicate step id '{task.id}' (first defined at {at})",
                task.name_location or task.location,
                "give each step a unique id with .set_name('...')",
            )
        importer_ids = {i.id for i in builder.importers}
        for task in builder.tasks:
            if task.id in importer_ids:
                builder.error(
                    "PC005",
                    f"step id '{task.id}' is also an importer's id",
                    task.name_location or task.location,
                    "rename the step with .set_name('...')",
                )


def pipeline(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
) -> Any:
    """Declare a pipeline. Its parameters (str/int/float/bool, with defaults) are set per run."""
    location = user_location()

    def decorate(fn: Callable[..., Any]) -> Pipeline:
        pname = name or fn.__name__.replace("_", "-")
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,47}", pname):
            raise DefinitionError(
                f"pipeline name {pname!r} is not valid",
                code="PC104",
                location=location,
                hint="lowercase letters, digits and hyphens, starting with a "
                "letter, at most 48 characters",
            )
        loc = SourceLocation(location.file, fn.__code__.co_firstlineno) if location else None
        return Pipeline(fn, pname, description or inspect.getdoc(fn), loc)

    if isinstance(func, str):  # @dsl.pipeline("name")
        name, func = func, None
    return decorate(func) if func is not None else decorate
