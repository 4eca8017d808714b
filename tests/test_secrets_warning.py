"""Env values are stored in plain text in every compiled document: names that usually carry
credentials get a PC012 warning (the compile still succeeds)."""

from __future__ import annotations

import pytest
from helpers import EXAMPLE_CONFIG, compile_text

from pipecast import dsl
from pipecast._api import compile_spec, resolve_targets
from pipecast.dsl import Dataset, Output


@dsl.container_component(image="r.example.com/x:1.0", command=["run"])
def produce(out: Output[Dataset]):
    """x"""


def warnings_for(**env: str) -> list[str]:
    @dsl.pipeline(name="p")
    def p():
        produce().set_env(**env)

    (target,), _ = resolve_targets("sagemaker")
    document = compile_spec(p.spec, target, EXAMPLE_CONFIG)
    return [n for n in document.notes if "PC012" in n]


@pytest.mark.parametrize(
    "name",
    [
        "API_TOKEN",
        "GITHUB_TOKEN_V2",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "passwd",
        "HF_KEY",
        "MYPASSWORD",
    ],
)
def test_secret_looking_names_warn(name):
    (warning,) = warnings_for(**{name: "value"})
    assert f"env '{name}' looks like a secret" in warning
    assert "warning[PC012]" in warning


@pytest.mark.parametrize(
    "name",
    ["LOG_LEVEL", "MONKEY", "KEYBOARD_LAYOUT", "TOKENIZERS_PARALLELISM", "MODEL_NAME"],
)
def test_ordinary_names_do_not(name):
    assert warnings_for(**{name: "value"}) == []


def test_the_warning_does_not_stop_the_compile():
    @dsl.pipeline(name="p")
    def p():
        produce().set_env(API_TOKEN="abc")

    assert '"API_TOKEN": "abc"' in compile_text(p, "sagemaker")
