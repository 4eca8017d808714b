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
from ._pipeline import Importer, OutputHandle, Pipeline, PipelineParameter, Task, importer, pipeline
from ._resources import Resources, Retry, Spot
from .spec import PipelineSpec
from .types import Artifact, Dataset, Input, Model, Output

__all__ = [
    "Artifact",
    "Component",
    "Dataset",
    "Importer",
    "Input",
    "Model",
    "Output",
    "OutputHandle",
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
