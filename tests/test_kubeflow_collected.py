"""``dsl.Collected`` of an artifact on Kubeflow (DESIGN §12, issue #18): the step gets one
folder with ``0/``, ``1/``, … in iteration order, as the local runner gives it.

Oracles: the local runner's folder for the same pipeline and the same iteration outputs; real
processes running the compiled command as KFP's launcher would (``{{$}}`` replaced by an
executor input shaped like KFP's, the other placeholders by their values, Kubernetes' ``$$``
reduced to ``$``), with the launcher's ``/s3/…`` downloads laid out under a temporary folder
(``PIPECAST_MOUNT_ROOT``) and the view moved there too (the one text the test rewrites);
kfp's own loader for the documents (tests/test_kubeflow_flow.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compile_document, compile_text, load_example, only_diagnostic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meaning import parse

from pipecast import dsl
from pipecast.compilers._kfp_collected import PRELUDE, VIEW_ROOT
from pipecast.dsl import Dataset, Input, Output
from pipecast.testing import run_offline

kfp = pytest.importorskip("kfp")

ROOT_URI = "s3://acme-ml/pipelines/camera-triage/run-1"
# a program that records the folder it was given: every path under it (files with their text,
# folders with a trailing /), in sorted order, and its other arguments
PROBE = r"""
import json, os, sys
args = sys.argv[1:]
folder = args[args.index("--frames") + 1]
seen = {}
for top, dirs, files in os.walk(folder):
    for d in dirs:
        seen[os.path.relpath(os.path.join(top, d), folder) + "/"] = None
    for f in files:
        path = os.path.join(top, f)
        seen[os.path.relpath(path, folder)] = open(path, encoding="utf-8").read()
json.dump({"folder": dict(sorted(seen.items())), "args": args}, open(os.environ["PROBE_OUT"], "w"))
"""


def snapshot(folder: Path) -> dict[str, str | None]:
    """What the probe records, read here directly (the local runner's folder)."""
    seen: dict[str, str | None] = {}
    for top, dirs, files in os.walk(folder):
        for d in dirs:
            seen[os.path.relpath(os.path.join(top, d), folder) + "/"] = None
        for f in files:
            seen[os.path.relpath(os.path.join(top, f), folder)] = Path(top, f).read_text()
    return dict(sorted(seen.items()))


def k8s(text: str) -> str:
    """Kubernetes' expansion of a pod's command and args: ``$$`` is ``$`` (no ``$(VAR)`` is
    left once pipecast has escaped the text)."""
    return text.replace("$$", "$")


def launch(container: dict, executor_input: dict, root: Path, spacing: str, env: dict) -> dict:
    """Run a compiled container as KFP's launcher does (``compileCmdAndArgs``): ``{{$}}`` is the
    executor input as JSON, parameter and output placeholders their values. The user's program
    (after ``--``) is replaced by the probe; returns what the probe recorded."""
    separators = (", ", ": ") if spacing == "spaced" else (",", ":")
    values = {"{{$}}": json.dumps(executor_input, separators=separators)}
    for name, value in executor_input["inputs"].get("parameterValues", {}).items():
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        values[f"{{{{$.inputs.parameters['{name}']}}}}"] = text
    for name, listed in executor_input["outputs"]["artifacts"].items():
        uri = listed["artifacts"][0]["uri"]
        values[f"{{{{$.outputs.artifacts['{name}'].path}}}}"] = str(root / "s3" / uri[5:])
    argv = []
    for text in (*container["command"], *container["args"]):
        text = k8s(text)
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        argv.append(text.replace(VIEW_ROOT, str(root / "view")))
    (root / "probe.py").write_text(PROBE, encoding="utf-8")
    # the user's command: what follows "--" in the container's command (its args come after)
    argv[argv.index("--") + 1 : len(container["command"])] = [
        sys.executable,
        str(root / "probe.py"),
    ]
    out = root / "probe.json"
    env = {**os.environ, **env, "PIPECAST_MOUNT_ROOT": str(root), "PROBE_OUT": str(out)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(out.read_text(encoding="utf-8")))


# ----- the example: what the local runner gives, KFP's list gives ------------------------------

CAMERAS = ["lobby", "gate", "dock", "yard"]
WROTE = {  # what count-motion writes per camera (gate: nothing, an empty artifact)
    "lobby": {"lobby.txt": "lobby", "sub/a.json": "[1]"},
    "gate": {},
    "dock": {"dock.txt": "dock", "sub/deeper/b.json": "[2]", "x y's $(HOME).txt": "odd"},
    "yard": {"yard.txt": "yard"},
}


def _local_folder(tmp_path: Path) -> tuple[dict[str, str | None], Path]:
    """The folder the local runner hands triage-summary, and the run's folder."""
    seen: dict = {}

    def count_motion(camera, video_root, frames, moving, fps):
        for key, text in WROTE[camera].items():
            Path(frames.path, key).parent.mkdir(parents=True, exist_ok=True)
            Path(frames.path, key).write_text(text)
        Path(moving).write_text(json.dumps(len(WROTE[camera])))

    def triage_summary(cameras, moving, frames, summary):
        seen["frames"] = snapshot(Path(frames.path))

    result = run_offline(
        load_example("camera_triage"),
        tmp_path,
        fakes={
            "count-motion": count_motion,
            "detect-objects": lambda frames, camera, detections, threshold: None,
            "triage-summary": triage_summary,
            "status-report": lambda status, report: None,
        },
    )
    assert result.succeeded
    return seen["frames"], result.run_dir


def _kfp_layout(run_dir: Path, root: Path, missing_empty: bool) -> list[str]:
    """Each iteration's ``frames`` where KFP's launcher downloads it (``/s3/<bucket>/<key>``),
    under ids that sort in the opposite order of the iterations; returns the URIs in the
    driver's (iteration) order. An empty artifact has no objects to download: with
    ``missing_empty`` its folder does not exist at all."""
    uris = []
    for i in range(len(CAMERAS)):
        uri = f"{ROOT_URI}/count-motion/{9 - i}f3a/frames"
        source = run_dir / "count-motion" / str(i) / "frames"
        if any(source.iterdir()) or not missing_empty:
            shutil.copytree(source, root / "s3" / uri[5:])
        uris.append(uri)
    return uris


def _executor_input(uris: list[str]) -> dict:
    """An executor input shaped like the one KFP's driver writes for triage-summary."""
    dataset = {"schemaTitle": "system.Dataset", "schemaVersion": "0.0.1"}
    return {
        "inputs": {
            "parameterValues": {"cameras": CAMERAS, "moving": [2, 0, 3, 1]},
            "artifacts": {
                "frames": {
                    "artifacts": [
                        {
                            "name": str(100 + i),
                            "type": dataset,
                            "uri": uri,
                            "metadata": {"display_name": "frames", "uri": "s3://decoy/x"},
                        }
                        for i, uri in enumerate(uris)
                    ]
                }
            },
        },
        "outputs": {
            "artifacts": {
                "summary": {
                    "artifacts": [{"type": dataset, "uri": f"{ROOT_URI}/triage-summary/1/summary"}]
                }
            },
            "outputFile": "/tmp/kfp_outputs/output_metadata.json",
        },
    }


@pytest.mark.parametrize("spacing", ["compact", "spaced"])
@pytest.mark.parametrize("missing_empty", [True, False])
def test_the_step_sees_the_local_runners_folder(tmp_path, spacing, missing_empty):
    local, run_dir = _local_folder(tmp_path / "local")
    assert local["0/lobby.txt"] == "lobby" and local["2/dock.txt"] == "dock"  # iteration order
    assert local["1/"] is None  # gate wrote nothing: an empty folder

    main = parse("kubeflow", compile_text(load_example("camera_triage"), "kubeflow"))["main"]
    container = main["deploymentSpec"]["executors"]["exec-triage-summary"]["container"]
    root = tmp_path / "kfp"
    uris = _kfp_layout(run_dir, root, missing_empty)
    seen = launch(container, _executor_input(uris), root, spacing, {})
    assert seen["folder"] == local
    args = seen["args"]
    assert args[args.index("--cameras") + 1] == json.dumps(CAMERAS, separators=(",", ":"))
    assert args[args.index("--summary") + 1] == str(root / "s3" / ROOT_URI[5:]) + (
        "/triage-summary/1/summary"
    )


def test_the_note_says_what_the_image_needs():
    notes = compile_document(load_example("camera_triage"), "kubeflow").notes
    (note,) = [n for n in notes if "triage-summary" in n]
    assert "dsl.Collected artifacts ('frames')" in note
    assert "sh, awk, find, mkdir and ln" in note


# ----- the prelude on its own: only the input's own list counts, literals stay literal ----------


def _run_prelude(root: Path, executor_json: str, names: list[str], program: list[str]):
    pairs = [p for n in names for p in (n, str(root / "view" / n))]
    argv = ["sh", "-c", PRELUDE, "pipecast-collect", executor_json, str(len(names)), *pairs]
    env = {**os.environ, "PIPECAST_MOUNT_ROOT": str(root)}
    return subprocess.run([*argv, "--", *program], capture_output=True, text=True, env=env)


_SEGMENT = st.text(
    alphabet=st.sampled_from("abz09 \"\\,:{}[]'$`*-_.é😀"), min_size=1, max_size=8
).map(lambda s: f"k{s}")
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    segments=st.lists(_SEGMENT, min_size=0, max_size=5),
    metadata=_JSON,
    ascii_only=st.booleans(),
)
def test_only_the_inputs_own_uris_count_in_list_order(
    tmp_path_factory, segments, metadata, ascii_only
):
    """Decoy URIs elsewhere in the executor input (another input, the outputs, metadata, a
    parameter holding JSON text), any JSON in the metadata, quotes, backslashes, braces and
    ``\\u`` escapes in the URIs: the folder has exactly the input's artifacts, in list order."""
    root = tmp_path_factory.mktemp("prelude")
    uris = [f"s3://b/{segment}/{i}" for i, segment in enumerate(segments)]
    for i, uri in enumerate(uris):
        (root / "s3" / uri[5:]).mkdir(parents=True)
        (root / "s3" / uri[5:] / "i.txt").write_text(str(i))
    decoy = [{"uri": "s3://b/decoy", "metadata": metadata}]
    executor_input = {
        "inputs": {
            "parameterValues": {"text": json.dumps({"artifacts": [{"uri": "s3://b/p"}]})},
            "artifacts": {
                "other": {"artifacts": decoy},
                "frames": {
                    "artifacts": [{"metadata": metadata, "uri": u, "name": u} for u in uris]
                },
                "z": {"artifacts": decoy},
            },
        },
        "outputs": {"artifacts": {"frames": {"artifacts": decoy}}},
    }
    text = json.dumps(executor_input, ensure_ascii=ascii_only)
    probe = [sys.executable, "-c", "print('ok')"]
    done = _run_prelude(root, text, ["frames"], probe)
    assert done.returncode == 0, done.stderr
    view = root / "view" / "frames"
    assert sorted(p.name for p in view.iterdir()) == sorted(str(i) for i in range(len(uris)))
    for i in range(len(uris)):
        assert (view / str(i) / "i.txt").read_text() == str(i)


def test_the_command_stays_literal_and_two_inputs_get_their_own_folders(tmp_path):
    for uri, key in (("s3://b/one/0", "a"), ("gs://g/two/0", "b"), ("minio://m/two/1", "c")):
        path = tmp_path / {"s3": "s3", "gs": "gcs", "minio": "minio"}[uri.split(":")[0]]
        (path / uri.split("://")[1]).mkdir(parents=True)
        (path / uri.split("://")[1] / f"{key}.txt").write_text(key)
    executor_input = {
        "inputs": {
            "artifacts": {
                "first": {"artifacts": [{"uri": "s3://b/one/0"}]},
                "second": {"artifacts": [{"uri": "gs://g/two/0"}, {"uri": "minio://m/two/1"}]},
            }
        }
    }
    tricky = ["$(HOME)", "a b", "*", "'; rm -rf /", "$$", "--", "{{$}}"]
    program = [sys.executable, "-c", "import sys, json; print(json.dumps(sys.argv[1:]))", *tricky]
    done = _run_prelude(tmp_path, json.dumps(executor_input), ["first", "second"], program)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == tricky
    assert snapshot(tmp_path / "view" / "first") == {"0/": None, "0/a.txt": "a"}
    assert snapshot(tmp_path / "view" / "second") == {
        "0/": None,
        "0/b.txt": "b",
        "1/": None,
        "1/c.txt": "c",
    }


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("oci://registry/model", "cannot open collected artifact oci://registry/model"),
        ("s3://b/line\nbreak", "cannot read the artifacts of input 'frames'"),
    ],
)
def test_an_artifact_the_prelude_cannot_open_fails_the_task_with_a_message(tmp_path, uri, message):
    executor_input = {"inputs": {"artifacts": {"frames": {"artifacts": [{"uri": uri}]}}}}
    done = _run_prelude(tmp_path, json.dumps(executor_input), ["frames"], ["true"])
    assert done.returncode != 0
    assert message in done.stderr


def test_the_prelude_text_survives_its_quoting():
    """The awk program sits inside single quotes in the shell text: it must hold none."""
    from pipecast.compilers._kfp_collected import _AWK

    assert "'" not in _AWK and _AWK in PRELUDE


# ----- what the document says, and what stays refused -------------------------------------------

IMG = "registry.example.com/collect:1.0"


@dsl.container_component(image=IMG, command=["make-part"])
def make_part(item: int, part: Output[Dataset]):
    """Writes one part."""


@dsl.container_component(image=IMG, command=["use-uri"], args=["--at", dsl.input_uri("parts")])
def use_uri(parts: Input[Dataset]):
    """Reads the URI of its input."""


def test_the_uri_of_a_collected_artifact_is_refused():
    @dsl.pipeline(name="collected-uri")
    def collected_uri():
        with dsl.ParallelFor([1, 2]) as item:
            made = make_part(item=item)
        use_uri(parts=dsl.Collected(made.outputs["part"]))

    problem = only_diagnostic(collected_uri, "kubeflow")
    assert (problem.code, problem.step) == ("PC008", "use-uri")
    assert problem.location == collected_uri.spec.step("use-uri").location is not None
    assert problem.message == (
        "step 'use-uri': the URI of collected artifact input 'parts' is not expressible on "
        "kubeflow: KFP hands the step a list of artifacts, with no one URI for all of them"
    )
    assert problem.hint == (
        "read the folder by its path (dsl.InputPath / Input[...]) instead, or compile for a "
        "target that supports it (`pipecast run --local` does)"
    )


@dsl.container_component(image=IMG, command=["use-parts"])
def use_parts(parts: Input[Dataset]):
    """Reads the collected folder by path."""


@dsl.container_component(image=IMG, command=["use-parts"], instances=2, shard=["parts"])
def use_parts_scaled(parts: Input[Dataset]):
    """Reads the collected folder on two machines."""


@dsl.container_component(image=IMG, command=["report"])
def report(status: str):
    """An exit task."""


def _in_if(flag: str = "a"):
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.If(flag == "a"):
        use_parts(parts=dsl.Collected(made.outputs["part"]))


def _in_other_loop(flags: list = ["a"]):  # noqa: B006
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.ParallelFor(flags):
        use_parts(parts=dsl.Collected(made.outputs["part"]))


def _in_exit_handler():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.ExitHandler(report(status=dsl.RUN_STATUS)):
        use_parts(parts=dsl.Collected(made.outputs["part"]))


def _scaled_out():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    use_parts_scaled(parts=dsl.Collected(made.outputs["part"]))


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (_in_if, "inside 'condition-"),
        (_in_other_loop, "inside 'loop-"),
        (_in_exit_handler, "inside 'exit-handler-"),
        (_scaled_out, "in a scaled-out step"),
    ],
)
def test_a_list_of_artifacts_handed_into_a_group_is_refused_before_kfp(body, where):
    """kfp's compiler fails (a TypeError) on a list of artifacts entering a group the loop is
    not in: pipecast says so first, with the step and the group."""
    pipeline = dsl.pipeline(name="into-group")(body)
    problem = only_diagnostic(pipeline, "kubeflow")
    spec = pipeline.spec
    (reader,) = (s for s in spec.steps if s.id.startswith("use-parts"))
    producer = {g.id for g in spec.groups_of(spec.step("make-part"))}
    inner = [g.id for g in spec.groups_of(reader) if g.id not in producer]
    said = (
        f"inside '{inner[0]}', a group the loop of 'make-part' is not in"
        if inner
        else "in a scaled-out step (the ParallelFor of its shards)"
    )
    assert where in said
    assert (problem.code, problem.step, problem.location) == ("PC008", reader.id, reader.location)
    assert problem.message == (
        f"step '{reader.id}': input 'parts' collects artifacts {said}: not expressible on "
        "kubeflow (kfp cannot pass a list of artifacts into a group)"
    )
    assert problem.hint == (
        "read the collected folder in a step next to the loop (outside any dsl.If, ParallelFor "
        "or ExitHandler the loop is not in, and not scaled out), e.g. one that copies it into "
        "one artifact, or compile for a target that supports it (`pipecast run --local` does)"
    )


def test_a_reader_inside_the_same_outer_loop_compiles_and_loads(tmp_path):
    from kfp.components import load_component_from_file

    @dsl.pipeline(name="nested-collect")
    def nested(flags: list = ["a", "b"]):  # noqa: B006
        with dsl.ParallelFor(flags):
            with dsl.ParallelFor([1, 2]) as item:
                made = make_part(item=item)
            use_parts(parts=dsl.Collected(made.outputs["part"]))

    path = tmp_path / "nested.yaml"
    path.write_text(compile_text(nested, "kubeflow"), encoding="utf-8")
    assert load_component_from_file(str(path)).name == "nested-collect"
    main = parse("kubeflow", path.read_text(encoding="utf-8"))["main"]
    inputs = main["components"]["comp-use-parts"]["inputDefinitions"]["artifacts"]
    assert inputs["parts"]["isArtifactList"] is True
