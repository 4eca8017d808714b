"""``dsl.importer``: an external artifact in the IR (with the user's line), and every mistake in
a call to it as a diagnostic with its code, the message and hint a user reads, and that line."""

from __future__ import annotations

import pytest
from helpers import marked_line, only_diagnostic, shown_path

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Model
from pipecast.dsl.spec import Constant, ImporterSpec, ParameterRef
from pipecast.errors import DefinitionError, SourceLocation

IMG = "registry.example.com/x:1.0"
HERE = __file__
# this file as locations show it: relative to the working directory when below it
SHOWN = shown_path(HERE)
URI_HINT = "e.g. dsl.importer(uri='s3://bucket/videos/')"


@dsl.container_component(image=IMG, command=["use"])
def use_frames(frames: Input[Dataset]):
    """Take a folder."""


def test_importers_reach_the_ir_with_their_line() -> None:
    @dsl.pipeline(name="imports")
    def imports(videos: str = "s3://b/v/") -> None:
        use_frames(frames=dsl.importer(uri=videos, artifact_type=Dataset).output)  # first
        use_frames(frames=dsl.importer(uri="s3://b/m.json", manifest=True).output)  # second

    importers = imports.spec.importers
    # an importer's location is left out of its equality (the IR compares without it)
    assert [i.location for i in importers] == [
        SourceLocation(SHOWN, marked_line(__file__, "first")),
        SourceLocation(SHOWN, marked_line(__file__, "second")),
    ]
    assert importers == (
        ImporterSpec("importer", ParameterRef("videos"), "Dataset", False),
        ImporterSpec("importer-2", Constant("s3://b/m.json"), "Artifact", True),
    )


def test_an_importer_outside_a_pipeline_is_pc102() -> None:
    with pytest.raises(DefinitionError) as info:
        dsl.importer(uri="s3://b/v/")  # outside
    d = info.value.diagnostic
    assert (d.code, d.message) == ("PC102", "dsl.importer() was called outside a pipeline")
    assert d.hint == "call it inside a @dsl.pipeline function"
    assert d.location == SourceLocation(SHOWN, marked_line(__file__, "outside"))


def test_an_importer_uri_parameter_must_be_a_str() -> None:
    @dsl.pipeline(name="int-uri")
    def int_uri(n: int = 1) -> None:
        dsl.importer(uri=n)  # int-uri

    d = only_diagnostic(int_uri)
    assert (d.code, d.message) == ("PC003", "importer uri parameter 'n' is int, not str")
    assert d.hint == "declare it as str"
    assert d.location == SourceLocation(SHOWN, marked_line(__file__, "int-uri"))


@pytest.mark.parametrize("uri", ["", 5, None])
def test_an_importer_uri_must_be_a_string(uri: object) -> None:
    @dsl.pipeline(name="bad-uri")
    def bad_uri() -> None:
        dsl.importer(uri=uri)  # bad-uri

    d = only_diagnostic(bad_uri)
    assert d.code == "PC003"
    assert d.message == f"importer uri must be a string or a str parameter, got {uri!r}"
    assert d.hint == URI_HINT
    assert d.location == SourceLocation(SHOWN, marked_line(__file__, "bad-uri"))


@pytest.mark.parametrize("artifact_type", [int, "Dataset", Dataset()])
def test_an_importer_artifact_type_is_one_of_the_artifact_classes(artifact_type: object) -> None:
    @dsl.pipeline(name="bad-type")
    def bad_type() -> None:
        dsl.importer(uri="s3://b/v/", artifact_type=artifact_type)  # type: ignore[arg-type]  # bad-type

    d = only_diagnostic(bad_type)
    assert d.code == "PC003"
    assert d.message == (f"artifact_type must be Artifact, Dataset or Model, got {artifact_type!r}")
    assert d.hint == "one of Artifact, Dataset, Model"
    assert d.location == SourceLocation(SHOWN, marked_line(__file__, "bad-type"))


def test_every_artifact_class_can_be_imported() -> None:
    @dsl.pipeline(name="models")
    def models() -> None:
        dsl.importer(uri="s3://b/m/", artifact_type=Model)

    assert [i.artifact_type for i in models.spec.importers] == ["Model"]


def test_an_importer_manifest_flag_is_a_bool() -> None:
    @dsl.pipeline(name="bad-manifest")
    def bad_manifest() -> None:
        dsl.importer(uri="s3://b/m.json", manifest="yes")  # type: ignore[arg-type]  # bad-manifest

    d = only_diagnostic(bad_manifest)
    assert (d.code, d.message) == ("PC003", "manifest must be True or False")
    assert d.hint == "manifest=True when uri is a manifest file"
    assert d.location == SourceLocation(SHOWN, marked_line(__file__, "bad-manifest"))
