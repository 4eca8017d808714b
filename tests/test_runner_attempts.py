"""Attempts, timeouts, resources and what the CLI says: each attempt starts from empty output
folders (failed ones kept under ``_attempts/<n>/``), downstream sees only the successful one,
progress shows ``attempt 2/3 after 1 s``, Python components honour their timeout, impossible
resources are refused before scheduling, the capacity warning comes before any step starts, and
a failed run prints the command that resumes it.
"""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

import pytest
from helpers import marked_line, run_cli, write_pipeline

from pipecast import dsl
from pipecast.dsl import Dataset, Output, Resources
from pipecast.errors import DefinitionError, RunError
from pipecast.testing import run_offline

pytestmark = pytest.mark.timeout(120)

FLAKY = '''
import os, pathlib

# attempt n (counted in a file outside the run) writes attempt<n>.txt and shared.txt; fails
# until the third attempt
FLAKY = (
    "import os, sys, pathlib\\n"
    "c = pathlib.Path(os.environ['COUNTER'])\\n"
    "n = int(c.read_text()) + 1 if c.exists() else 1\\n"
    "c.write_text(str(n))\\n"
    "out = pathlib.Path(sys.argv[2])\\n"
    "(out / f'attempt{n}.txt').write_text(str(n))\\n"
    "(out / 'shared.txt').write_text(str(n))\\n"
    "print(f'stdout of attempt {n}')\\n"
    "if n < 3: sys.exit(f'fail {n}')\\n"
)
LIST = (
    "import sys, os, pathlib; "
    "pathlib.Path(sys.argv[4], 'seen.txt').write_text(','.join(sorted(os.listdir(sys.argv[2]))))"
)

@dsl.container_component(image="r.example.com/f:1", command=["python", "-c", FLAKY])
def flaky(out: Output[Dataset]):
    """Fails twice."""

@dsl.container_component(image="r.example.com/l:1", command=["python", "-c", LIST])
def listing(data: Input[Dataset], out: Output[Dataset]):
    """Lists what it was given."""

@dsl.pipeline(name="tries")
def tries():
    f = flaky().set_name("flaky").set_retry(Retry(3, backoff=1))
    listing(data=f.output).set_name("listing")
'''


def test_each_attempt_starts_empty_and_downstream_sees_only_the_last(tmp_path):
    path = write_pipeline(tmp_path, FLAKY)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        cwd=tmp_path,
        env={"PIPECAST_ENGINE": "process", "COUNTER": str(tmp_path / "counter")},
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "runs" / "tries").iterdir()
    step = run_dir / "flaky"
    assert (run_dir / "listing" / "out" / "seen.txt").read_text() == "attempt3.txt,shared.txt"
    assert sorted(p.name for p in (step / "out").iterdir()) == ["attempt3.txt", "shared.txt"]
    for n in (1, 2):
        kept = step / "_attempts" / str(n)
        assert sorted(p.name for p in (kept / "out").iterdir()) == [f"attempt{n}.txt", "shared.txt"]
        assert f"fail {n}" in (kept / "_logs" / "stderr.txt").read_text()
        assert f"stdout of attempt {n}" in (kept / "_logs" / "stdout.txt").read_text()
    assert "stdout of attempt 3" in (step / "_logs" / "stdout.txt").read_text()
    assert "fail" not in (step / "_logs" / "stderr.txt").read_text()
    err = result.stderr
    assert "flaky: attempt 2/3 after 1 s" in err and "flaky: attempt 3/3 after 2 s" in err
    assert "attempt 1 failed: exit code 1" in err
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["steps"]["flaky"]["attempts"] == 3


def test_a_retried_fake_starts_from_empty_output_folders(tmp_path):
    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def once(out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="once")
    def p():
        once().set_name("once").set_retry(dsl.Retry(2, backoff=1))

    seen: list[list[str]] = []

    def fake(out):
        seen.append(sorted(q.name for q in Path(out.path).iterdir()))
        Path(out.path, f"{len(seen)}.txt").write_text("x")
        if len(seen) == 1:
            raise RuntimeError("first attempt fails")

    result = run_offline(p, tmp_path, fakes={"once": fake})
    assert result.succeeded and seen == [[], []]
    assert (result.run_dir / "once" / "_attempts" / "1" / "out" / "1.txt").exists()
    assert (
        "first attempt fails"
        in (result.run_dir / "once" / "_attempts" / "1" / "_logs" / "stderr.txt").read_text()
    )


SLOW_PY = '''
import time

@dsl.component
def slow(out: Output[Dataset]):
    """Sleeps far past its timeout."""
    time.sleep(60)

@dsl.pipeline(name="slow")
def slowly():
    slow().set_name("slow").set_timeout(1)
'''


@pytest.mark.parametrize("isolation", ["inprocess", "subprocess"])
def test_python_components_are_stopped_at_their_timeout(tmp_path, isolation):
    path = write_pipeline(tmp_path, SLOW_PY)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        "--isolation",
        isolation,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    (run_dir,) = (tmp_path / "runs" / "slow").iterdir()
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["steps"]["slow"]["status"] == "failed"
    assert journal["steps"]["slow"]["exit_code"] == 124
    assert "timed out after 1s" in (run_dir / "slow" / "_logs" / "stderr.txt").read_text()


def test_a_fake_with_a_timeout_fails_the_step_with_124(tmp_path):
    import threading

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def hang(out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="hang")
    def p():
        hang().set_name("hang").set_timeout(1)

    release = threading.Event()
    result = run_offline(p, tmp_path, fakes={"hang": lambda out: release.wait(30)})
    release.set()
    assert result["hang"].status == "failed" and result["hang"].exit_code == 124


# ----- resources ------------------------------------------------------------------------------


def test_nan_cpu_is_refused_where_it_is_written():
    with pytest.raises(DefinitionError, match=r"Resources\.cpu"):
        Resources(cpu=math.nan)
    with pytest.raises(DefinitionError, match=r"Resources\.cpu"):
        Resources(cpu=math.inf)


@pytest.mark.parametrize(
    ("field", "value"), [("cpu", math.nan), ("cpu", 0), ("memory", 0), ("cpu", -1), ("gpu", -1)]
)
def test_impossible_step_resources_are_refused_before_scheduling(tmp_path, field, value):
    """A spec that bypassed the DSL's checks (e.g. a hand-edited IR) must not hang the run."""
    r = Resources(cpu=1, memory="1GiB")
    object.__setattr__(r, field, value)

    @dsl.container_component(image="r.example.com/x:1", command=["true"], resources=r)
    def job(out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="res")
    def p():
        job().set_name("job")  # the step

    calls = []
    with pytest.raises(RunError) as caught:
        run_offline(p, tmp_path, fakes={"job": lambda out: calls.append(1)})
    d = caught.value.diagnostic
    bound = ">= 0" if field == "gpu" else "> 0"
    assert (d.code, d.message, d.hint, d.step) == (
        "PC204",
        f"step 'job' asks for Resources.{field}={value!r}; it must be a finite number {bound}",
        "e.g. Resources(cpu=2, memory='4GiB')",
        "job",
    )
    assert d.location is not None and d.location.line == marked_line(p.__wrapped__, "the step")
    assert calls == []


ONE = '''
@dsl.container_component(image="r.example.com/a:1", command=["true"],
                         resources=Resources(cpu=4, memory="1GiB"))
def big(out: Output[Dataset]):
    """Wants four cores."""

@dsl.container_component(image="r.example.com/a:1", command=["true"])
def small(out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="cap")
def cap():
    small().set_name("small")
    big().set_name("big")
'''


@pytest.mark.parametrize(
    "flags",
    [["--cpus", "nan"], ["--cpus", "0"], ["--cpus", "-2"], ["--gpus", "-1"], ["--cpus", "inf"]],
)
def test_impossible_capacity_is_refused_with_a_diagnostic(tmp_path, flags):
    path = write_pipeline(tmp_path, ONE)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        *flags,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert "error[PC204]" in result.stderr and flags[0] in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before any folder is made


def test_the_capacity_warning_comes_before_any_step_starts(tmp_path):
    path = write_pipeline(tmp_path, ONE)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        "--cpus",
        "2",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    err = result.stderr
    warning = err.index("warning: step 'big' asks for more than this machine has")
    assert warning < err.index("small: started") and warning < err.index("big: started")
    assert err.count("asks for more than this machine has") == 1


FAILS = '''
@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys, pathlib; pathlib.Path(sys.argv[2], 'ok').write_text('1')"])
def good(out: Output[Dataset]):
    """x"""

@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import os, sys; "
    "sys.exit('broken on purpose') if os.path.exists(os.environ['BREAK']) else None"])
def fragile(data: Input[Dataset], out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="fails")
def fails():
    fragile(data=good().set_name("good").output).set_name("fragile")
'''


def test_a_failed_run_prints_the_command_that_resumes_it(tmp_path):
    path = write_pipeline(tmp_path, FAILS)
    flag = tmp_path / "break"
    flag.write_text("")
    env = {"PIPECAST_ENGINE": "process", "BREAK": str(flag)}
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(tmp_path / "runs"), cwd=tmp_path, env=env
    )
    assert result.returncode == 1
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("resume with: ")]
    argv = shlex.split(line.removeprefix("resume with: "))
    assert argv[:2] == ["pipecast", "run"] and "--resume" in argv
    flag.unlink()
    again = run_cli(*argv[1:], cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    (run_dir,) = (tmp_path / "runs" / "fails").iterdir()
    statuses = {
        k: v["status"] for k, v in json.loads((run_dir / "run.json").read_text())["steps"].items()
    }
    assert statuses == {"good": "cached", "fragile": "succeeded"}
    assert "resume with" not in again.stderr


def test_a_command_that_cannot_start_fails_with_127_and_says_why(tmp_path):
    """Like a shell: 127 is "command not found", and stderr names the command."""

    @dsl.container_component(image="r.example.com/x:1", command=["/no/such/tool", "--run"])
    def missing(out: Output[Dataset]):
        """Runs a tool that is not installed."""

    @dsl.pipeline(name="missing-tool")
    def p():
        missing().set_name("tool")

    result = run_offline(p, tmp_path, isolation="process")
    step = result["tool"]
    assert (step.status, step.exit_code) == ("failed", 127)
    stderr = (Path(step.log_dir) / "stderr.txt").read_text()
    assert stderr.startswith("cannot start '/no/such/tool': No such file or directory")


def test_every_impossible_capacity_figure_is_named_in_one_pc204(tmp_path):
    from pipecast.runner import Capacity

    @dsl.container_component(image="r.example.com/x:1", command=["true"])
    def job(out: Output[Dataset]):
        """x"""

    @dsl.pipeline(name="cap")
    def p():
        job().set_name("job")

    with pytest.raises(RunError) as caught:
        run_offline(p, tmp_path, capacity=Capacity(0, math.nan, -1))
    d = caught.value.diagnostic
    assert (d.code, d.message, d.hint) == (
        "PC204",
        "--cpus is 0; it must be a finite number > 0; --memory is nan; it must be a finite "
        "number > 0; --gpus is -1; it must be a finite number >= 0",
        "e.g. --cpus 4 --memory 16GiB --gpus 0",
    )


def test_a_step_whose_values_cannot_be_made_fails_with_the_reason_in_its_stderr(tmp_path):
    @dsl.container_component(image="r.example.com/x:1", command=["count"])
    def count(n: Output[int]):
        """x"""

    @dsl.container_component(image="r.example.com/x:1", command=["use"])
    def use(n: int):
        """x"""

    @dsl.pipeline(name="no-branch")
    def p(x: int = 0):
        with dsl.If(x > 0):
            counted = count().set_name("count")
        use(n=dsl.OneOf(counted.outputs["n"])).set_name("use")

    step = run_offline(p, tmp_path, fakes={"count": lambda: 3, "use": lambda n: None})["use"]
    assert step.status == "failed" and step.error is not None
    assert step.error.startswith("input 'n': dsl.OneOf('count') has no value: none of those ")
    assert (Path(step.log_dir) / "stderr.txt").read_text(encoding="utf-8") == f"{step.error}\n"
