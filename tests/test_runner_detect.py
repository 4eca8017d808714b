"""Finding a container engine with real probes: ``<engine> info`` run as a process, with a time
limit and no terminal input, and what the user reads when it does not answer, fails or cannot
start. (tests/test_runner_engine.py fakes the probe itself or checks fragments of the CLI's
output; these run the probe and pin the whole message.)"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from pipecast.runner._container import EngineUnavailable, container_name, detect

pytestmark = pytest.mark.timeout(60)


def _engine(tmp_path: Path, name: str, body: str) -> None:
    """An executable ``name`` in tmp_path/bin, the only folder on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def path_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    return tmp_path


def test_an_engine_that_does_not_answer_in_time_is_not_used(path_only):
    # answers, but only after the limit: with no limit it would be taken as working
    _engine(path_only, "docker", f"#!{sys.executable}\nimport time; time.sleep(3)\n")
    with pytest.raises(EngineUnavailable) as info:
        detect("docker", timeout=0.5)
    assert str(info.value) == (
        "--engine docker: docker is installed but cannot run containers "
        "(`docker info` failed: no answer within 0.5s); start its daemon or use --engine process"
    )


def test_the_last_line_of_the_engines_complaint_is_quoted(path_only):
    _engine(
        path_only,
        "podman",
        "#!/bin/sh\necho 'first line' >&2\necho '  ' >&2\n"
        "echo '  cannot connect: no socket  ' >&2\nexit 125\n",
    )
    found = detect("auto")
    assert found.engine is None
    assert found.note == (
        "note: `podman info` failed: cannot connect: no socket; running container steps as "
        "local processes (--engine process silences this)"
    )


def test_an_engine_binary_that_cannot_start_names_the_reason(path_only):
    _engine(path_only, "docker", "\x7fELF not really a program\n")
    with pytest.raises(EngineUnavailable) as info:
        detect("docker")
    assert "(`docker info` failed: Exec format error)" in str(info.value)


def test_the_probe_never_waits_for_terminal_input(path_only):
    """An engine CLI that reads its input (a prompt) gets none: with this process's stdin, here a
    pipe that stays open like a terminal nobody types in, it would wait until the limit."""
    _engine(path_only, "docker", f"#!{sys.executable}\nimport sys; sys.stdin.read()\n")
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        found = detect("docker", timeout=20)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert found.engine is not None


@pytest.mark.parametrize("extra", [0, 1])
def test_container_names_are_hashed_only_beyond_the_limit(extra):
    step = "s" * (128 - len("pipecast-p-r--1") + extra)
    name = container_name("p", "r", step, 1)
    if extra == 0:
        assert name == f"pipecast-p-r-{step}-1" and len(name) == 128
    else:
        assert len(name) == 128 and name.startswith("pipecast-p-r-sss")
        assert name != f"pipecast-p-r-{step}-1"[:128]


def test_an_engine_that_fails_without_a_word_is_named_alone(path_only):
    _engine(path_only, "docker", "#!/bin/sh\nexit 1\n")
    found = detect("auto")
    assert found.engine is None
    assert found.note == (
        "note: `docker info` failed; running container steps as local processes "
        "(--engine process silences this)"
    )


def _probe_answers(codes: dict[str, int]):
    def probe(argv, timeout):
        name = Path(argv[0]).name
        return codes[name], f"{name}: no daemon" if codes[name] else ""

    return probe


def test_an_explicit_engine_is_the_only_one_tried():
    which = {"docker": "/bin/docker", "podman": "/bin/podman"}.get
    with pytest.raises(EngineUnavailable) as info:
        detect("podman", which=which, probe=_probe_answers({"docker": 0, "podman": 125}))
    assert str(info.value) == (
        "--engine podman: podman is installed but cannot run containers "
        "(`podman info` failed: podman: no daemon); start its daemon or use --engine process"
    )


def test_auto_names_every_engine_that_did_not_answer():
    which = {"docker": "/bin/docker", "podman": "/bin/podman"}.get
    found = detect("auto", which=which, probe=_probe_answers({"docker": 1, "podman": 125}))
    assert found.engine is None
    assert found.note == (
        "note: `docker info` failed: docker: no daemon; `podman info` failed: podman: no daemon; "
        "running container steps as local processes (--engine process silences this)"
    )
