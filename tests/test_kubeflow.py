"""Kubeflow target: kfp's own loader accepts every example compiled here; settings read back
from the YAML (compiled in the test: the goldens are only compared byte for byte, in
test_goldens.py)."""

from __future__ import annotations

import difflib
import functools
import os
import subprocess
import sys

import pytest
from helpers import ROOT, compile_text, examples_for, load_example
from meaning import parse

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output

kfp = pytest.importorskip("kfp")
EXAMPLE_NAMES = examples_for("kubeflow")


@functools.cache
def fresh_text(example: str) -> str:
    return compile_text(load_example(example), "kubeflow")


def documents(example: str):
    """(main YAML document, kfp-kubernetes executor configs) of the example compiled now."""
    parsed = parse("kubeflow", fresh_text(example))
    return parsed["main"], parsed["platform"]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_load_with_kfps_own_loader(example, tmp_path):
    from kfp.components import load_component_from_file

    path = tmp_path / f"{example}.kubeflow.yaml"
    path.write_text(fresh_text(example))
    component = load_component_from_file(str(path))
    main, _ = documents(example)
    assert component.name == main["pipelineInfo"]["name"] == load_example(example).spec.name
    assert "sdkVersion" not in main  # same bytes for every allowed kfp release
    spec = load_example(example).spec
    # a scaled-out step is a loop of shards and one merge task per output (_kfp_shards)
    expected = {i.id for i in spec.importers}
    for step in spec.steps:
        if step.instances == 1:
            expected.add(step.id)
            continue
        outputs = spec.component(step.component).outputs
        expected |= {f"{step.id}-shards"} | {f"{step.id}-merged-{o.name}" for o in outputs}
    # every task that runs something (kfp nests those inside loops and conditions in groups)
    ran: set[str] = set()
    pending = [main["root"]["dag"]["tasks"]]
    while pending:
        for task in pending.pop().values():
            component = main["components"][task["componentRef"]["name"]]
            if "dag" in component and not task["taskInfo"]["name"].endswith("-shards"):
                pending.append(component["dag"]["tasks"])
            else:
                ran.add(task["taskInfo"]["name"])
    assert ran == expected


def test_flagship_tasks_keep_step_ids_images_resources_and_spot():
    main, platform = documents("video_analysis")
    spec = load_example("video_analysis").spec
    tasks = main["root"]["dag"]["tasks"]
    assert set(tasks) == {"importer", "extract-frames", "detect-objects", "track", "summarize"}
    executors = main["deploymentSpec"]["executors"]
    for step in spec.steps:
        container = executors[f"exec-{step.id}"]["container"]
        assert container["image"] == spec.component(step.component).image
        resources = container["resources"]
        assert resources["resourceCpuRequest"] == resources["resourceCpuLimit"]
        assert resources["resourceCpuRequest"] == f"{step.resources.cpu:g}"
        memory = step.resources.memory_bytes
        assert memory % 2**30 == 0  # the examples ask for whole GiB
        assert resources["resourceMemoryLimit"] == f"{memory // 2**30}Gi"
        assert resources["resourceMemoryRequest"] == resources["resourceMemoryLimit"]
        assert tasks[step.id]["cachingOptions"] == {}  # caching off unless asked for
    detect = executors["exec-detect-objects"]["container"]
    assert detect["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert detect["resources"]["accelerator"]["resourceCount"] == "1"
    assert "accelerator" not in executors["exec-track"]["container"]["resources"]
    assert platform["exec-detect-objects"]["nodeSelector"]["labels"] == {
        "eks.amazonaws.com/capacityType": "SPOT"
    }
    assert platform["exec-detect-objects"]["tolerations"][0]["key"] == "spot"
    assert "nodeSelector" not in platform["exec-track"]
    assert platform["exec-detect-objects"]["activeDeadlineSeconds"] == "7200"
    assert tasks["detect-objects"]["retryPolicy"]["maxRetryCount"] == 2
    assert main["defaultPipelineRoot"] == "s3://acme-ml/pipelines"


def test_gpu_model_caching_env_and_after_in_the_fan_out_example():
    main, _ = documents("multi_camera")
    executors = main["deploymentSpec"]["executors"]
    accel = executors["exec-detect-east"]["container"]["resources"]["accelerator"]
    assert accel["resourceType"] == "nvidia.com/gpu"  # the device plugin's resource, not a model
    tasks = main["root"]["dag"]["tasks"]
    assert tasks["extract-frames"]["cachingOptions"] == {}
    assert "quality-check" in tasks["summarize"]["dependentTasks"]
    env = executors["exec-summarize"]["container"]["env"]
    assert {"name": "REPORT_TITLE", "value": "Multi-camera run"} in env


IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["run"])
def src(out: Output[Dataset]):
    """x"""


@dsl.container_component(image=IMG, command=["run"])
def work(data: Input[Dataset], out: Output[Dataset]):
    """x"""


def fan(with_extra: bool):
    @dsl.pipeline(name="fan")
    def fan_pipeline():
        s = src()
        if with_extra:
            work(data=s.output).set_name("aaa-first")
        for i in range(3):
            work(data=s.output).set_name(f"branch-{i}")

    return fan_pipeline


def test_adding_a_branch_changes_only_that_branch():
    """The new step's component, executor and task are added; nothing else moves."""
    before = compile_text(fan(False), "kubeflow").splitlines()
    after = compile_text(fan(True), "kubeflow").splitlines()
    diff = list(difflib.unified_diff(before, after, lineterm="", n=0))[2:]
    hunks = [line for line in diff if line.startswith("@@")]
    removed = [line for line in diff if line.startswith("-")]
    added = [line for line in diff if line.startswith("+")]
    assert removed == [], removed
    assert len(hunks) == 3  # component, executor, task
    assert {"+  comp-aaa-first:", "+    exec-aaa-first:", "+      aaa-first:"} <= set(added)
    assert not any("branch-" in line for line in added)


def test_missing_kfp_prints_the_install_command(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(
        "import sys\nclass _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'kfp' or name.startswith('kfp.'):\n"
        "            raise ImportError('blocked for the test')\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    flagship = str(ROOT / "examples" / "video_analysis.py")
    result = subprocess.run(
        [sys.executable, "-m", "pipecast", "compile", flagship, "-t", "kubeflow"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 1, result.stderr
    assert "pip install 'pipecast[kubeflow]'" in result.stderr and "Traceback" not in result.stderr
    every = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipecast",
            "compile",
            flagship,
            "-t",
            "all",
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert every.returncode == 0 and "skipped target 'kubeflow'" in every.stderr


@pytest.mark.parametrize("example", ["video_analysis", "multi_camera"])
def test_fast_paths_change_no_byte_and_are_undone(example, monkeypatch):
    import inspect

    import kfp
    import kfp.dsl.pipeline_task
    import kfp.dsl.utils

    from pipecast.compilers._kfp_speedups import SWITCH, active

    assert active(kfp.__version__), "the installed kfp is outside TESTED_KFP: widen it, or pin"
    real_rename = kfp.dsl.utils.maybe_rename_for_k8s
    spec = load_example(example).spec
    fast = compile_text(spec, "kubeflow")
    assert kfp.dsl.pipeline_task.inspect is inspect  # restored after the compile
    assert kfp.dsl.utils.maybe_rename_for_k8s is real_rename
    monkeypatch.setenv(SWITCH, "0")
    assert not active(kfp.__version__)
    assert compile_text(spec, "kubeflow") == fast  # kfp at its own speed writes the same bytes


def test_fast_paths_are_undone_when_kfp_fails_and_apply_to_tested_versions_only():
    import inspect

    import kfp
    import kfp.dsl.pipeline_task
    import kfp.dsl.utils

    from pipecast.compilers._kfp_speedups import CheapInspect, active, kfp_speedups

    real_rename = kfp.dsl.utils.maybe_rename_for_k8s
    with pytest.raises(RuntimeError, match="kfp broke"), kfp_speedups(kfp.__version__) as on:
        assert on and isinstance(kfp.dsl.pipeline_task.inspect, CheapInspect)
        assert kfp.dsl.utils.maybe_rename_for_k8s is not real_rename
        raise RuntimeError("kfp broke")
    assert kfp.dsl.pipeline_task.inspect is inspect
    assert kfp.dsl.utils.maybe_rename_for_k8s is real_rename
    assert not active("2.13.0") and not active("2.18.0") and not active("3.0") and active("2.14.1")
    with kfp_speedups("3.0.0") as on:
        assert not on and kfp.dsl.pipeline_task.inspect is inspect


def test_cheap_stack_names_the_real_caller():
    from pipecast.compilers._kfp_speedups import CheapInspect

    def set_something():
        return CheapInspect.stack()[1]

    def caller():
        return set_something()

    frame = caller()
    assert frame[3] == "caller" and frame.function == "caller" and frame.filename == __file__
