"""What ``pipecast run --local`` prints, run in-process: progress lines, retries, warnings, the
summary table, the run folder and final outputs, the resume command, exit codes.

The same behaviours are exercised through a real subprocess in test_runner*.py; in-process, the
progress and summary code runs where a mutation run can attribute a failure to it, and the lines
are compared whole rather than by fragment.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from helpers import write_pipeline

from pipecast.cli import main

pytestmark = pytest.mark.timeout(120)

CHAIN = '''
@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys, pathlib; pathlib.Path(sys.argv[2], 'f').write_text('ok')"])
def make(out: Output[Dataset]):
    """x"""

@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys, pathlib; pathlib.Path(sys.argv[4], 'index.html').write_text('<p>')"])
def report(data: Input[Dataset], page: Output[Dataset]):
    """x"""

@dsl.container_component(image="r.example.com/a:1", command=["python", "-c",
    "import sys, pathlib; pathlib.Path(sys.argv[4], 'n.txt').write_text('1')"])
def count(data: Input[Dataset], out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="chain")
def chain():
    m = make().set_name("make")
    report(data=m.output).set_name("report")
    count(data=m.output).set_name("count")
'''

FLAKY = '''
import os
FLAKY = (
    "import os, sys, pathlib\\n"
    "c = pathlib.Path(os.environ['COUNTER'])\\n"
    "n = int(c.read_text()) + 1 if c.exists() else 1\\n"
    "c.write_text(str(n))\\n"
    "if n < int(os.environ['SUCCEED_AT']): sys.exit(f'fail {n}\\\\nsecond line')\\n"
)

@dsl.container_component(image="r.example.com/f:1", command=["python", "-c", FLAKY])
def flaky(out: Output[Dataset]):
    """x"""

@dsl.container_component(image="r.example.com/a:1", command=["true"])
def after(data: Input[Dataset], out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="tries")
def tries():
    after(data=flaky().set_name("flaky").set_retry(Retry(2, backoff=1)).output).set_name("after")
'''


def run(capsys, monkeypatch, tmp_path: Path, path: Path, *args: str, **env: str):
    """``pipecast run PATH --local ...`` in this process; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("PIPECAST_ENGINE", "process")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--local", "--workdir", str(tmp_path / "runs"), *args])
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def summary_rows(err: str) -> dict[str, tuple[str, str]]:
    """The summary table: step -> (status, attempts=N)."""
    rows = {}
    for line in err.splitlines():
        m = re.fullmatch(r"(\S+) +(\S+) +(attempts=\d+) (\d+\.\d+s|-)", line)
        if m:
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def test_a_run_prints_each_step_the_summary_and_where_the_final_outputs_are(
    capsys, monkeypatch, tmp_path
):
    path = write_pipeline(tmp_path, CHAIN)
    code, out, err = run(capsys, monkeypatch, tmp_path, path)
    assert code == 0, err
    first, *outputs = out.splitlines()
    m = re.fullmatch(r"run (\S+) succeeded: (.+)", first)
    assert m, out
    run_dir = Path(m.group(2))
    assert run_dir == tmp_path / "runs" / "chain" / m.group(1)
    # the final steps' outputs, sorted by step order then name; a page is shown as its index.html
    assert outputs == [
        f"  report.page: {run_dir / 'report' / 'page' / 'index.html'}",
        f"  count.out: {run_dir / 'count' / 'out'}",
    ] or outputs == [
        f"  count.out: {run_dir / 'count' / 'out'}",
        f"  report.page: {run_dir / 'report' / 'page' / 'index.html'}",
    ]
    for step in ("make", "report", "count"):
        assert f"{step}: started" in err.splitlines() and f"{step}: succeeded" in err.splitlines()
        assert err.index(f"{step}: started") < err.index(f"{step}: succeeded")
    assert err.index("make: succeeded") < err.index("report: started")
    assert summary_rows(err) == {
        "make": ("succeeded", "attempts=1"),
        "report": ("succeeded", "attempts=1"),
        "count": ("succeeded", "attempts=1"),
    }
    assert "earlier attempts" not in err and "resume with" not in err
    # a resumed run reuses every step and says so
    code, out, err = run(capsys, monkeypatch, tmp_path, path, "--resume", m.group(1))
    assert code == 0, err
    assert out.splitlines()[0] == first
    assert summary_rows(err) == {s: ("cached", "attempts=1") for s in ("make", "report", "count")}
    assert "make: cached" in err.splitlines()


def test_a_retry_shows_the_next_attempt_and_why_the_last_one_failed(capsys, monkeypatch, tmp_path):
    path = write_pipeline(tmp_path, FLAKY)
    code, out, err = run(
        capsys, monkeypatch, tmp_path, path, COUNTER=str(tmp_path / "c"), SUCCEED_AT="2"
    )
    assert code == 0, err
    lines = err.splitlines()
    assert "flaky: attempt 2/2 after 1 s" in lines
    assert "  attempt 1 failed: exit code 1; stderr ends with:" in lines
    assert summary_rows(err) == {
        "flaky": ("succeeded", "attempts=2"),
        "after": ("succeeded", "attempts=1"),
    }
    run_dir = Path(out.splitlines()[0].split(": ", 1)[1])
    assert f"  earlier attempts: {run_dir / 'flaky' / '_attempts'}" in lines
    assert lines.count(f"  earlier attempts: {run_dir / 'flaky' / '_attempts'}") == 1


def test_a_failed_run_shows_the_error_skips_downstream_and_prints_the_resume_command(
    capsys, monkeypatch, tmp_path
):
    path = write_pipeline(tmp_path, FLAKY)
    env = {"COUNTER": str(tmp_path / "c"), "SUCCEED_AT": "9"}
    code, out, err = run(capsys, monkeypatch, tmp_path, path, **env)
    assert code == 1
    m = re.fullmatch(r"run (\S+) FAILED: (.+)\n", out)
    assert m, out
    lines = err.splitlines()
    assert summary_rows(err) == {
        "flaky": ("failed", "attempts=2"),
        "after": ("skipped", "attempts=0"),
    }
    assert "after: skipped" in lines
    # under the failed step: where its earlier attempts are, then its error, every line indented;
    # the skipped step's reason is not repeated
    at = lines.index(next(x for x in lines if x.startswith("flaky ")))
    assert lines[at + 1 : at + 6] == [
        f"  earlier attempts: {Path(m.group(2)) / 'flaky' / '_attempts'}",
        "  exit code 1; stderr ends with:",
        "  fail 2",
        "  second line",
        next(x for x in lines if x.startswith("after ")),
    ]
    assert "an upstream step failed" not in err
    (resume,) = [x for x in lines if x.startswith("resume with: ")]
    assert shlex.split(resume.removeprefix("resume with: ")) == [
        "pipecast",
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "runs"),
        "--engine",
        "process",
        "--resume",
        m.group(1),
    ]
    # the resume command works: the recorded parameters and the same folder
    env["SUCCEED_AT"] = "0"
    code, out, err = run(capsys, monkeypatch, tmp_path, path, "--resume", m.group(1), **env)
    assert code == 0, err
    assert out.splitlines()[0] == f"run {m.group(1)} succeeded: {m.group(2)}"
    journal = json.loads((Path(m.group(2)) / "run.json").read_text())
    assert {k: v["status"] for k, v in journal["steps"].items()} == {
        "flaky": "succeeded",
        "after": "succeeded",
    }


def test_the_capacity_warning_is_printed_once_before_the_steps(capsys, monkeypatch, tmp_path):
    path = write_pipeline(
        tmp_path,
        '''
@dsl.container_component(image="r.example.com/a:1", command=["true"])
def s(out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="big")
def big():
    s().set_name("big").set_resources(Resources(cpu=8))
''',
    )
    code, _, err = run(capsys, monkeypatch, tmp_path, path, "--cpus", "2")
    assert code == 0, err
    lines = err.splitlines()
    (warning,) = [x for x in lines if x.startswith("warning: ")]
    assert warning.startswith("warning: step 'big' asks for more than this machine has")
    assert lines.index(warning) < lines.index("big: started")


def test_on_a_terminal_the_live_table_ends_with_every_steps_status(capsys, monkeypatch, tmp_path):
    path = write_pipeline(tmp_path, FLAKY)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    code, out, err = run(
        capsys, monkeypatch, tmp_path, path, COUNTER=str(tmp_path / "c"), SUCCEED_AT="9"
    )
    assert code == 1
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err)  # without the terminal's escapes
    assert "pipecast run" in screen  # the table's title
    seen: dict[str, list[str]] = {}  # step -> every status the redrawn table showed, in order
    for line in screen.splitlines():
        cells = [c.strip() for c in re.split("[│┃]", line.strip())[1:-1]]
        if len(cells) == 2:
            seen.setdefault(cells[0], []).append(cells[1])
    assert seen["step"][0] == "status", screen
    assert "attempt 2/2 after 1 s" in seen["flaky"]  # the retry is shown while it waits
    assert (seen["flaky"][-1], seen["after"][-1]) == ("failed", "skipped"), screen
    assert "flaky: started" not in err  # no plain progress lines on a terminal
    assert out.startswith("run ") and " FAILED: " in out


def test_container_steps_run_through_a_working_engine_in_process(capsys, monkeypatch, tmp_path):
    """The fake engine of test_runner_engine.py, driven in-process: each container step is one
    ``docker run`` named after pipeline, run, step and attempt; a timed-out one is removed."""
    from test_runner_engine import PIPE, WORKING, _calls, _fake_bin

    env = _fake_bin(tmp_path, docker=WORKING)
    path = write_pipeline(tmp_path, PIPE)
    code, out, err = run(capsys, monkeypatch, tmp_path, path, "--engine", "docker", **env)
    assert code == 0, err
    run_dir = Path(out.splitlines()[0].split(": ", 1)[1])
    assert json.loads((run_dir / "run.json").read_text())["engine"] == "docker"
    made = (run_dir / "consume" / "out" / "m.txt").read_text()
    assert made == f"go:{run_dir}/produce/out|{run_dir}/produce/out"
    names = [c[c.index("--name") + 1] for c in _calls(tmp_path) if c[0] == "run"]
    assert sorted(names) == [
        f"pipecast-chain-{run_dir.name}-consume-1",
        f"pipecast-chain-{run_dir.name}-produce-1",
    ]
    slow = write_pipeline(
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
        "slow.py",
    )
    code, out, err = run(capsys, monkeypatch, tmp_path, slow, "--engine", "docker", **env)
    assert code == 1
    run_dir = Path(out.splitlines()[0].split(": ", 1)[1])
    assert _calls(tmp_path)[-1] == ["rm", "-f", f"pipecast-slow-{run_dir.name}-slow-1"]
    step = json.loads((run_dir / "run.json").read_text())["steps"]["slow"]
    assert (step["status"], step["exit_code"]) == ("failed", 124)
