"""Container engines in the local runner (``pipecast run --engine``): the exact docker/podman
command lines (pure, no daemon), detection with fake engine binaries on PATH, a pipeline run end
to end through a fake engine that executes what it is given, and clean errors."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from helpers import run_cli, write_pipeline

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.runner import run_pipeline
from pipecast.runner._container import (
    ContainerRun,
    Engine,
    EngineUnavailable,
    Mount,
    client_env,
    container_name,
    container_paths,
    detect,
    engine_argv,
    env_file_lines,
    memory_flag,
    mount_flag,
    write_env_file,
)
from pipecast.runner._engine import Capacity, Runner

# ----- argv construction (pure) ----------------------------------------------------------------

RUN = ContainerRun(
    name="pipecast-p-r1-detect-1",
    image="r.example.com/detect:1.2",
    command=("python", "-m", "detect"),
    args=("--frames", "/opt/ml/processing/input/frames", "--out", "/opt/ml/processing/output/d"),
    mounts=(
        Mount("/runs/p/r1/extract/frames", "/opt/ml/processing/input/frames", read_only=True),
        Mount("/runs/p/r1/detect/d", "/opt/ml/processing/output/d", read_only=False),
    ),
    env=(("MODEL", "yolo"), ("LOG_LEVEL", "debug")),
    env_file="/runs/p/r1/detect/_logs/container.env",
    cpus=2.5,
    memory_bytes=16 * 1024**3,
    gpus=1,
    user=(1000, 1001),
)

COMMON_TAIL = [
    "--env-file",
    "/runs/p/r1/detect/_logs/container.env",
    "--mount",
    "type=bind,source=/runs/p/r1/extract/frames,target=/opt/ml/processing/input/frames,readonly",
    "--mount",
    "type=bind,source=/runs/p/r1/detect/d,target=/opt/ml/processing/output/d",
    "--cpus",
    "2.5",
    "--memory",
    "16g",
]
ENTRY = ["--entrypoint", "python", "r.example.com/detect:1.2", "-m", "detect", *RUN.args]


def test_docker_argv_has_mounts_env_resources_gpus_user_and_name():
    argv = engine_argv("docker", "/usr/bin/docker", RUN)
    assert argv == [
        "/usr/bin/docker",
        "run",
        "--rm",
        "--name",
        "pipecast-p-r1-detect-1",
        "--user",
        "1000:1001",
        *COMMON_TAIL,
        "--gpus",
        "1",
        *ENTRY,
    ]


def test_podman_argv_keeps_the_host_user_and_passes_gpus_through_cdi():
    argv = engine_argv("podman", "podman", RUN)
    assert argv == [
        "podman",
        "run",
        "--rm",
        "--name",
        "pipecast-p-r1-detect-1",
        "--userns=keep-id",
        *COMMON_TAIL,
        "--device",
        "nvidia.com/gpu=0",
        *ENTRY,
    ]
    assert "--user" not in argv and "--gpus" not in argv


def test_podman_gets_as_many_cdi_devices_as_gpus_asked_for():
    argv = engine_argv("podman", "podman", dataclasses.replace(RUN, gpus=3))
    devices = [argv[i + 1] for i, a in enumerate(argv) if a == "--device"]
    assert devices == ["nvidia.com/gpu=0", "nvidia.com/gpu=1", "nvidia.com/gpu=2"]


@pytest.mark.parametrize(
    "source",
    ["/data/plain", "/data/run:2026-11-25", "/data/a,b", '/data/say "hi"', "/data/x=y"],
)
def test_mount_flags_survive_colons_commas_and_quotes(source):
    """Docker and podman parse --mount as one CSV record (Go's encoding/csv); -v would split a
    colon. The flag must read back to exactly these fields."""
    flag = mount_flag(Mount(source, "/opt/ml/processing/input/x", read_only=True))
    (record,) = list(csv.reader([flag]))
    assert record == [
        "type=bind",
        f"source={source}",
        "target=/opt/ml/processing/input/x",
        "readonly",
    ]


def test_argv_without_resources_gpus_user_or_command_lets_the_image_decide():
    bare = ContainerRun(name="n", image="img:1", command=(), args=("--x", "1"))
    assert engine_argv("docker", "docker", bare) == [
        "docker",
        "run",
        "--rm",
        "--name",
        "n",
        "img:1",
        "--x",
        "1",
    ]


# ----- env values stay off the command line (#15 item 11) ----------------------------------------

AWKWARD = (
    ("PLAIN", "s3cr3t-value"),
    ("SPACES", "  padded = yes  "),
    ("MULTI", "line one\nline two"),
    ("QUOTED", '"kept quotes"'),
    ("CR", "ends\r"),
    ("EMPTY", ""),
)


def test_env_goes_through_a_file_and_awkward_values_through_the_client_env():
    run = dataclasses.replace(RUN, env=AWKWARD, env_file="/f/container.env")
    argv = engine_argv("docker", "docker", run)
    assert argv[argv.index("--env-file") + 1] == "/f/container.env"
    # the names of values the file format cannot carry, never a value
    named = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert named == ["MULTI", "QUOTED", "CR"]
    assert env_file_lines(AWKWARD) == "PLAIN=s3cr3t-value\nSPACES=  padded = yes  \nEMPTY=\n"
    assert client_env(AWKWARD) == {
        "MULTI": "line one\nline two",
        "QUOTED": '"kept quotes"',
        "CR": "ends\r",
    }
    for _, value in AWKWARD:
        if value:
            assert not any(value in a for a in argv), value


def test_env_without_a_file_is_refused_rather_than_put_on_the_command_line():
    with pytest.raises(ValueError, match="env_file"):
        engine_argv("docker", "docker", dataclasses.replace(RUN, env_file=None))


def test_env_file_is_private_from_its_first_byte_and_never_follows_a_link(tmp_path):
    path = tmp_path / "container.env"
    write_env_file(str(path), AWKWARD)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == env_file_lines(AWKWARD)
    link = tmp_path / "link.env"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(FileExistsError):
        write_env_file(str(link), AWKWARD)
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("size", "flag"),
    [(16 * 1024**3, "16g"), (1536 * 1024**2, "1536m"), (3 * 1024, "3k"), (1000, "1000b")],
)
def test_memory_flag_uses_the_largest_exact_unit(size, flag):
    assert memory_flag(size) == flag


def test_container_names_are_deterministic_legal_and_bounded():
    name = container_name("video analysis", "20260101-000000-abc", "detect/objects", 2)
    assert name == "pipecast-video-analysis-20260101-000000-abc-detect-objects-2"
    assert name == container_name("video analysis", "20260101-000000-abc", "detect/objects", 2)
    assert name != container_name("video analysis", "20260101-000000-abc", "detect/objects", 3)
    long_a = container_name("p" * 200, "r", "a", 1)
    long_b = container_name("p" * 200, "r", "b", 1)
    assert len(long_a) == 128 and long_a != long_b


@dsl.container_component(
    image="r.example.com/t:1",
    command=["python", "-m", "train"],
    args=[
        *("--data", dsl.input_path("data"), "--uri", dsl.input_uri("data")),
        *("--model", dsl.output_path("model"), "--lr", dsl.param("lr")),
    ],
)
def train(data: Input[Dataset], model: Output[Dataset], lr: float = 0.1):
    """Train."""


@dsl.container_component(image="r.example.com/p:1", command=["prep"])
def prep(out: Output[Dataset]):
    """Prepare."""


@dsl.pipeline(name="fit")
def fit():
    data = prep().set_name("prep").output
    train(data=data).set_name("train-spot").set_spot(Spot("2h")).set_env(SEED="7")
    train(data=data).set_name("train").set_resources(Resources(cpu=1, memory="512MiB"))


def test_container_paths_follow_the_sagemaker_job_kind():
    spec = fit.spec
    comp = spec.component(spec.step("train").component)
    assert container_paths(comp, spec.step("train")) == {
        "data": "/opt/ml/processing/input/data",
        "model": "/opt/ml/processing/output/model",
    }
    assert container_paths(comp, spec.step("train-spot")) == {
        "data": "/opt/ml/input/data/data",
        "model": "/opt/ml/model/model",
    }


def test_runner_rewrites_argument_paths_and_local_uris_to_container_paths(tmp_path):
    run_dir = tmp_path / "fit" / "run-1"
    runner = Runner(graph.check(fit.spec), {}, run_dir, capacity=Capacity(2, 2**33, 0))
    step = fit.spec.step("train-spot")
    text, uris, _ = runner._values(step)
    run = runner.container_run(step, text, uris, attempt=1)
    assert run.name == "pipecast-fit-run-1-train-spot-1"
    assert run.command == ("python", "-m", "train")
    assert run.args == (
        "--data",
        "/opt/ml/input/data/data",
        "--uri",
        "/opt/ml/input/data/data",
        "--model",
        "/opt/ml/model/model",
        "--lr",
        "0.1",
    )
    assert run.mounts == (
        Mount(str(run_dir / "prep" / "out"), "/opt/ml/input/data/data", read_only=True),
        Mount(str(run_dir / "train-spot" / "model"), "/opt/ml/model/model", read_only=False),
    )
    assert run.env == (("SEED", "7"),)
    assert (run.cpus, run.memory_bytes, run.gpus) == (None, None, 0)
    if sys.platform.startswith("linux"):
        assert run.user == (os.getuid(), os.getgid())
    limited = runner.container_run(
        fit.spec.step("train"), *runner._values(fit.spec.step("train"))[:2], 3
    )
    assert (limited.cpus, limited.memory_bytes) == (1, 512 * 1024**2)
    assert limited.name.endswith("-train-3")


def test_mount_sources_are_absolute_even_for_a_relative_workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = Runner(graph.check(fit.spec), {}, Path("runs/fit/r"), capacity=Capacity(2, 2**33, 0))
    step = fit.spec.step("train")
    run = runner.container_run(step, *runner._values(step)[:2], attempt=1)
    assert [m.source for m in run.mounts] == [
        str(tmp_path / "runs/fit/r/prep/out"),
        str(tmp_path / "runs/fit/r/train/model"),
    ]


# ----- detection --------------------------------------------------------------------------------


def _answers(codes: dict[str, int]):
    """A probe where ``<name> info`` exits with codes[name] (stderr says why)."""

    def probe(argv, timeout):
        name = Path(argv[0]).name
        return codes[name], "" if codes[name] == 0 else f"{name}: cannot connect"

    return probe


def test_detect_prefers_a_working_docker_then_podman_then_processes():
    both = {"docker": "/bin/docker", "podman": "/bin/podman"}
    found = detect("auto", which=both.get, probe=_answers({"docker": 0, "podman": 0}))
    assert found.engine is not None and found.engine.name == "docker" and found.note is None
    found = detect("auto", which=both.get, probe=_answers({"docker": 1, "podman": 0}))
    assert found.engine is not None and found.engine.name == "podman" and found.note is None
    found = detect("auto", which={}.get, probe=_answers({}))
    assert found.engine is None and found.note is None  # no client at all: nothing to say
    found = detect("auto", which=both.get, probe=_answers({"docker": 1, "podman": 125}))
    assert found.engine is None
    assert found.note is not None and "\n" not in found.note
    assert "`docker info` failed" in found.note and "`podman info` failed" in found.note
    assert detect("process", which=both.get, probe=_answers({"docker": 0})).engine is None


def test_detect_explicit_engine_that_cannot_run_is_an_error():
    with pytest.raises(EngineUnavailable, match="not on PATH"):
        detect("podman", which={}.get, probe=_answers({}))
    with pytest.raises(EngineUnavailable, match="docker: cannot connect"):
        detect("docker", which={"docker": "/bin/docker"}.get, probe=_answers({"docker": 1}))


DOWN = """#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2
exit 1
"""

# A working "docker": answers `info`, and for `run` executes the command on this machine after
# translating container paths back to the mounted host folders (refusing writes to ro mounts is
# the real engine's job; here the run records it did not need one). Every call is logged.
WORKING = f"""#!{sys.executable}
import csv, json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[0] in ("info", "rm"):
    sys.exit(0)
assert args[:2] == ["run", "--rm"], args
i, env, mounts, entry = 2, dict(os.environ), [], []
valued = {{"--name", "--user", "--cpus", "--memory", "--gpus", "--device", "-e", "--mount",
          "--env-file"}}
while args[i].startswith("-"):
    flag = args[i]
    if flag == "-e":  # NAME=VALUE, or NAME: the value from this client's environment
        key, eq, value = args[i + 1].partition("=")
        env[key] = value if eq else os.environ[key]
    elif flag == "--env-file":  # docker's format: NAME=VALUE lines, no quoting, no escapes
        with open(args[i + 1], encoding="utf-8") as f:
            text = f.read()
        with open(os.environ["FAKE_ENGINE_LOG"] + ".envfiles", "a") as log:
            mode = oct(os.stat(args[i + 1]).st_mode & 0o777)
            log.write(json.dumps([args[i + 1], mode, text]) + "\\n")
        for line in text.split("\\n"):
            if line.strip() and not line.lstrip().startswith("#"):
                key, _, value = line.lstrip().partition("=")
                env[key] = value
    elif flag == "--mount":
        fields = dict(f.partition("=")[::2] for f in next(csv.reader([args[i + 1]])))
        if not os.path.exists(fields["source"]):  # docker binds only what exists
            sys.exit("docker: Error response from daemon: invalid mount config for type "
                     '"bind": bind source path does not exist: ' + fields["source"])
        mounts.append((fields["target"], fields["source"]))
    elif flag == "--entrypoint":
        entry = [args[i + 1]]
    if flag in valued or flag == "--entrypoint":
        i += 2
    else:
        i += 1
image, rest = args[i], args[i + 1 :]
def host(arg):
    for target, source in sorted(mounts, key=lambda m: -len(m[0])):
        if arg == target or arg.startswith(target + "/"):
            return source + arg[len(target):]
    return arg
argv = [host(a) for a in entry + rest]
if argv[0] == "python":
    argv[0] = sys.executable
sys.exit(subprocess.run(argv, env=env).returncode)
"""


def _fake_bin(tmp_path: Path, **scripts: str) -> dict[str, str]:
    """Engine scripts in a fresh folder; the env that puts ONLY it on PATH (no real engine)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, body in scripts.items():
        path = folder / name
        path.write_text(body, encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {"PATH": str(folder), "FAKE_ENGINE_LOG": str(tmp_path / "engine.log")}


def _calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "engine.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [json.loads(line) for line in lines]


def test_detect_with_fake_binaries_on_path(tmp_path, monkeypatch):
    env = _fake_bin(tmp_path, docker=DOWN)
    monkeypatch.setenv("PATH", env["PATH"])
    found = detect("auto")
    assert found.engine is None
    assert found.note is not None and "Cannot connect to the Docker daemon" in found.note
    (tmp_path / "bin" / "docker").write_text(WORKING, encoding="utf-8")
    monkeypatch.setenv("FAKE_ENGINE_LOG", env["FAKE_ENGINE_LOG"])
    found = detect("auto")
    assert found.engine is not None and found.engine.name == "docker"
    assert found.engine.binary == str(tmp_path / "bin" / "docker")
    assert _calls(tmp_path) == [["info"]]


# ----- the CLI ----------------------------------------------------------------------------------

PIPE = '''
import pathlib, sys

@dsl.container_component(
    image="r.example.com/produce:1",
    command=["python", "-c",
             "import os, sys, pathlib; pathlib.Path(sys.argv[2], 'n.txt')"
             ".write_text(os.environ['START'] + ':' + sys.argv[2])"],
)
def produce(out: Output[Dataset]):
    """Writes START and the path it was given."""

@dsl.container_component(
    image="r.example.com/consume:1",
    command=["python", "-c",
             "import sys, pathlib; t = pathlib.Path(sys.argv[2], 'n.txt').read_text(); "
             "pathlib.Path(sys.argv[4], 'm.txt').write_text(t + '|' + sys.argv[2])"],
)
def consume(data: Input[Dataset], out: Output[Dataset]):
    """Appends the path it read from."""

@dsl.component
def count(data: Input[Dataset], total: Output[Dataset]):
    """Python function component: never goes through the engine."""
    text = pathlib.Path(data.path, "m.txt").read_text()
    pathlib.Path(total.path, "len.txt").write_text(str(len(text)))

@dsl.pipeline(name="chain")
def chain():
    first = produce().set_name("produce").set_env(START="go")
    second = consume(data=first.output).set_name("consume").set_resources(
        Resources(cpu=1, memory="256MiB"))
    count(data=second.output).set_name("count")
'''


def _run(tmp_path: Path, env: dict[str, str], *extra: str):
    path = write_pipeline(tmp_path, PIPE)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        *extra,
        cwd=tmp_path,
        env=env,
    )
    run_dirs = list((tmp_path / "runs" / "chain").glob("*")) if (tmp_path / "runs").exists() else []
    return result, (run_dirs[0] if run_dirs else None)


def test_auto_runs_the_pipeline_through_a_working_engine(tmp_path):
    env = _fake_bin(tmp_path, docker=WORKING)
    result, run_dir = _run(tmp_path, env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "note:" not in result.stderr
    assert run_dir is not None
    # data flowed through the mounted run folders (the fake maps container paths back to them)
    made = (run_dir / "consume" / "out" / "m.txt").read_text()
    assert made == f"go:{run_dir}/produce/out|{run_dir}/produce/out"
    assert (run_dir / "count" / "total" / "len.txt").read_text() == str(len(made))
    assert json.loads((run_dir / "run.json").read_text())["engine"] == "docker"
    calls = _calls(tmp_path)
    assert calls[0] == ["info"]
    runs = {c[c.index("--name") + 1]: c for c in calls[1:]}
    assert set(runs) == {
        f"pipecast-chain-{run_dir.name}-produce-1",
        f"pipecast-chain-{run_dir.name}-consume-1",
    }  # the Python function component ran in-process, not in the engine
    consume_argv = runs[f"pipecast-chain-{run_dir.name}-consume-1"]
    mounts = [consume_argv[i + 1] for i, a in enumerate(consume_argv) if a == "--mount"]
    assert mounts == [
        f"type=bind,source={run_dir}/produce/out,target=/opt/ml/processing/input/data,readonly",
        f"type=bind,source={run_dir}/consume/out,target=/opt/ml/processing/output/out",
    ]
    assert consume_argv[-4:] == [
        "--data",
        "/opt/ml/processing/input/data",
        "--out",
        "/opt/ml/processing/output/out",
    ]
    assert consume_argv[consume_argv.index("--memory") + 1] == "256m"
    assert consume_argv[consume_argv.index("--cpus") + 1] == "1"
    produce_argv = runs[f"pipecast-chain-{run_dir.name}-produce-1"]
    assert "-e" not in produce_argv and not any("START=go" in a for a in produce_argv)
    env_file = produce_argv[produce_argv.index("--env-file") + 1]
    assert env_file == f"{run_dir}/produce/_logs/container.env"
    assert "--env-file" not in consume_argv  # no env, no file
    assert "--cpus" not in produce_argv and "--gpus" not in produce_argv
    assert produce_argv[produce_argv.index("--entrypoint") + 1 :][:2] == [
        "python",
        "r.example.com/produce:1",
    ]
    if sys.platform.startswith("linux"):
        assert produce_argv[produce_argv.index("--user") + 1] == f"{os.getuid()}:{os.getgid()}"


SECRETS = PIPE.replace(
    'first = produce().set_name("produce").set_env(START="go")',
    'first = produce().set_name("produce").set_env(START="go", API_TOKEN="tok-9f3a",\n'
    '        PEM="-----BEGIN KEY-----\\nabc\\n-----END KEY-----", NOTE=\'"quoted"\')',
).replace(
    "write_text(os.environ['START'] + ':' + sys.argv[2])",
    "write_text(os.environ['START'] + ':' + sys.argv[2]); "
    "pathlib.Path(sys.argv[2], 'env.json').write_text(__import__('json').dumps("
    "[os.environ[k] for k in ('API_TOKEN', 'PEM', 'NOTE')]))",
)


def test_env_values_reach_the_container_but_never_the_engine_argv(tmp_path):
    env = _fake_bin(tmp_path, docker=WORKING)
    path = write_pipeline(tmp_path, SECRETS)
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(tmp_path / "runs"), cwd=tmp_path, env=env
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    (run_dir,) = (tmp_path / "runs" / "chain").glob("*")
    seen = json.loads((run_dir / "produce" / "out" / "env.json").read_text())
    assert seen == ["tok-9f3a", "-----BEGIN KEY-----\nabc\n-----END KEY-----", '"quoted"']
    values = ["tok-9f3a", "BEGIN KEY", "quoted"]
    for call in _calls(tmp_path):
        assert not [a for a in call for v in values if v in a], call
    (written,) = [
        json.loads(line)
        for line in Path(env["FAKE_ENGINE_LOG"] + ".envfiles").read_text().splitlines()
    ]
    assert written[0] == f"{run_dir}/produce/_logs/container.env"
    assert written[1] == "0o600"
    assert written[2] == "API_TOKEN=tok-9f3a\nSTART=go\n"  # env is sorted by name in the IR
    assert not Path(written[0]).exists()  # removed after the attempt
    assert not list(run_dir.rglob("*.env"))


def test_auto_falls_back_to_processes_with_one_note_when_the_daemon_is_down(tmp_path):
    env = _fake_bin(tmp_path, docker=DOWN)
    result, run_dir = _run(tmp_path, env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "`docker info` failed" in notes[0], result.stderr
    assert run_dir is not None
    made = (run_dir / "consume" / "out" / "m.txt").read_text()
    assert made == f"go:{run_dir}/produce/out|{run_dir}/produce/out"  # host paths: processes
    assert json.loads((run_dir / "run.json").read_text())["engine"] == "process"


def test_no_engine_client_means_processes_and_no_note(tmp_path):
    env = _fake_bin(tmp_path)
    result, run_dir = _run(tmp_path, env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "note:" not in result.stderr
    assert run_dir is not None
    assert json.loads((run_dir / "run.json").read_text())["engine"] == "process"


@pytest.mark.parametrize(
    ("engine", "scripts", "fragment"),
    [
        ("docker", {"docker": DOWN}, "--engine docker: docker is installed but cannot run"),
        ("podman", {"docker": WORKING}, "--engine podman: 'podman' is not on PATH"),
    ],
)
def test_explicit_engine_unavailable_exits_1_without_a_traceback(
    tmp_path, engine, scripts, fragment
):
    env = _fake_bin(tmp_path, **scripts)
    result, run_dir = _run(tmp_path, env, "--engine", engine)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert fragment in result.stderr and "--engine process" in result.stderr
    assert "Traceback" not in result.stderr
    assert run_dir is None  # nothing ran
    assert all(c == ["info"] for c in _calls(tmp_path))


def test_engine_env_var_selects_processes_without_probing(tmp_path):
    env = {**_fake_bin(tmp_path, docker=WORKING), "PIPECAST_ENGINE": "process"}
    result, run_dir = _run(tmp_path, env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert _calls(tmp_path) == []
    assert run_dir is not None
    assert json.loads((run_dir / "run.json").read_text())["engine"] == "process"


def test_a_timed_out_container_is_removed_by_name(tmp_path):
    env = _fake_bin(tmp_path, docker=WORKING)
    path = write_pipeline(
        tmp_path,
        '''
@dsl.container_component(image="r.example.com/slow:1",
                         command=["python", "-c", "import time; time.sleep(60)"])
def slow(out: Output[Dataset]):
    """Never finishes in time."""

@dsl.pipeline(name="slow")
def p():
    slow().set_name("slow").set_timeout(1)
''',
    )
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(tmp_path / "runs"), cwd=tmp_path, env=env
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    (run_dir,) = (tmp_path / "runs" / "slow").glob("*")
    name = f"pipecast-slow-{run_dir.name}-slow-1"
    calls = _calls(tmp_path)
    assert calls[-1] == ["rm", "-f", name]
    assert ["--name", name] == calls[1][2:4]
    summary = json.loads((run_dir / "run.json").read_text())
    assert summary["steps"]["slow"]["exit_code"] == 124


def test_a_relative_workdir_works_for_processes_too(tmp_path):
    path = write_pipeline(tmp_path, PIPE)
    result = run_cli(
        "run", str(path), "--local", "--workdir", "runs", "--engine", "process", cwd=tmp_path
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    (run_dir,) = (tmp_path / "runs" / "chain").glob("*")
    assert (run_dir / "consume" / "out" / "m.txt").read_text() == (
        f"go:{run_dir}/produce/out|{run_dir}/produce/out"
    )


# ----- output parameters through an engine (#17) --------------------------------------------------

FLOW = '''
import json

COUNT = (
    "import sys, json; a = dict(zip(sys.argv[1::2], sys.argv[2::2])); "
    "open(a['--count'], 'w').write(json.dumps(len(a['--camera'])))"
)
SHOW = (
    "import sys, pathlib; a = dict(zip(sys.argv[1::2], sys.argv[2::2])); "
    "pathlib.Path(a['--out'], 'seen.txt').write_text(a['--n'])"
)

@dsl.container_component(image="r.example.com/count:1", command=["python", "-c", COUNT])
def count(camera: str, count: Output[int]):
    """Writes its output parameter inside the container."""

@dsl.container_component(image="r.example.com/show:1", command=["python", "-c", SHOW])
def show(n: int, out: Output[Dataset]):
    """Reads an output parameter as a value."""

@dsl.pipeline(name="values")
def values(cams: list = ["gate", "lobby"]):
    with dsl.ParallelFor(cams) as cam:
        counted = count(camera=cam)
        with dsl.If(counted.outputs["count"] > 4):
            show(n=counted.outputs["count"])
'''


def test_output_parameters_and_resume_through_an_engine(tmp_path):
    env = _fake_bin(tmp_path, docker=WORKING)
    path = write_pipeline(tmp_path, FLOW, name="values.py")
    args = ["run", str(path), "--local", "--workdir", str(tmp_path / "runs")]
    result = run_cli(*args, cwd=tmp_path, env=env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    (run_dir,) = (tmp_path / "runs" / "values").glob("*")
    # the value was written inside the "container", through the bind-mounted file
    assert json.loads((run_dir / "count" / "0" / "count").read_text()) == 4
    assert json.loads((run_dir / "count" / "1" / "count").read_text()) == 5
    assert not (run_dir / "show" / "0" / "out").exists()  # 4 > 4 does not hold: skipped
    assert (run_dir / "show" / "1" / "out" / "seen.txt").read_text() == "5"
    runs = [c for c in _calls(tmp_path) if c[0] == "run"]
    counted = [c for c in runs if "r.example.com/count:1" in c]
    assert len(counted) == 2
    for call in counted:
        mount = next(call[i + 1] for i, a in enumerate(call) if a == "--mount")
        assert mount.endswith(",target=/opt/ml/processing/output/count")
        assert call[-2:] == ["--count", "/opt/ml/processing/output/count"]
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["steps"]["show/0"]["status"] == "skipped"
    # resume: every instance is reused, so the engine runs nothing
    log = tmp_path / "engine.log"
    log.write_text("")
    again = run_cli(*args, "--resume", run_dir.name, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert [c for c in _calls(tmp_path) if c[0] == "run"] == []
    journal = json.loads((run_dir / "run.json").read_text())
    assert {k: v["status"] for k, v in journal["steps"].items()} == {
        "count/0": "cached",
        "count/1": "cached",
        "show/0": "skipped",
        "show/1": "cached",
    }


def test_an_output_parameter_not_written_in_the_engine_fails_the_step(tmp_path):
    env = _fake_bin(tmp_path, docker=WORKING)
    body = FLOW.replace("open(a['--count'], 'w').write(json.dumps(len(a['--camera'])))", "None")
    path = write_pipeline(tmp_path, body, name="values.py")
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(tmp_path / "runs"), cwd=tmp_path, env=env
    )
    assert result.returncode == 1
    (run_dir,) = (tmp_path / "runs" / "values").glob("*")
    journal = json.loads((run_dir / "run.json").read_text())
    assert "did not write its output parameter 'count'" in journal["steps"]["count/0"]["error"]


# ----- runs through a fake engine, in-process (the runner in this process, the engine a script) --


def _in_process_engine(tmp_path: Path, monkeypatch, script: str = WORKING) -> Engine:
    env = _fake_bin(tmp_path, docker=script)
    monkeypatch.setenv("FAKE_ENGINE_LOG", env["FAKE_ENGINE_LOG"])
    return Engine("docker", str(tmp_path / "bin" / "docker"))


def _run_engine(pipeline, tmp_path: Path, engine: Engine, **params):
    return run_pipeline(
        graph.check(pipeline.spec),
        params,
        tmp_path / "runs",
        run_id="r1",
        engine=engine,
        capacity=Capacity(cpu=4, memory=16 * 1024**3, gpu=0),
        backoff_scale=0.0,
    )


def test_an_engine_run_gets_env_through_a_private_file_and_output_parameters_through_mounts(
    tmp_path, monkeypatch
):
    engine = _in_process_engine(tmp_path, monkeypatch)
    count_script = (
        "import sys, json; a = dict(zip(sys.argv[1::2], sys.argv[2::2])); "
        "open(a['--n'], 'w').write(json.dumps(len(a['--cam'])))"
    )
    make_script = (
        "import os, sys, pathlib; a = dict(zip(sys.argv[1::2], sys.argv[2::2])); "
        "pathlib.Path(a['--out'], 'token.txt').write_text(os.environ['TOKEN'])"
    )

    @dsl.container_component(image="r.example.com/count:1", command=["python", "-c", count_script])
    def count(cam: str, n: Output[int]):
        """Writes an output parameter inside the container."""

    @dsl.container_component(image="r.example.com/make:1", command=["python", "-c", make_script])
    def make(out: Output[Dataset]):
        """Reads a value from its environment."""

    @dsl.pipeline(name="eng")
    def eng(cams: list):
        make().set_name("make").set_env(TOKEN="tok-1")
        with dsl.ParallelFor(cams) as cam:
            count(cam=cam).set_name("count")

    result = _run_engine(eng, tmp_path, engine, cams=["a", "bb"])
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    run_dir = result.run_dir
    # the parameter files exist before the container starts (an engine binds only what is there)
    assert [json.loads((run_dir / "count" / i / "n").read_text()) for i in "01"] == [1, 2]
    assert (run_dir / "make" / "out" / "token.txt").read_text() == "tok-1"
    (written,) = [
        json.loads(line)
        for line in Path(os.environ["FAKE_ENGINE_LOG"] + ".envfiles").read_text().splitlines()
    ]
    assert written == [str(run_dir / "make" / "_logs" / "container.env"), "0o600", "TOKEN=tok-1\n"]
    assert not (run_dir / "make" / "_logs" / "container.env").exists()


def test_each_worker_of_a_scaled_out_step_is_its_own_container(tmp_path, monkeypatch):
    engine = _in_process_engine(tmp_path, monkeypatch)
    split_script = (
        "import sys, pathlib; out = pathlib.Path(sys.argv[2]); "
        "[(out / f'{i}.txt').write_text(str(i)) for i in range(4)]"
    )
    copy_script = (
        "import sys, shutil; a = dict(zip(sys.argv[1::2], sys.argv[2::2])); "
        "shutil.copytree(a['--items'], a['--out'], dirs_exist_ok=True)"
    )

    @dsl.container_component(image="r.example.com/split:1", command=["python", "-c", split_script])
    def split(out: Output[Dataset]):
        """Four items."""

    @dsl.container_component(
        image="r.example.com/copy:1",
        command=["python", "-c", copy_script],
        instances=2,
        shard=["items"],
    )
    def copy(items: Input[Dataset], out: Output[Dataset]):
        """Copies its shard."""

    @dsl.pipeline(name="scaled-eng")
    def scaled():
        copy(items=split().set_name("split").output).set_name("copy")

    result = _run_engine(scaled, tmp_path, engine)
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    merged = sorted(p.name for p in (result.run_dir / "copy" / "out").iterdir())
    assert merged == ["0.txt", "1.txt", "2.txt", "3.txt"]
    names = sorted(c[3] for c in _calls(tmp_path) if c[0] == "run")
    assert names == [
        "pipecast-scaled-eng-r1-copy.w0-1",
        "pipecast-scaled-eng-r1-copy.w1-1",
        "pipecast-scaled-eng-r1-split-1",
    ]


# `docker rm` prints the name of what it removed: that must not reach pipecast's own output
ECHOING = WORKING.replace(
    'if args[0] in ("info", "rm"):\n    sys.exit(0)',
    'if args[0] == "rm":\n    print(args[-1], flush=True)\n    sys.exit(0)\n'
    'if args[0] == "info":\n    sys.exit(0)',
)


def _slow_pipeline(script: str):
    @dsl.container_component(image="r.example.com/slow:1", command=["python", "-c", script])
    def slow(out: Output[Dataset]):
        """Never finishes in time."""

    @dsl.pipeline(name="slow")
    def p():
        slow().set_name("slow").set_timeout(1)

    return p


def test_a_timed_out_container_is_removed_quietly(tmp_path, monkeypatch, capfd):
    assert ECHOING != WORKING
    engine = _in_process_engine(tmp_path, monkeypatch, ECHOING)
    result = _run_engine(_slow_pipeline("import time; time.sleep(30)"), tmp_path, engine)
    assert result["slow"].exit_code == 124
    name = "pipecast-slow-r1-slow-1"
    assert _calls(tmp_path)[-1] == ["rm", "-f", name]
    assert name not in capfd.readouterr().out


def test_a_container_that_cannot_be_removed_still_counts_as_timed_out(tmp_path, monkeypatch):
    engine = _in_process_engine(tmp_path, monkeypatch)
    # the step removes the engine's client: `docker rm` then cannot even start
    script = f"import os, time; os.remove({engine.binary!r}); time.sleep(30)"
    result = _run_engine(_slow_pipeline(script), tmp_path, engine)
    step = result["slow"]
    assert (step.status, step.exit_code) == ("failed", 124)
    assert "timed out after 1s" in (Path(step.log_dir) / "stderr.txt").read_text()


def _container_run_of(pipeline, step_id: str, tmp_path: Path, worker=None, **params):
    runner = Runner(
        graph.check(pipeline.spec), params, tmp_path / "r", capacity=Capacity(2, 2**33, 0)
    )
    step = pipeline.spec.step(step_id)
    text, uris, _ = runner._values(step)
    return runner.container_run(step, text, uris, attempt=1, worker=worker)


def test_an_imported_input_is_mounted_but_its_uri_stays_the_one_given(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("a")

    @dsl.pipeline(name="imp")
    def imp(uri: str):
        train(data=dsl.importer(uri=uri).output).set_name("train")

    run = _container_run_of(imp, "train", tmp_path, uri=f"file://{tmp_path / 'raw'}")
    assert run.args[:4] == (
        "--data",
        "/opt/ml/processing/input/data",
        "--uri",
        f"file://{tmp_path / 'raw'}",
    )
    assert run.mounts[0].target == "/opt/ml/processing/input/data"
    assert run.mounts[0].read_only


def test_a_worker_container_is_named_after_its_worker(tmp_path):
    run = _container_run_of(fit, "train", tmp_path, worker=3)
    assert run.name == "pipecast-fit-r-train.w3-1"


def test_cpus_are_capped_at_one_when_the_machine_cannot_say_how_many_it_has(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    step = fit.spec.step("train")
    big = dataclasses.replace(step, resources=Resources(cpu=4, memory="512MiB"))
    runner = Runner(graph.check(fit.spec), {}, tmp_path / "r", capacity=Capacity(8, 2**33, 0))
    run = runner.container_run(big, *runner._values(big)[:2], attempt=1)
    assert run.cpus == 1


def test_the_host_user_is_passed_only_on_linux(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")  # Docker Desktop maps file owners itself
    assert _container_run_of(fit, "train", tmp_path).user is None


@pytest.mark.parametrize(
    ("value", "in_file"),
    [("XX", True), ("a'b", True), ("'single'", False), ('"double"', False), ("x\0y", False)],
)
def test_which_values_the_env_file_carries(value, in_file):
    env = (("V", value),)
    assert (env_file_lines(env) == f"V={value}\n") is in_file
    assert client_env(env) == ({} if in_file else {"V": value})


def test_env_without_a_file_names_the_rule():
    with pytest.raises(ValueError) as caught:
        engine_argv("docker", "docker", dataclasses.replace(RUN, env_file=None))
    assert str(caught.value) == (
        "ContainerRun.env needs env_file: values never go on the command line"
    )
