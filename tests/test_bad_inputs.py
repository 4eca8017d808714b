"""A corpus of user mistakes: every one is a diagnostic (exit 1) or a usage error (exit 2), never
"internal error ... this is a bug" (exit 70) and never a traceback.

Each case is one mistake a user can make in a pipeline file (names, values, resources, settings,
wiring), a config file, a command line or a hand-edited IR document, with the message fragment
that must tell them what is wrong. The CLI runs in-process (``pipecast.cli.main``) so the whole
corpus takes seconds; a handful of cases also run as real subprocesses.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import EXAMPLES, run_cli

from pipecast.cli import main

HEADER = """\
from pipecast import dsl
from pipecast.dsl import Dataset, Input, Model, Output, Resources, Retry, Spot

@dsl.container_component(image="r.example.com/x:1.0", command=["run"])
def produce(out: Output[Dataset], n: float = 1.0, k: int = 1, flag: bool = False, s: str = "a"):
    \"\"\"x\"\"\"

@dsl.container_component(image="r.example.com/x:1.0", command=["use"])
def use(data: Input[Dataset], out: Output[Dataset]):
    \"\"\"x\"\"\"
"""
CONFIG = (EXAMPLES / "pipecast.toml").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Case:
    id: str
    body: str  # the pipeline file after HEADER
    fragment: str  # must appear in stderr
    exit: int = 1
    argv: tuple[str, ...] = ("compile", "{file}", "--target", "sagemaker")


def task_case(id: str, call: str, fragment: str, exit: int = 1) -> Case:
    """A pipeline whose one task gets ``call`` appended (``.set_...(...)``)."""
    body = f"""
@dsl.pipeline(name="p")
def p():
    a = produce(){call}
    use(data=a.output)
"""
    return Case(id, body, fragment, exit)


def pipeline_case(id: str, signature: str, lines: str, fragment: str) -> Case:
    body = f'@dsl.pipeline(name="p")\ndef p({signature}):\n' + textwrap.indent(lines, "    ")
    return Case(id, body, fragment)


NAN, INF = 'float("nan")', 'float("inf")'
CASES = [
    # resources
    task_case("cpu-nan", f".set_resources(Resources(cpu={NAN}))", "Resources.cpu"),
    task_case("cpu-inf", f".set_resources(Resources(cpu={INF}))", "Resources.cpu"),
    task_case("cpu-zero", ".set_resources(Resources(cpu=0))", "Resources.cpu"),
    task_case("cpu-negative", ".set_resources(Resources(cpu=-2))", "Resources.cpu"),
    task_case("cpu-string", '.set_resources(Resources(cpu="4"))', "Resources.cpu"),
    task_case("cpu-bool", ".set_resources(Resources(cpu=True))", "Resources.cpu"),
    task_case("memory-int", ".set_resources(Resources(cpu=1, memory=16))", "has no unit"),
    task_case("memory-unitless", '.set_resources(Resources(memory="4096"))', "has no unit"),
    task_case("memory-nan", f".set_resources(Resources(memory={NAN}))", "Resources.memory"),
    task_case("memory-inf", f".set_resources(Resources(memory={INF}))", "Resources.memory"),
    task_case("memory-unit", '.set_resources(Resources(memory="16GX"))', "is not a size"),
    task_case("memory-zero", '.set_resources(Resources(memory="0GiB"))', "must be positive"),
    task_case("memory-negative", '.set_resources(Resources(memory="-1GiB"))', "is not a size"),
    task_case("memory-newline", '.set_resources(Resources(memory="1GiB\\nx"))', "is not a size"),
    task_case("memory-none", ".set_resources(Resources(memory=None))", "Resources.memory"),
    task_case("disk-unitless", '.set_resources(Resources(disk="100"))', "has no unit"),
    task_case("gpu-float", ".set_resources(Resources(gpu=1.5))", "Resources.gpu"),
    task_case("gpu-negative", ".set_resources(Resources(gpu=-1))", "Resources.gpu"),
    task_case("gpu-type-empty", '.set_resources(Resources(gpu=1, gpu_type=""))', "gpu_type"),
    task_case("gpu-type-without-gpu", '.set_resources(Resources(gpu_type="T4"))', "gpu=0"),
    task_case("gpu-unsatisfiable", '.set_resources(Resources(gpu=64, gpu_type="T4"))', "PC006"),
    task_case("resources-dict", '.set_resources({"cpu": 1})', "Resources"),
    task_case("instance-unknown", '.set_instance_type("ml.m5.huge")', "PC006"),
    task_case("instance-int", ".set_instance_type(5)", "instance"),
    # durations and policies
    task_case("timeout-nan", f".set_timeout({NAN})", "must be positive"),
    task_case("timeout-inf", f".set_timeout({INF})", "must be positive"),
    task_case("timeout-zero", ".set_timeout(0)", "must be positive"),
    task_case("timeout-unit", '.set_timeout("2 weeks")', "is not a duration"),
    task_case("timeout-newline", '.set_timeout("2h\\n3h")', "is not a duration"),
    task_case("timeout-list", ".set_timeout([1])", "duration"),
    task_case("spot-wait-nan", f".set_spot(Spot(max_wait={NAN}))", "must be positive"),
    task_case("spot-wait-bad", '.set_spot(Spot(max_wait="soon"))', "is not a duration"),
    task_case("spot-not-spot", '.set_spot("yes")', "Spot"),
    task_case("spot-wait-short", '.set_spot(Spot(max_wait="1h")).set_timeout("2h")', "PC007"),
    task_case("retry-zero", ".set_retry(Retry(max_attempts=0))", "max_attempts"),
    task_case("retry-many", ".set_retry(Retry(max_attempts=99))", "max_attempts"),
    task_case("retry-float", ".set_retry(Retry(max_attempts=2.5))", "max_attempts"),
    task_case("retry-rate-nan", f".set_retry(Retry(backoff_rate={NAN}))", "backoff_rate"),
    task_case("retry-backoff-bad", '.set_retry(Retry(backoff="later"))', "is not a duration"),
    task_case("retry-int", ".set_retry(3)", "Retry"),
    task_case("caching-expire-bad", '.set_caching(True, expire_after="never")', "duration"),
    task_case("expected-bad", '.set_expected_duration("a while")', "is not a duration"),
    # names and env
    task_case("name-newline", '.set_name("ab\\n")', "is not valid"),
    task_case("name-upper", '.set_name("Detect")', "is not valid"),
    task_case("name-long", '.set_name("a" * 49)', "is not valid"),
    task_case("name-empty", '.set_name("")', "is not valid"),
    task_case("name-int", ".set_name(3)", "is not valid"),
    task_case("name-unicode", '.set_name("détect")', "is not valid"),
    task_case("env-name-space", '.set_env(**{"A B": "1"})', "env name"),
    task_case("env-name-digit", '.set_env(**{"1A": "1"})', "env name"),
    task_case("env-value-int", ".set_env(A=1)", "env"),
    task_case("after-not-task", '.after("x")', "after"),
    # values
    pipeline_case("default-nan", f"x: float = {NAN}", "produce(n=x)\n", "not a float"),
    pipeline_case("default-inf", f"x: float = {INF}", "produce(n=x)\n", "not a float"),
    pipeline_case("default-type", 'x: int = "3"', "produce(k=x)\n", "not a int"),
    pipeline_case("const-nan", "", f"produce(n={NAN})\n", "PC003"),
    pipeline_case("const-inf", "", f"produce(n=-{INF})\n", "PC003"),
    pipeline_case("const-bool-for-int", "", "produce(k=True)\n", "PC003"),
    pipeline_case("const-str-for-float", "", 'produce(n="1.0")\n', "PC003"),
    pipeline_case("param-type-mismatch", "x: str", "produce(k=x)\n", "PC003"),
    pipeline_case("unknown-input", "", "produce(nope=1)\n", "nope"),
    pipeline_case("artifact-for-param", "", "a = produce()\nproduce(n=a.output)\n", "PC003"),
    pipeline_case("param-for-artifact", "x: str", "use(data=x)\n", "use"),
    pipeline_case("unbound-artifact", "", "use()\n", "data"),
    pipeline_case("unknown-output", "", 'a = produce()\nuse(data=a.outputs["nope"])\n', "nope"),
    pipeline_case("if-on-param", "x: bool = True", "if x:\n    produce()\n", "PC120"),
    pipeline_case(
        "for-over-param", "x: str = 'ab'", "for c in x:\n    produce()\n", "dsl.ParallelFor"
    ),
    pipeline_case("param-untyped", "x", "produce(k=x)\n", "x"),
    pipeline_case("duplicate-name", "", 'produce().set_name("a")\nproduce().set_name("a")\n', "a"),
    pipeline_case("importer-int", "", "dsl.importer(uri=5, artifact_type=Dataset)\n", "uri"),
    Case(
        "component-bad-image",
        '@dsl.container_component(image="", command=["x"])\ndef c():\n    """x"""\n',
        "image",
    ),
    Case(
        "component-bad-command",
        '@dsl.container_component(image="r/x:1", command="x")\ndef c():\n    """x"""\n',
        "command",
    ),
    Case(
        "component-bad-annotation",
        '@dsl.container_component(image="r/x:1", command=["x"])\ndef c(a: complex):\n    """x"""\n',
        "PC105",
    ),
    Case(
        "component-args-string",
        '@dsl.container_component(image="r/x:1", command=["x"], args="--a")\n'
        'def c():\n    """x"""\n',
        "PC106",
    ),
    Case(
        "component-args-unknown-placeholder",
        '@dsl.container_component(image="r/x:1", command=["x"], args=[dsl.param("zz")])\n'
        'def c():\n    """x"""\n',
        "zz",
    ),
    Case("syntax-error", "def p(:\n", "p", exit=1),
    Case("import-error", "import no_such_module_pipecast\n", "no_such_module_pipecast"),
    Case("raises", "raise RuntimeError('boom in user code')\n", "boom in user code"),
    Case("no-pipeline", "x = 1\n", "defines no @dsl.pipeline", exit=2),
    task_case("caching-not-bool", '.set_caching("yes")', "caching"),
    task_case("env-value-none", ".set_env(A=None)", "env"),
    task_case("cpu-huge-float", ".set_resources(Resources(cpu=1e400))", "Resources.cpu"),
    task_case("memory-list", '.set_resources(Resources(memory=["1GiB"]))', "Resources.memory"),
    task_case("memory-bool", ".set_resources(Resources(memory=True))", "Resources.memory"),
    task_case("timeout-bool", ".set_timeout(True)", "duration"),
    task_case("timeout-negative", '.set_timeout("-5m")', "is not a duration"),
    task_case("instance-not-ml", '.set_instance_type("m5.xlarge")', "PC125"),
]


def run_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - main always exits
        code = 0
    captured = capsys.readouterr()
    return code, captured.err + captured.out


def check_clean(code: int, output: str, fragment: str, want: int | None) -> None:
    assert code != 70 and "internal error" not in output, output
    assert "Traceback" not in output, output
    assert code in (1, 2) if want is None else code == want, (code, output)
    assert fragment in output, f"{fragment!r} not in:\n{output}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pipeline_mistakes_are_diagnostics(case: Case, tmp_path: Path, capsys) -> None:
    path = tmp_path / f"bad_{case.id.replace('-', '_')}.py"
    path.write_text(HEADER + "\n" + case.body, encoding="utf-8")
    (tmp_path / "pipecast.toml").write_text(CONFIG, encoding="utf-8")
    argv = [a.format(file=str(path)) for a in case.argv]
    code, output = run_in_process(argv, capsys)
    check_clean(code, output, case.fragment, case.exit)


GOOD = """
@dsl.pipeline(name="good")
def good(x: float = 1.0, k: int = 2, flag: bool = False):
    a = produce(n=x, k=k, flag=flag)
    use(data=a.output)
"""


def good_file(tmp_path: Path, config: str | bytes = CONFIG) -> Path:
    path = tmp_path / "good_pipe.py"
    path.write_text(HEADER + GOOD, encoding="utf-8")
    toml = tmp_path / "pipecast.toml"
    if isinstance(config, bytes):
        toml.write_bytes(config)
    else:
        toml.write_text(config, encoding="utf-8")
    return path


CONFIG_CASES = [
    ("not-utf8", b'artifact_root = "s3://b/\xff"\n', "not UTF-8"),
    ("not-toml", "artifact_root = \n", "not valid TOML"),
    ("unknown-key", CONFIG + "\nartifact_rot = 'x'\n", "artifact_rot"),
    ("wrong-type", 'artifact_root = 5\n[sagemaker]\nrole_arn = "x"\n', "artifact_root"),
    ("missing-role", 'artifact_root = "s3://b/p"\n', "role_arn"),
    ("bad-layout", CONFIG.replace('layout = "exact"', 'layout = "exactly"'), "layout"),
    ("selector-int", CONFIG.replace('= "SPOT"', "= 1"), "spot_node_selector"),
    ("nul-byte", b'artifact_root = "s3://b/\x00"\n', "not valid TOML"),
    (
        "empty-role",
        CONFIG.replace(
            'role_arn = "arn:aws:iam::123456789012:role/pipecast-jobs"', 'role_arn = ""'
        ),
        "role_arn",
    ),
    ("section-not-table", 'artifact_root = "s3://b/p"\nsagemaker = 5\n', "sagemaker"),
    ("tolerations-bad", CONFIG.replace('operator = "Exists"', 'operator = "Maybe"'), "operator"),
]


@pytest.mark.parametrize(
    ("config", "fragment"),
    [c[1:] for c in CONFIG_CASES],
    ids=[c[0] for c in CONFIG_CASES],
)
def test_config_mistakes_are_errors(config, fragment, tmp_path, capsys):
    path = good_file(tmp_path, config)
    code, output = run_in_process(["compile", str(path), "--target", "sagemaker"], capsys)
    check_clean(code, output, fragment, 1)


CLI_CASES = [
    ("unknown-target", ["compile", "{file}", "--target", "sagemkaer"], "sagemaker", 2),
    ("o-is-directory", ["compile", "{file}", "--target", "ir", "-o", "{dir}"], "directory", 2),
    ("all-o-is-file", ["compile", "{file}", "--target", "all", "-o", "{file}"], "is a file", 2),
    ("all-without-o", ["compile", "{file}", "--target", "all"], "-o", 2),
    ("missing-file", ["compile", "{dir}/nope.py", "--target", "ir"], "nope.py", None),
    ("ref-unknown-function", ["compile", "{file}:nope", "--target", "ir"], "nope", None),
    (
        "ref-module-missing",
        ["compile", "no_such_pkg.mod:fn", "--target", "ir"],
        "no_such_pkg",
        None,
    ),
    ("ref-empty", ["compile", "", "--target", "ir"], "", None),
    ("ref-directory", ["compile", "{dir}", "--target", "ir"], "", None),
    ("param-nan", ["run", "{file}", "--local", "-p", "x=nan", "--workdir", "{dir}/r"], "finite", 1),
    ("param-inf", ["run", "{file}", "--local", "-p", "x=inf", "--workdir", "{dir}/r"], "finite", 1),
    ("param-int", ["run", "{file}", "--local", "-p", "k=1.5", "--workdir", "{dir}/r"], "int", 1),
    (
        "param-bool",
        ["run", "{file}", "--local", "-p", "flag=maybe", "--workdir", "{dir}/r"],
        "bool",
        1,
    ),
    ("param-unknown", ["run", "{file}", "--local", "-p", "y=1", "--workdir", "{dir}/r"], "y", 1),
    (
        "param-no-equals",
        ["run", "{file}", "--local", "-p", "x", "--workdir", "{dir}/r"],
        "NAME=VALUE",
        1,
    ),
    ("graph-bad-format", ["graph", "{file}", "--format", "png"], "png", 2),
    ("diff-missing", ["diff", "{dir}/a.json", "{dir}/b.json"], "", None),
    ("validate-unknown-target", ["validate", "{file}", "--target", "argo"], "argo", 2),
    ("compile-unknown-option", ["compile", "{file}", "--targte", "ir"], "--targte", 2),
    (
        "config-missing-file",
        ["compile", "{file}", "--target", "ir", "--config", "{dir}/no.toml"],
        "no.toml",
        None,
    ),
    ("graph-missing-file", ["graph", "{dir}/nope.py"], "nope.py", None),
]


@pytest.mark.parametrize(
    ("argv", "fragment", "exit"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_command_line_mistakes_are_errors(argv, fragment, exit, tmp_path, capsys):
    path = good_file(tmp_path)
    args = [a.format(file=str(path), dir=str(tmp_path)) for a in argv]
    code, output = run_in_process(args, capsys)
    check_clean(code, output, fragment, exit)


def _ir(tmp_path: Path, capsys) -> dict:
    path = good_file(tmp_path)
    out = tmp_path / "good.ir.json"
    assert run_in_process(["compile", str(path), "--target", "ir", "-o", str(out)], capsys)[0] == 0
    return json.loads(out.read_text(encoding="utf-8"))


IR_EDITS = [
    (
        "placeholder-unknown-input",
        lambda d: d["components"][0]["args"].__setitem__(1, {"value": "zz"}),
        "PC106",
    ),
    (
        "placeholder-kind",
        lambda d: d["components"][0]["args"].__setitem__(1, {"inputPath": "n"}),
        "PC106",
    ),
    (
        "placeholder-bogus",
        lambda d: d["components"][0]["args"].__setitem__(1, {"bogus": "n"}),
        "not a valid",
    ),
    (
        "unknown-output",
        lambda d: d["steps"][1]["arguments"]["data"]["output"].__setitem__("name", "zz"),
        "zz",
    ),
    (
        "unknown-step",
        lambda d: d["steps"][1]["arguments"]["data"]["output"].__setitem__("step", "zz"),
        "zz",
    ),
    (
        "unknown-parameter",
        lambda d: d["steps"][0]["arguments"].__setitem__("n", {"parameter": "zz"}),
        "zz",
    ),
    ("bad-step-id", lambda d: d["steps"][0].__setitem__("id", "Bad\nid"), "id"),
    (
        "memory-string",
        lambda d: d["steps"][0].__setitem__(
            "resources", {"cpu": 1, "memory": "x", "gpu": 0, "gpu_type": None, "disk": None}
        ),
        "memory",
    ),
    (
        "cpu-negative",
        lambda d: d["steps"][0].__setitem__(
            "resources", {"cpu": -1, "memory": 1024, "gpu": 0, "gpu_type": None, "disk": None}
        ),
        "cpu",
    ),
    ("version", lambda d: d.__setitem__("ir_version", 99), "ir_version"),
    ("not-an-object", lambda d: d.clear(), "not a valid"),
    ("component-missing", lambda d: d["steps"][0].__setitem__("component", "zz"), "zz"),
    ("cycle", lambda d: d["steps"][0].__setitem__("after", [d["steps"][1]["id"]]), "PC001"),
]


@pytest.mark.parametrize(
    ("edit", "fragment"), [c[1:] for c in IR_EDITS], ids=[c[0] for c in IR_EDITS]
)
@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions", "kubeflow"])
def test_hand_edited_ir_is_an_error(edit, fragment, target, tmp_path, capsys):
    data = _ir(tmp_path, capsys)
    edit(data)
    bad = tmp_path / "bad.ir.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    code, output = run_in_process(["compile", str(bad), "--target", target], capsys)
    check_clean(code, output, fragment, 1)


def test_deeply_nested_ir_is_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.ir.json"
    bad.write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}", encoding="utf-8")
    code, output = run_in_process(["compile", str(bad), "--target", "ir"], capsys)
    check_clean(code, output, "nested too deeply", 1)


def test_truncated_ir_is_an_error(tmp_path, capsys):
    data = _ir(tmp_path, capsys)
    bad = tmp_path / "bad.ir.json"
    bad.write_text(json.dumps(data)[:100], encoding="utf-8")
    code, output = run_in_process(["compile", str(bad), "--target", "ir"], capsys)
    check_clean(code, output, "not readable JSON", 1)


def test_a_few_mistakes_through_a_real_process(tmp_path):
    """The same guarantees from the installed entry point (exit codes, stderr, no traceback)."""
    path = good_file(tmp_path)
    for argv, want in (
        (["run", str(path), "--local", "-p", "x=nan", "--workdir", str(tmp_path / "r")], 1),
        (["compile", str(path), "--target", "ir", "-o", str(tmp_path)], 2),
    ):
        proc = run_cli(*argv, cwd=tmp_path)
        assert proc.returncode == want, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_the_corpus_is_large_enough_to_mean_something():
    cases = len(CASES) + len(CONFIG_CASES) + len(CLI_CASES) + 3 * len(IR_EDITS)
    assert cases >= 150, cases
