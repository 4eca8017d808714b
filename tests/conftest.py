"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import EXAMPLE_CONFIG, ROOT

# Mutation runs (scripts/mutation.sh): property tests draw a few examples, the same ones every
# time, so that a mutant's verdict does not depend on luck and costs seconds, not minutes. Any run
# can opt in: PIPECAST_HYPOTHESIS_PROFILE=mutation pytest ...
settings.register_profile(
    "mutation",
    max_examples=int(os.environ.get("MUTATION_EXAMPLES", "10")),
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_PROFILE = os.environ.get("PIPECAST_HYPOTHESIS_PROFILE")
if _PROFILE:
    settings.load_profile(_PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under a loaded profile, a test's own ``@settings(max_examples=N)`` (which outranks any
    profile) is capped at the profile's, and the profile's ``derandomize`` applies to it too."""
    if not _PROFILE:
        return
    cap = settings.default
    for item in items:
        test = getattr(item, "obj", None)
        test = getattr(test, "__func__", test)  # a method's function carries the settings
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is None or not getattr(test, "is_hypothesis_test", False):
            continue
        test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
            own, max_examples=min(own.max_examples, cap.max_examples), derandomize=cap.derandomize
        )


@pytest.fixture
def example_config():
    return EXAMPLE_CONFIG


@pytest.fixture
def root() -> Path:
    return ROOT
