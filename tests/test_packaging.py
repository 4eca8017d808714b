"""The package installs from a built wheel, with every folder importable as pipecast.<folder>."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from helpers import ROOT


@pytest.mark.slow
def test_wheel_installs_and_runs_in_a_throwaway_venv(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0 and "No module named build" in build.stderr:
        pytest.skip("the 'build' package is not installed (it is in the dev extra)")
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = dist.glob("pipecast-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import pipecast, pipecast.dsl, pipecast.compilers.graph, pipecast.components, "
        "pipecast.schemas\n"
        "from pipecast.schemas import load_schema\n"
        "assert load_schema('pipeline')['title'] and load_schema('config')['title']\n"
        "print(pipecast.__file__)\nprint(pipecast.dsl.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert str(env_dir) in line, f"imported from outside the wheel: {line}"
    cli = subprocess.run(
        [str(env_dir / "bin" / "pipecast"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert cli.returncode == 0 and "compile" in cli.stdout
    flagship = ROOT / "examples" / "video_analysis.py"
    compiled = subprocess.run(
        [str(env_dir / "bin" / "pipecast"), "compile", str(flagship), "-t", "ir"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert compiled.stdout == (ROOT / "examples/compiled/video-analysis.ir.json").read_text()


def test_editable_install_maps_every_folder():
    import pipecast.compilers
    import pipecast.components
    import pipecast.dsl
    import pipecast.schemas

    for module, folder in (
        (pipecast.dsl, "dsl"),
        (pipecast.compilers, "compilers"),
        (pipecast.components, "components"),
        (pipecast.schemas, "schemas"),
    ):
        assert Path(module.__file__).parent == ROOT / folder
