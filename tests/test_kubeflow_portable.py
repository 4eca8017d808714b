"""Kubeflow documents that open-source KFP runs as written, and that no kfp release changes.

- GPU models become a node selector, never the accelerator type: the open-source driver uses the
  accelerator type as the pod's resource name, so ``NVIDIA_A10G`` would never be scheduled.
- Spot without a configured node selector is a compile error naming the config line, not a
  silently on-demand step.
- The bytes do not depend on the installed kfp: the oldest release ``pyproject.toml`` allows
  compiles every example to the committed goldens (a throwaway venv under ``build/``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

import pytest
import yaml
from helpers import (
    EXAMPLE_CONFIG,
    EXAMPLES,
    GOLDEN_DIR,
    ROOT,
    Unsupported,
    compile_text,
    expect,
    refused_features,
    run_cli,
)

from pipecast import dsl
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output, Resources, Spot

pytest.importorskip("kfp")
IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["run"])
def produce(out: Output[Dataset]):
    """x"""


@dsl.container_component(image=IMG, command=["detect"])
def detect(frames: Input[Dataset], dets: Output[Dataset]):
    """x"""


def gpu_pipeline(gpu: int, gpu_type: str | None, spot: bool = False) -> dsl.Pipeline:
    @dsl.pipeline(name="gpu")
    def pipe():
        frames = produce()
        task = detect(frames=frames.output).set_resources(
            Resources(cpu=4, memory="16GiB", gpu=gpu, gpu_type=gpu_type)
        )
        if spot:
            task.set_spot(Spot(max_wait="2h"))

    return pipe


def executors(text: str) -> tuple[dict, dict]:
    main, *rest = list(yaml.safe_load_all(text))
    platform = rest[0]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if rest else {}
    return main["deploymentSpec"]["executors"], platform


def with_kubeflow(**keys: object) -> Config:
    data = {**EXAMPLE_CONFIG.data, "kubeflow": {**EXAMPLE_CONFIG.data["kubeflow"], **keys}}
    return Config(data, EXAMPLE_CONFIG.source)


@pytest.mark.parametrize(
    ("gpu", "gpu_type", "label_value"),
    [(1, None, None), (4, None, None), (2, "A10G", "a10g"), (8, "h100", "h100"), (1, "L4", "l4")],
)
def test_gpus_are_the_device_plugin_resource_and_the_model_a_node_selector(
    gpu, gpu_type, label_value
):
    def check(text: str) -> None:
        execs, platform = executors(text)
        accel = execs["exec-detect"]["container"]["resources"]["accelerator"]
        assert accel["resourceType"] == "nvidia.com/gpu"
        assert accel["resourceCount"] == str(gpu)
        labels = platform.get("exec-detect", {}).get("nodeSelector", {}).get("labels", {})
        if label_value is None:
            assert labels == {}
        else:
            assert labels == {"karpenter.k8s.aws/instance-gpu-name": label_value}
        assert "exec-produce" not in platform

    expect(gpu_pipeline(gpu, gpu_type), kubeflow=check)


def test_the_gpu_model_label_is_configurable():
    config = with_kubeflow(gpu_type_label="nvidia.com/gpu.product")

    def check(text: str) -> None:
        _, platform = executors(text)
        assert platform["exec-detect"]["nodeSelector"]["labels"] == {
            "nvidia.com/gpu.product": "a10g"
        }

    expect(gpu_pipeline(1, "A10G"), config, kubeflow=check)


def test_gpu_model_and_spot_selectors_combine():
    def check(text: str) -> None:
        _, platform = executors(text)
        assert platform["exec-detect"]["nodeSelector"]["labels"] == {
            "eks.amazonaws.com/capacityType": "SPOT",
            "karpenter.k8s.aws/instance-gpu-name": "t4",
        }
        assert platform["exec-detect"]["tolerations"][0]["key"] == "spot"

    expect(gpu_pipeline(1, "T4", spot=True), kubeflow=check)


def test_spot_without_a_node_selector_is_an_error_naming_the_config_line():
    data = {k: v for k, v in EXAMPLE_CONFIG.data.items() if k != "kubeflow"}
    config = Config(data, EXAMPLE_CONFIG.source)
    expect(
        gpu_pipeline(1, None, spot=True),
        config,
        kubeflow=Unsupported("PC008", "[kubeflow] spot_node_selector = {"),
        sagemaker=True,  # the AWS targets need no such key
    )
    expect(gpu_pipeline(1, None, spot=False), config, kubeflow=True)


def test_spot_without_a_selector_from_the_cli_points_at_the_users_line(tmp_path):
    (tmp_path / "pipecast.toml").write_text('artifact_root = "s3://b/p"\n', encoding="utf-8")
    src = (ROOT / "examples" / "video_analysis.py").read_text(encoding="utf-8")
    path = tmp_path / "video.py"
    path.write_text(src, encoding="utf-8")
    proc = run_cli("compile", str(path), "--target", "kubeflow", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    line = next(i for i, t in enumerate(src.splitlines(), 1) if "detect_objects(" in t and "=" in t)
    assert re.search(rf"video\.py:{line}: error\[PC008\]: step 'detect-objects'", proc.stderr), (
        proc.stderr
    )
    assert "spot_node_selector" in proc.stderr


def test_documents_name_no_kfp_version():
    for golden in sorted(GOLDEN_DIR.glob("*.kubeflow.yaml")):
        assert "sdkVersion" not in golden.read_text(encoding="utf-8"), golden.name


def _oldest_allowed() -> list[str]:
    """The lower bounds of the ``kubeflow`` extra, pinned (``kfp>=2.14.1`` -> ``kfp==2.14.1``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["optional-dependencies"]["kubeflow"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+),.*", requirement)
        assert match, f"kubeflow extra needs a lower bound: {requirement}"
        pins.append(f"{match[1]}=={match[2]}")
    return pins


@pytest.mark.slow
def test_the_oldest_allowed_kfp_writes_the_same_bytes(tmp_path):
    """Compile every example with the oldest kfp the project allows: byte-identical goldens."""
    pins = _oldest_allowed()
    venv = ROOT / "build" / "kfp-oldest"
    python = venv / "bin" / "python"
    stamp = venv / ("installed-" + "-".join(pins))
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        proc = subprocess.run(
            [*install, *pins, "networkx", "jsonschema", "click", "PyYAML", "rich"],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            if os.environ.get("CI"):
                pytest.fail(f"could not install {pins}: {proc.stderr[-2000:]}")
            pytest.skip(f"could not install {pins} (offline?): pip install {' '.join(pins)}")
        subprocess.run([*install, "--no-deps", "-e", str(ROOT)], check=True)
        stamp.touch()
    version = subprocess.run(
        [str(python), "-c", "import kfp; print(kfp.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"kfp=={version}" in pins
    for example in sorted(EXAMPLES.glob("*.py")):
        if example.name.startswith("_") or refused_features(example, "kubeflow"):
            continue  # an example kubeflow cannot express yet has no golden to compare
        proc = subprocess.run(
            [
                str(python),
                "-m",
                "pipecast",
                "compile",
                str(example),
                "--target",
                "kubeflow",
                "-o",
                str(tmp_path / f"{example.stem}.yaml"),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert proc.returncode == 0, proc.stderr
        golden = GOLDEN_DIR / f"{example.stem.replace('_', '-')}.kubeflow.yaml"
        assert (tmp_path / f"{example.stem}.yaml").read_bytes() == golden.read_bytes(), (
            f"kfp {version} writes {golden.name} differently"
        )
    # control flow beyond the examples (camera_triage and camera_triage_fixed are above)
    import kfp_flow_pipelines

    script = (
        "import sys; sys.path.insert(0, 'tests'); import pipecast, kfp_flow_pipelines as m;"
        "sys.stdout.write(pipecast.compile(getattr(m, sys.argv[1]), 'kubeflow', "
        "'examples/pipecast.toml'))"
    )
    for function in ("triage", "branches", "text_condition", "loops", "exit_python"):
        old = subprocess.run(
            [str(python), "-c", script, function], capture_output=True, text=True, cwd=ROOT
        )
        assert old.returncode == 0, old.stderr
        pipeline = getattr(kfp_flow_pipelines, function)
        assert old.stdout == compile_text(pipeline, "kubeflow"), f"kfp {version}: {function}"
