"""The public surface is what we mean it to be (STYLE: explicit __all__, tested)."""

from __future__ import annotations

import inspect

import pipecast
from pipecast import dsl, errors


def test_dsl_surface():
    assert set(dsl.__all__) == {
        "RUN_STATUS",
        "Artifact",
        "Collected",
        "Component",
        "Condition",
        "Dataset",
        "Elif",
        "Else",
        "ExitHandler",
        "If",
        "Importer",
        "Input",
        "Model",
        "OneOf",
        "Output",
        "OutputHandle",
        "ParallelFor",
        "Pipeline",
        "PipelineParameter",
        "PipelineSpec",
        "Resources",
        "Retry",
        "Spot",
        "Task",
        "component",
        "container_component",
        "importer",
        "input_path",
        "input_uri",
        "output_path",
        "param",
        "pipeline",
    }
    # every name in __all__ exists, and nothing public is exported without being listed
    exported = {
        name
        for name, value in vars(dsl).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exported == set(dsl.__all__)
    foreign = [n for n in dsl.__all__ if not getattr(dsl, n).__module__.startswith("pipecast.dsl.")]
    assert foreign == [], "re-exported from outside the DSL package"


def test_task_methods_named_in_the_design_exist():
    for method in (
        "after",
        "set_name",
        "set_resources",
        "set_spot",
        "set_retry",
        "set_timeout",
        "set_env",
        "set_caching",
        "set_instance_type",
    ):
        assert callable(getattr(dsl.Task, method))
    assert isinstance(dsl.Task.output, property)


def test_top_level_surface():
    assert set(pipecast.__all__) == {"PipecastError", "__version__", "compile"}
    assert callable(pipecast.compile)


def test_error_hierarchy():
    for cls in (
        errors.DefinitionError,
        errors.PipelineError,
        errors.ConfigError,
        errors.LoadError,
        errors.DocumentError,
        errors.MissingExtraError,
        errors.UsageError,
    ):
        assert issubclass(cls, errors.PipecastError)
    assert errors.UsageError.exit_code == 2 and errors.PipelineError.exit_code == 1
    hint = str(errors.MissingExtraError("kfp", "kubeflow"))
    assert hint == "this needs the 'kfp' package: pip install 'pipecast[kubeflow]'"
