"""The Kubeflow target's mapping of step settings, on documents compiled in the test.

What a user relies on: the requested CPU, memory and GPUs (count and model) reach the pod, retries
count retries, caching is on only when asked, spot and pinned instance types become node selectors
and tolerations from the config, a timeout becomes the pod's deadline, and arguments of every kind
reach the container.
"""

from __future__ import annotations

import pytest
import yaml
from helpers import EXAMPLE_CONFIG, compile_text, only_diagnostic

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
    assert document.notes == (
        "note: importer 'importer' is a manifest file; on Kubeflow the steps receive the "
        "manifest itself, not the objects it lists",
    )
    tasks = next(yaml.safe_load_all(document.text))["root"]["dag"]["tasks"]
    uris = {name: tasks[name]["inputs"]["parameters"]["uri"] for name in ("importer", "importer-2")}
    assert uris["importer"] == {"componentInputParameter": "source"}
    assert uris["importer-2"] == {"runtimeValue": {"constant": "s3://b/x/"}}
    assert tasks["read"]["inputs"]["artifacts"]["video"]["taskOutputArtifact"] == {
        "outputArtifactKey": "artifact",
        "producerTask": "importer",
    }


# ----- strings Kubeflow would resolve are refused, each with where it is ------------------------


@dsl.container_component(
    image=IMG,
    command=["run", "{{$.x}}"],
    args=['{"Concat": [1]}', ["pre-", dsl.param("x")], dsl.input_path("data")],
)
def literal_user(data: Input[Dataset], x: str):
    """Receives strings KFP or Kubernetes would read as references."""


@dsl.pipeline(name="unsafe-literals")
def unsafe_literals(p: str = "a{{channel:x}}"):
    imp = dsl.importer(uri="s3://b/$(HOME)", artifact_type=Dataset)
    literal_user(data=imp.output, x="$$")


def test_every_string_kubeflow_would_resolve_is_refused_with_where_it_is():
    from pipecast.compilers.kubeflow import literal_diagnostics

    spec = unsafe_literals.spec
    (imp,) = spec.importers
    step = spec.step("literal-user")
    found = [
        ("default of parameter 'p'", "a{{channel:x}}", "{{channel:", spec.parameters[0].location),
        (f"importer '{imp.id}' URI", "s3://b/$(HOME)", "$(", imp.location),
        ("step 'literal-user': argument x", "$$", "$$", step.location),
        ("step 'literal-user': command entry", "{{$.x}}", "{{$", step.location),
        ("step 'literal-user': argument", '{"Concat": [1]}', '{"Concat"', step.location),
    ]
    problems = literal_diagnostics(spec)
    assert [(d.code, d.message, d.location, d.step) for d in problems] == [
        (
            "PC008",
            f"{where} {text!r} contains {marker!r}, which Kubeflow would resolve at run time "
            "instead of passing it on: it cannot reach the job unchanged on this target",
            location,
            None if where.startswith(("default", "importer")) else "literal-user",
        )
        for where, text, marker, location in found
    ]
    assert {d.hint for d in problems} == {
        "KFP and Kubernetes have no escape for it; pass the text in an input file (an "
        "artifact); sagemaker and stepfunctions pass it as is"
    }
    assert all(d.location is not None for d in problems)


# ----- the review's resources: each quantity once, in the user's units --------------------------


def _quantities(memory: str, memory_gb: float, cpu: str, cpus: float) -> dict[str, object]:
    """A task's resources as kfp writes them: each quantity as limit and request, in the user's
    units and as a number (memory in GB)."""
    return {
        "resourceMemoryLimit": memory,
        "resourceMemoryRequest": memory,
        "memoryLimit": memory_gb,
        "memoryRequest": memory_gb,
        "resourceCpuLimit": cpu,
        "resourceCpuRequest": cpu,
        "cpuLimit": cpus,
        "cpuRequest": cpus,
    }


@pytest.mark.parametrize(
    ("memory", "memory_gb"),
    [
        ("2Ki", 2048 / 1e9),
        ("512Mi", 512 * 2**20 / 1e9),
        ("8Gi", 8 * 2**30 / 1e9),
        ("1Ti", 2**40 / 1e9),
        ("3K", 3e-6),
        ("5M", 0.005),
        ("4G", 4.0),
        ("1T", 1000.0),
        ("1000", 1e-6),
    ],
)
@pytest.mark.parametrize(("cpu", "cpus"), [("500m", 0.5), ("4", 4.0)])
def test_agreeing_copies_of_a_quantity_show_once_in_every_unit(memory, memory_gb, cpu, cpus):
    from pipecast.compilers.kubeflow_review import resources_summary

    resources = {**_quantities(memory, memory_gb, cpu, cpus), "other": 1}
    assert resources_summary(resources) == {"cpu": cpu, "memory": memory, "other": 1}
    off = {**resources, "memoryRequest": memory_gb * 2}
    assert resources_summary(off)["memory"] == {
        "resourceMemoryLimit": memory,
        "resourceMemoryRequest": memory,
        "memoryLimit": memory_gb,
        "memoryRequest": memory_gb * 2,
    }


def test_disagreeing_copies_and_accelerators_are_shown_as_written():
    from pipecast.compilers.kubeflow_review import resources_summary

    resources = {**_quantities("8Gi", 8 * 2**30 / 1e9, "2", 2.0), "resourceCpuRequest": "1"}
    gpu = {"count": "1", "resourceCount": "1", "type": "T4", "resourceType": "T4"}
    got = resources_summary({**resources, "accelerator": gpu})
    assert got == {
        "memory": "8Gi",
        "cpu": {
            "resourceCpuLimit": "2",
            "resourceCpuRequest": "1",
            "cpuLimit": 2.0,
            "cpuRequest": 2.0,
        },
        "accelerator": "1 × T4",
    }
    odd = {**gpu, "resourceCount": "2"}
    assert resources_summary({"accelerator": odd}) == {"accelerator": odd}
    assert resources_summary({"memoryLimit": 1.0})["memory"] == {
        "resourceMemoryLimit": None,
        "resourceMemoryRequest": None,
        "memoryLimit": 1.0,
        "memoryRequest": None,
    }
    assert resources_summary({}) == {}


# ----- what Kubeflow says about spot, exit tasks, text outputs and sharded manifests -----------


def test_spot_without_a_node_selector_is_refused_per_spot_step():
    from pipecast.errors import PipelineError

    @dsl.pipeline(name="spot-unset")
    def spot_unset():
        make().set_spot(Spot("2h"))
        make().set_spot(Spot("2h"))
        make()

    config = Config({k: v for k, v in EXAMPLE_CONFIG.data.items() if k != "kubeflow"})
    with pytest.raises(PipelineError) as info:
        compile_text(spot_unset, "kubeflow", config)
    spec = spot_unset.spec
    assert [(d.code, d.message, d.hint, d.step, d.location) for d in info.value.diagnostics] == [
        (
            "PC008",
            f"step '{step}': spot capacity on Kubeflow needs a node selector, and [kubeflow] "
            "spot_node_selector is not configured",
            "add to pipecast.toml (with your cluster's spot label): [kubeflow] "
            'spot_node_selector = { "eks.amazonaws.com/capacityType" = "SPOT" }; or drop '
            ".set_spot() for this target",
            step,
            spec.step(step).location,
        )
        for step in ("make", "make-2")
    ]


def test_exit_tasks_and_text_outputs_get_a_note_saying_what_kubeflow_hands_them():
    from helpers import compile_document

    @dsl.container_component(image=IMG, command=["python", "-m", "report"])
    def python_report(status: str):
        """A Python exit task."""

    @dsl.container_component(image=IMG, command=["report"])
    def plain_report(status: str):
        """An exit task that is not Python."""

    @dsl.container_component(image=IMG, command=["label"])
    def label(first: Output[str], second: Output[str], count: Output[int]):
        """Writes text."""

    @dsl.pipeline(name="noted-python")
    def noted_python():
        with dsl.ExitHandler(python_report(status=dsl.RUN_STATUS)):
            label()

    @dsl.pipeline(name="noted-plain")
    def noted_plain():
        with dsl.ExitHandler(plain_report(status=dsl.RUN_STATUS)):
            make()

    text = (
        "note: step 'label' writes text output parameters ('first', 'second'): on Kubeflow a "
        "POSIX-shell wrapper in its container turns the JSON string it writes into the raw text "
        "KFP reads, so its image needs sh, awk and mv"
    )
    adapted = (
        "note: step 'python-report' reads dsl.RUN_STATUS: on Kubeflow a small adapter in its "
        'container turns KFP\'s final status into {"state", "failed_step", "error"}; '
        "failed_step is always null there (KFP does not name the failed task), error is KFP's "
        "message, and a cancelled run is FAILED"
    )
    as_is = (
        "note: step 'plain-report' reads dsl.RUN_STATUS, and its command is not a Python "
        "interpreter that an adapter could run in front of: on Kubeflow it receives KFP's final "
        'status as JSON, {"state", "error": {"code", "message"}, "pipelineJobResourceName", '
        '"pipelineTaskName"}, not {"state", "failed_step", "error"} (state may be CANCELLED)'
    )
    assert set(compile_document(noted_python, "kubeflow").notes) == {adapted, text}
    assert set(compile_document(noted_plain, "kubeflow").notes) == {as_is}


def test_sharding_a_manifest_is_refused_on_kubeflow():

    @dsl.container_component(image=IMG, command=["read"], instances=2, shard=["video"])
    def read_all(video: Input[Dataset]):
        """Reads its share."""

    @dsl.pipeline(name="sharded-manifest")
    def sharded_manifest(source: str = "s3://b/list.json"):
        read_all(video=dsl.importer(uri=source, artifact_type=Dataset, manifest=True).output)

    problem = only_diagnostic(sharded_manifest, "kubeflow")
    assert (problem.code, problem.step) == ("PC008", "read-all")
    assert problem.location == sharded_manifest.spec.step("read-all").location is not None
    assert problem.message == (
        "step 'read-all': sharding the manifest input 'video' is not expressible on kubeflow "
        "(the step receives the manifest file itself)"
    )
    assert problem.hint == (
        "import the objects' S3 prefix instead of a manifest for kubeflow; sagemaker, "
        "stepfunctions and the local runner shard a manifest"
    )


# ----- the review's summary of a Kubeflow document ----------------------------------------------


@dsl.container_component(image=IMG, command=["make-n"])
def make_n(count: int, data: Output[Dataset], n: Output[int]):
    """Writes an artifact and a number."""


@dsl.container_component(image=IMG, command=["use"])
def use_all(data: Input[Dataset], label: str, n: int):
    """Reads an artifact, a text and a number."""


@dsl.container_component(image=IMG, command=["report"])
def status_report(status: str):
    """Reports how the run ended."""


@dsl.pipeline(name="described")
def described(cams: list = ["a"], k: int = 2):  # noqa: B006
    done = status_report(status=dsl.RUN_STATUS).set_name("report")
    with dsl.ExitHandler(done):
        made = (
            make_n(count=k)
            .set_name("make")
            .set_retry(Retry(max_attempts=3))
            .set_caching(True)
            .set_env(A="1")
            .set_spot(Spot("2h"))
        )
        with dsl.If(made.outputs["n"] > 1):
            use_all(data=made.outputs["data"], label="x", n=made.outputs["n"]).set_name("in-if")
        with dsl.ParallelFor(cams, parallelism=2) as cam:
            use_all(data=made.outputs["data"], label=cam, n=3).set_name("in-loop")
        with dsl.ParallelFor([1, 2]):
            use_all(data=made.outputs["data"], label="y", n=4).set_name("in-literal")


def test_the_review_summary_reads_each_task_and_group_where_it_sits():
    from pipecast.compilers.kubeflow_review import describe

    documents = list(yaml.safe_load_all(compile_text(described, "kubeflow")))
    summary = describe(documents)
    assert summary.name == "described" and set(summary.parameters) == {"cams", "k"}
    groups = {
        s.id: (s.kind, dict(s.fields)) for s in summary.steps.values() if s.kind != "container task"
    }
    (handler,) = [g for g, (kind, _) in groups.items() if kind == "group"]
    (condition,) = [g for g, (kind, _) in groups.items() if kind == "condition"]
    literal, runtime = sorted(
        (g for g, (kind, _) in groups.items() if kind == "loop"),
        key=lambda g: groups[g][1]["items"] != "[1, 2]",
    )
    assert groups[handler][1] == {"in": None, "depends on": []}
    assert groups[condition][1] == {
        "in": handler,
        "condition": "int(make-n) > 1",  # kfp's CEL with each parameter by its bare name
        "depends on": ["make"],
    }
    assert groups[literal][1] == {
        "in": handler,
        "items": "[1, 2]",
        "parallelism": None,
        "depends on": ["make"],
    }
    assert groups[runtime][1] == {
        "in": handler,
        "items": "cams",
        "parallelism": 2,
        "depends on": ["make"],
    }
    make = dict(summary.steps["make"].fields)
    assert make["inputs"] == {"count": "k"} and make["in"] == handler
    assert make["retry"]["maxRetryCount"] == 2 and make["caching"] == {"enableCache": True}
    assert make["env"] == {"A": "1"} and make["spot"] is True
    assert make["node selector"] == {"eks.amazonaws.com/capacityType": "SPOT"}
    assert "runs when" not in make and make["image"] == IMG and make["command"] == ["make-n"]
    report = dict(summary.steps["report"].fields)
    assert report["inputs"] == {"status": f"final status of {handler}"}
    assert report["depends on"] == [handler] and "in" not in report
    assert report["runs when"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert (report["retry"], report["spot"], report["node selector"], report["env"]) == (
        None,
        None,
        None,
        {},
    )
    in_if = dict(summary.steps["in-if"].fields)
    assert in_if["in"] == f"{handler}/{condition}"
    assert in_if["inputs"] == {"data": "make-data", "label": "x", "n": "make-n"}
    assert summary.steps["in-loop"].fields["in"] == f"{handler}/{runtime}"
    assert summary.steps["in-literal"].fields["in"] == f"{handler}/{literal}"
