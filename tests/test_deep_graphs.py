"""Deeply nested graphs compile (or fail with a size diagnostic), never with a RecursionError.

A fan-out nested N levels deep (each level: one leaf and one step that fans out again) is laid
out by Step Functions as N nested Parallel states, and its documents are trees as deep as that.
"""

from __future__ import annotations

import json

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import PipelineError

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["run"])
def root(out: Output[Dataset]):
    """x"""


@dsl.container_component(image=IMG, command=["run"])
def child(data: Input[Dataset], out: Output[Dataset]):
    """x"""


def nested_fan_out(depth: int) -> dsl.Pipeline:
    @dsl.pipeline(name=f"deep-{depth}")
    def deep():
        current = root()
        for _ in range(depth):
            child(data=current.output)
            current = child(data=current.output)

    return deep


def parallel_depth(state_machine: dict) -> int:
    """The deepest nesting of Parallel states (iteratively: the document is deep)."""
    deepest, stack = 0, [(state_machine, 0)]
    while stack:
        machine, depth = stack.pop()
        for state in machine["States"].values():
            if state["Type"] == "Parallel":
                deepest = max(deepest, depth + 1)
                stack.extend((branch, depth + 1) for branch in state["Branches"])
    return deepest


def test_a_fan_out_nested_130_deep_compiles_for_every_target():
    pipeline = nested_fan_out(130)
    asl = json.loads(compile_text(pipeline, "stepfunctions"))
    assert parallel_depth(asl) == 130  # every level keeps its parallelism: nothing serialised
    sagemaker = json.loads(compile_text(pipeline, "sagemaker"))
    assert len(sagemaker["Steps"]) == 261
    ir = json.loads(compile_text(pipeline, "ir"))
    assert len(ir["steps"]) == 261


@pytest.mark.slow
def test_a_fan_out_nested_1000_deep_is_a_size_diagnostic_not_a_crash():
    pipeline = nested_fan_out(1000)
    with pytest.raises(PipelineError) as info:
        compile_text(pipeline, "stepfunctions")
    assert [d.code for d in info.value.diagnostics] == ["PC009"]
    assert len(json.loads(compile_text(pipeline, "ir"))["steps"]) == 2001
