"""The target contract: the registry is the only place that names targets, and a target from
another distribution plugs in through the ``pipecast.targets`` entry points alone."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

from pipecast.compilers import TARGETS, load_target, target_names, targets_table
from pipecast.compilers.target import FEATURES, Capabilities
from pipecast.config import config_schema
from pipecast.errors import UsageError

README = ROOT / "README.md"
TABLE_RE = re.compile(r"(<!-- targets:begin -->\n)(.*?)(<!-- targets:end -->)", re.S)


def test_readme_table_is_generated_from_the_registry():
    text = README.read_text(encoding="utf-8")
    match = TABLE_RE.search(text)
    assert match, "README.md lost its <!-- targets:begin/end --> markers"
    if os.environ.get("PIPECAST_REGENERATE"):
        README.write_text(TABLE_RE.sub(lambda m: m[1] + targets_table() + m[3], text))
        return
    assert match[2] == targets_table(), "stale: PIPECAST_REGENERATE=1 pytest tests/test_targets.py"
    for name in target_names():
        assert f"| `{name}` |" in match[2]


def test_every_target_section_is_in_the_config_schema():
    properties = config_schema()["properties"]
    for name in target_names():
        section = load_target(name).config_section
        assert properties.get(name) == section or section is None
    assert list(properties)[:2] == ["artifact_root", "region"] and "local" in properties


def test_capabilities_list_only_known_features():
    assert Capabilities().supports("spot")
    assert not Capabilities(unsupported={"caching"}).supports("caching")
    with pytest.raises(ValueError, match="chaching"):
        Capabilities(unsupported={"chaching"})
    assert set(FEATURES) >= {"spot", "gpu", "caching", "disk"}


def test_capabilities_keep_what_they_are_given():
    default = Capabilities()
    assert (default.unsupported, default.requires_image, default.supported) == (
        frozenset(),
        True,
        frozenset(),
    )
    assert default.keeps_per_target is False and default.hints == {}
    given = Capabilities(
        unsupported=["gpu"],
        requires_image=False,
        supported=("loops",),
        keeps_per_target=True,
        hints={"gpu": "use a CPU"},
    )
    assert (given.unsupported, given.requires_image, given.supported) == (
        frozenset({"gpu"}),
        False,
        frozenset({"loops"}),
    )
    assert given.keeps_per_target is True and given.hints == {"gpu": "use a CPU"}


def test_a_target_that_keeps_per_target_settings_gets_the_spec_as_written():
    """``keeps_per_target`` (the IR): settings for other targets stay, with no PC014 note; a
    target without it gets the step without them and one note per dropped setting."""
    import dataclasses

    from pipecast import dsl
    from pipecast.compilers._features import project
    from pipecast.dsl import Retry

    @dsl.container_component(image="r/a:1", command=["a"])
    def work():
        """Works."""

    @dsl.pipeline(name="kept")
    def kept():
        work().set_retry(Retry(max_attempts=2), targets=("kubeflow",))

    spec = kept.spec
    sagemaker = load_target("sagemaker")
    keeper = dataclasses.replace(sagemaker, capabilities=Capabilities(keeps_per_target=True))
    assert project(spec, keeper) == (spec, [])
    dropping = dataclasses.replace(sagemaker, capabilities=Capabilities())
    projected, (note,) = project(spec, dropping)
    assert projected.step("work").retry is None and spec.step("work").retry is not None
    assert (note.code, note.severity, note.step) == ("PC014", "warning", "work")
    assert (
        note.message
        == "step 'work': retry is left out on sagemaker, as targets=(\"kubeflow\",) asks"
    )
    assert note.hint == "add 'sagemaker' to targets=(...) to keep it here"


def test_bad_registrations_are_usage_errors(monkeypatch):
    monkeypatch.setitem(TARGETS, "ghost", "no_such_module_anywhere")
    with pytest.raises(UsageError) as info:
        load_target("ghost")
    assert str(info.value) == (
        "target 'ghost' (no_such_module_anywhere) cannot be loaded: No module named "
        "'no_such_module_anywhere'"
    )
    monkeypatch.setitem(TARGETS, "ghost", "pipecast.compilers.ir:NOPE")
    with pytest.raises(UsageError) as info:
        load_target("ghost")
    assert str(info.value).startswith(
        "target 'ghost' (pipecast.compilers.ir:NOPE) cannot be loaded: module "
    )
    monkeypatch.setitem(TARGETS, "ghost", "pipecast.compilers.ir")  # a Target named "ir"
    with pytest.raises(UsageError) as info:
        load_target("ghost")
    assert str(info.value) == (
        "target 'ghost' (pipecast.compilers.ir) is not a pipecast.compilers.target.Target named "
        "'ghost'"
    )
    monkeypatch.setitem(TARGETS, "ghost", "pipecast.compilers.ir:compile")  # not a Target
    with pytest.raises(UsageError) as info:
        load_target("ghost")
    assert str(info.value) == (
        "target 'ghost' (pipecast.compilers.ir:compile) is not a pipecast.compilers.target.Target "
        "named 'ghost'"
    )
    assert load_target("ir") is load_target("ir")  # the module's own TARGET by default


def test_an_unknown_target_is_a_usage_error_with_the_closest_name():
    names = ", ".join(target_names())
    with pytest.raises(UsageError) as info:
        load_target("sagemkaer")
    assert str(info.value) == (
        f"unknown target 'sagemkaer'; did you mean 'sagemaker'? (targets: {names}, all)"
    )
    with pytest.raises(UsageError) as info:
        load_target("zzz")
    assert str(info.value) == f"unknown target 'zzz' (targets: {names}, all)"
    assert names.startswith("ir, sagemaker, stepfunctions, kubeflow")


# modules that belong to one target (or are the registry) may name targets; no other module may
_TARGET_FILES = re.compile(r"^(sagemaker|stepfunctions|kubeflow|ir)(_\w+)?\.py$")


# the registry, and AWS plumbing that names botocore services (which share names with targets)
_ALLOWED = {"compilers/__init__.py", "compilers/_aws_models.py"}


def test_shared_code_never_names_a_target():
    names = set(TARGETS)
    offenders = []
    for folder in ("compilers", "dsl", "pipecast"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            allowed = any(path.as_posix().endswith("/" + a) for a in _ALLOWED)  # any layout
            if _TARGET_FILES.match(path.name) or allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not offenders, "\n".join(offenders)


def test_cli_target_help_and_deploy_choices_come_from_the_registry():
    help_text = run_cli("compile", "--help").stdout
    assert ", ".join(target_names()) + ", or all" in " ".join(help_text.split())
    deployable = [n for n in target_names() if load_target(n).deploy is not None]
    deploy_help = " ".join(run_cli("deploy", "--help").stdout.split())
    assert f"[{'|'.join(deployable)}]" in deploy_help


TOY_MODULE = '''
"""A toy target living in its own distribution: the steps in order, as JSON."""

from pipecast.compilers.canonical import dumps_json
from pipecast.compilers.target import Capabilities, Document, Target


def compile(checked, config):
    steps = [
        {"id": s.id, "image": checked.spec.component(s.component).image}
        for s in checked.steps()
    ]
    body = {"greeting": config.get("toy.greeting", "hi"), "pipeline": checked.spec.name}
    return Document("toy", dumps_json({**body, "steps": steps}), "toy.json")


TARGET = Target(
    name="toy",
    suffix="toy.json",
    description="a toy target: the steps in order",
    compile=compile,
    capabilities=Capabilities(unsupported={"spot"}),
    config_section={
        "type": "object",
        "additionalProperties": False,
        "properties": {"greeting": {"type": "string"}},
    },
)
'''

TOY_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "pipecast-toy-target"
version = "0.1.0"

[project.entry-points."pipecast.targets"]
toy = "pipecast_toy"

[tool.setuptools]
py-modules = ["pipecast_toy"]
"""

PIPELINE = """
from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output, Spot


@dsl.container_component(image="r.example.com/make:1.0", command=["make"])
def make(data: Output[Dataset]):
    '''Make data.'''


@dsl.container_component(image="r.example.com/use:2.0", command=["use"])
def use(data: Input[Dataset]):
    '''Use it.'''


@dsl.pipeline(name="toy-pipe")
def toy_pipe():
    use(data=make().output)


@dsl.pipeline(name="spotty")
def spotty():
    make().set_spot(Spot("1h"))
"""


@pytest.fixture(scope="module")
def toy_python(tmp_path_factory) -> Path:
    """A throwaway venv that sees this pipecast (and its dependencies) through a .pth file, with
    the toy distribution installed into it (its module and its entry point, nothing else)."""
    base = tmp_path_factory.mktemp("toy")
    source = base / "src"
    source.mkdir()
    (source / "pipecast_toy.py").write_text(TOY_MODULE)
    (source / "pyproject.toml").write_text(TOY_PYPROJECT)
    env_dir = base / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]  # the running env: pipecast (editable), deps, pip
    Path(site, "_pipecast_dev.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--quiet",
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    return python


def _cli(python: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [str(python), "-m", "pipecast", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


@pytest.mark.slow
def test_a_target_from_another_distribution_compiles_from_the_cli(toy_python, tmp_path):
    (tmp_path / "pipe.py").write_text(PIPELINE)
    (tmp_path / "pipecast.toml").write_text(
        'artifact_root = "s3://b/p"\n[toy]\ngreeting = "hello"\n'
    )
    out = _cli(toy_python, "compile", "pipe.py:toy_pipe", "--target", "toy", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == textwrap.dedent(
        """\
        {
          "greeting": "hello",
          "pipeline": "toy-pipe",
          "steps": [
            {
              "id": "make",
              "image": "r.example.com/make:1.0"
            },
            {
              "id": "use",
              "image": "r.example.com/use:2.0"
            }
          ]
        }
        """
    )
    listed = _cli(toy_python, "compile", "--help", cwd=tmp_path).stdout
    assert "kubeflow, toy, or all" in " ".join(listed.split())
    # the capability it declares is checked by pipecast, before its compile runs
    spot = _cli(toy_python, "compile", "pipe.py:spotty", "--target", "toy", cwd=tmp_path)
    assert spot.returncode == 1 and "error[PC008]" in spot.stderr
    assert "spot (.set_spot(Spot(...)) / spot=Spot(...)) is not expressible on toy" in spot.stderr
    # its config section is part of the schema: a typo in it gets a suggestion
    (tmp_path / "pipecast.toml").write_text('artifact_root = "s3://b/p"\n[toy]\ngreting = "x"\n')
    typo = _cli(toy_python, "compile", "pipe.py:toy_pipe", "--target", "toy", cwd=tmp_path)
    assert typo.returncode == 1 and "unknown key 'greting'; did you mean 'greeting'?" in typo.stderr
    # and --target all includes it
    (tmp_path / "pipecast.toml").write_text((ROOT / "examples" / "pipecast.toml").read_text())
    everything = _cli(
        toy_python, "compile", "pipe.py:toy_pipe", "--target", "all", "-o", "out", cwd=tmp_path
    )
    assert everything.returncode == 0, everything.stderr
    assert (tmp_path / "out" / "toy-pipe.toy.json").read_text().startswith('{\n  "greeting": "hi"')
    assert (tmp_path / "out" / "toy-pipe.ir.json").is_file()


def test_the_toy_is_not_registered_here():
    """The toy lives only in its throwaway venv (the test above), never in this environment."""
    assert "toy" not in target_names() and sys.modules.get("pipecast_toy") is None
