"""The CLI contract: exit codes 0/1/2, no traceback for any user mistake, atomic outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jsonschema
import pytest
from helpers import (
    EXAMPLE_CONFIG,
    EXAMPLES,
    ROOT,
    available_targets,
    compile_text,
    load_example,
    run_cli,
    write_pipeline,
)

from pipecast.schemas import load_schema

FLAGSHIP = str(EXAMPLES / "video_analysis.py")

GOOD = '''
@dsl.container_component(image="r.example.com/a:1", command=["run"])
def step(out: Output[Dataset], n: int = 1):
    """A step."""

@dsl.pipeline(name="good")
def good(n: int = 2):
    step(n=n)
'''


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int, *fragments: str):
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_help_lists_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("compile", "validate", "graph"):
        assert command in result.stdout


def test_compile_ir_to_stdout_validates_against_the_schema():
    result = run_cli("compile", FLAGSHIP, "--target", "ir")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    jsonschema.Draft202012Validator(load_schema("pipeline")).validate(document)
    assert result.stdout.endswith("}\n") and "\r" not in result.stdout


def test_compile_all_writes_every_available_target(tmp_path):
    from pipecast.compilers import load_target

    result = run_cli("compile", FLAGSHIP, "--target", "all", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    targets = available_targets()
    assert {"ir", "sagemaker", "stepfunctions", "kubeflow"} <= set(targets)  # the dev install
    expected = {f"video-analysis.{load_target(t).suffix}": t for t in targets}
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == sorted(expected), "exactly one file per target, no temporary leftovers"
    pipeline = load_example("video_analysis")
    for name, target in expected.items():
        on_disk = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert on_disk == compile_text(pipeline, target), f"{name} differs from compiling {target}"
        assert f"wrote {tmp_path / 'out' / name}" in result.stderr


@pytest.mark.parametrize(("typo", "meant"), [("alll", "all"), ("irr", "ir")])
def test_unknown_target_suggests_the_closest(typo, meant):
    result = run_cli("compile", FLAGSHIP, "--target", typo)
    assert_clean_failure(result, 2, f"unknown target '{typo}'; did you mean '{meant}'?")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["compile", FLAGSHIP, "--target", "all"], "give a directory with -o"),
        (["compile", FLAGSHIP, "--target", "ir", "--check"], "give them with -o"),
        (["compile", "missing.py", "--target", "ir"], "does not exist"),
        (["compile", "no.such.module:pipe", "--target", "ir"], "no module or file"),
        (["compile", FLAGSHIP + ":nope", "--target", "ir"], "does not exist"),
        (["compile", FLAGSHIP], "Missing option '--target'"),
        (["graph", FLAGSHIP, "--format", "png"], "Invalid value for '--format'"),
        (["compil", FLAGSHIP], "did you mean 'compile'"),
    ],
)
def test_usage_errors_exit_2(args, fragment):
    assert_clean_failure(run_cli(*args), 2, fragment)


CYCLIC = '''
@dsl.container_component(image="r.example.com/a:1", command=["run"])
def step(data: Input[Dataset], out: Output[Dataset]):
    """A step."""

@dsl.container_component(image="r.example.com/a:1", command=["run"])
def source(out: Output[Dataset]):
    """A source."""

@dsl.pipeline(name="cyclic")
def cyclic():
    a = source()
    b = step(data=a.output)
    a.after(b)
'''


def test_cyclic_pipeline_exits_1_naming_file_and_line(tmp_path):
    path = write_pipeline(tmp_path, CYCLIC)
    result = run_cli("compile", str(path), "--target", "ir", cwd=tmp_path)
    line = CYCLIC.splitlines().index("    a = source()") + 3  # two header lines + 1-based
    assert_clean_failure(result, 1, f"pipe.py:{line}: error[PC001]: cycle: source → step → source")
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("def broken(:\n", ["syntax error"]),
        ("import not_a_module_anywhere\n", ["pipe.py:3", "ModuleNotFoundError"]),
        ("raise RuntimeError('boom')\n", ["pipe.py:3", "RuntimeError: boom"]),
        (GOOD.replace("step(n=n)", "step(n=n, m=1)"), ["PC004", "has no input 'm'"]),
        (GOOD.replace("step(n=n)", "1 / 0"), ["ZeroDivisionError", "building pipeline 'good'"]),
        (GOOD.replace('"r.example.com/a:1"', '"r.example.com/a"'), ["PC010", "no tag"]),
        (
            GOOD.replace("memory", "x").replace(
                'command=["run"]', 'command=["run"], resources=Resources(memory="lots")'
            ),
            ["PC101"],
        ),
        (GOOD + "\n@dsl.pipeline(name='Bad Name')\ndef other():\n    pass\n", ["PC104"]),
    ],
)
def test_user_mistakes_exit_1_without_traceback(tmp_path, body, fragments):
    path = write_pipeline(tmp_path, body)
    result = run_cli("compile", str(path), "--target", "ir", cwd=tmp_path)
    assert_clean_failure(result, 1, *fragments)


def test_two_pipelines_need_a_name(tmp_path):
    path = write_pipeline(tmp_path, GOOD + GOOD.replace("good", "other"))
    assert_clean_failure(run_cli("compile", str(path), "--target", "ir"), 2, "several pipelines")
    result = run_cli("compile", f"{path}:other", "--target", "ir")
    assert result.returncode == 0 and '"name": "other"' in result.stdout


def test_module_reference(tmp_path):
    write_pipeline(tmp_path, GOOD, name="mypipes.py")
    result = run_cli(
        "compile", "mypipes:good", "--target", "ir", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "good"


def test_ir_json_is_a_valid_ref(tmp_path):
    out = tmp_path / "p.ir.json"
    assert run_cli("compile", FLAGSHIP, "--target", "ir", "-o", str(out)).returncode == 0
    again = run_cli("compile", str(out), "--target", "ir")
    assert again.returncode == 0 and again.stdout == out.read_text()
    out.write_text('{"name": 3}')
    assert_clean_failure(
        run_cli("compile", str(out), "--target", "ir"), 1, "not a valid pipecast IR document"
    )


def test_check_detects_stale_and_current_files(tmp_path):
    out = tmp_path / "p.json"
    assert_clean_failure(
        run_cli("compile", FLAGSHIP, "-t", "ir", "-o", str(out), "--check"), 1, "does not exist"
    )
    assert run_cli("compile", FLAGSHIP, "-t", "ir", "-o", str(out)).returncode == 0
    ok = run_cli("compile", FLAGSHIP, "-t", "ir", "-o", str(out), "--check")
    assert ok.returncode == 0 and "up to date" in ok.stderr
    out.write_text(out.read_text().replace('"fps"', '"fps_old"', 1))
    stale = run_cli("compile", FLAGSHIP, "-t", "ir", "-o", str(out), "--check")
    assert_clean_failure(stale, 1, "stale")
    assert "fps_old" in out.read_text(), "--check must never write"


def test_failed_compile_leaves_existing_output_untouched(tmp_path):
    good = write_pipeline(tmp_path, GOOD, name="good.py")
    out = tmp_path / "doc.json"
    assert run_cli("compile", str(good), "-t", "ir", "-o", str(out)).returncode == 0
    before = out.read_bytes()
    bad = write_pipeline(tmp_path, GOOD.replace("step(n=n)", "step(n=n, m=1)"), name="bad.py")
    assert run_cli("compile", str(bad), "-t", "ir", "-o", str(out)).returncode == 1
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_validate_reports_ok_and_errors(tmp_path):
    ok = run_cli("validate", FLAGSHIP)
    assert ok.returncode == 0 and "ok: pipeline 'video-analysis' is valid for" in ok.stdout
    path = write_pipeline(tmp_path, CYCLIC)
    assert_clean_failure(run_cli("validate", str(path), "-t", "ir"), 1, "PC001")


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "json"])
def test_graph_formats(fmt):
    result = run_cli("graph", str(EXAMPLES / "multi_camera.py"), "--format", fmt)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if fmt == "json":
        data = json.loads(out)
        assert len(data["nodes"]) == 7 and len(data["edges"]) == 9
        assert {
            "from": "quality-check",
            "to": "summarize",
            "data": False,
            "outputs": [],
            "explicit": True,
        } in data["edges"]
    elif fmt == "dot":
        assert (
            out.startswith('digraph "multi-camera" {')
            and '"quality-check" -> "summarize" [style=dashed];' in out
        )
    else:
        assert out.startswith("flowchart LR") and "-.->" in out and "-- merged -->" in out


CONFIG_REQUIRED_TARGET = """
from pipecast.compilers.target import Capabilities, Document, Limits, Target
TARGET = Target(name="needy", suffix="needy.json", description="x",
                capabilities=Capabilities(), limits=Limits(),
                compile=lambda c, cfg: Document("needy", "{}\\n", "needy.json"),
                required_config=("artifact_root", "sagemaker.role_arn"))
"""


def test_missing_config_key_names_key_and_file(tmp_path):
    (tmp_path / "needy_target.py").write_text(CONFIG_REQUIRED_TARGET)
    (tmp_path / "pipecast.toml").write_text('region = "us-east-1"\n')
    path = write_pipeline(tmp_path, GOOD)
    code = (
        "import sys; from pipecast import compilers; "
        "compilers.TARGETS['needy'] = 'needy_target'; "
        "from pipecast.cli import main; main(sys.argv[1:])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, "compile", str(path), "-t", "needy"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert_clean_failure(
        result,
        1,
        "missing configuration key 'artifact_root'",
        str(tmp_path / "pipecast.toml"),
        "'sagemaker.role_arn'",
    )


def test_bad_config_file_is_a_clear_error(tmp_path):
    path = write_pipeline(tmp_path, GOOD)
    (tmp_path / "pipecast.toml").write_text('artifact_rot = "s3://x"\n')
    assert_clean_failure(
        run_cli("compile", str(path), "-t", "ir", cwd=tmp_path),
        1,
        "unknown key 'artifact_rot'; did you mean 'artifact_root'?",
    )
    (tmp_path / "pipecast.toml").write_text("artifact_root = \n")
    assert_clean_failure(
        run_cli("compile", str(path), "-t", "ir", cwd=tmp_path), 1, "not valid TOML"
    )


def test_cli_does_not_import_heavy_sdks():
    """Compiling for every target without an optional extra imports no SDK at all."""
    from pipecast.compilers import load_target

    light = [t for t in available_targets() if load_target(t).extra_module is None]
    assert {"ir", "sagemaker", "stepfunctions"} <= set(light)
    # main() always ends in sys.exit: record each code, so a failed compile (which would import
    # less) cannot pass unnoticed
    calls = "".join(
        f"try:\n    main(['compile', {FLAGSHIP!r}, '--target', {t!r}])\n"
        f"except SystemExit as exc:\n    print('EXIT', {t!r}, exc.code, file=sys.stderr)\n"
        for t in light
    )
    code = (
        "import sys; from pipecast.cli import main\n" + calls + "heavy = sorted(m for m in "
        "('kfp', 'boto3', 'botocore', 'sagemaker', 'moto') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    lines = result.stderr.splitlines()
    assert [x for x in lines if x.startswith("EXIT ")] == [f"EXIT {t} 0" for t in light], lines
    assert lines[-1] == "HEAVY []", result.stderr
    pipeline = load_example("video_analysis")
    assert result.stdout == "".join(compile_text(pipeline, t) for t in light)


def test_help_does_not_import_heavy_sdks_or_networkx():
    code = (
        "import sys; from pipecast.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit as exc:\n    print('EXIT', exc.code, file=sys.stderr)\n"
        "print('LOADED', sorted(m for m in ('kfp', 'boto3', 'networkx', 'jsonschema') "
        "if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stderr.splitlines() == ["EXIT 0", "LOADED []"], result.stderr
    assert "Usage: pipecast" in result.stdout and "compile" in result.stdout


@pytest.mark.parametrize("target", ["ir", "sagemaker"])
def test_python_api_returns_exactly_what_the_cli_writes(target):
    import pipecast

    result = run_cli("compile", FLAGSHIP, "--target", target)
    assert result.returncode == 0, result.stderr
    # both find examples/pipecast.toml beside the pipeline file (sagemaker needs its role_arn)
    assert pipecast.compile(load_example("video_analysis"), target) == result.stdout
    assert result.stdout == compile_text(load_example("video_analysis"), target, EXAMPLE_CONFIG)
