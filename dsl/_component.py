"""``@dsl.container_component`` and ``@dsl.component``: a function signature becomes a component.

The signature declares the interface (``Input[T]``/``Output[T]`` artifacts, typed parameters with
defaults); the decorator's arguments give the container (image, command, argument template) and the
default step settings (resources, spot, retry, timeout, expected duration, env). A container
component's body is not run; a Python component's body runs inside ``pipecast.runtime`` (in the
image, or locally).
"""

from __future__ import annotations

import contextvars
import inspect
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipecast.errors import DefinitionError, SourceLocation, did_you_mean
from pipecast.importable import module_name_for

from ._location import user_location
from ._resources import Resources, Retry, Spot
from .spec import (
    ARTIFACT_TYPES,
    Arg,
    ArgPart,
    ComponentSpec,
    InputSpec,
    OutputSpec,
    Placeholder,
    value_matches,
)
from .types import (
    io_annotation,
    is_type_artifact,
    output_parameter_annotation,
    parameter_type_name,
    return_fields,
)
from .units import parse_duration

__all__ = [
    "Component",
    "StepDefaults",
    "component",
    "container_component",
    "input_path",
    "input_uri",
    "output_path",
    "param",
]

if TYPE_CHECKING:
    from ._pipeline import _Builder

# the pipeline being built by the running ``@dsl.pipeline`` function (set by ``_pipeline``)
BUILDER: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "pipecast_builder", default=None
)
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
RUNTIME_COMMAND = ("python", "-m", "pipecast.runtime")


def current_builder() -> _Builder | None:
    """The builder of the pipeline function being run, if any (components add tasks to it)."""
    return BUILDER.get()


def input_path(name: str) -> Placeholder:
    """Argument placeholder: the local path where input artifact ``name`` can be read."""
    return Placeholder("inputPath", name)


def input_uri(name: str) -> Placeholder:
    """Argument placeholder: the remote URI (``s3://...``) of input artifact ``name``."""
    return Placeholder("inputUri", name)


def output_path(name: str) -> Placeholder:
    """Argument placeholder: the local directory where output artifact ``name`` is written."""
    return Placeholder("outputPath", name)


def param(name: str) -> Placeholder:
    """Argument placeholder: the value of parameter ``name``."""
    return Placeholder("value", name)


@dataclass(frozen=True)
class StepDefaults:
    """Step settings declared on a component; each task may override them."""

    resources: Resources | None = None
    spot: Spot | None = None
    retry: Retry | None = None
    timeout_seconds: int | None = None
    expected_seconds: int | None = None
    env: tuple[tuple[str, str], ...] = ()
    instance_type: str | None = None


@dataclass(frozen=True)
class Component:
    """A reusable step definition. Call it inside a ``@dsl.pipeline`` function to add a task."""

    spec: ComponentSpec
    defaults: StepDefaults
    python_func: Callable[..., Any] | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    def __call__(self, **kwargs: Any) -> Any:
        builder = current_builder()
        if builder is None:
            raise DefinitionError(
                f"component '{self.name}' was called outside a pipeline",
                code="PC102",
                location=user_location(),
                hint="call components inside a function decorated with @dsl.pipeline",
            )
        return builder.add_task(self, kwargs)

    def with_image(
        self, image: str, *, command: Sequence[str] | None = None, name: str | None = None
    ) -> Component:
        """The same component (interface, arguments, defaults) running another image.

        Reusable components ship with a default image; a team pins them to its own registry
        (SageMaker pulls from ECR) or swaps in a variant with the same contract (say, a GPU
        detector with its own ``command``) without redefining the interface. Pass ``name`` to
        use both in one pipeline.
        """
        location = user_location()
        if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
            raise DefinitionError(
                f"image must be a non-empty string without spaces, got {image!r}",
                code="PC103",
                location=location,
                hint="e.g. .with_image('123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1.0')",
            )
        if name is not None:
            _check_name(name, location)
        if command is not None and self.spec.python_function:
            raise DefinitionError(
                f"'{self.name}' is a Python function component: its command runs the function",
                code="PC103",
                location=location,
                hint="change only the image (it must have the function's module installed)",
            )
        if command is not None:
            _check_command(command, location)
        spec = replace(
            self.spec,
            image=image,
            name=name or self.spec.name,
            command=tuple(command) if command is not None else self.spec.command,
        )
        return replace(self, spec=spec)

    def __repr__(self) -> str:
        return f"<pipecast component {self.name!r} image={self.spec.image!r}>"


def _check_command(command: Sequence[str], location: SourceLocation | None) -> None:
    if isinstance(command, str) or not command or not all(isinstance(c, str) for c in command):
        raise DefinitionError(
            f"command must be a non-empty list of strings, got {command!r}",
            code="PC103",
            location=location,
            hint="e.g. command=['python', '-m', 'detector']",
        )


def _check_name(name: str, location: SourceLocation | None) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", name):
        raise DefinitionError(
            f"component name {name!r} is not valid",
            code="PC104",
            location=location,
            hint="use lowercase letters, digits and hyphens, starting with a "
            "letter (at most 63 characters)",
        )


def container_component(
    image: str,
    command: Sequence[str],
    args: Sequence[str | Placeholder | Sequence[str | Placeholder]] | None = None,
    resources: Resources | None = None,
    spot: Spot | None = None,
    retry: Retry | None = None,
    timeout: str | int | None = None,
    env: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    instance_type: str | None = None,
    expected_duration: str | int | None = None,
) -> Callable[[Callable[..., Any]], Component]:
    """Declare a container step: its image, command, and (optionally) an argument template.

    Without ``args``, every input, output and parameter reaches the process as ``--<name>
    <value>`` in signature order (artifact inputs and outputs as local paths): the container
    contract that lets the same image run on Processing, Training, Kubeflow and locally.
    """
    location = user_location()
    if not isinstance(image, str) or not image.strip():
        raise DefinitionError(
            f"image must be a non-empty string, got {image!r}",
            code="PC103",
            location=location,
            hint="e.g. image='123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1.0'",
        )
    _check_command(command, location)

    def decorate(func: Callable[..., Any]) -> Component:
        return _build(
            func,
            image,
            tuple(command),
            args,
            resources,
            spot,
            retry,
            timeout,
            expected_duration,
            env,
            name,
            instance_type,
            None,
            location,
        )

    return decorate


def component(
    func: Callable[..., Any] | None = None,
    *,
    image: str = "",
    resources: Resources | None = None,
    spot: Spot | None = None,
    retry: Retry | None = None,
    timeout: str | int | None = None,
    env: Mapping[str, str] | None = None,
    name: str | None = None,
    instance_type: str | None = None,
    expected_duration: str | int | None = None,
) -> Any:
    """Declare a Python-function step whose body runs (locally, or in ``image`` on a platform).

    ``image`` must contain pipecast and the function's module; it is required by the cloud
    targets and ignored by the local runner. Usable bare (``@dsl.component``) or with arguments.
    """
    location = user_location()

    def decorate(fn: Callable[..., Any]) -> Component:
        target = f"{_importable_module(fn, location)}:{fn.__qualname__}"
        return _build(
            fn,
            image,
            (*RUNTIME_COMMAND, target),
            None,
            resources,
            spot,
            retry,
            timeout,
            expected_duration,
            env,
            name,
            instance_type,
            fn,
            location,
        )

    return decorate(func) if func is not None else decorate


def _importable_module(fn: Callable[..., Any], location: SourceLocation | None) -> str:
    """The module the image imports to run ``fn``: the same name however the pipeline file was
    loaded (a script's ``__main__`` included), or a PC128 error when no image could import it."""
    module = fn.__module__
    source = getattr(getattr(fn, "__code__", None), "co_filename", "")
    if (module == "__main__" or module not in sys.modules) and source.endswith(".py"):
        found = module_name_for(source)
        module = found[0] if found is not None else Path(source).stem
    if not all(part.isidentifier() for part in module.split(".")) or module == "__main__":
        raise DefinitionError(
            f"@dsl.component '{fn.__name__}' is defined in module '{module}', which no image can "
            "import (the step runs as python -m pipecast.runtime module:function)",
            code="PC128",
            location=location,
            hint="put components in a file whose name is a Python module name (my_steps.py, "
            "not my-steps.py), inside packages whose folders are module names too",
        )
    return module


def _build(
    func: Callable[..., Any],
    image: str,
    command: tuple[str, ...],
    args: Sequence[Any] | None,
    resources: Resources | None,
    spot: Spot | None,
    retry: Retry | None,
    timeout: str | int | None,
    expected_duration: str | int | None,
    env: Mapping[str, str] | None,
    name: str | None,
    instance_type: str | None,
    python_func: Callable[..., Any] | None,
    location: SourceLocation | None,
) -> Component:
    func_location: SourceLocation | None
    try:
        func_location = SourceLocation(
            location.file if location else inspect.getsourcefile(func) or "?",
            func.__code__.co_firstlineno,
        )
    except (AttributeError, TypeError):
        func_location = location
    inputs, outputs = _interface(func, func_location, python=python_func is not None)
    comp_name = name or func.__name__.replace("_", "-")
    _check_name(comp_name, func_location)
    if args is None:
        arg_tuple = _default_args(inputs, outputs)
    else:
        arg_tuple = _template_args(args, inputs, outputs, func_location)
    _check_settings(resources, spot, retry, env, func_location)
    spec = ComponentSpec(
        name=comp_name,
        image=image,
        command=command,
        args=arg_tuple,
        inputs=inputs,
        outputs=outputs,
        description=inspect.getdoc(func) or None,
        python_function=command[-1] if python_func is not None else None,
        location=func_location,
    )
    defaults = StepDefaults(
        resources=resources,
        spot=spot,
        retry=retry,
        timeout_seconds=None if timeout is None else parse_duration(timeout, "timeout"),
        expected_seconds=None
        if expected_duration is None
        else parse_duration(expected_duration, "expected_duration"),
        env=tuple(sorted((env or {}).items())),
        instance_type=instance_type,
    )
    return Component(spec=spec, defaults=defaults, python_func=python_func)


def _interface(
    func: Callable[..., Any], location: SourceLocation | None, python: bool = False
) -> tuple[tuple[InputSpec, ...], tuple[OutputSpec, ...]]:
    """Read inputs and outputs from the function signature (and, for a Python component, the
    return annotation: ``-> int`` is the output ``Output``, a ``NamedTuple`` one per field)."""
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        raise DefinitionError(
            f"cannot read the type hints of '{func.__name__}': {exc}",
            code="PC105",
            location=location,
            hint="annotate parameters with str/int/float/bool or Input[Dataset]/Output[Dataset]",
        ) from None
    inputs: list[InputSpec] = []
    outputs: list[OutputSpec] = []
    for pname, p in inspect.signature(func).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DefinitionError(
                f"'{func.__name__}' takes *args/**kwargs",
                code="PC105",
                location=location,
                hint="declare every input by name",
            )
        if not _NAME_RE.fullmatch(pname):
            raise DefinitionError(
                f"input name {pname!r} is not valid",
                code="PC105",
                location=location,
                hint="names start with a letter: letters, digits, _ (≤ 63)",
            )
        hint = hints.get(pname)
        io = io_annotation(hint)
        out_type = output_parameter_annotation(hint)
        if out_type is not None:
            if python:
                raise DefinitionError(
                    f"'{pname}' of Python component '{func.__name__}' is an output parameter",
                    code="PC105",
                    location=location,
                    hint=f"return the value instead: def {func.__name__}(...) -> {out_type}",
                )
            outputs.append(OutputSpec(pname, out_type, "parameter"))
        elif io is not None:
            direction, cls = io
            if p.default is not p.empty:
                raise DefinitionError(
                    f"artifact '{pname}' of '{func.__name__}' has a default",
                    code="PC105",
                    location=location,
                    hint="artifacts cannot have defaults; remove it",
                )
            if direction == "input":
                inputs.append(InputSpec(pname, "artifact", cls.type_name))
            else:
                outputs.append(OutputSpec(pname, cls.type_name))
        elif parameter_type_name(hint) is not None:
            ptype = parameter_type_name(hint) or ""
            if p.default is p.empty:
                inputs.append(InputSpec(pname, "parameter", ptype))
            else:
                if not value_matches(ptype, p.default):
                    raise DefinitionError(
                        f"default {p.default!r} of '{pname}' is not a {ptype}",
                        code="PC105",
                        location=location,
                        hint=f"give '{pname}' a {ptype} default",
                    )
                inputs.append(InputSpec(pname, "parameter", ptype, p.default, True))
        elif is_type_artifact(hint):
            tname = getattr(hint, "__name__", "Artifact")
            raise DefinitionError(
                f"'{pname}' of '{func.__name__}' is annotated {tname} without a direction",
                code="PC105",
                location=location,
                hint=f"write Input[{tname}] or Output[{tname}]",
            )
        else:
            raise DefinitionError(
                f"'{pname}' of '{func.__name__}' has unsupported type {hint!r}",
                code="PC105",
                location=location,
                hint="parameters are str, int, float, bool, list or dict; artifacts are "
                f"Input[T]/Output[T] with T one of {', '.join(ARTIFACT_TYPES)}; output "
                "parameters are Output[int] (or str, float, bool, list, dict)",
            )
    if python:
        outputs.extend(return_outputs(func, hints.get("return"), location))
    return tuple(inputs), tuple(outputs)


def return_outputs(
    func: Callable[..., Any], annotation: Any, location: SourceLocation | None
) -> tuple[OutputSpec, ...]:
    """A Python component's return annotation as output parameters: ``-> int`` is the output
    ``Output`` (``task.output``); a ``typing.NamedTuple`` gives one output per field."""
    outputs = []
    for fname, ftype in return_fields(annotation):
        tname = parameter_type_name(ftype)
        if tname is None:
            raise DefinitionError(
                f"'{func.__name__}' returns {ftype!r}, which is not a parameter type",
                code="PC105",
                location=location,
                hint="return str, int, float, bool, list or dict, or a typing.NamedTuple of "
                "them; write artifacts into an Output[Dataset] argument",
            )
        outputs.append(OutputSpec(fname, tname, "parameter"))
    return tuple(outputs)


def _default_args(inputs: Sequence[InputSpec], outputs: Sequence[OutputSpec]) -> tuple[Arg, ...]:
    args: list[Arg] = []
    for i in inputs:
        kind = "inputPath" if i.kind == "artifact" else "value"
        args += [(f"--{i.name}",), (Placeholder(kind, i.name),)]  # type: ignore[arg-type]
    for o in outputs:
        args += [(f"--{o.name}",), (Placeholder("outputPath", o.name),)]
    return tuple(args)


def _template_args(
    template: Sequence[Any],
    inputs: Sequence[InputSpec],
    outputs: Sequence[OutputSpec],
    location: SourceLocation | None,
) -> tuple[Arg, ...]:
    """Check an explicit argument template: placeholders must name real inputs/outputs."""
    if isinstance(template, str):
        raise DefinitionError(
            "args must be a list, not a string",
            code="PC106",
            location=location,
            hint="e.g. args=['--frames', dsl.input_path('frames')]",
        )
    by_name = {i.name: i for i in inputs}
    out_names = {o.name for o in outputs}
    used: set[str] = set()
    result: list[Arg] = []
    for item in template:
        parts: Sequence[Any] = item if isinstance(item, (list, tuple)) else [item]
        arg: list[ArgPart] = []
        for part in parts:
            if isinstance(part, (int, float)) and not isinstance(part, bool):
                part = str(part)
            if isinstance(part, str):
                arg.append(part)
                continue
            if not isinstance(part, Placeholder):
                raise DefinitionError(
                    f"argument part {part!r} is neither text nor a placeholder",
                    code="PC106",
                    location=location,
                    hint="use dsl.input_path/input_uri/output_path/param",
                )
            if part.kind == "outputPath":
                ok, names = part.name in out_names, sorted(out_names)
            else:
                inp = by_name.get(part.name)
                want = "parameter" if part.kind == "value" else "artifact"
                ok = inp is not None and inp.kind == want
                names = sorted(n for n, i in by_name.items() if i.kind == want)
            if not ok:
                raise DefinitionError(
                    f"placeholder {part.kind}({part.name!r}) names no such "
                    f"{'output' if part.kind == 'outputPath' else 'input'}"
                    f"{did_you_mean(part.name, names)}",
                    code="PC106",
                    location=location,
                    hint=f"declared: {', '.join(names) or 'none'}",
                )
            used.add(part.name)
            arg.append(part)
        result.append(tuple(arg))
    missing = [n for n in [*by_name, *sorted(out_names)] if n not in used]
    if missing:
        raise DefinitionError(
            f"args never pass {', '.join(repr(m) for m in missing)} to the container",
            code="PC106",
            location=location,
            hint="add a placeholder for each input/output, or remove it from the signature",
        )
    return tuple(result)


def _check_settings(
    resources: Any, spot: Any, retry: Any, env: Any, location: SourceLocation | None
) -> None:
    for value, cls in ((resources, Resources), (spot, Spot), (retry, Retry)):
        if value is not None and not isinstance(value, cls):
            raise DefinitionError(
                f"expected a {cls.__name__}(...), got {value!r}",
                code="PC107",
                location=location,
                hint=f"e.g. {cls.__name__}(...)",
            )
    if env is not None and (
        not isinstance(env, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        raise DefinitionError(
            f"env must map strings to strings, got {env!r}",
            code="PC107",
            location=location,
            hint="e.g. env={'LOG_LEVEL': 'info'}",
        )
