"""Fixtures shared by every test module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import EXAMPLE_CONFIG, ROOT


@pytest.fixture
def example_config():
    return EXAMPLE_CONFIG


@pytest.fixture
def root() -> Path:
    return ROOT
