"""The Kubeflow target's mapping of step settings, on documents compiled in the test.

What a user relies on: the requested CPU, memory and GPUs (count and model) reach the pod, retries
count retries, caching is on only when asked, spot and pinned instance types become node selectors
and tolerations from the config, a timeout becomes the pod's deadline, and arguments of every kind
reach the container.
"""

from __future__ import annotations

import pytest
import yaml
from helpers import EXAMPLE_CONFIG, compile_text

from pipecast import dsl
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

pytest.importorskip("kfp")

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["make", "-v"])
def make(data: Output[Dataset]):
    """Produce a dataset."""


@dsl.container_component(
    image=IMG,
    command=["use"],
    args=[
        "--in",
        dsl.input_path("data"),
        ["--uri=", dsl.input_uri("data")],
        ["--label=", dsl.param("label")],
        "--flag",
        dsl.param("flag"),
        "--out",
        dsl.output_path("out"),
    ],
)
def use(data: Input[Dataset], label: str, out: Output[Dataset], flag: bool = False):
    """Every placeholder kind."""


def _documents(pipeline, config: Config = EXAMPLE_CONFIG) -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all(compile_text(pipeline, "kubeflow", config)))
    platform = (
        docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if len(docs) > 1 else {}
    )
    return docs[0], platform


def _container(main: dict, step: str) -> dict:
    return main["deploymentSpec"]["executors"][f"exec-{step}"]["container"]


def _task(main: dict, step: str) -> dict:
    return main["root"]["dag"]["tasks"][step]


@pytest.mark.parametrize(
    ("resources", "cpu", "memory"),
    [
        (Resources(cpu=0.5, memory="512MiB"), "0.5", "512Mi"),
        (Resources(cpu=4, memory="16GiB"), "4", "16Gi"),
        (Resources(cpu=2, memory="1TiB"), "2", "1Ti"),
        (Resources(cpu=1, memory="1500MB"), "1", "1500000000"),  # no exact binary unit
        (Resources(cpu=1, memory="1536KiB"), "1", "1536Ki"),
    ],
)
def test_cpu_and_memory_are_requests_and_limits(resources, cpu, memory):
    @dsl.pipeline(name="res")
    def res():
        make().set_resources(resources)

    main, _ = _documents(res)
    got = _container(main, "make")["resources"]
    assert got["resourceCpuRequest"] == got["resourceCpuLimit"] == cpu
    assert got["resourceMemoryRequest"] == got["resourceMemoryLimit"] == memory
    assert "accelerator" not in got


@pytest.mark.parametrize(("gpu", "gpu_type"), [(1, None), (4, "A10G"), (2, "T4"), (8, "H100")])
def test_gpus_keep_their_count_and_the_model_is_a_node_selector(gpu, gpu_type):
    @dsl.pipeline(name="gpu")
    def gpu_pipeline():
        make().set_resources(Resources(cpu=1, memory="2GiB", gpu=gpu, gpu_type=gpu_type))

    main, platform = _documents(gpu_pipeline)
    acc = _container(main, "make")["resources"]["accelerator"]
    assert acc["resourceCount"] == str(gpu)
    assert acc["resourceType"] == "nvidia.com/gpu"
    if gpu_type is None:
        assert "exec-make" not in platform
    else:
        labels = platform["exec-make"]["nodeSelector"]["labels"]
        assert labels == {"karpenter.k8s.aws/instance-gpu-name": gpu_type.lower()}


def test_retry_caching_env_and_defaults():
    @dsl.pipeline(name="settings")
    def settings():
        make().set_retry(Retry(3, "10s", 1.5)).set_caching(False).set_env(B="2", A="1")
        make().set_caching(True).set_retry(Retry(1))
        make()

    main, platform = _documents(settings)
    first, second, third = (_task(main, s) for s in ("make", "make-2", "make-3"))
    assert first["retryPolicy"]["maxRetryCount"] == 2
    assert first["retryPolicy"]["backoffDuration"] == "10s"
    assert first["retryPolicy"]["backoffFactor"] == 1.5
    assert first["cachingOptions"] == {}
    assert second["cachingOptions"] == {"enableCache": True}
    assert third["cachingOptions"] == {}, "caching is off unless asked"
    assert "retryPolicy" not in second and "retryPolicy" not in third
    env = _container(main, "make")["env"]
    assert {e["name"]: e["value"] for e in env} == {"A": "1", "B": "2"}
    assert "env" not in _container(main, "make-2")
    assert platform == {}


def test_spot_timeout_and_instance_type_are_placement():
    @dsl.pipeline(name="place")
    def place():
        make().set_spot(Spot("2h")).set_timeout("1h")
        make().set_instance_type("ml.g5.12xlarge")
        make()

    _, platform = _documents(place)
    spot = platform["exec-make"]
    assert spot["nodeSelector"]["labels"] == {"eks.amazonaws.com/capacityType": "SPOT"}
    assert spot["tolerations"] == [{"effect": "NoSchedule", "key": "spot", "operator": "Exists"}]
    assert spot["activeDeadlineSeconds"] == "3600"
    pinned = platform["exec-make-2"]
    assert pinned == {
        "nodeSelector": {"labels": {"node.kubernetes.io/instance-type": "g5.12xlarge"}}
    }
    assert "exec-make-3" not in platform


def test_spot_placement_keys_come_from_the_config():
    config = Config(
        {
            **EXAMPLE_CONFIG.data,
            "kubeflow": {
                "spot_node_selector": {"pool": "cheap", "a-first": "yes"},
                "spot_tolerations": [
                    {"key": "preemptible", "value": "true", "effect": "NoExecute"},
                    {"key": "other", "operator": "Exists"},
                ],
            },
        }
    )

    @dsl.pipeline(name="spot")
    def spot():
        make().set_spot(Spot())

    _, platform = _documents(spot, config)
    placed = platform["exec-make"]
    assert placed["nodeSelector"]["labels"] == {"a-first": "yes", "pool": "cheap"}
    first, second = placed["tolerations"]
    assert first == {
        "key": "preemptible",
        "operator": "Equal",
        "value": "true",
        "effect": "NoExecute",
    }
    assert second["key"] == "other" and second["operator"] == "Exists"
    assert "value" not in second and "effect" not in second


def test_arguments_of_every_kind_reach_the_container():
    @dsl.pipeline(name="args")
    def args(label: str = "cars"):
        use(data=make().output, label=label, flag=True)

    main, _ = _documents(args)
    container = _container(main, "use")
    assert container["image"] == IMG
    assert container["command"] == ["use"]
    assert container["args"] == [
        "--in",
        "{{$.inputs.artifacts['data'].path}}",
        "--uri={{$.inputs.artifacts['data'].uri}}",
        "--label={{$.inputs.parameters['label']}}",
        "--flag",
        "{{$.inputs.parameters['flag']}}",
        "--out",
        "{{$.outputs.artifacts['out'].path}}",
    ]
    assert _container(main, "make")["command"] == ["make", "-v"]
    task = _task(main, "use")
    assert task["inputs"]["parameters"]["flag"]["runtimeValue"]["constant"] is True
    assert task["inputs"]["parameters"]["label"]["componentInputParameter"] == "label"
    assert task["inputs"]["artifacts"]["data"]["taskOutputArtifact"] == {
        "outputArtifactKey": "data",
        "producerTask": "make",
    }
    params = main["root"]["inputDefinitions"]["parameters"]
    assert params["label"]["defaultValue"] == "cars"
    assert main["defaultPipelineRoot"] == "s3://acme-ml/pipelines"


def test_explicit_after_edges_only_when_no_data_path_orders_them():
    @dsl.pipeline(name="after")
    def after():
        a = make().set_name("a")
        b = make().set_name("b").after(a)
        make().set_name("c").after(a, b)

    main, _ = _documents(after)
    assert _task(main, "b")["dependentTasks"] == ["a"]
    assert _task(main, "c")["dependentTasks"] == ["b"]  # a -> c is implied by a -> b -> c
    assert "dependentTasks" not in _task(main, "a")


def test_manifest_importer_is_passed_as_the_file_with_a_note():
    @dsl.container_component(image=IMG, command=["read"])
    def read(video: Input[Dataset]):
        """Read."""

    @dsl.pipeline(name="imp")
    def imp(source: str = "s3://b/list.json"):
        read(video=dsl.importer(uri=source, artifact_type=Dataset, manifest=True).output)
        read(video=dsl.importer(uri="s3://b/x/", artifact_type=Dataset).output)

    from pipecast._api import compile_spec, resolve_targets

    (target,), _ = resolve_targets("kubeflow")
    document = compile_spec(imp.spec, target, EXAMPLE_CONFIG)
    (note,) = document.notes
    assert "is a manifest file" in note and "not the objects it lists" in note
    tasks = next(yaml.safe_load_all(document.text))["root"]["dag"]["tasks"]
    uris = {name: tasks[name]["inputs"]["parameters"]["uri"] for name in ("importer", "importer-2")}
    assert uris["importer"] == {"componentInputParameter": "source"}
    assert uris["importer-2"] == {"runtimeValue": {"constant": "s3://b/x/"}}
    assert tasks["read"]["inputs"]["artifacts"]["video"]["taskOutputArtifact"] == {
        "outputArtifactKey": "artifact",
        "producerTask": "importer",
    }
