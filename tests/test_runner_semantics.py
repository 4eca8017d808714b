"""What the local runner guarantees, observed from outside (the pytest fixture and the CLI) with
real subprocess steps: a failure at any depth ends the run with everything downstream skipped
(never a hang), retries make exactly the attempts asked for, and every parameter type reaches the
process spelled as the container contract says, the same as in the compiled documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asl_interpreter import evaluate
from helpers import EXAMPLE_CONFIG, compile_text, run_cli, write_pipeline

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Retry

# a hang (a step waiting forever on a failed ancestor) fails the test instead of eating CI's time
pytestmark = pytest.mark.timeout(60)

IMG = "r.example.com/probe:1"
# real processes ("python" is this interpreter in the local runner); the output folder comes last
WRITE = "import sys, pathlib; pathlib.Path(sys.argv[-1], 'done').write_text('ran')"
FAIL = "import sys; sys.stderr.write('deliberate failure'); sys.exit(3)"
DUMP_ARGV = (
    "import json, sys, pathlib; "
    "pathlib.Path(sys.argv[-1], 'argv.json').write_text(json.dumps(sys.argv[1:]))"
)
# appends the attempt number to the file given as --log (outside the step's folders, which a retry
# may empty), then succeeds from attempt --succeed_on (0: never)
COUNT_ATTEMPTS = (
    "import sys, pathlib; a = sys.argv; log = pathlib.Path(a[a.index('--log') + 1]); "
    "n = len(log.read_text().splitlines()) + 1 if log.exists() else 1; "
    "log.open('a').write(f'{n}\\n'); "
    "ok = int(a[a.index('--succeed_on') + 1]); "
    "sys.exit(0 if 0 < ok <= n else 1)"
)


@dsl.container_component(image=IMG, command=["python", "-c", WRITE])
def source(out: Output[Dataset]):
    """Writes a marker file."""


@dsl.container_component(image=IMG, command=["python", "-c", FAIL])
def broken(out: Output[Dataset]):
    """Always exits 3."""


@dsl.container_component(image=IMG, command=["python", "-c", FAIL])
def broken_stage(data: Input[Dataset], out: Output[Dataset]):
    """Reads an input, then exits 3."""


@dsl.container_component(image=IMG, command=["python", "-c", WRITE])
def stage(data: Input[Dataset], out: Output[Dataset]):
    """Reads one input, writes a marker."""


@dsl.container_component(image=IMG, command=["python", "-c", WRITE])
def join(left: Input[Dataset], right: Input[Dataset], out: Output[Dataset]):
    """Reads two inputs, writes a marker."""


def ran(result: Any, step: str) -> bool:
    """Whether the step's process ever wrote its marker."""
    return any((result.run_dir / step).rglob("done"))


def assert_never_ran(result: Any, *steps: str) -> None:
    for step in steps:
        r = result[step]
        assert (r.status, r.attempts, r.started) == ("skipped", 0, None), (step, r)
        assert not ran(result, step), f"{step} ran although an upstream step failed"


def assert_failed(result: Any, step: str, attempts: int = 1) -> None:
    r = result[step]
    assert (r.status, r.exit_code, r.attempts) == ("failed", 3, attempts), r
    assert "deliberate failure" in (r.error or "")


# ----- failure propagation at depth ------------------------------------------------------------


def chain(depth: int, *, explicit: bool = False) -> Any:
    """``broken → stage-1 → … → stage-depth`` (data edges, or ``.after()`` from the second link
    on) beside a healthy ``source → stage`` branch."""

    @dsl.pipeline(name=f"chain-{depth}")
    def pipe():
        upstream = broken()
        for level in range(1, depth + 1):
            if explicit and level > 1:
                src = source().set_name(f"feed-{level}")
                step = stage(data=src.output).after(upstream)
            else:
                step = stage(data=upstream.output)
            upstream = step.set_name(f"stage-{level}")
        stage(data=source().set_name("healthy").output).set_name("healthy-child")

    return pipe


@pytest.mark.parametrize("explicit", [False, True], ids=["data", "after"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_a_failure_at_any_depth_skips_everything_downstream(pipecast_run, depth, explicit):
    result = pipecast_run(chain(depth, explicit=explicit))
    assert not result.succeeded
    assert_failed(result, "broken")
    assert_never_ran(result, *(f"stage-{level}" for level in range(1, depth + 1)))
    for step in ("healthy", "healthy-child"):  # an unrelated branch is not affected
        assert result[step].status == "succeeded" and ran(result, step)
    summary = json.loads((result.run_dir / "run.json").read_text())
    assert summary["succeeded"] is False
    assert summary["steps"][f"stage-{depth}"]["status"] == "skipped"


@dsl.pipeline(name="diamond")
def diamond():
    top = broken()
    left = stage(data=top.output).set_name("left")
    right = stage(data=top.output).set_name("right")
    bottom = join(left=left.output, right=right.output)
    stage(data=bottom.output).set_name("tail")


@dsl.pipeline(name="half-diamond")
def half_diamond():
    top = source().set_name("top")
    bad = broken_stage(data=top.output).set_name("bad")
    good = stage(data=top.output).set_name("good")
    bottom = join(left=bad.output, right=good.output)
    stage(data=bottom.output).set_name("tail")


def test_a_failure_above_a_diamond_skips_both_sides_and_the_join(pipecast_run):
    result = pipecast_run(diamond)
    assert_failed(result, "broken")
    assert_never_ran(result, "left", "right", "join", "tail")
    assert not result.succeeded


def test_a_failure_on_one_side_of_a_diamond_skips_the_join_not_the_other_side(pipecast_run):
    result = pipecast_run(half_diamond)
    assert result["top"].status == "succeeded"
    assert_failed(result, "bad")
    assert result["good"].status == "succeeded" and ran(result, "good")
    assert_never_ran(result, "join", "tail")


def test_a_failure_after_its_retries_still_skips_three_levels_down(pipecast_run):
    @dsl.pipeline(name="retried")
    def retried():
        s1 = stage(data=broken().set_retry(Retry(2, backoff="1s")).output).set_name("s1")
        stage(data=stage(data=s1.output).set_name("s2").output).set_name("s3")

    result = pipecast_run(retried)
    assert_failed(result, "broken", attempts=2)
    assert_never_ran(result, "s1", "s2", "s3")


def test_a_failing_fake_three_levels_up_skips_the_real_steps_below(pipecast_run):
    def fail(**kwargs: Any) -> None:
        raise RuntimeError("fake failed")

    result = pipecast_run(chain(3), fakes={"broken": fail})
    assert result["broken"].status == "failed" and "fake failed" in result["broken"].error
    assert_never_ran(result, "stage-1", "stage-2", "stage-3")
    assert result["healthy-child"].status == "succeeded"


CLI_CHAIN = f"""
@dsl.container_component(image="{IMG}", command=["python", "-c", {FAIL!r}])
def broken(out: Output[Dataset]):
    '''x'''

@dsl.container_component(image="{IMG}", command=["python", "-c", {WRITE!r}])
def stage(data: Input[Dataset], out: Output[Dataset]):
    '''x'''

@dsl.pipeline(name="cli-chain")
def cli_chain():
    a = stage(data=broken().output).set_name("a")
    b = stage(data=a.output).set_name("b")
    left = stage(data=b.output).set_name("left")
    right = stage(data=b.output).set_name("right")
    stage(data=left.output).set_name("c").after(right)
"""


def test_cli_run_with_a_deep_failure_ends_with_exit_1_and_everything_below_skipped(tmp_path):
    path = write_pipeline(tmp_path, CLI_CHAIN)
    runs = tmp_path / "runs"
    result = run_cli("run", str(path), "--local", "--workdir", str(runs), cwd=tmp_path, timeout=50)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (summary_file,) = runs.glob("cli-chain/*/run.json")
    steps = json.loads(summary_file.read_text())["steps"]
    assert {k: v["status"] for k, v in steps.items()} == {
        "broken": "failed",
        "a": "skipped",
        "b": "skipped",
        "left": "skipped",
        "right": "skipped",
        "c": "skipped",
    }
    assert not list(summary_file.parent.rglob("done"))


# ----- exact attempt counts --------------------------------------------------------------------


@dsl.container_component(image=IMG, command=["python", "-c", COUNT_ATTEMPTS])
def counted(out: Output[Dataset], log: str, succeed_on: int = 0):
    """Counts its attempts in ``log``; succeeds from attempt ``succeed_on`` (0: never)."""


@pytest.mark.parametrize(
    ("retry", "succeed_on", "attempts", "status"),
    [
        (Retry(max_attempts=3), 0, 3, "failed"),
        (Retry(1), 0, 1, "failed"),
        (None, 0, 1, "failed"),
        (Retry(max_attempts=3), 2, 2, "succeeded"),
        (Retry(max_attempts=3), 1, 1, "succeeded"),
        (Retry(max_attempts=5), 5, 5, "succeeded"),
    ],
    ids=["3-always-failing", "1-failing", "none-failing", "3-ok-on-2", "3-ok-on-1", "5-ok-on-5"],
)
def test_retry_makes_exactly_the_attempts_asked_for(
    pipecast_run, tmp_path, retry, succeed_on, attempts, status
):
    log = tmp_path / "attempts.txt"

    @dsl.pipeline(name="attempts")
    def pipe():
        step = counted(log=str(log), succeed_on=succeed_on)
        if retry is not None:
            step.set_retry(retry)
        stage(data=step.output).set_name("after")

    result = pipecast_run(pipe)
    assert log.read_text().splitlines() == [str(n) for n in range(1, attempts + 1)]
    r = result["counted"]
    assert (r.status, r.attempts, r.exit_code) == (
        status,
        attempts,
        0 if status == "succeeded" else 1,
    )
    if status == "succeeded":
        assert result["after"].status == "succeeded" and result["after"].attempts == 1
    else:
        assert_never_ran(result, "after")


def test_cli_retry_of_an_always_failing_step_makes_exactly_three_attempts(tmp_path):
    log = tmp_path / "attempts.txt"
    body = f"""
@dsl.container_component(image="{IMG}", command=["python", "-c", {COUNT_ATTEMPTS!r}])
def counted(out: Output[Dataset], log: str, succeed_on: int = 0):
    '''x'''

@dsl.pipeline(name="cli-attempts")
def cli_attempts(log: str):
    counted(log=log).set_retry(Retry(max_attempts=3, backoff="1s", backoff_rate=1))
"""
    path = write_pipeline(tmp_path, body)
    runs = tmp_path / "runs"
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(runs), "-p", f"log={log}", timeout=50
    )
    assert result.returncode == 1, result.stderr
    assert log.read_text().splitlines() == ["1", "2", "3"]
    (summary_file,) = runs.glob("cli-attempts/*/run.json")
    assert json.loads(summary_file.read_text())["steps"]["counted"]["attempts"] == 3


# ----- parameter rendering ---------------------------------------------------------------------


@dsl.container_component(image=IMG, command=["python", "-c", DUMP_ARGV])
def probe(
    out: Output[Dataset],
    flag: bool = False,
    ratio: float = 0.001,
    count: int = 3,
    label: str = "x y",
):
    """Writes the arguments it was started with into ``out/argv.json``."""


@dsl.container_component(
    image=IMG,
    command=["python", "-c", DUMP_ARGV],
    args=[
        ["--flag=", dsl.param("flag")],
        ["ratio:", dsl.param("ratio"), "/", dsl.param("count")],
        dsl.param("label"),
        dsl.output_path("out"),
    ],
)
def templated(out: Output[Dataset], flag: bool, ratio: float, count: int, label: str):
    """The same, with an explicit argument template."""


LITERAL = "$x {{y}} {% z %} Get Std:Join"  # literals stay literal


@dsl.pipeline(name="render")
def render(p_flag: bool = True, p_ratio: float = 2.0, p_count: int = -7, p_label: str = "a=b c"):
    probe().set_name("defaults")
    probe(flag=True, ratio=1e20, count=0, label=LITERAL).set_name("constants")
    probe(flag=p_flag, ratio=p_ratio, count=p_count, label=p_label).set_name("parameters")
    templated(flag=False, ratio=0.5, count=12, label="").set_name("template-constants")
    templated(flag=p_flag, ratio=p_ratio, count=p_count, label=p_label).set_name("template-params")


def argv_of(result: Any, step: str) -> list[str]:
    r = result[step]
    assert r.status == "succeeded", r.error
    argv = json.loads(Path(r.outputs["out"], "argv.json").read_text())
    assert argv[-1] == r.outputs["out"]
    return argv[:-1]  # the output folder is checked above; the rest is the rendering


def by_flag(flag: str, ratio: str, count: str, label: str) -> list[str]:
    return ["--flag", flag, "--ratio", ratio, "--count", count, "--label", label, "--out"]


def by_template(flag: str, ratio: str, count: str, label: str) -> list[str]:
    return [f"--flag={flag}", f"ratio:{ratio}/{count}", label]


# the spelling every target and the local runner share (DESIGN §6): bool lower-case, float as
# Python's repr (shortest round trip), int and str as they are
CONSTANTS = {
    "defaults": by_flag("false", "0.001", "3", "x y"),
    "constants": by_flag("true", "1e+20", "0", LITERAL),
    "template-constants": by_template("false", "0.5", "12", ""),
}


def test_constants_and_defaults_reach_the_process_spelled_by_the_contract(pipecast_run):
    result = pipecast_run(render)
    for step, expected in CONSTANTS.items():
        assert argv_of(result, step) == expected, step
    assert argv_of(result, "parameters") == by_flag("true", "2.0", "-7", "a=b c")
    assert argv_of(result, "template-params") == by_template("true", "2.0", "-7", "a=b c")
    assert result["constants"].parameters == {
        "flag": True,
        "ratio": 1e20,
        "count": 0,
        "label": LITERAL,
    }


def _sagemaker_args(document: dict, step: str) -> list[Any]:
    (found,) = [s for s in document["Steps"] if s["Name"] == step]
    return found["Arguments"]["AppSpecification"]["ContainerArguments"]


def _stepfunctions_args(node: Any, step: str) -> list[Any]:
    """The container arguments of the Task state named ``step``, wherever it is nested."""
    if isinstance(node, dict):
        state = node.get("States", {}).get(step)
        if state is not None:
            # what the job receives: a literal shaped like an expression is written as a
            # JSONata string literal ({% "..." %}), which evaluates back to the text
            args = state["Arguments"]["AppSpecification"]["ContainerArguments"]
            return [evaluate(a, {}) for a in args]
        children = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return []
    for child in children:
        found = _stepfunctions_args(child, step)
        if found:
            return found
    return []


@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions"])
def test_constants_are_spelled_the_same_locally_and_in_compiled_documents(pipecast_run, target):
    result = pipecast_run(render)
    document = json.loads(compile_text(render, target, EXAMPLE_CONFIG))
    find = _sagemaker_args if target == "sagemaker" else _stepfunctions_args
    for step in CONSTANTS:
        compiled = find(document, step)
        # the output path differs (a container path there, the run folder here): compare the rest
        assert compiled[:-1] == argv_of(result, step), (target, step)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"p_flag": False, "p_ratio": 0.25, "p_count": 12, "p_label": "with space"},
            ("false", "0.25", "12", "with space"),
        ),
        (
            {"p_flag": True, "p_ratio": 1e-07, "p_count": 0, "p_label": ""},
            ("true", "1e-07", "0", ""),
        ),
    ],
)
def test_parameter_values_given_to_the_fixture_are_rendered(pipecast_run, params, expected):
    result = pipecast_run(render, params=params)
    assert argv_of(result, "parameters") == by_flag(*expected)
    assert argv_of(result, "template-params") == by_template(*expected)


def _render_file(tmp_path: Path) -> Path:
    """The ``render`` pipeline as a file the CLI can load (the same components and spellings)."""
    body = f"""
DUMP_ARGV = {DUMP_ARGV!r}

@dsl.container_component(image="{IMG}", command=["python", "-c", DUMP_ARGV])
def probe(out: Output[Dataset], flag: bool = False, ratio: float = 0.001, count: int = 3,
          label: str = "x y"):
    '''x'''

@dsl.container_component(image="{IMG}", command=["python", "-c", DUMP_ARGV], args=[
    ["--flag=", dsl.param("flag")], ["ratio:", dsl.param("ratio"), "/", dsl.param("count")],
    dsl.param("label"), dsl.output_path("out")])
def templated(out: Output[Dataset], flag: bool, ratio: float, count: int, label: str):
    '''x'''

@dsl.pipeline(name="render")
def render(p_flag: bool = True, p_ratio: float = 2.0, p_count: int = -7, p_label: str = "a=b c"):
    probe().set_name("defaults")
    probe(flag=True, ratio=1e20, count=0, label={LITERAL!r}).set_name("constants")
    probe(flag=p_flag, ratio=p_ratio, count=p_count, label=p_label).set_name("parameters")
    templated(flag=p_flag, ratio=p_ratio, count=p_count, label=p_label).set_name("template-params")
"""
    return write_pipeline(tmp_path, body)


def _cli_argv(tmp_path: Path, *params: str) -> dict[str, list[str]]:
    path = _render_file(tmp_path)
    runs = tmp_path / "runs"
    args = [a for p in params for a in ("-p", p)]
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(runs), *args, cwd=tmp_path, timeout=50
    )
    assert result.returncode == 0, result.stderr
    (run_dir,) = (p.parent for p in runs.glob("render/*/run.json"))
    seen = {}
    for step in ("defaults", "constants", "parameters", "template-params"):
        argv = json.loads((run_dir / step / "out" / "argv.json").read_text())
        assert argv[-1] == str(run_dir / step / "out")
        seen[step] = argv[:-1]
    return seen


def test_cli_run_renders_defaults_and_constants(tmp_path):
    seen = _cli_argv(tmp_path)
    assert seen["defaults"] == CONSTANTS["defaults"]
    assert seen["constants"] == CONSTANTS["constants"]
    assert seen["parameters"] == by_flag("true", "2.0", "-7", "a=b c")  # pipeline defaults
    assert seen["template-params"] == by_template("true", "2.0", "-7", "a=b c")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            ("p_flag=false", "p_ratio=0.25", "p_count=12", "p_label=with space=and equals"),
            ("false", "0.25", "12", "with space=and equals"),
        ),
        (("p_flag=yes", "p_ratio=3", "p_count=-0", "p_label="), ("true", "3.0", "0", "")),
        (("p_flag=0", "p_ratio=1e3"), ("false", "1000.0", "-7", "a=b c")),
        (("p_flag=TRUE", "p_label={{$x}}"), ("true", "2.0", "-7", "{{$x}}")),
    ],
    ids=["all-set", "yes-int-float-empty", "zero-exponent", "upper-literal"],
)
def test_cli_p_overrides_are_typed_then_rendered(tmp_path, params, expected):
    seen = _cli_argv(tmp_path, *params)
    assert seen["parameters"] == by_flag(*expected)
    assert seen["template-params"] == by_template(*expected)
    assert seen["defaults"] == CONSTANTS["defaults"]  # overrides reach only what they bind


# ----- Python components: the same values arrive typed -----------------------------------------


@dsl.component
def typed_probe(
    out: Output[Dataset], flag: bool = False, ratio: float = 0.001, count: int = 3, label: str = "x"
):
    """Records the values, and their types, it was called with."""
    seen = {"flag": flag, "ratio": ratio, "count": count, "label": label}
    Path(out.path, "seen.json").write_text(
        json.dumps({k: [v, type(v).__name__] for k, v in seen.items()})
    )


@dsl.pipeline(name="typed")
def typed(p_flag: bool = True, p_ratio: float = 0.5, p_count: int = 1, p_label: str = "x"):
    typed_probe(flag=p_flag, ratio=p_ratio, count=p_count, label=p_label)
    typed_probe(flag=False, ratio=1e20, count=-4, label="-x").set_name("constants")


@pytest.mark.parametrize("isolation", ["inprocess", "subprocess"])
@pytest.mark.parametrize(
    ("flag", "ratio", "count", "label"),
    [
        (False, 2.0, -7, "-x"),  # a value that looks like a flag stays a value
        (True, 1e-07, 0, "--label"),
        (False, 0.1, 12, ""),
        (True, 1e20, -5, "a b=c {{$x}}"),
    ],
)
def test_python_components_receive_each_value_with_its_type(
    pipecast_run, isolation, flag, ratio, count, label
):
    """Through ``pipecast.runtime`` (subprocess, as in a container) the rendered text is parsed
    back by the declared types: False must not arrive as the truthy string 'false'."""
    params = {"p_flag": flag, "p_ratio": ratio, "p_count": count, "p_label": label}
    result = pipecast_run(typed, params=params, isolation=isolation)
    for step in ("typed-probe", "constants"):
        assert result[step].status == "succeeded", result[step].error
    seen = json.loads(Path(result["typed-probe"].outputs["out"], "seen.json").read_text())
    expected = {"flag": flag, "ratio": ratio, "count": count, "label": label}
    assert seen == {k: [v, type(v).__name__] for k, v in expected.items()}
    constants = json.loads(Path(result["constants"].outputs["out"], "seen.json").read_text())
    assert constants == {
        "flag": [False, "bool"],
        "ratio": [1e20, "float"],
        "count": [-4, "int"],
        "label": ["-x", "str"],
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nope", "1"], "unexpected argument '--nope' (known: --out, --flag, --ratio"),
        (["--label"], "--label needs a value"),
        (["stray"], "unexpected argument 'stray'"),
    ],
)
def test_the_component_runtime_refuses_arguments_it_cannot_place(tmp_path, capsys, args, message):
    from pipecast.runtime import main

    with pytest.raises(SystemExit) as info:
        main([f"{__name__}:typed_probe", "--out", str(tmp_path), *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "seen.json").exists()


def test_the_component_runtime_takes_name_equals_value(tmp_path):
    from pipecast.runtime import main

    main([f"{__name__}:typed_probe", f"--out={tmp_path}", "--label=-x=y", "--flag", "false"])
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["label"] == ["-x=y", "str"] and seen["flag"] == [False, "bool"]
