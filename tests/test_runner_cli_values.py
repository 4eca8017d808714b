"""The parameter values of ``pipecast run --local --resume RUN``: the run id must be a plain
folder name (the refusal lists the runs there are), and a parameter neither given nor recorded
nor defaulted is asked for by name."""

from __future__ import annotations

import json

import pytest

from pipecast import dsl
from pipecast.dsl import Dataset, Output
from pipecast.errors import ParameterError, RunError
from pipecast.runner.cli import _values


def two_params():
    @dsl.container_component(image="r.example.com/s:1", command=["true"])
    def step(a: str, b: str, out: Output[Dataset]):
        """Uses both."""

    @dsl.pipeline(name="params")
    def params(a: str, b: str, c: str = "z"):
        step(a=a, b=b).set_name("s")

    return params.spec


def test_a_resume_id_that_is_not_a_folder_name_is_refused_listing_the_known_runs(tmp_path):
    for run in ("r1", "r2"):
        (tmp_path / "params" / run).mkdir(parents=True)
        (tmp_path / "params" / run / "run.json").write_text("{}")
    with pytest.raises(RunError) as caught:
        _values(two_params(), (), tmp_path, "../r1")
    d = caught.value.diagnostic
    assert d.code == "PC201"
    assert d.message == (
        "--resume run id '../r1' is not a plain folder name: letters, digits, '.', '_', '-' "
        "only, at most 128 characters; known runs: r1, r2"
    )


def test_parameters_recorded_by_the_resumed_run_are_kept_and_missing_ones_named(tmp_path):
    run = tmp_path / "params" / "r1"
    run.mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"parameters": {"a": "recorded", "x": "unknown"}}))
    values = _values(two_params(), ("b=given",), tmp_path, "r1")
    assert values == {"a": "recorded", "b": "given", "c": "z"}
    (run / "run.json").write_text(json.dumps({"parameters": {}}))
    with pytest.raises(ParameterError) as caught:
        _values(two_params(), (), tmp_path, "r1")
    assert str(caught.value) == "pipeline 'params' needs -p a=..., -p b=..."
