"""SageMaker caching on spot steps: nothing execution-scoped in the attributes SageMaker hashes.

SageMaker's developer guide ("Default cache key attributes by pipeline step type") lists what a
step's cache key is computed from; ``CACHE_KEY_ATTRIBUTES`` in the target is that list. A value
tied to one execution (``Execution.PipelineExecutionId``, the execution's start time) in any of
them makes every run's key different, so the cache never hits. The checkpoint folder is
run-scoped, so it is only emitted when the component asks for it, with a warning when the step
is also cached.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import EXAMPLE_CONFIG, compile_text, load_example

from pipecast import dsl
from pipecast._api import compile_spec, resolve_targets
from pipecast.compilers.sagemaker import CACHE_KEY_ATTRIBUTES
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.dsl.spec import PipelineSpec
from pipecast.errors import DefinitionError

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "gen"], resources=Resources(cpu=2, memory="4GiB")
)
def source(out: Output[Dataset], seed: str = "0") -> None:
    """Produce."""


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "gen"], resources=Resources(cpu=2, memory="4GiB")
)
def train(data: Input[Dataset], model: Output[Dataset]) -> None:
    """Consume."""


def spot_pipeline(spot: Spot, cached: bool = True) -> dsl.Pipeline:
    @dsl.pipeline(name="spot-cache")
    def pipeline(data_uri: str = "s3://in/data/") -> None:
        raw = dsl.importer(uri=data_uri, artifact_type=Dataset)
        up = source()
        train(data=raw.output).set_name("fit").set_spot(spot).set_caching(cached)
        train(data=up.output).set_name("fit-after").set_spot(spot).set_caching(cached)

    return pipeline


def execution_scoped(value: Any) -> list[str]:
    """Every reference in ``value`` whose result differs from one execution to the next."""
    if isinstance(value, dict):
        if "Get" in value and str(value["Get"]).startswith("Execution."):
            return [str(value["Get"])]
        return [ref for v in value.values() for ref in execution_scoped(v)]
    if isinstance(value, list):
        return [ref for v in value for ref in execution_scoped(v)]
    return []


def hashed(step: dict[str, Any]) -> dict[str, Any]:
    args = step["Arguments"]
    return {k: args[k] for k in CACHE_KEY_ATTRIBUTES[step["Type"]] if k in args}


def compiled(pipeline: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    (target,), _ = resolve_targets("sagemaker")
    document = compile_spec(pipeline.spec, target, EXAMPLE_CONFIG)
    return json.loads(document.text), document.notes


def test_a_cached_spot_step_hashes_nothing_execution_scoped() -> None:
    document, notes = compiled(spot_pipeline(Spot(max_wait="2h")))
    steps = {s["Name"]: s for s in document["Steps"]}
    for name in ("fit", "fit-after"):
        step = steps[name]
        assert step["Type"] == "Training" and step["CacheConfig"]["Enabled"] is True
        assert "CheckpointConfig" not in step["Arguments"]
        assert execution_scoped(hashed(step)) == [], name
        # the output prefix is run-scoped, but SageMaker does not hash OutputDataConfig
        assert execution_scoped(step["Arguments"]["OutputDataConfig"]) == [
            "Execution.PipelineExecutionId"
        ]
    assert not any("caching will never hit" in n for n in notes)


def test_the_check_is_real_checkpoints_make_the_key_execution_scoped() -> None:
    """The same helper finds the execution id once checkpoints are asked for."""
    document, notes = compiled(spot_pipeline(Spot(max_wait="2h", checkpoints=True)))
    for step in document["Steps"]:
        if step["Type"] != "Training":
            continue
        config = step["Arguments"]["CheckpointConfig"]
        assert config["LocalPath"] == "/opt/ml/checkpoints"
        assert config["S3Uri"]["Std:Join"]["Values"][-1] == f"/{step['Name']}/_checkpoints/"
        assert execution_scoped(hashed(step)) == ["Execution.PipelineExecutionId"]
    warned = [n for n in notes if "caching will never hit" in n]
    assert len(warned) == 2 and all("warning[PC008]" in n for n in warned)
    assert any("'fit'" in n for n in warned) and any("'fit-after'" in n for n in warned)


def test_checkpoints_without_caching_are_not_warned_about() -> None:
    _, notes = compiled(spot_pipeline(Spot(max_wait="2h", checkpoints=True), cached=False))
    assert not any("caching will never hit" in n for n in notes)


def test_step_functions_gets_checkpoints_only_on_request() -> None:
    for spot, expected in ((Spot("2h"), False), (Spot("2h", checkpoints=True), True)):
        document = json.loads(compile_text(spot_pipeline(spot, cached=False), "stepfunctions"))
        branches = document["States"]["parallel-1"]["Branches"]
        tasks = [
            state
            for branch in branches
            for state in branch["States"].values()
            if state["Type"] == "Task" and "createTrainingJob" in state["Resource"]
        ]
        assert tasks and all(("CheckpointConfig" in t["Arguments"]) is expected for t in tasks)


def test_the_flagship_detector_asks_for_checkpoints() -> None:
    spec = load_example("video_analysis").spec
    assert spec.step("detect-objects").spot.checkpoints is True
    (detect,) = [s for s in spec.to_dict()["steps"] if s["id"] == "detect-objects"]
    assert detect["spot"] == {"max_wait_seconds": 10800, "checkpoints": True}


def test_checkpoints_round_trip_through_the_ir() -> None:
    spec = spot_pipeline(Spot(max_wait="2h", checkpoints=True)).spec
    again = PipelineSpec.from_json(json.dumps(spec.to_dict()))
    assert again == spec and again.step("fit").spot.checkpoints is True
    plain = spot_pipeline(Spot(max_wait="2h")).spec
    assert all("checkpoints" not in s.get("spot", {}) for s in plain.to_dict()["steps"])


def test_checkpoints_must_be_a_bool() -> None:
    with pytest.raises(DefinitionError, match=r"Spot\.checkpoints must be True or False"):
        Spot(max_wait="2h", checkpoints="yes")  # type: ignore[arg-type]
