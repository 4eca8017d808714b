"""Artifact types and the ``Input[T]``/``Output[T]`` annotations, as kfp users know them.

``Input[Dataset]`` is ``Annotated[Dataset, INPUT]`` so type checkers see a ``Dataset`` inside a
Python component's body, where it is an object with a local ``.path`` and a ``.uri``.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

__all__ = [
    "ARTIFACT_CLASSES",
    "INPUT",
    "OUTPUT",
    "RETURN_OUTPUT",
    "Artifact",
    "Dataset",
    "Input",
    "Model",
    "Output",
    "io_annotation",
    "is_type_artifact",
    "output_parameter_annotation",
    "parameter_type_name",
    "return_fields",
]

RETURN_OUTPUT = "Output"  # kfp's name for a Python component's single return value

_PARAMETER_TYPE_NAMES: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    list: "list",
    dict: "dict",
}


class Artifact:
    """A file or directory produced or consumed by a step.

    Inside a Python component, ``path`` is a local directory (created before the call for
    outputs) and ``uri`` is where the platform keeps it (``s3://...`` or a local path).
    """

    type_name = "Artifact"

    def __init__(self, path: str = "", uri: str = "", metadata: dict[str, Any] | None = None):
        self.path = path
        self.uri = uri
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={self.path!r}, uri={self.uri!r})"


class Dataset(Artifact):
    """Data: frames, detections, tables."""

    type_name = "Dataset"


class Model(Artifact):
    """A trained model or weights."""

    type_name = "Model"


ARTIFACT_CLASSES: dict[str, type[Artifact]] = {c.type_name: c for c in (Artifact, Dataset, Model)}

_T = TypeVar("_T", bound=Artifact)


@dataclass(frozen=True)
class _Direction:
    name: str


INPUT = _Direction("input")
OUTPUT = _Direction("output")

if typing.TYPE_CHECKING:
    Input = Annotated[_T, INPUT]
    Output = Annotated[_T, OUTPUT]
else:

    class Input:
        """``Input[Dataset]``: an artifact this component reads."""

        def __class_getitem__(cls, item: type[Artifact]) -> Any:
            return Annotated[item, INPUT]

    class Output:
        """``Output[Dataset]``: an artifact this component writes."""

        def __class_getitem__(cls, item: type[Artifact]) -> Any:
            return Annotated[item, OUTPUT]


def io_annotation(annotation: Any) -> tuple[str, type[Artifact]] | None:
    """``("input"|"output", ArtifactClass)`` for an ``Input[T]``/``Output[T]`` hint, else None."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        for extra in extras:
            if isinstance(extra, _Direction) and is_type_artifact(base):
                return extra.name, base
    return None


def parameter_type_name(annotation: Any) -> str | None:
    """The IR type of a parameter annotation (``int`` → ``"int"``, ``list[str]`` → ``"list"``),
    or None when it is not a parameter type."""
    found = _PARAMETER_TYPE_NAMES.get(annotation)
    if found is None:
        found = _PARAMETER_TYPE_NAMES.get(typing.get_origin(annotation))
        found = found if found in ("list", "dict") else None
    return found


def return_fields(annotation: Any) -> list[tuple[str, Any]]:
    """A Python component's return annotation as (output name, annotation) pairs: none for
    ``None``, one per field for a ``typing.NamedTuple``, else ``[("Output", annotation)]``."""
    if annotation is None or annotation is type(None):
        return []
    named_tuple = isinstance(annotation, type) and issubclass(annotation, tuple)
    if named_tuple and hasattr(annotation, "_fields"):  # its fields, in order, resolved
        hints = typing.get_type_hints(annotation)
        return [(name, hints.get(name)) for name in annotation._fields]
    return [(RETURN_OUTPUT, annotation)]


def output_parameter_annotation(annotation: Any) -> str | None:
    """The parameter type of an ``Output[int]`` (``Output[list]``, ...) hint, else None."""
    if typing.get_origin(annotation) is Annotated:
        base, *extras = typing.get_args(annotation)
        if OUTPUT in extras and not is_type_artifact(base):
            return parameter_type_name(base)
    return None


def is_type_artifact(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Artifact)
