"""Each component's Dockerfile: a pinned base, pinned libraries within the supported ranges,
sources that exist, the version the DSL definition names, and no entrypoint of its own (the
platform runs the component's command)."""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest
from helpers import ROOT
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

COMPONENTS = ["extract_frames", "detect_objects", "track_objects", "summarize"]


def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    lines = [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _extra(name: str) -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(r).name: Requirement(r) for r in project["optional-dependencies"][name]}


@pytest.mark.parametrize("component", COMPONENTS)
def test_dockerfile_is_pinned_and_consistent(component: str) -> None:
    steps = _instructions(ROOT / "components" / component / "Dockerfile")
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") == 1 and "ENTRYPOINT" not in kinds and "CMD" not in kinds
    base = dict(steps)["FROM"]
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base
    supported = _extra("components")
    for kind, rest in steps:
        if kind == "RUN" and rest.startswith("pip install"):
            for token in shlex.split(rest)[2:]:
                if token.startswith(("-", "/")) or token in ("&&", "rm"):
                    continue
                req = Requirement(token)
                (pin,) = req.specifier
                assert pin.operator == "==", f"{token} is not pinned"
                if req.name in supported:
                    assert supported[req.name].specifier.contains(pin.version), (
                        token,
                        supported[req.name],
                    )
        if kind == "COPY":
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"
    module = importlib.import_module(f"pipecast.components.{component}")
    version = module.IMAGE.rsplit(":", 1)[1]
    assert f'org.opencontainers.image.version="{version}"' in dict(steps)["LABEL"]


def test_runtime_constraints_pin_every_dependency_of_pipecast() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {
        Requirement(r).name.lower() for r in project["dependencies"] if "python_version" not in r
    }
    pins = [
        Requirement(line)
        for line in (ROOT / "components" / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert {p.name.lower() for p in pins} == needed
    assert all(next(iter(p.specifier)).operator == "==" for p in pins)
