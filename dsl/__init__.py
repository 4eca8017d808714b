"""The pipecast DSL: what users write. Kubeflow-style, so a kfp user feels at home.

Decorate container steps with :func:`container_component`, Python steps with :func:`component`,
and wire them in a :func:`pipeline` function. The result's ``.spec`` is the frozen IR every target
compiles from.
"""

from ._component import (
    Component,
    component,
    container_component,
    input_path,
    input_uri,
    output_path,
    param,
)
from ._control import Elif, Else, ExitHandler, If, ParallelFor
from ._pipeline import Importer, OutputHandle, Pipeline, PipelineParameter, Task, importer, pipeline
from ._resources import Resources, Retry, Spot
from ._values import RUN_STATUS, Collected, OneOf
from .spec import PipelineSpec
from .types import Artifact, Dataset, Input, Model, Output

# kfp's older name for dsl.If, so pipelines written against kfp 1.x-2.x port unchanged
Condition = If

__all__ = [
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
]
