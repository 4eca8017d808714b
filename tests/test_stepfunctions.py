"""Step Functions target: valid ASL (three validators), correct requests, and executions that
respect every dependency, hand each job its upstream URIs, retry under new names and fail cleanly.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from asl_interpreter import ExecutionFailed, execute
from helpers import GOLDEN_DIR, ROOT, compile_text, load_example
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast.compilers import graph
from pipecast.compilers._sp_layout import Parallel, Sequence, layout, makespan
from pipecast.compilers.sagemaker_validate import check_request
from pipecast.compilers.stepfunctions_validate import validate_document

GOLDENS = sorted(GOLDEN_DIR.glob("*.stepfunctions.json"))


def tasks(machine):
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from tasks(branch)


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_goldens_pass_our_validator_statelint_and_botocore(golden):
    document = json.loads(golden.read_text())
    assert [str(p) for p in validate_document(document)] == []
    # the venv's own script: tests run as .venv/bin/python -m pytest, without the venv on PATH
    statelint = Path(sys.executable).with_name("statelint")
    lint = subprocess.run([str(statelint), str(golden)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for name, state in tasks(document):
        op = (
            "CreateTrainingJob"
            if "createTrainingJob" in state["Resource"]
            else "CreateProcessingJob"
        )
        assert check_request(op, state["Arguments"], name_supplied=True) == [], name


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_goldens_pass_asl_validator(golden):
    binary = ROOT / ".tools" / "node_modules" / ".bin" / "asl-validator"
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so asl-validator cannot be")
        pytest.skip("asl-validator not installed (make setup installs it into .tools/)")
    result = subprocess.run(
        [str(binary), "--json-path", str(golden)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compiled(name: str) -> dict:
    return json.loads(compile_text(load_example(name), "stepfunctions"))


def assert_order(player, checked) -> None:
    finished: dict[str, int] = {}
    started: dict[str, int] = {}
    for job in player.jobs:
        started.setdefault(job.state, job.start)
        finished[job.state] = job.end
    for u, v in checked.graph.edges:
        assert finished[u] < started[v], f"{v} started before {u} finished"


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("example", ["video_analysis", "multi_camera"])
def test_execution_respects_every_dependency(example, reverse):
    spec = load_example(example).spec
    params = {p.name: "s3://in/videos/" for p in spec.parameters if not p.optional}
    _, player = execute(compiled(example), params, reverse_branches=reverse)
    assert {j.state for j in player.jobs} == {s.id for s in spec.steps}
    assert_order(player, graph.check(spec))


def test_each_job_receives_exactly_its_upstream_uris():
    _, player = execute(
        compiled("video_analysis"), {"video_uri": "s3://in/v/"}, execution_name="exec-42"
    )
    jobs = {j.state: j for j in player.jobs}
    extract = jobs["extract-frames"].request
    assert extract["ProcessingInputs"][0]["S3Input"]["S3Uri"] == "s3://in/v/"
    frames_out = extract["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert frames_out == "s3://acme-ml/pipelines/video-analysis/exec-42/extract-frames/frames/"
    detect = jobs["detect-objects"].request
    assert detect["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == frames_out
    args = detect["AlgorithmSpecification"]["ContainerArguments"]
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs["--threshold"] == "0.5"
    assert pairs["--detections"] == "/opt/ml/model/detections"
    model = (
        f"{detect['OutputDataConfig']['S3OutputPath']}{jobs['detect-objects'].name}/output/model"
    )
    track = jobs["track"].request
    assert track["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"{model}/detections"
    assert extract["AppSpecification"]["ContainerArguments"][3] == "5"  # default fps
    assert len(jobs["track"].name) <= 63


def test_training_uris_cross_parallel_joins():
    _, player = execute(compiled("multi_camera"), {"manifest_uri": "s3://in/m.json"})
    jobs = {j.state: j for j in player.jobs}
    merge = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in jobs["merge"].request["ProcessingInputs"]
    }
    for region in ("north", "south", "east"):
        det = jobs[f"detect-{region}"]
        expected = f"{det.request['OutputDataConfig']['S3OutputPath']}{det.name}/output/model"
        assert merge[region] == f"{expected}/detections"
    assert (
        jobs["extract-frames"].request["ProcessingInputs"][0]["S3Input"]["S3DataType"]
        == "ManifestFile"
    )


def test_a_failed_job_is_retried_under_a_new_name_and_the_run_succeeds():
    _, player = execute(
        compiled("video_analysis"), {"video_uri": "s3://in/"}, failures={"detect-objects": 1}
    )
    names = [j.name for j in player.jobs if j.state == "detect-objects"]
    assert len(names) == 2 and names[0] != names[1]
    assert names[0].endswith("-0") and names[1].endswith("-1")
    assert player.jobs[-1].state == "summarize"


def test_unrecovered_failure_ends_in_a_fail_state_naming_the_step():
    with pytest.raises(ExecutionFailed) as info:
        execute(compiled("video_analysis"), {"video_uri": "s3://in/"}, failures={"track": 1})
    assert info.value.error == "StepFailed" and "'track'" in info.value.cause


def test_job_names_differ_between_executions_sharing_a_long_prefix():
    prefix = "nightly-run-for-the-video-analysis-pipeline-2026-11-25-"
    _, a = execute(
        compiled("video_analysis"), {"video_uri": "s3://x/"}, execution_name=prefix + "a"
    )
    _, b = execute(
        compiled("video_analysis"), {"video_uri": "s3://x/"}, execution_name=prefix + "b"
    )
    assert {j.name for j in a.jobs}.isdisjoint(j.name for j in b.jobs)


# ----- layout properties -------------------------------------------------------------------------


def precedes(item, before=frozenset()):
    """For each step, the set of steps the layout finishes before it starts."""
    out: dict[str, frozenset] = {}
    if isinstance(item, str):
        return {item: before}, before | {item}
    if isinstance(item, Parallel):
        done = set(before)
        for branch in item.branches:
            sub, finished = precedes(branch, before)
            out.update(sub)
            done |= finished
        return out, frozenset(done)
    done = before
    for child in item.items:
        sub, done = precedes(child, done)
        out.update(sub)
    return out, done


@st.composite
def dags(draw):
    n = draw(st.integers(1, 14))
    pairs = [(u, v) for v in range(n) for u in range(v)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=30)) if pairs else []
    g = nx.DiGraph()
    g.add_nodes_from(f"s{i:02d}" for i in range(n))
    g.add_edges_from((f"s{u:02d}", f"s{v:02d}") for u, v in edges)
    return g


@settings(max_examples=200, deadline=None)
@given(dags())
def test_random_dags_every_edge_is_enforced(g):
    plan = layout(nx.transitive_reduction(g) if g.edges else g)
    before, _ = precedes(plan.root)
    for u, v in g.edges:
        assert u in before[v]
    for v, extra in plan.added.items():  # reported additions are exactly the unforced ones
        assert extra <= before[v] and not (extra & nx.ancestors(g, v))
    # ... and complete: with the reported waits, the graph forces all that the layout forces
    reported = g.copy()
    reported.add_edges_from((u, v) for v, extra in plan.added.items() for u in extra)
    for v in g.nodes:
        assert before[v] <= nx.ancestors(reported, v)


@st.composite
def sp_dags(draw, depth=0):
    """Series-parallel DAGs built by composition."""
    counter = draw(st.shared(st.just([0]), key="counter"))

    def leaf():
        counter[0] += 1
        g = nx.DiGraph()
        g.add_node(f"n{counter[0]:03d}")
        return g

    if depth > 3 or draw(st.booleans()):
        return leaf()
    a, b = draw(sp_dags(depth=depth + 1)), draw(sp_dags(depth=depth + 1))
    g = nx.union(a, b)
    if draw(st.booleans()):  # series: every sink of a before every source of b
        sinks = [n for n in a if a.out_degree(n) == 0]
        sources = [n for n in b if b.in_degree(n) == 0]
        g.add_edges_from((s, t) for s in sinks for t in sources)
    return g


@settings(max_examples=200, deadline=None)
@given(sp_dags())
def test_series_parallel_dags_get_no_added_precedence(g):
    plan = layout(nx.transitive_reduction(g) if g.edges else g)
    assert plan.added == {}
    length, _ = graph.critical_path(g)
    assert makespan(plan.root) == length


def test_non_series_parallel_block_reports_what_it_adds():
    g = nx.DiGraph([("a", "c"), ("b", "c"), ("b", "d")])  # the "N" graph
    plan = layout(g)
    assert plan.added and all(isinstance(s, str) for s in plan.added)
    assert isinstance(plan.root, Sequence)


def test_layered_blocks_report_minimal_complete_waits():
    """Above the search limit a block is layered; its report names only the previous layer."""
    import random

    rng = random.Random(3)
    g = nx.DiGraph()
    layers = [[f"l{i:02d}-{j}" for j in range(10)] for i in range(20)]
    for row in layers:
        g.add_nodes_from(row)
    for above, below in itertools.pairwise(layers):
        for node in below:
            g.add_edges_from((src, node) for src in rng.sample(above, 2))
    plan = layout(nx.transitive_reduction(g))
    before, _ = precedes(plan.root)
    reported = g.copy()
    reported.add_edges_from((u, v) for v, extra in plan.added.items() for u in extra)
    for v in g.nodes:
        assert before[v] <= nx.ancestors(reported, v)
        assert not (plan.added.get(v, set()) & nx.ancestors(g, v))
    assert max(len(extra) for extra in plan.added.values()) <= 10  # one layer, not the history
