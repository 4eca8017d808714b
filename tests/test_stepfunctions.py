"""Step Functions target: valid ASL (three validators), correct requests, and executions that
respect every dependency, hand each job its upstream URIs, retry under new names and fail cleanly.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from asl_interpreter import ExecutionFailed, execute
from helpers import EXAMPLE_CONFIG, ROOT, compile_text, examples_for, load_example
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast import dsl
from pipecast._api import compile_spec
from pipecast.compilers import aws_jobs, graph, load_target, stepfunctions
from pipecast.compilers._sp_layout import Handshakes, Parallel, Sequence, layout, makespan
from pipecast.compilers.canonical import dumps_json
from pipecast.compilers.sagemaker_validate import check_request
from pipecast.compilers.stepfunctions import _durations
from pipecast.compilers.stepfunctions_validate import _operation, validate_document
from pipecast.compilers.target import Charge, RunShape
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output

EXAMPLE_NAMES = examples_for("stepfunctions")
NESTED = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "nested"})
EXACT = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "exact"})


def tasks(machine):
    for name, state in machine["States"].items():
        if state["Type"] == "Task":
            yield name, state
        for branch in state.get("Branches", []):
            yield from tasks(branch)


@functools.cache
def fresh_text(example: str) -> str:
    """The example compiled here, now (goldens are only compared byte for byte, elsewhere)."""
    return compile_text(load_example(example), "stepfunctions")


def fresh_file(example: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{example}.stepfunctions.json"
    path.write_text(fresh_text(example))
    return path


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_pass_our_validator_statelint_and_botocore(example, tmp_path):
    golden = fresh_file(example, tmp_path)
    document = json.loads(golden.read_text())
    assert [str(p) for p in validate_document(document)] == []
    # the venv's own script: tests run as .venv/bin/python -m pytest, without the venv on PATH
    statelint = Path(sys.executable).with_name("statelint")
    lint = subprocess.run([str(statelint), str(golden)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    for name, state in tasks(document):
        service, op = _operation(state["Resource"])  # SageMaker jobs and the S3/sfn handshakes
        sdk = service != "sagemaker"  # AWS SDK integrations spell members in PascalCase
        problems = check_request(
            op, state["Arguments"], name_supplied=True, service=service, pascal_case=sdk
        )
        assert problems == [], name


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_pass_asl_validator(example, tmp_path):
    binary = ROOT / ".tools" / "node_modules" / ".bin" / "asl-validator"
    if not binary.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed, so asl-validator cannot be")
        pytest.skip("asl-validator not installed (make setup installs it into .tools/)")
    result = subprocess.run(
        [str(binary), "--json-path", str(fresh_file(example, tmp_path))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def compiled(name: str) -> dict:
    return json.loads(fresh_text(name))


def expected_job_name(step: str, execution: str, retry: int = 0) -> str:
    """The documented scheme: ``{step[:40]}-{sha256(execution ARN)[:16]}-{retry}``."""
    arn = f"arn:aws:states:us-east-1:123456789012:execution:p:{execution}"  # asl_interpreter's
    return f"{step[:40]}-{hashlib.sha256(arn.encode()).hexdigest()[:16]}-{retry}"


def training_output(pipeline: str, execution: str, step: str, output: str) -> str:
    """Where a spot (Training) step's output lands: the run's step prefix, then the job name the
    service inserts, then ``output/model/{output}`` (DESIGN §6)."""
    job = expected_job_name(step, execution)
    return f"s3://acme-ml/pipelines/{pipeline}/{execution}/{step}/{job}/output/model/{output}"


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
    assert jobs["detect-objects"].name == expected_job_name("detect-objects", "exec-42")
    assert detect["OutputDataConfig"]["S3OutputPath"] == (
        "s3://acme-ml/pipelines/video-analysis/exec-42/detect-objects/"
    )
    track = jobs["track"].request
    assert track["ProcessingInputs"][0]["S3Input"]["S3Uri"] == training_output(
        "video-analysis", "exec-42", "detect-objects", "detections"
    )
    # the default fps=5.0 as JSONata's $string spells it (a float constant is rendered "5.0")
    assert extract["AppSpecification"]["ContainerArguments"][3] == "5"
    assert len(jobs["track"].name) <= 63


def test_training_uris_cross_parallel_joins():
    _, player = execute(
        compiled("multi_camera"), {"manifest_uri": "s3://in/m.json"}, execution_name="run-5"
    )
    jobs = {j.state: j for j in player.jobs}
    merge = {
        i["InputName"]: i["S3Input"]["S3Uri"] for i in jobs["merge"].request["ProcessingInputs"]
    }
    assert merge == {
        region: training_output("multi-camera", "run-5", f"detect-{region}", "detections")
        for region in ("north", "south", "east")
    }
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
    """For each step, the set of steps the layout finishes before it starts (a Handshakes
    block: its chains' order plus the waits enforced at run time)."""
    out: dict[str, frozenset] = {}
    if isinstance(item, Handshakes):
        inner = nx.DiGraph()
        for chain in item.chains:
            inner.add_nodes_from(chain)
            inner.add_edges_from(itertools.pairwise(chain))
        inner.add_edges_from(item.waits)
        out = {n: before | frozenset(nx.ancestors(inner, n)) for n in inner}
        return out, before | frozenset(inner)
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


@pytest.mark.parametrize(
    "edges",
    [
        [("a", "c"), ("b", "c"), ("b", "d")],  # the "N" graph
        [("a", "x"), ("b", "x"), ("b", "y"), ("c", "y"), ("c", "z")],  # a "W"
        [("s", "a"), ("s", "b"), ("a", "c"), ("b", "c"), ("b", "d"), ("c", "t"), ("d", "t")],
    ],
    ids=["N", "W", "N-inside-a-diamond"],
)
def test_non_series_parallel_block_reports_exactly_what_it_adds(edges):
    """The report is the layout's precedences minus the DAG's own (its ancestors), per step:
    nothing left out, nothing extra; and the DAG's edges all still hold."""
    g = nx.DiGraph(edges)
    plan = layout(g)
    before, _ = precedes(plan.root)
    forced = {v: before[v] - nx.ancestors(g, v) for v in g}
    assert {v: extra for v, extra in forced.items() if extra} == plan.added != {}
    for u, v in g.edges:
        assert u in before[v]
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


# ----- layout = "exact" -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_exact_layout_enforces_exactly_the_dag(g, rnd):
    """Every edge held, nothing added, so the makespan is the critical path for any durations;
    chains follow real edges and only edges between chains become handshakes."""
    durations = {n: rnd.uniform(1, 10) for n in g}
    plan = layout(g, durations, mode="exact")
    assert plan.added == {}
    before, _ = precedes(plan.root)
    for v in g:
        assert before[v] == frozenset(nx.ancestors(g, v)), v
    length, _ = graph.critical_path(g, durations)
    assert abs(makespan(plan.root, durations) - length) < 1e-9
    for block in _handshake_blocks(plan.root):
        for chain in block.chains:
            assert all(g.has_edge(u, v) for u, v in itertools.pairwise(chain))
        chained = {e for c in block.chains for e in itertools.pairwise(c)}
        assert not chained & set(block.waits)
        assert all(g.has_edge(u, v) for u, v in block.waits)
        for u, v in block.waits:  # no handshake for an edge another path already implies
            assert not any(u in nx.ancestors(g, w) for w in g.predecessors(v) if w != u)


def _handshake_blocks(item):
    if isinstance(item, Handshakes):
        yield item
    elif isinstance(item, Parallel):
        for b in item.branches:
            yield from _handshake_blocks(b)
    elif isinstance(item, Sequence):
        for i in item.items:
            yield from _handshake_blocks(i)


@settings(max_examples=100, deadline=None)
@given(sp_dags())
def test_exact_layout_of_a_series_parallel_dag_needs_no_handshake(g):
    assert list(_handshake_blocks(layout(g, mode="exact").root)) == []


def test_exact_layout_uses_as_few_chains_as_the_edges_allow():
    """The N graph: two chains (a→c, b→d) and one handshake (b→c), not three branches."""
    g = nx.DiGraph([("a", "c"), ("b", "c"), ("b", "d")])
    (block,) = _handshake_blocks(layout(g, mode="exact").root)
    assert len(block.chains) == 2 and len(block.waits) == 1


def test_exact_compile_notes_and_nested_hint():
    spec = load_example("corridor_handoff").spec
    nested = compile_spec(spec, load_target("stepfunctions"), NESTED)
    assert any("now also waits for" in n for n in nested.notes)
    assert any('layout = "exact"' in n for n in nested.notes if n.startswith("hint:"))
    exact = compile_spec(spec, load_target("stepfunctions"), EXACT)
    assert not any("now also waits for" in n for n in exact.notes)
    (note,) = [n for n in exact.notes if "handshake" in n]
    assert "2 edge(s)" in note and "states:SendTaskSuccess" in note
    assert "arn:aws:s3:::acme-ml/pipelines/corridor-handoff/*/_pipecast/*" in note


def test_exact_state_names_fit_80_characters_and_stay_unique():
    """Two 48-character step ids make 'x waits for y' far longer than 80: names are cut and
    hashed, and the whole machine still validates (names unique, targets resolve)."""
    long_a, long_b = "a" * 39 + "-source-1", "a" * 39 + "-source-2"
    long_c, long_d = "c" * 39 + "-sink-001", "c" * 39 + "-sink-002"

    @dsl.pipeline(name="long-names")
    def pipeline() -> None:
        a = gen_source().set_name(long_a)
        b = gen_source().set_name(long_b)
        gen_join(left=a.output, right=b.output).set_name(long_c)
        gen_relay(data=b.output).set_name(long_d)

    document = json.loads(compile_text(pipeline, "stepfunctions", EXACT))
    names = list(_all_state_names(document))
    assert any(" waits for " in n for n in names) and max(map(len, names)) <= 80
    assert len(names) == len(set(names))
    assert [str(p) for p in validate_document(document)] == []


def _n_graph(hints: dict[str, str]) -> dsl.Pipeline:
    """The N graph a→c, b→c, b→d, with expected durations ``hints`` by step."""

    @dsl.pipeline(name="n-graph")
    def pipeline() -> None:
        a, b = gen_source().set_name("a"), gen_source().set_name("b")
        c = gen_join(left=a.output, right=b.output).set_name("c")
        d = gen_relay(data=b.output).set_name("d")
        for task in (a, b, c, d):
            if task.id in hints:
                task.set_expected_duration(hints[task.id])

    return pipeline


LONG_A_AND_D = {"a": "10m", "b": "1m", "c": "1m", "d": "10m"}


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        ({}, ["step 'd' now also waits for a"]),  # equal steps: two rounds of two
        (LONG_A_AND_D, ["step 'a' now also waits for b"]),  # b is short: first, then a ∥ d
    ],
)
def test_duration_hints_steer_the_nested_layout(hints, expected):
    notes = compile_spec(_n_graph(hints).spec, load_target("stepfunctions"), NESTED).notes
    added = [n.split(": Step Functions")[0] for n in notes if "now also waits for" in n]
    assert added == ["note: " + e for e in expected]


def test_steps_without_a_hint_count_as_the_typical_hinted_step():
    """One hinted step must not make every other step free: the rest get the median hint."""
    checked = graph.check(_n_graph({"a": "10m", "b": "1m", "d": "10m"}).spec)
    assert _durations(checked) == {"a": 600.0, "b": 60.0, "c": 600.0, "d": 600.0}
    assert set(_durations(graph.check(_n_graph({}).spec)).values()) == {1.0}


def _all_state_names(machine):
    for name, state in machine["States"].items():
        yield name
        for branch in state.get("Branches", []):
            yield from _all_state_names(branch)


IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.source"])
def gen_source(out: Output[Dataset]) -> None:
    """Produce data."""


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.relay"])
def gen_relay(data: Input[Dataset], out: Output[Dataset]) -> None:
    """Transform one input."""


@dsl.container_component(image=IMAGE, command=["python", "-m", "gen.join"])
def gen_join(left: Input[Dataset], right: Input[Dataset], out: Output[Dataset]) -> None:
    """Join two inputs."""


def test_a_definition_over_1_mb_indented_is_written_compact_when_that_fits():
    """Handshakes make the exact layout of a dense 120-step DAG too big to indent; the compact
    form fits, so that is what is written (with a note), not a PC009 error."""
    import random

    rng = random.Random(11)

    @dsl.pipeline(name="dense")
    def pipeline() -> None:
        previous = [gen_source().set_name(f"l0-{i}") for i in range(10)]
        for layer in range(1, 12):
            row = []
            for j in range(10):
                a, b = rng.sample(previous, 2)
                row.append(gen_join(left=a.output, right=b.output).set_name(f"l{layer}-{j}"))
            previous = row

    document = compile_spec(pipeline.spec, load_target("stepfunctions"), EXACT)
    assert any("written compact" in n for n in document.notes)
    assert "\n" not in document.text.rstrip("\n")
    assert len(document.text.encode()) <= 1024 * 1024
    assert len(dumps_json(json.loads(document.text)).encode()) > 1024 * 1024
    assert _keys_sorted_everywhere(document.text)
    assert [str(p) for p in validate_document(json.loads(document.text))] == []


@settings(max_examples=100, deadline=None)
@given(dags(), st.randoms(use_true_random=False))
def test_auto_layout_reaches_the_critical_path_with_handshakes_only_where_waits_cost(g, rnd):
    """auto: the makespan of exact, every edge held, and a block gets handshakes only when the
    nested layout of that graph would be slower; waits it keeps are reported as before."""
    durations = {n: float(rnd.randint(1, 5)) for n in g}
    plan = layout(g, durations, mode="auto")
    length, _ = graph.critical_path(g, durations)
    assert abs(makespan(plan.root, durations) - length) < 1e-9
    before, _ = precedes(plan.root)
    for u, v in g.edges:
        assert u in before[v]
    nested = layout(g, durations)
    if makespan(nested.root, durations) <= length + 1e-9:
        assert list(_handshake_blocks(plan.root)) == [] and plan.added == nested.added


def test_auto_layout_keeps_free_waits_and_replaces_costly_ones():
    """The corridor with its hints: the nested layout already reaches the critical path, so
    auto adds no handshake. The N graph with long a and d: any serialisation costs a minute,
    so auto handshakes."""
    hinted = load_example("corridor_handoff").spec
    auto = EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": "auto"})
    target = load_target("stepfunctions")
    kept = compile_spec(hinted, target, auto).notes
    assert any("now also waits for" in n for n in kept)  # still reported, though free
    assert not any("enforced by run-time handshakes" in n or "hint:" in n for n in kept)
    costly = _n_graph(LONG_A_AND_D).spec  # serialised: 12 minutes; critical path: 11
    notes = compile_spec(costly, target, auto).notes
    assert any("1 edge(s) are enforced by run-time handshakes" in n for n in notes)
    assert not any("now also waits for" in n for n in notes)


def _keys_sorted_everywhere(text: str) -> bool:
    """Every JSON object in ``text`` lists its keys in sorted order (read as written)."""
    ordered = True

    def hook(pairs: list[tuple[str, object]]) -> dict:
        nonlocal ordered
        keys = [k for k, _ in pairs]
        ordered = ordered and keys == sorted(keys)
        return dict(pairs)

    json.loads(text, object_pairs_hook=hook)
    return ordered


def test_a_big_pipeline_is_written_compact_in_the_canonical_key_order():
    """Above 500 steps the definition is written compact (DESIGN §10); compact must still be
    the one canonical form: sorted keys, no whitespace, one trailing newline."""

    @dsl.pipeline(name="big")
    def big() -> None:
        source = gen_source().set_name("source")
        for i in range(510):
            relay = gen_relay(data=source.output).set_name(f"relay-{i:03d}")
            if i % 3 == 0:
                relay.set_retry(dsl.Retry(max_attempts=2)).set_env(B="2", A="1")

    document = compile_spec(big.spec, load_target("stepfunctions"), NESTED)
    text = document.text
    assert any("511 steps: written compact" in n for n in document.notes)
    assert text.endswith("}\n") and "\n" not in text[:-1]
    assert _keys_sorted_everywhere(text)
    independent = json.dumps(
        json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert text == independent + "\n"
    assert [str(p) for p in validate_document(json.loads(text))] == []


def test_the_key_order_oracle_sees_an_unsorted_object():
    assert _keys_sorted_everywhere('{"a":{"b":1,"c":[{"d":1,"e":2}]}}')
    assert not _keys_sorted_everywhere('{"a":{"c":[{"d":1,"e":2}],"b":1}}')
    assert not _keys_sorted_everywhere('{"a":[{"e":1,"d":2}]}')


# ----- a pipeline without steps ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nested", "exact", "auto"])
def test_an_empty_graph_lays_out_as_nothing_in_every_mode(mode: str) -> None:
    plan = layout(nx.DiGraph(), mode=mode)
    assert (plan.root, plan.added) == (Sequence(()), {})
    assert makespan(plan.root) == 0


def test_a_pipeline_without_steps_compiles_alike_in_every_layout() -> None:
    """Only the start state: "exact" once wrote a Parallel state without branches (PC013)."""

    @dsl.pipeline(name="nothing")
    def nothing() -> None:
        pass

    target = load_target("stepfunctions")
    texts = {
        mode: compile_spec(
            nothing.spec, target, EXAMPLE_CONFIG.with_overrides({"stepfunctions.layout": mode})
        ).text
        for mode in ("nested", "exact", "auto")
    }
    assert texts["exact"] == texts["nested"] == texts["auto"]
    machine = json.loads(texts["exact"])
    assert (machine["StartAt"], list(machine["States"])) == ("start", ["start"])
    assert validate_document(machine) == []


# ----- cost support: what one run costs on top of the jobs ---------------------------------------


def _two_steps(caching: bool = False) -> dsl.Pipeline:
    @dsl.pipeline(name="two-steps")
    def two_steps() -> None:
        source = gen_source().set_name("source").set_expected_duration("1m")
        if caching:
            source.set_caching(True)  # Step Functions cannot cache: the target refuses it
        gen_relay(data=source.output).set_name("relay").set_expected_duration("2m")

    return two_steps


SECONDS = {"source": 60.0, "relay": 120.0}  # in series: a three-minute run


def test_a_pipeline_the_target_refuses_has_a_makespan_but_no_transitions() -> None:
    checked = graph.check(_two_steps(caching=True).spec)  # what pipecast cost falls back to
    shape = stepfunctions.run_shape(checked, EXAMPLE_CONFIG, SECONDS)
    assert shape == RunShape(180.0, notes=("state transitions not counted: no state machine",))


def test_a_configuration_that_cannot_compile_is_named_in_the_note() -> None:
    """The first line of the error says why (the rest of a long message would not fit)."""
    data = {**EXAMPLE_CONFIG.data, "colour": "red", "stepfunctions": {"shape": "round"}}
    checked = graph.check(_two_steps().spec, load_target("stepfunctions"))
    shape = stepfunctions.run_shape(checked, Config(data, "team.toml"), SECONDS)
    reason = "team.toml: (top level): unknown key 'colour'"
    assert shape == RunShape(
        180.0,
        notes=(f"state transitions not counted: the state machine does not compile ({reason})",),
    )


def test_a_pipeline_without_steps_still_enters_its_start_state() -> None:
    @dsl.pipeline(name="nothing")
    def nothing() -> None:
        pass

    checked = graph.check(nothing.spec, load_target("stepfunctions"))
    shape = stepfunctions.run_shape(checked, EXAMPLE_CONFIG, {})
    price = aws_jobs.service_prices()["stepfunctions_state_transition"]
    assert shape.makespan_seconds == 0
    assert shape.charges == (Charge("Step Functions state transitions", 1, price),)


def _all_states(machine: dict) -> dict[str, dict]:
    """Every state of a machine, branches and Map processors included, by name (a repeated
    name fails: Step Functions wants state names unique across the whole machine)."""
    found: dict[str, dict] = {}
    for name, state in machine["States"].items():
        assert name not in found, f"state name {name!r} used twice"
        found[name] = state
        inner = [
            *state.get("Branches", ()),
            *([state["ItemProcessor"]] if "ItemProcessor" in state else []),
        ]
        for sub in inner:
            for sub_name, sub_state in _all_states(sub).items():
                assert sub_name not in found, f"state name {sub_name!r} used twice"
                found[sub_name] = sub_state
    return found


@dsl.container_component(image="r/x:1", command=["make"])
def make_out(out: Output[Dataset]):
    """Makes a dataset."""


@dsl.container_component(image="r/x:1", command=["take"])
def take_in(data: Input[Dataset], out: Output[Dataset]):
    """Reads a dataset, makes another."""


@pytest.mark.parametrize("flow", [False, True], ids=["plain", "flow"])
@pytest.mark.parametrize("config", [NESTED, EXACT], ids=["nested", "exact"])
def test_steps_named_like_generated_states_keep_their_names(flow, config):
    """A step may be called 'parallel-1' or 'x-failed': generated states give way."""

    @dsl.pipeline(name="names")
    def names(x: int = 1):
        first = make_out().set_name("parallel-1")
        take_in(data=first.outputs["out"]).set_name("left")
        take_in(data=first.outputs["out"]).set_name("left-failed")
        if flow:
            with dsl.If(x > 0):
                take_in(data=first.outputs["out"]).set_name("condition-1")

    machine = json.loads(compile_text(names, "stepfunctions", config))
    states = _all_states(machine)
    steps = ["parallel-1", "left", "left-failed"] + (["condition-1"] if flow else [])
    for step in steps:
        assert states[step]["Type"] == "Task"
        (catch,) = states[step]["Catch"]
        fail = states[catch["Next"]]
        assert fail["Type"] == "Fail"
        assert fail["Cause"] == f"step '{step}' failed (see its SageMaker job)"
    assert validate_document(machine) == []
