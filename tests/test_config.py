"""Configuration discovery, validation and overrides (DESIGN §9)."""

from __future__ import annotations

import pytest

from pipecast.config import Config, find_config_file, load_config
from pipecast.errors import ConfigError


def test_discovery_order(tmp_path, monkeypatch):
    project, cwd = tmp_path / "project", tmp_path / "cwd"
    project.mkdir()
    cwd.mkdir()
    pipeline = project / "pipe.py"
    pipeline.write_text("")
    monkeypatch.chdir(cwd)
    assert find_config_file(pipeline) is None
    (cwd / "pyproject.toml").write_text('[tool.pipecast]\nregion = "eu-west-1"\n')
    assert load_config(pipeline_file=pipeline).get("region") == "eu-west-1"
    (cwd / "pipecast.toml").write_text('region = "us-west-2"\n')
    assert load_config(pipeline_file=pipeline).get("region") == "us-west-2"
    (project / "pipecast.toml").write_text('region = "ap-south-1"\n')
    cfg = load_config(pipeline_file=pipeline)
    assert cfg.get("region") == "ap-south-1" and cfg.source == str(project / "pipecast.toml")


def test_pyproject_without_tool_section_is_ignored(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config_file(cwd=tmp_path) is None


def test_explicit_file_mapping_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(
        'artifact_root = "s3://a/b/"\n[sagemaker]\nrole_arn = "arn:aws:iam::123456789012:role/r"\n'
    )
    cfg = load_config(path)
    assert cfg.artifact_root == "s3://a/b"
    assert cfg.require("sagemaker.role_arn").endswith(":role/r")
    assert (
        cfg.with_overrides({"artifact_root": "s3://other", "region": None}).artifact_root
        == "s3://other"
    )
    assert load_config({"region": "us-east-1"}).get("region") == "us-east-1"
    assert load_config(cfg) is cfg


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"artifact_root": "bucket/prefix"}, "artifact_root"),
        ({"sagemaker": {"role_arn": "not-an-arn"}}, "sagemaker.role_arn"),
        ({"sagemaker": {"rolearn": "x"}}, "unknown key 'rolearn'; did you mean 'role_arn'?"),
        ({"kubeflow": {"spot_node_selector": {"a": 1}}}, "kubeflow.spot_node_selector.a"),
        ({"region": "moon"}, "region"),
    ],
)
def test_invalid_values_name_the_key(data, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace("?", r"\?")):
        load_config(data)


def test_missing_key_message_names_key_and_file():
    with pytest.raises(ConfigError) as info:
        Config({}, "/p/pipecast.toml").require("stepfunctions.role_arn")
    message = str(info.value)
    assert "'stepfunctions.role_arn'" in message and "/p/pipecast.toml" in message
    assert "[stepfunctions]" in message and "role_arn = " in message


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
