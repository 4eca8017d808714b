"""Artifact objects and the annotations a component's signature is read from
(``pipecast.dsl.types``).

A component's return annotation names its output parameters: none for ``None``, one per field,
in order and with the field's resolved type, for a ``typing.NamedTuple``, else one output called
``Output`` (kfp's name). ``Input[T]``/``Output[T]`` of an artifact class is an artifact input or
output; ``Output[int]`` (and the other parameter types) is an output parameter. These are called
here at test time: a decorator at module level runs while tests are collected, before any test
(or mutation run) can watch it.
"""

from __future__ import annotations

from typing import Annotated, Any, NamedTuple

import pytest

from pipecast import dsl
from pipecast.dsl import Artifact, Dataset, Input, Model, Output
from pipecast.dsl.spec import OutputSpec
from pipecast.dsl.types import (
    RETURN_OUTPUT,
    io_annotation,
    output_parameter_annotation,
    parameter_type_name,
    return_fields,
)


class Scores(NamedTuple):  # string annotations here (future import): they must be resolved
    accuracy: float
    labels: list[str]


class HasFields:
    """Not a tuple, yet it has ``_fields`` (as ``ast`` node classes do): one plain output."""

    _fields = ("a", "b")


@pytest.mark.parametrize("annotation", [None, type(None)])
def test_nothing_returned_is_no_output(annotation: Any) -> None:
    assert return_fields(annotation) == []


def test_a_named_tuple_is_one_output_per_field_in_order_with_resolved_types() -> None:
    assert return_fields(Scores) == [("accuracy", float), ("labels", list[str])]


@pytest.mark.parametrize("annotation", [int, list[str], dict[str, int], tuple, HasFields])
def test_anything_else_is_the_single_output_called_output(annotation: Any) -> None:
    assert return_fields(annotation) == [(RETURN_OUTPUT, annotation)]
    assert RETURN_OUTPUT == "Output"


def test_a_component_returning_a_named_tuple_declares_its_fields_as_outputs() -> None:
    def score(n: int) -> Scores:
        return Scores(0.5, [])

    comp = dsl.component(image="registry.example.com/x:1.0")(score)
    assert comp.spec.outputs == (
        OutputSpec("accuracy", "float", "parameter"),
        OutputSpec("labels", "list", "parameter"),
    )


@pytest.mark.parametrize("cls", [Artifact, Dataset, Model])
def test_an_artifact_shows_its_own_class_path_and_uri(cls: type[Artifact]) -> None:
    artifact = cls(path="/tmp/in", uri="s3://bucket/in")
    assert repr(artifact) == f"{cls.type_name}(path='/tmp/in', uri='s3://bucket/in')"


def test_an_artifact_s_defaults_and_its_own_metadata() -> None:
    bare = Model()
    assert (bare.path, bare.uri, bare.metadata) == ("", "", {})
    given = {"accuracy": 0.9}
    artifact = Dataset("/tmp/in", "s3://bucket/in", given)
    assert (artifact.path, artifact.uri, artifact.metadata) == ("/tmp/in", "s3://bucket/in", given)
    artifact.metadata["rows"] = 3  # the artifact's own copy: the caller's dict is unchanged
    assert given == {"accuracy": 0.9}


@pytest.mark.parametrize(
    ("annotation", "name"),
    [
        (str, "str"),
        (int, "int"),
        (float, "float"),
        (bool, "bool"),
        (list, "list"),
        (dict, "dict"),
        (list[str], "list"),
        (dict[str, int], "dict"),
        (tuple, None),
        (tuple[int, int], None),
        (set[str], None),
        (bytes, None),
        (Dataset, None),
        (None, None),
    ],
)
def test_parameter_type_names(annotation: Any, name: str | None) -> None:
    assert parameter_type_name(annotation) == name


@pytest.mark.parametrize(
    ("annotation", "found"),
    [
        (Input[Dataset], ("input", Dataset)),
        (Output[Model], ("output", Model)),
        (Input[Artifact], ("input", Artifact)),
        (Output[int], None),  # an output parameter, not an artifact
        (Annotated[Dataset, "input"], None),  # a string is no direction
        (Dataset, None),
        (int, None),
    ],
)
def test_io_annotation_is_a_direction_and_an_artifact_class(annotation: Any, found: Any) -> None:
    assert io_annotation(annotation) == found


@pytest.mark.parametrize(
    ("annotation", "name"),
    [
        (Output[int], "int"),
        (Output[list], "list"),
        (Output[dict[str, int]], "dict"),
        (Output[Dataset], None),  # an artifact, not a parameter
        (Input[int], None),
        (Annotated[int, "output"], None),
        (int, None),
    ],
)
def test_output_parameter_annotation(annotation: Any, name: str | None) -> None:
    assert output_parameter_annotation(annotation) == name
