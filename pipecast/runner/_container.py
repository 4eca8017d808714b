"""Container engines for the local runner: run a container step in its own image, like the cloud.

Why: a step that works as a local process can still fail in its image (missing packages, a
different Python, paths it assumes). With docker or podman present, ``pipecast run`` runs each
container step as ``<engine> run --rm`` with the step's image, its command as the entrypoint
(SageMaker's ``ContainerEntrypoint`` semantics) and its arguments, and mounts the run folders at
the paths the SageMaker target uses (``/opt/ml/processing/{input,output}/<name>``; a spot step,
a Training job there, sees ``/opt/ml/input/data/<name>`` and writes ``/opt/ml/model/<name>``).
Inputs are mounted read-only, outputs read-write, so the same code runs unchanged in both places.

Engine differences are a table (:data:`FLAVOURS`), not code paths. :func:`engine_argv` is pure
(no I/O), so the exact command line is unit-tested without a daemon; :func:`detect` is the only
part that runs anything (``<engine> info`` with a timeout).

Environment values never reach the engine's command line, where any user of the machine can
read them (``ps``, ``/proc/<pid>/cmdline``): they go through ``--env-file`` (written 0600 by
:func:`write_env_file`, removed after the attempt). The env-file format has no escapes, so a
value it cannot carry byte for byte (a line break, a leading quote that podman may unquote) is
passed as ``-e NAME`` with the value in the engine client's own environment, equally private.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pipecast.compilers.aws_jobs import (
    PROCESSING_IN,
    PROCESSING_OUT,
    TRAINING_IN,
    TRAINING_OUT,
    job_kind,
)
from pipecast.dsl.spec import ComponentSpec, StepSpec
from pipecast.errors import PipecastError

__all__ = [
    "ENGINES",
    "FLAVOURS",
    "ContainerRun",
    "Detection",
    "Engine",
    "EngineUnavailable",
    "Mount",
    "client_env",
    "container_name",
    "container_paths",
    "detect",
    "engine_argv",
    "env_file_lines",
    "memory_flag",
    "write_env_file",
]

ENGINES = ("docker", "podman")  # auto-detection order
PROBE_TIMEOUT = 10.0  # seconds; a healthy `docker info` answers in well under a second


class EngineUnavailable(PipecastError):
    """``--engine docker|podman`` was asked for but that engine cannot run containers here."""


@dataclass(frozen=True)
class Flavour:
    """How one engine spells what differs between engines."""

    # flags that make files written in bind mounts belong to the host user; {uid}/{gid} filled in
    user_flags: tuple[str, ...]
    # flags that give the container N GPUs; {n} filled in, or {i} once per GPU index
    gpu_flags: tuple[str, ...]
    per_gpu: bool = False


FLAVOURS: Mapping[str, Flavour] = {
    # rootful docker: run the process as the calling user
    "docker": Flavour(user_flags=("--user", "{uid}:{gid}"), gpu_flags=("--gpus", "{n}")),
    # rootless podman maps container uids onto subordinate ids; keep-id maps ours 1:1 and runs
    # as us. GPUs come through CDI (nvidia-ctk), which names devices, not counts: the first N by
    # index, as docker's --gpus N does.
    "podman": Flavour(
        user_flags=("--userns=keep-id",),
        gpu_flags=("--device", "nvidia.com/gpu={i}"),
        per_gpu=True,
    ),
}


@dataclass(frozen=True)
class Engine:
    """A container engine that answered ``info``: its name (a :data:`FLAVOURS` key) and binary."""

    name: str
    binary: str


@dataclass(frozen=True)
class Mount:
    """A bind mount of a host directory at a container path."""

    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class ContainerRun:
    """Everything one ``<engine> run`` needs, already in container terms."""

    name: str
    image: str
    command: tuple[str, ...]  # entrypoint and its own leading arguments
    args: tuple[str, ...]  # the step's arguments, paths rewritten to container paths
    mounts: tuple[Mount, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    env_file: str | None = None  # where write_env_file put the env; required when env is set
    cpus: float | None = None
    memory_bytes: int | None = None
    gpus: int = 0
    user: tuple[int, int] | None = None  # (uid, gid) on Linux; None lets the engine decide


def memory_flag(size: int) -> str:
    """``--memory`` value: the largest exact unit (``16g``, ``512m``), else bytes (``1000b``)."""
    for unit, factor in (("g", 1024**3), ("m", 1024**2), ("k", 1024)):
        if size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"


def mount_flag(mount: Mount) -> str:
    """``--mount`` value for a bind mount. Docker and podman read it as one CSV record, so a
    path with a comma or quote is quoted, and one with a colon (which ``-v`` cannot take)
    needs nothing special."""
    fields = ["type=bind", f"source={mount.source}", f"target={mount.target}"]
    if mount.read_only:
        fields.append("readonly")
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def engine_argv(engine: str, binary: str, run: ContainerRun) -> list[str]:
    """The full ``<engine> run --rm ...`` command line for ``run`` (pure: no I/O).

    The step's command becomes ``--entrypoint`` (its first word) plus leading arguments, so an
    image's own ENTRYPOINT never wraps it; with no command the image's entrypoint runs the args.
    """
    flavour = FLAVOURS[engine]
    argv = [binary, "run", "--rm", "--name", run.name]
    if run.user is not None:
        uid, gid = run.user
        argv += [f.format(uid=uid, gid=gid) for f in flavour.user_flags]
    if run.env:
        if run.env_file is None:
            raise ValueError("ContainerRun.env needs env_file: values never go on the command line")
        argv += ["--env-file", run.env_file]
        for key in client_env(run.env):  # the engine reads each value from its own environment
            argv += ["-e", key]
    for m in run.mounts:
        argv += ["--mount", mount_flag(m)]
    if run.cpus is not None:
        argv += ["--cpus", f"{run.cpus:g}"]
    if run.memory_bytes is not None:
        argv += ["--memory", memory_flag(run.memory_bytes)]
    if run.gpus > 0 and flavour.per_gpu:
        argv += [f.format(i=i) for i in range(run.gpus) for f in flavour.gpu_flags]
    elif run.gpus > 0:
        argv += [f.format(n=run.gpus) for f in flavour.gpu_flags]
    if run.command:
        argv += ["--entrypoint", run.command[0], run.image, *run.command[1:]]
    else:
        argv.append(run.image)
    return argv + list(run.args)


def _file_safe(value: str) -> bool:
    """Whether an env-file line ``NAME=value`` gives back ``value`` byte for byte on docker and
    podman: no line breaks (a line ends there), no leading quote (podman 5 unquotes), no NUL."""
    return not any(c in value for c in "\n\r\0") and not value.startswith(("'", '"'))


def env_file_lines(env: tuple[tuple[str, str], ...]) -> str:
    """The env file's text: one ``NAME=value`` line per value the format carries exactly."""
    return "".join(f"{key}={value}\n" for key, value in env if _file_safe(value))


def client_env(env: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """The values :func:`engine_argv` passes as ``-e NAME``: they go in the client's environment."""
    return {key: value for key, value in env if not _file_safe(value)}


def write_env_file(path: str, env: tuple[tuple[str, str], ...]) -> None:
    """Write :func:`env_file_lines` to ``path``, readable by the owner only from the first byte
    (created 0600 and exclusively, so an existing file or link is never followed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
        out.write(env_file_lines(env))


def container_paths(comp: ComponentSpec, step: StepSpec) -> dict[str, str]:
    """Container path of each artifact input and output, the SageMaker target's paths."""
    training = job_kind(step) == "training"
    base_in = TRAINING_IN if training else PROCESSING_IN
    base_out = TRAINING_OUT if training else PROCESSING_OUT
    paths = {i.name: f"{base_in}/{i.name}" for i in comp.inputs if i.kind == "artifact"}
    paths.update({o.name: f"{base_out}/{o.name}" for o in comp.outputs})
    return paths


_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_.-]+")
_NAME_MAX = 128


def container_name(pipeline: str, run_id: str, step: str, attempt: int) -> str:
    """``pipecast-<pipeline>-<run_id>-<step>-<attempt>``, legal for docker and podman.

    Deterministic so that a timed-out container can be removed by name and a retry never
    collides with the attempt before it; too long a name keeps its head and a short hash.
    """
    raw = f"pipecast-{pipeline}-{run_id}-{step}-{attempt}"
    name = _NAME_UNSAFE.sub("-", raw)
    if len(name) > _NAME_MAX:
        digest = hashlib.sha256(raw.encode()).hexdigest()[:10]
        name = f"{name[: _NAME_MAX - 11]}-{digest}"
    return name


@dataclass(frozen=True)
class Detection:
    """What ``--engine`` resolved to: an engine (None: run as processes) and an optional note."""

    engine: Engine | None
    note: str | None = None


Probe = Callable[[list[str], float], tuple[int, str]]


def _probe(argv: list[str], timeout: float) -> tuple[int, str]:
    """Run ``argv``; (exit code, first line of stderr). A timeout counts as failure."""
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return 124, f"no answer within {timeout:g}s"
    except OSError as exc:
        return 127, exc.strerror or str(exc)
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return done.returncode, (lines[-1] if lines else "")


def detect(
    choice: str,
    *,
    which: Callable[[str], str | None] = shutil.which,
    probe: Probe = _probe,
    timeout: float = PROBE_TIMEOUT,
) -> Detection:
    """Resolve ``--engine auto|docker|podman|process`` to a working engine or to processes.

    An engine works when its CLI is on PATH AND ``<engine> info`` succeeds within ``timeout``
    (a docker client without a daemon fails there). ``auto`` falls back to processes, with a note
    only when a client was found whose daemon did not answer; an explicit engine that does not
    work raises :class:`EngineUnavailable`.
    """
    if choice == "process":
        return Detection(None)
    candidates = ENGINES if choice == "auto" else (choice,)
    broken: list[str] = []
    for name in candidates:
        binary = which(name)
        if binary is None:
            if choice != "auto":
                raise EngineUnavailable(
                    f"--engine {name}: '{name}' is not on PATH; install it or use --engine process"
                )
            continue
        code, detail = probe([binary, "info"], timeout)
        if code == 0:
            return Detection(Engine(name, binary))
        why = f"`{name} info` failed" + (f": {detail}" if detail else "")
        if choice != "auto":
            raise EngineUnavailable(
                f"--engine {name}: {name} is installed but cannot run containers ({why}); "
                "start its daemon or use --engine process"
            )
        broken.append(why)
    if not broken:
        return Detection(None)
    return Detection(
        None,
        f"note: {'; '.join(broken)}; running container steps as local processes "
        "(--engine process silences this)",
    )
