"""Scale-out of one step (DESIGN §13, issue #19): ``set_instances(count, shard=[...])``.

Oracles: botocore's request models (through the extracted slice, which
tests/test_validate_limits.py holds equal to the installed botocore) for the SageMaker and Step
Functions job requests; the split rule written out independently here (sorted keys, ``i mod
count``) against what real worker processes saw in their folders; real files for the merge and
the clash check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import compile_text

from pipecast import dsl
from pipecast.compilers import graph, load_target
from pipecast.compilers.sagemaker_validate import check_request
from pipecast.dsl import Dataset, Input, Output, Spot
from pipecast.errors import DefinitionError, PipelineError
from pipecast.runner import Capacity, run_pipeline
from pipecast.runner._shards import ShardClash, merge_outputs, objects, split_input

IMG = "123456789012.dkr.ecr.us-east-1.amazonaws.com/work:1.0"
HERE = Path(__file__).name

# a worker: copies every input file to ``<name>.out`` (a name derived from its input), and
# records what it saw under ``seen/<first key or pid>.json``; SHARED_NAME=1 writes one fixed name
WORKER = r"""
import json, os, sys
args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
src, ref, out = args["--items"], args["--reference"], args["--out"]
keys = sorted(
    (os.path.relpath(os.path.join(r, f), src).replace(os.sep, "/") for r, _, fs in os.walk(src)
     for f in fs), key=lambda k: k.encode())
for k in keys:
    os.makedirs(os.path.dirname(os.path.join(out, k + ".out")), exist_ok=True)
    with open(os.path.join(src, k), "rb") as a, open(os.path.join(out, k + ".out"), "wb") as b:
        b.write(a.read())
os.makedirs(os.path.join(out, "seen"), exist_ok=True)
name = "summary" if os.environ.get("SHARED_NAME") else str(os.getpid())
with open(os.path.join(out, "seen", name + ".json"), "w") as f:
    json.dump({"keys": keys, "reference": sorted(os.listdir(ref))}, f)
"""


@dsl.container_component(image=IMG, command=["python", "-c", WORKER])
def work(items: Input[Dataset], reference: Input[Dataset], out: Output[Dataset]):
    """Copy each item; note what this worker saw."""


@dsl.container_component(image=IMG, command=["python", "-c", WORKER], instances=2, shard=["items"])
def work_in_two(items: Input[Dataset], reference: Input[Dataset], out: Output[Dataset]):
    """The same, scaled out on the decorator."""


@dsl.container_component(image=IMG, command=["count"])
def counted(items: Input[Dataset], n: Output[int]):
    """Writes an output parameter."""


@dsl.container_component(
    image=IMG, command=["peek"], args=["--items", dsl.input_uri("items"), dsl.output_path("out")]
)
def by_uri(items: Input[Dataset], out: Output[Dataset]):
    """Reads its input by URI."""


# the same interface with a short command, for the documents (the script is over SageMaker's
# 256 characters per entrypoint entry, which the validator rightly refuses)
work_on_aws = work.with_image(IMG, command=["work"])


def _pipeline(count: int = 3, shard: list[str] | None = None, spot: bool = False, aws=False):
    @dsl.pipeline(name="scaled")
    def scaled(items_uri: str = "s3://acme/items/", ref_uri: str = "s3://acme/ref/"):
        items = dsl.importer(uri=items_uri, artifact_type=Dataset)
        ref = dsl.importer(uri=ref_uri, artifact_type=Dataset)
        step = work_on_aws if aws else work
        task = step(items=items.output, reference=ref.output).set_instances(
            count, shard=["items"] if shard is None else shard
        )
        if spot:
            task.set_spot(Spot("2h"))

    return scaled


# ----- the DSL -----------------------------------------------------------------------------------


def test_set_instances_and_the_decorator_reach_the_ir():
    step = _pipeline(4).spec.step("work")
    assert (step.instances, step.shard) == (4, ("items",))
    data = step.to_dict()
    assert (data["instances"], data["shard"]) == (4, ["items"])

    @dsl.pipeline(name="deco")
    def deco(u: str = "s3://a/b/"):
        items = dsl.importer(uri=u, artifact_type=Dataset)
        work_in_two(items=items.output, reference=items.output)

    step = deco.spec.step("work-in-two")
    assert (step.instances, step.shard) == (2, ("items",))


def test_the_ir_document_keeps_the_scale_out_and_fits_its_schema():
    import jsonschema
    from helpers import package_dir

    from pipecast.dsl.spec import PipelineSpec

    schema = json.loads((package_dir("schemas") / "pipeline.schema.json").read_text("utf-8"))
    text = compile_text(_pipeline(4), "ir")
    jsonschema.validate(json.loads(text), schema)
    step = PipelineSpec.from_json(text).step("work")
    assert (step.instances, step.shard) == (4, ("items",))
    broken = json.loads(text)
    broken["steps"][0]["instances"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_one_instance_leaves_the_ir_as_it_was():
    data = _pipeline(1, shard=[]).spec.step("work").to_dict()
    assert "instances" not in data and "shard" not in data


def _dsl_error(**kwargs):
    """The one diagnostic the DSL reports while the pipeline function runs."""
    with pytest.raises(PipelineError) as err:
        _pipeline(**kwargs).spec  # noqa: B018 (building the spec runs the function)
    (d,) = err.value.diagnostics
    assert d.location.file.endswith(HERE) and d.hint
    return d


@pytest.mark.parametrize("count", [0, -2, True, 2.5, "4"])
def test_a_bad_count_is_pc030_at_the_users_line(count):
    assert _dsl_error(count=count).code == "PC040"


@pytest.mark.parametrize(
    ("shard", "says"),
    [
        (["itmes"], "did you mean 'items'?"),
        (["out"], "not an input"),
        ("items", "list of input names"),
    ],
)
def test_shard_must_name_artifact_inputs_pc031(shard, says):
    d = _dsl_error(count=3, shard=shard)
    assert d.code == "PC041" and says in d.message


def test_a_bad_decorator_setting_is_reported_where_the_component_is_declared():
    with pytest.raises(DefinitionError) as err:

        @dsl.container_component(image=IMG, command=["x"], instances=2, shard=["frames"])
        def lonely(items: Input[Dataset]):
            """No input called frames."""

    assert err.value.diagnostic.code == "PC041" and "did you mean" not in str(err.value)


def _scale_error(instances: object, shard: object, *, artifacts: bool = True) -> DefinitionError:
    """What the decorators say about ``instances=``/``shard=`` on ``item_s(items, reference, n)``
    (or, without artifacts, on ``counts(n, item)``): defined inside the test, so the check runs
    there."""
    settings = {"image": IMG, "command": ["x"], "instances": instances, "shard": shard}
    with pytest.raises(DefinitionError) as err:
        if artifacts:

            @dsl.container_component(**settings)  # type: ignore[arg-type]
            def item_s(item: int, items: Input[Dataset], reference: Input[Dataset]):
                """A parameter named like an artifact input."""

        else:

            @dsl.container_component(**settings)  # type: ignore[arg-type]
            def counts(n: int, item: str):
                """Parameters only."""

    return err.value


def test_a_bad_count_says_what_a_count_is_and_shows_one() -> None:
    d = _scale_error(0, ["items"]).diagnostic
    assert d.code == "PC040"
    assert d.message == "instances must be a whole number of machines, at least 1; got 0"
    assert d.hint == "e.g. .set_instances(4, shard=['frames'])"


@pytest.mark.parametrize(
    ("shard", "artifacts", "message", "hint"),
    [
        (
            "items",
            True,
            "shard must be a list of input names, got 'items'",
            "e.g. shard=['items']",  # the component's first artifact input
        ),
        ("n", False, "shard must be a list of input names, got 'n'", "e.g. shard=['frames']"),
        (
            ["item"],
            True,
            "shard names 'item', which is a parameter of 'item-s'",  # no "did you mean 'items'"
            "shard splits artifact inputs by object; its artifact inputs: items, reference",
        ),
        (
            ["nope"],
            True,
            "shard names 'nope', which is not an input of 'item-s'",
            "shard splits artifact inputs by object; its artifact inputs: items, reference",
        ),
        (
            ["item"],
            False,
            "shard names 'item', which is a parameter of 'counts'",
            "shard splits artifact inputs by object; its artifact inputs: none",
        ),
    ],
)
def test_a_bad_shard_says_what_the_name_is_and_which_names_fit(
    shard: object, artifacts: bool, message: str, hint: str
) -> None:
    d = _scale_error(2, shard, artifacts=artifacts).diagnostic
    assert (d.code, d.message, d.hint) == ("PC041", message, hint)


# ----- the graph check (on specs, as a loaded IR document would give) ---------------------------


def _codes(spec, target=None):
    with pytest.raises(PipelineError) as err:
        graph.check(spec, load_target(target) if target else None)
    return sorted({d.code for d in err.value.diagnostics if d.severity == "error"})


def _with_step(spec, **changes):
    return replace(spec, steps=tuple(replace(s, **changes) for s in spec.steps))


def test_graph_check_repeats_the_dsl_rules_on_a_spec():
    spec = _pipeline(3).spec
    assert _codes(_with_step(spec, instances=0)) == ["PC040"]
    assert _codes(_with_step(spec, shard=("nope",))) == ["PC041"]


def test_an_unbound_or_uri_sharded_input_is_pc032():
    spec = _pipeline(3).spec
    unbound = _with_step(spec, arguments=(("reference", spec.steps[0].argument("reference")),))
    assert "PC042" in _codes(unbound)

    @dsl.pipeline(name="uri")
    def uri(u: str = "s3://a/b/"):
        items = dsl.importer(uri=u, artifact_type=Dataset)
        by_uri(items=items.output).set_instances(2, shard=["items"])

    assert _codes(uri.spec) == ["PC042"]


def test_an_output_parameter_on_a_scaled_out_step_is_pc033():
    @dsl.pipeline(name="params")
    def params(u: str = "s3://a/b/"):
        items = dsl.importer(uri=u, artifact_type=Dataset)
        counted(items=items.output).set_instances(2, shard=["items"])

    assert _codes(params.spec) == ["PC043"]


@pytest.mark.parametrize("target", ["sagemaker", "stepfunctions"])
@pytest.mark.parametrize(("spot", "job"), [(False, "Processing job"), (True, "Training job")])
def test_the_service_limit_per_job_type_is_pc030(target, spot, job):
    graph.check(_pipeline(100, spot=spot, aws=True).spec, load_target(target))  # at the limit: fine
    with pytest.raises(PipelineError) as err:
        graph.check(_pipeline(101, spot=spot, aws=True).spec, load_target(target))
    (d,) = err.value.diagnostics
    assert d.code == "PC040" and f"limit of 100 per {job}" in d.message
    assert d.location.file.endswith(HERE)


# ----- SageMaker and Step Functions --------------------------------------------------------------


def _inputs(request: dict, spot: bool) -> dict[str, str]:
    if spot:
        return {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"]
            for c in request["InputDataConfig"]
        }
    return {
        i["InputName"]: i["S3Input"]["S3DataDistributionType"] for i in request["ProcessingInputs"]
    }


@pytest.mark.parametrize("spot", [False, True])
def test_sagemaker_requests_ask_for_the_machines_and_shard_by_key(spot):
    doc = json.loads(compile_text(_pipeline(4, spot=spot, aws=True), "sagemaker"))
    (step,) = doc["Steps"]
    request = step["Arguments"]
    op = "CreateTrainingJob" if spot else "CreateProcessingJob"
    assert step["Type"] == ("Training" if spot else "Processing")
    assert check_request(op, request) == []
    count = (
        request["ResourceConfig"]["InstanceCount"]
        if spot
        else request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
    )
    assert count == 4
    assert _inputs(request, spot) == {"items": "ShardedByS3Key", "reference": "FullyReplicated"}


def test_the_model_check_would_refuse_a_wrong_count_or_distribution():
    """The oracle can fail: botocore's bounds and enum are what refuse these."""
    doc = json.loads(compile_text(_pipeline(4, aws=True), "sagemaker"))
    request = doc["Steps"][0]["Arguments"]
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 101
    request["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] = "Sharded"
    problems = " ".join(check_request("CreateProcessingJob", request))
    assert "InstanceCount" in problems and "S3DataDistributionType" in problems


def _sfn_requests(text: str) -> list[tuple[str, dict]]:
    found = []

    def walk(states: dict) -> None:
        for state in states.values():
            resource = state.get("Resource", "")
            if "sagemaker:create" in resource:
                op = "CreateTrainingJob" if "Training" in resource else "CreateProcessingJob"
                found.append((op, state["Arguments"]))
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(json.loads(text)["States"])
    return found


@pytest.mark.parametrize("spot", [False, True])
def test_step_functions_sends_the_same_requests(spot):
    ((op, request),) = _sfn_requests(
        compile_text(_pipeline(4, spot=spot, aws=True), "stepfunctions")
    )
    sm = json.loads(compile_text(_pipeline(4, spot=spot, aws=True), "sagemaker"))["Steps"][0][
        "Arguments"
    ]
    assert check_request(op, {k: v for k, v in request.items() if not k.endswith("JobName")}) == []
    assert _inputs(request, spot) == _inputs(sm, spot)
    resources = (
        request["ResourceConfig"] if spot else request["ProcessingResources"]["ClusterConfig"]
    )
    assert resources["InstanceCount"] == 4


# ----- Kubeflow ----------------------------------------------------------------------------------


@dsl.container_component(image=IMG, command=["use"])
def use(out: Input[Dataset], report: Output[Dataset]):
    """Reads the merged output."""


def _kfp_pipeline(manifest: bool = False):
    @dsl.pipeline(name="scaled-kfp")
    def scaled_kfp(items_uri: str = "s3://acme/items/", ref_uri: str = "s3://acme/ref/"):
        items = dsl.importer(uri=items_uri, artifact_type=Dataset, manifest=manifest)
        ref = dsl.importer(uri=ref_uri, artifact_type=Dataset)
        done = work_on_aws(items=items.output, reference=ref.output).set_instances(
            3, shard=["items"]
        )
        use(out=done.outputs["out"])

    return scaled_kfp


def _k8s(text: str) -> str:
    """What Kubernetes gives the process for a command entry pod_text escaped ($$ → $)."""
    return text.replace("$$", "$")


def test_kubeflow_runs_shards_in_a_parallel_for_and_merges_their_outputs(tmp_path):
    pytest.importorskip("kfp")
    import yaml
    from kfp.components import load_component_from_text

    from pipecast.compilers._kfp_shards import MERGE, PRELUDE

    text = compile_text(_kfp_pipeline(), "kubeflow")
    assert load_component_from_text(text).name == "scaled-kfp"  # kfp's own loader
    main = next(d for d in yaml.safe_load_all(text) if "pipelineInfo" in d)
    tasks = main["root"]["dag"]["tasks"]
    (loop,) = [t for t in tasks.values() if "parameterIterator" in t]
    assert loop["taskInfo"]["name"] == "work-shards"
    assert loop["iteratorPolicy"]["parallelismLimit"] == 3
    assert json.loads(loop["parameterIterator"]["items"]["raw"]) == [0, 1, 2]
    inner = main["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert list(inner) == ["work"]  # the shard keeps the step id
    merge = tasks["work-merged-out"]
    assert merge["inputs"]["artifacts"]["shards"]["taskOutputArtifact"]["producerTask"] == (
        next(k for k, t in tasks.items() if t is loop)
    )
    assert tasks["use"]["inputs"]["artifacts"]["out"]["taskOutputArtifact"] == {
        "outputArtifactKey": "merged",
        "producerTask": "work-merged-out",
    }
    container = main["deploymentSpec"]["executors"]["exec-work"]["container"]
    command = container["command"]
    assert command[:2] == ["sh", "-c"] and _k8s(command[2]) == PRELUDE
    assert command[3:] == [
        "pipecast-shard",
        "{{$.inputs.parameters['pipecast_shard']}}",
        "3",
        "1",
        "{{$.inputs.artifacts['items'].path}}",
        "/tmp/pipecast-shard/items",
        "--",
        "work",
    ]
    args = container["args"]
    assert args[args.index("--items") + 1] == "/tmp/pipecast-shard/items"
    assert args[args.index("--reference") + 1] == "{{$.inputs.artifacts['reference'].path}}"
    merge_exec = main["deploymentSpec"]["executors"]["exec-work-merged-out"]["container"]
    assert _k8s(merge_exec["command"][2]) == MERGE and merge_exec["command"][-1] == "{{$}}"


@pytest.mark.parametrize("caching", [False, True], ids=["off", "on"])
def test_kubeflow_shards_and_merge_tasks_keep_the_steps_caching(caching: bool) -> None:
    """``set_caching(False)`` on a scaled-out step leaves caching off for its shards and for the
    merge task after them, as for any step (kfp writes off as ``{}``, on as ``enableCache``)."""
    pytest.importorskip("kfp")
    import yaml

    @dsl.pipeline(name="scaled-cache")
    def scaled_cache(items_uri: str = "s3://acme/items/", ref_uri: str = "s3://acme/ref/"):
        items = dsl.importer(uri=items_uri, artifact_type=Dataset)
        ref = dsl.importer(uri=ref_uri, artifact_type=Dataset)
        done = work_on_aws(items=items.output, reference=ref.output).set_instances(
            3, shard=["items"]
        )
        done.set_caching(caching)
        use(out=done.outputs["out"])

    text = compile_text(scaled_cache, "kubeflow")
    main = next(d for d in yaml.safe_load_all(text) if "pipelineInfo" in d)
    tasks = main["root"]["dag"]["tasks"]
    (loop,) = [t for t in tasks.values() if "parameterIterator" in t]
    shard = main["components"][loop["componentRef"]["name"]]["dag"]["tasks"]["work"]
    expected = {"enableCache": True} if caching else {}
    assert shard["cachingOptions"] == expected
    assert tasks["work-merged-out"]["cachingOptions"] == expected


def test_kubeflow_speed_ups_write_the_same_bytes_for_a_scaled_out_step(monkeypatch):
    pytest.importorskip("kfp")
    from pipecast.compilers._kfp_speedups import SWITCH

    fast = compile_text(_kfp_pipeline(), "kubeflow")
    monkeypatch.setenv(SWITCH, "0")
    assert compile_text(_kfp_pipeline(), "kubeflow") == fast


def test_kubeflow_refuses_to_shard_a_manifest():
    pytest.importorskip("kfp")
    from helpers import EXAMPLE_CONFIG

    with pytest.raises(PipelineError) as err:
        graph.check(_kfp_pipeline(manifest=True).spec, load_target("kubeflow"), EXAMPLE_CONFIG)
    (d,) = err.value.diagnostics
    assert d.code == "PC008" and "manifest input 'items'" in d.message


def test_the_prelude_links_the_shard_and_passes_the_command_literally(tmp_path):
    from pipecast.compilers._kfp_shards import PRELUDE

    src = _tree(tmp_path / "src", ITEMS)
    tricky = ["$(HOME)", "a b", "*", "'; rm -rf /", "$$"]
    for index in range(3):
        view = tmp_path / f"view{index}"
        argv = ["sh", "-c", PRELUDE, "pipecast-shard", str(index), "3", "1", str(src), str(view)]
        argv += ["--", sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))"]
        done = subprocess.run([*argv, *tricky], capture_output=True, text=True, check=True)
        assert json.loads(done.stdout) == tricky
        assert objects(view) == _expected_shards(3)[index]
        assert all((view / k).is_symlink() for k in objects(view))
        assert (view / "Z.txt").exists() == (index == 0)


def _merge(root: Path, parts: list[str], own: str = "s3://b/run/merged/out", out: str = "merged"):
    from pipecast.compilers._kfp_shards import MERGE

    executor_input = {
        "inputs": {"artifacts": {"shards": {"artifacts": [{"uri": u} for u in parts]}}},
        "outputs": {"artifacts": {"merged": {"artifacts": [{"uri": own}]}}},
    }
    out_dir = root / out
    env = {**os.environ, "PIPECAST_MOUNT_ROOT": str(root)}
    argv = ["sh", "-c", MERGE, "pipecast-merge", json.dumps(executor_input), own, str(out_dir)]
    return subprocess.run(argv, capture_output=True, text=True, env=env), out_dir


def test_the_merge_copies_every_shard_and_names_a_clash(tmp_path):
    _tree(tmp_path / "s3" / "b" / "run" / "w0" / "out", {"a.json": "0", "d/x.json": "0"})
    _tree(tmp_path / "gcs" / "b" / "run" / "w1" / "out", {"b.json": "1"})
    done, out = _merge(tmp_path, ["s3://b/run/w0/out", "gs://b/run/w1/out"])
    assert done.returncode == 0, done.stderr
    assert objects(out) == ["a.json", "b.json", "d/x.json"]
    _tree(tmp_path / "s3" / "b" / "run" / "w2" / "out", {"d/x.json": "2"})
    done, empty = _merge(tmp_path, [], out="none")
    assert done.returncode == 0 and objects(empty) == []
    done, _ = _merge(tmp_path, ["s3://b/run/w0/out", "s3://b/run/w2/out"], out="clash")
    assert done.returncode != 0
    assert "shard 1 and an earlier shard both wrote 'd/x.json'" in done.stderr


# ----- the local runner --------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for key, text in files.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_text(text)
    return root


ITEMS = {f"{name}.txt": name for name in ("b", "a", "c", "e", "d")} | {
    "sub/x.txt": "x",
    "Z.txt": "Z",  # upper case sorts first by bytes
}


def _expected_shards(count: int) -> list[list[str]]:
    keys = sorted(ITEMS, key=lambda k: k.encode())
    return [[k for n, k in enumerate(keys) if n % count == i] for i in range(count)]


def test_split_gives_every_object_to_exactly_one_worker(tmp_path):
    src = _tree(tmp_path / "src", ITEMS)
    assert objects(src)[:2] == ["Z.txt", "a.txt"]
    seen = []
    for i in range(3):
        got = split_input(src, tmp_path / f"w{i}", i, 3)
        seen.append(objects(tmp_path / f"w{i}"))
        assert got == len(seen[-1])
    assert seen == _expected_shards(3)
    assert (tmp_path / "w0" / "sub" / "x.txt").read_text() == "x"  # keys keep their folders


def test_more_workers_than_objects_leaves_some_empty(tmp_path):
    src = _tree(tmp_path / "src", {"only.txt": "1"})
    assert [split_input(src, tmp_path / f"w{i}", i, 3) for i in range(3)] == [1, 0, 0]


def test_merge_names_both_workers_and_the_file(tmp_path):
    w0 = _tree(tmp_path / "w0", {"a.json": "0", "same/r.json": "0"})
    w1 = _tree(tmp_path / "w1", {"b.json": "1"})
    w2 = _tree(tmp_path / "w2", {"same/r.json": "2"})
    with pytest.raises(ShardClash) as err:
        merge_outputs({0: w0, 1: w1, 2: w2}, tmp_path / "out", "frames")
    assert err.value.diagnostic.code == "PC205"
    assert "workers 0 and 2 both wrote 'frames/same/r.json'" in str(err.value)
    assert not (tmp_path / "out").exists()  # nothing is moved when any file clashes
    merge_outputs({0: w0, 1: w1}, tmp_path / "out", "frames")
    assert objects(tmp_path / "out") == ["a.json", "b.json", "same/r.json"]


def test_a_file_where_another_worker_made_a_folder_clashes(tmp_path):
    w0 = _tree(tmp_path / "w0", {"x": "file"})
    w1 = _tree(tmp_path / "w1", {"x/y": "in a folder"})
    with pytest.raises(ShardClash, match="workers 0 and 1 both wrote 'o/x/y'"):
        merge_outputs({0: w0, 1: w1}, tmp_path / "out", "o")


def _local(tmp_path: Path, count: int = 3):
    items = _tree(tmp_path / "items", ITEMS)
    ref = _tree(tmp_path / "ref", {"r1": "1", "r2": "2"})
    return _pipeline(count), {"items_uri": str(items), "ref_uri": str(ref)}


def test_local_workers_each_see_only_their_shard_and_outputs_merge(pipecast_run, tmp_path):
    pipeline, params = _local(tmp_path)
    capacity = Capacity(cpu=8, memory=64 * 1024**3, gpu=0)
    result = pipecast_run(pipeline, params=params, capacity=capacity, isolation="subprocess")
    assert result.succeeded, result["work"].error
    out = Path(result["work"].outputs["out"])
    seen = [json.loads(p.read_text()) for p in sorted((out / "seen").iterdir())]
    assert len(seen) == 3  # three processes, three records
    assert sorted(s["keys"] for s in seen) == sorted(_expected_shards(3))
    assert all(s["reference"] == ["r1", "r2"] for s in seen)  # the rest copied to all
    assert sorted(k for k in objects(out) if not k.startswith("seen/")) == sorted(
        f"{k}.out" for k in ITEMS
    )
    assert (out / "sub" / "x.txt.out").read_text() == "x"
    step_dir = result.run_dir / "work"
    assert not (step_dir / "_shards").exists()  # worker folders go once merged
    assert sorted(p.name for p in (step_dir / "_logs").iterdir() if p.is_dir()) == [
        "worker-0",
        "worker-1",
        "worker-2",
    ]


def test_local_workers_writing_one_name_fail_the_step_naming_both(pipecast_run, tmp_path):
    pipeline, params = _local(tmp_path)
    os.environ["SHARED_NAME"] = "1"
    try:
        result = pipecast_run(pipeline, params=params)
    finally:
        del os.environ["SHARED_NAME"]
    work = result["work"]
    assert work.status == "failed"
    assert "PC205" in work.error and "workers 0 and 1 both wrote 'out/seen/summary.json'" in (
        work.error
    )
    assert "workers 0 and 2" in work.error
    journal = json.loads((result.run_dir / "run.json").read_text())
    assert journal["steps"]["work"]["status"] == "failed"


def test_workers_run_within_the_declared_resources():
    from pipecast.runner._schedule import Scheduler

    step = _pipeline(5).spec.step("work")  # no resources: 1 CPU, 2 GiB per worker
    sched = Scheduler(Capacity(cpu=2, memory=64 * 1024**3, gpu=0))
    assert sched.workers_at_once(step) == 2 and sched.need(step)[0] == 2
    sched = Scheduler(Capacity(cpu=16, memory=6 * 1024**3, gpu=0))
    assert sched.workers_at_once(step) == 3  # memory-bound
    assert Scheduler(Capacity(cpu=16, memory=64 * 1024**3, gpu=0)).workers_at_once(step) == 5


def test_resume_reuses_a_scaled_out_step_and_reruns_it_when_the_count_changes(tmp_path):
    pipeline, params = _local(tmp_path)
    capacity = Capacity(cpu=4, memory=16 * 1024**3, gpu=0)

    def run(p, **kw):
        return run_pipeline(graph.check(p.spec), params, tmp_path / "runs", capacity=capacity, **kw)

    first = run(pipeline)
    assert first.succeeded, first["work"].error
    again = run(pipeline, run_id=first.run_id, resume=True)
    assert again["work"].status == "cached"
    two, _ = _local(tmp_path / "two", count=2)
    rerun = run(two, run_id=first.run_id, resume=True)
    assert rerun["work"].status == "succeeded"
    seen = list((Path(rerun["work"].outputs["out"]) / "seen").iterdir())
    assert len(seen) == 2


def test_extract_frames_in_its_default_layout_clashes_and_the_runner_says_so(
    pipecast_run, tmp_path
):
    """Real component, real videos, three workers, the default (index) layout: each writes
    ``frames/index.json``, so the merge refuses (PC205) where SageMaker would keep one
    worker's index and lose two videos (the shards variant uses the per-frame layout)."""
    pytest.importorskip("cv2")
    from helpers import EXAMPLES, load_example

    from pipecast.components.synthetic import generate

    generate(tmp_path / "sample", videos=3, seconds=1.0, fps=10.0)
    extract = next(
        c for c in load_example("video_analysis").spec.components if c.name == "extract-frames"
    )
    assert extract.command[-1] == "pipecast.components.extract_frames"
    import importlib.util

    module = importlib.util.spec_from_file_location("flagship", EXAMPLES / "video_analysis.py")
    flagship = importlib.util.module_from_spec(module)
    module.loader.exec_module(flagship)

    @dsl.pipeline(name="flagship-shards")
    def shards(video_uri: str):
        video = dsl.importer(uri=video_uri, artifact_type=Dataset)
        flagship.extract_frames(video=video.output, fps=2.0).set_instances(3, shard=["video"])

    result = pipecast_run(
        shards,
        params={"video_uri": str(tmp_path / "sample" / "videos")},
        capacity=Capacity(cpu=8, memory=64 * 1024**3, gpu=0),
    )
    error = result["extract-frames"].error
    assert result["extract-frames"].status == "failed"
    assert "workers 0 and 1 both wrote 'frames/index.json'" in error, error
    assert "workers 0 and 2 both wrote 'frames/index.json'" in error


def _copying_fake(calls: list):
    """A fake worker: copies its shard's files to ``<name>.out``, records what it saw."""

    def fake(items, reference, out):
        keys = objects(Path(items.path))
        calls.append(keys)
        for key in keys:
            target = Path(out.path) / f"{key}.out"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes((Path(items.path) / key).read_bytes())

    return fake


def test_a_fake_replaces_every_worker_and_runs_them_in_turn(pipecast_run, tmp_path):
    pipeline, params = _local(tmp_path)
    calls: list = []
    result = pipecast_run(pipeline, params=params, fakes={"work": _copying_fake(calls)})
    assert result.succeeded, result["work"].error
    assert calls == _expected_shards(3)  # worker 0, 1, 2 in turn: in-process code
    assert len(objects(Path(result["work"].outputs["out"]))) == len(ITEMS)


def test_a_scaled_out_step_inside_a_loop_shards_each_iteration(pipecast_run, tmp_path):
    items = _tree(tmp_path / "items", ITEMS)

    @dsl.pipeline(name="looped")
    def looped(items_uri: str):
        data = dsl.importer(uri=items_uri, artifact_type=Dataset)
        with dsl.ParallelFor([1, 2]):
            work(items=data.output, reference=data.output).set_instances(2, shard=["items"])

    calls: list = []
    result = pipecast_run(
        looped, params={"items_uri": str(items)}, fakes={"work": _copying_fake(calls)}
    )
    assert result.succeeded, {k: v.error for k, v in result.steps.items()}
    assert sorted(calls) == sorted(_expected_shards(2) * 2)
    for key in ("work/0", "work/1"):
        assert len(objects(Path(result[key].outputs["out"]))) == len(ITEMS)


def test_the_flagships_shards_variant_runs_locally_on_three_workers(pipecast_run, tmp_path):
    """extract_frames and detect_objects on 3 workers each, real components on real videos:
    the run succeeds and every frame of every video is detected in, at the same times as the
    one-machine flagship places them."""
    pytest.importorskip("cv2")
    from helpers import load_example

    from pipecast.components.synthetic import generate

    generate(tmp_path / "sample", videos=4, seconds=2.0, fps=10.0)
    params = {"video_uri": str(tmp_path / "sample" / "videos"), "fps": 5.0}
    capacity = Capacity(cpu=8, memory=64 * 1024**3, gpu=1)
    shards = load_example("video_analysis_shards")
    assert {s.id: s.instances for s in shards.spec.steps if s.instances > 1} == {
        "extract-frames": 3,
        "detect-objects": 3,
    }
    sharded = pipecast_run(shards, params=params, capacity=capacity)
    assert sharded.succeeded, {k: v.error for k, v in sharded.steps.items()}
    single = pipecast_run(load_example("video_analysis"), params=params, capacity=capacity)
    assert single.succeeded, {k: v.error for k, v in single.steps.items()}

    def tracks(result):
        data = json.loads(Path(result["track"].outputs["tracks"], "tracks.json").read_text())
        return {v["name"]: v for v in data["videos"]}

    one, many = tracks(single), tracks(sharded)
    assert sorted(many) == sorted(one) and len(one) == 4
    for name, video in one.items():
        assert [t for t, _ in many[name]["counts"]] == [t for t, _ in video["counts"]]
        assert many[name]["frames"] == video["frames"]
    frames = Path(sharded["extract-frames"].outputs["frames"])
    assert not (frames / "index.json").exists()  # the shard-safe layout writes no shared file
    assert len(list((sharded.run_dir / "detect-objects" / "_logs").glob("worker-*"))) == 3
    assert Path(sharded["summarize"].outputs["report"]).is_dir()


def test_frame_metadata_survives_in_the_jpeg_and_decoders_skip_it(tmp_path, monkeypatch):
    cv2 = pytest.importorskip("cv2")
    import numpy as np

    from pipecast.components import _per_frame as per_frame
    from pipecast.components._common import ComponentError

    ok, encoded = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    plain = tmp_path / "plain.jpg"
    plain.write_bytes(encoded.tobytes())
    assert per_frame.read_meta(plain) is None
    meta = {"video": {"name": "cam 1 ☃"}, "frame": 7, "t": 1.4}
    tagged = tmp_path / "tagged.jpg"
    tagged.write_bytes(per_frame.embed(encoded.tobytes(), meta))
    assert per_frame.read_meta(tagged) == meta
    assert (cv2.imread(str(tagged)) == cv2.imread(str(plain))).all()  # same pixels
    monkeypatch.setenv(per_frame.LAYOUT_ENV, "per-frame")
    assert per_frame.enabled()
    monkeypatch.setenv(per_frame.LAYOUT_ENV, "perframe")
    with pytest.raises(ComponentError, match="must be 'per-frame' or 'index'"):
        per_frame.enabled()


def test_an_empty_shard_extracts_nothing_in_the_per_frame_layout(tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    from pipecast.components import _per_frame as per_frame
    from pipecast.components._common import ComponentError
    from pipecast.components.extract_frames._extract import extract

    (tmp_path / "in").mkdir()
    with pytest.raises(ComponentError, match="no video files"):
        extract(tmp_path / "in", tmp_path / "out", 5.0)  # the default layout: a mistake
    monkeypatch.setenv(per_frame.LAYOUT_ENV, "per-frame")
    done = extract(tmp_path / "in", tmp_path / "out", 5.0)
    assert (done.videos, done.frames) == (0, 0)


def test_a_retry_reruns_every_worker_from_empty_folders(pipecast_run, tmp_path):
    pipeline, params = _local(tmp_path)
    pipeline.spec  # noqa: B018 (build once, then retry the step)
    step = pipeline.spec.step("work")
    spec = replace(
        pipeline.spec,
        steps=(replace(step, retry=dsl.Retry(2, backoff="1s").to_spec()),),
    )
    calls: list = []
    copy = _copying_fake(calls)

    def flaky(items, reference, out):
        copy(items, reference, out)
        if len(calls) == 2:  # the second worker of the first attempt fails after writing
            raise RuntimeError("transient")

    result = pipecast_run(spec, params=params, fakes={"work": flaky})
    work = result["work"]
    assert work.status == "succeeded" and work.attempts == 2, work.error
    assert len(calls) == 3 + 3  # every worker again
    out = Path(work.outputs["out"])
    assert sorted(objects(out)) == sorted(f"{k}.out" for k in ITEMS)
    assert (result.run_dir / "work" / "_attempts" / "1" / "_logs" / "stderr.txt").exists()


def test_one_machine_or_no_shard_replicates_every_input():
    one = json.loads(compile_text(_pipeline(1, aws=True), "sagemaker"))["Steps"][0]["Arguments"]
    assert set(_inputs(one, False).values()) == {"FullyReplicated"}
    assert one["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    copies = json.loads(compile_text(_pipeline(2, shard=[], aws=True), "sagemaker"))["Steps"][0]
    assert set(_inputs(copies["Arguments"], False).values()) == {"FullyReplicated"}


def _workers(tmp_path: Path, files: dict[int, list[str]]) -> dict[int, Path]:
    folders = {}
    for index, keys in files.items():
        folder = folders[index] = tmp_path / f"w{index}"
        folder.mkdir()
        for key in keys:
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / key).write_text(f"{index}:{key}")
    return folders


@pytest.mark.parametrize(
    ("files", "clashes"),
    [
        # a file where another worker has a folder, either way round, at any depth
        ({0: ["a/b.txt"], 1: ["a"]}, ["workers 0 and 1 both wrote 'out/a'"]),
        ({0: ["a"], 1: ["a/b.txt"]}, ["workers 0 and 1 both wrote 'out/a/b.txt'"]),
        ({0: ["a/b/c.txt"], 1: ["a/b"]}, ["workers 0 and 1 both wrote 'out/a/b'"]),
        ({0: ["a/b"], 1: ["a/b/c.txt"]}, ["workers 0 and 1 both wrote 'out/a/b/c.txt'"]),
        # every clash of one worker is named, not just its first
        (
            {0: ["x", "y"], 1: ["x", "y"]},
            ["workers 0 and 1 both wrote 'out/x'", "workers 0 and 1 both wrote 'out/y'"],
        ),
    ],
)
def test_merge_names_every_clash_between_files_and_folders(tmp_path, files, clashes):
    with pytest.raises(ShardClash) as err:
        merge_outputs(_workers(tmp_path, files), tmp_path / "merged", "out")
    diagnostic = err.value.diagnostic
    assert diagnostic.code == "PC205"
    assert diagnostic.message == (
        "; ".join(clashes) + " (a sharded step's workers share one output folder)"
    )
    assert diagnostic.hint == (
        "write file names derived from your inputs (e.g. the input file's name), so that no "
        "two machines write the same one"
    )
    assert not (tmp_path / "merged").exists()  # nothing moved


@pytest.mark.parametrize(("count", "more"), [(5, ""), (6, "; and 1 more"), (8, "; and 3 more")])
def test_merge_shows_five_clashes_and_counts_the_rest(tmp_path, count, more):
    names = [f"f{i}" for i in range(count)]
    with pytest.raises(ShardClash) as err:
        merge_outputs(_workers(tmp_path, {0: names, 1: names}), tmp_path / "m", "o")
    shown = "; ".join(f"workers 0 and 1 both wrote 'o/{n}'" for n in names[:5])
    assert err.value.diagnostic.message == (
        f"{shown}{more} (a sharded step's workers share one output folder)"
    )


def test_merge_moves_nested_files_into_a_folder_that_does_not_exist_yet(tmp_path):
    workers = _workers(tmp_path, {0: ["d1/d2/a.txt"], 1: ["d1/b.txt", "c.txt"]})
    dest = tmp_path / "not" / "yet" / "out"
    merge_outputs(workers, dest, "out")
    assert sorted(objects(dest)) == ["c.txt", "d1/b.txt", "d1/d2/a.txt"]
    assert (dest / "d1" / "d2" / "a.txt").read_text() == "0:d1/d2/a.txt"
    assert (dest / "c.txt").read_text() == "1:c.txt"
