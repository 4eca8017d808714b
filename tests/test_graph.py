"""The graph compiler: every check has a stable code, file:line and hint; passes are right."""

from __future__ import annotations

import dataclasses
import itertools
import json

import networkx as nx
import pytest
from helpers import GOLDEN_DIR, load_example
from hypothesis import given, settings
from hypothesis import strategies as st

from pipecast import dsl
from pipecast.compilers import graph, load_target
from pipecast.compilers.canonical import dumps_json
from pipecast.compilers.target import FEATURES, Capabilities, Limits, Target
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.dsl.spec import ComponentSpec, Constant, PipelineSpec, StepSpec
from pipecast.errors import PipelineError

IMG = "registry.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["run"])
def node(out: Output[Dataset]):
    """A node with one output."""


@dsl.container_component(image=IMG, command=["run"])
def sink(data: Input[Dataset], out: Output[Dataset]):
    """Reads one input."""


def spec_from_edges(n: int, edges: list[tuple[int, int]]) -> PipelineSpec:
    """A spec with steps s0..s{n-1} and explicit .after() edges (u runs before v)."""
    after: dict[int, set[int]] = {i: set() for i in range(n)}
    for u, v in edges:
        after[v].add(u)
    steps = tuple(
        StepSpec(
            id=f"s{i}",
            component="node",
            arguments=(),
            after=tuple(sorted(f"s{u}" for u in after[i])),
        )
        for i in range(n)
    )
    return PipelineSpec(
        name="rand", parameters=(), components=(node.spec,), importers=(), steps=steps
    )


def golden_spec(name: str) -> dict:
    return json.loads((GOLDEN_DIR / f"{name}.ir.json").read_text())


def codes_of(spec: PipelineSpec, target: Target | None = None) -> list[str]:
    with pytest.raises(PipelineError) as info:
        graph.check(spec, target)
    return sorted(d.code for d in info.value.diagnostics if d.severity == "error")


def test_examples_pass_and_order_is_topological_with_name_tiebreak():
    checked = graph.check(load_example("multi_camera").spec)
    assert checked.order == (
        "extract-frames",
        "detect-east",
        "detect-north",
        "detect-south",
        "merge",
        "quality-check",
        "summarize",
    )
    assert checked.graph.edges["quality-check", "summarize"]["explicit"] is True
    assert checked.graph.edges["merge", "summarize"]["outputs"] == ("merged",)
    assert checked.explicit_only_predecessors("summarize") == ["quality-check"]


def test_cycle_is_named_with_the_users_line():
    @dsl.pipeline(name="p")
    def p():
        a = node()
        b = sink(data=a.output)
        c = sink(data=b.output)
        a.after(c)  # closes the cycle a → b → c → a

    with pytest.raises(PipelineError) as info:
        graph.check(p.spec)
    (d,) = info.value.diagnostics
    assert d.code == "PC001"
    assert "node → sink → sink-2 → node" in d.message
    assert d.location.file.endswith("test_graph.py")
    assert d.hint and d.format().endswith(f"\n  hint: {d.hint}")


def test_self_dependency_is_a_cycle():
    spec = spec_from_edges(2, [(0, 1), (1, 1)])
    with pytest.raises(PipelineError) as info:
        graph.check(spec)
    assert [(d.code, d.message) for d in info.value.diagnostics] == [("PC001", "cycle: s1 → s1")]


def test_all_problems_are_reported_together():
    data = golden_spec("multi-camera")
    steps = {s["id"]: s for s in data["steps"]}
    del steps["merge"]["arguments"]["east"]  # PC002 unbound
    steps["merge"]["arguments"]["north"] = {"output": {"step": "nope", "name": "x"}}  # PC004
    steps["summarize"]["after"] = ["ghost"]  # PC004
    steps["extract-frames"]["arguments"]["fps"] = {"constant": "five"}  # PC003
    steps["detect-east"]["arguments"]["threshold"] = {"parameter": "missing"}  # PC004
    steps["detect-north"]["arguments"]["weights"] = {
        "output": {"step": "merge", "name": "merged"}
    }  # PC003
    spec = PipelineSpec.from_dict(data)
    assert codes_of(spec) == ["PC002", "PC003", "PC003", "PC004", "PC004", "PC004"]


def test_type_mismatches_at_ir_level():
    data = golden_spec("multi-camera")
    steps = {s["id"]: s for s in data["steps"]}
    steps["merge"]["arguments"]["north"] = {"constant": "s3://x"}
    steps["extract-frames"]["arguments"]["fps"] = {"parameter": "threshold"}  # float → int
    steps["quality-check"]["arguments"]["min_frames"] = {"importer": "importer"}
    spec = PipelineSpec.from_dict(data)
    assert codes_of(spec) == ["PC003", "PC003", "PC003"]


def test_duplicate_and_illegal_names():
    data = golden_spec("multi-camera")
    data["steps"][1]["id"] = data["steps"][0]["id"]
    data["steps"][2]["id"] = "importer"
    spec = PipelineSpec.from_dict(data)
    codes = codes_of(spec)
    assert codes.count("PC005") == 2


def test_image_without_tag_is_an_error_and_latest_warns():
    base = load_example("video_analysis").spec
    comps = list(base.components)
    comps[0] = dataclasses.replace(comps[0], image="registry.example.com/untagged")
    comps[1] = dataclasses.replace(comps[1], image="registry.example.com:5000/thing:latest")
    bad = dataclasses.replace(base, components=tuple(comps))
    with pytest.raises(PipelineError) as info:
        graph.check(bad)
    by_sev = {(d.code, d.severity) for d in info.value.diagnostics}
    assert ("PC010", "error") in by_sev and ("PC010", "warning") in by_sev
    comps[0] = base.components[0]
    checked = graph.check(dataclasses.replace(base, components=tuple(comps)))
    assert [w.code for w in checked.warnings] == ["PC010"]


def test_registry_port_is_not_a_tag():
    comp = dataclasses.replace(node.spec, image="registry.example.com:5000/x")
    spec = dataclasses.replace(spec_from_edges(1, []), components=(comp,))
    assert codes_of(spec) == ["PC010"]


def test_spot_wait_shorter_than_timeout():
    @dsl.pipeline(name="p")
    def p():
        node().set_spot(Spot("30m")).set_timeout("1h")

    with pytest.raises(PipelineError) as info:
        graph.check(p.spec)
    (d,) = info.value.diagnostics
    assert d.code == "PC007" and "1800s" in d.message and "3600s" in d.message


NO_FEATURES = Target(
    name="tiny",
    suffix="tiny.json",
    description="test target with no features",
    capabilities=Capabilities(unsupported=FEATURES),
    limits=Limits(
        max_steps=3,
        max_inputs_per_step=1,
        max_outputs_per_step=1,
        max_arg_count=4,
        max_arg_length=20,
        step_id_max_length=12,
        placeholder_text={"inputPath": "/very/long/input/path/{name}"},
    ),
    compile=lambda checked, config: None,  # type: ignore[arg-type,return-value]
)


def test_capabilities_and_limits_come_from_target_data():
    spec = load_example("multi_camera").spec
    with pytest.raises(PipelineError) as info:
        graph.check(spec, NO_FEATURES)
    diags = info.value.diagnostics
    unsupported = {d.message.split(": ", 1)[1].split(" (")[0] for d in diags if d.code == "PC008"}
    assert unsupported == {
        "spot",
        "gpu",
        "retry",
        "timeout",
        "env",
        "manifest inputs",
    }
    limit_msgs = "\n".join(d.message for d in diags if d.code == "PC009")
    assert "7 steps exceed tiny's limit of 3" in limit_msgs
    assert "3 artifact inputs exceed" in limit_msgs  # merge
    assert "container arguments exceed" in limit_msgs
    assert "is longer than 12 characters" in limit_msgs  # extract-frames
    assert "characters; tiny allows 20" in limit_msgs  # rendered input path
    step_named = [d for d in diags if d.code == "PC008" and d.step == "detect-east"]
    assert step_named
    # the hint names the registered targets that can express the feature (#15 item 7)
    hints = {d.message.split(": ", 1)[1].split(" (")[0]: d.hint for d in step_named}
    assert hints["gpu"].startswith("sagemaker, stepfunctions and kubeflow can express it")
    assert 'targets=("sagemaker", "stepfunctions", "kubeflow")' in hints["spot"]


@dsl.component(image=IMG)
def py_node(out: Output[Dataset]):
    """A Python step (the python_components feature)."""


@dsl.component(image=IMG)
def py_label() -> str:
    """A text output parameter (the text_output_parameters feature)."""
    return "label"


@dsl.pipeline(name="every-feature")
def every_feature(uri: str = "s3://b/list.json"):
    """One use of each feature in FEATURES, so a target missing any of them refuses it."""
    manifest = dsl.importer(uri=uri, artifact_type=Dataset, manifest=True)
    (
        sink(data=manifest.output)
        .set_resources(Resources(cpu=4, memory="16GiB", gpu=1, disk="50GiB"))
        .set_spot(Spot("2h"))
        .set_timeout("1h")
        .set_retry(dsl.Retry(3))
        .set_env(MODE="fast")
        .set_caching(True, "1d")
        .set_instance_type("ml.g5.2xlarge")
        .set_instances(2, shard=["data"])
    )
    py_node()
    py_label()


def test_ir_target_accepts_everything_the_dsl_can_express():
    no_capabilities = dataclasses.replace(
        NO_FEATURES,
        capabilities=Capabilities(unsupported=FEATURES),
        limits=Limits(),
    )
    refused: set[str] = set()
    # every_feature uses the step settings; the triage example adds values and control flow
    for pipeline in (every_feature, load_example("camera_triage")):
        with pytest.raises(PipelineError) as info:
            graph.check(pipeline.spec, no_capabilities)
        assert {d.code for d in info.value.diagnostics} == {"PC008"}
        for d in info.value.diagnostics:
            if d.message.startswith("step "):  # a step setting: "step 'x': gpu (...) ..."
                refused.add(d.message.split(": ", 1)[1].split(" (")[0])
            elif d.step is not None:  # a construct, once: "loops (...) ...; it is used by ..."
                refused.add(d.message.split(" (")[0])
    # a part of a feature (runtime loops of loops, ...) is not reported when its whole is refused
    wholes = {f.replace("_", " ") for f, feature in FEATURES.items() if feature.part_of is None}
    assert refused == wholes, "the pipelines must use them all"

    examples = ("video_analysis", "multi_camera", "camera_triage")
    for pipeline in (every_feature, *(load_example(name) for name in examples)):
        checked = graph.check(pipeline.spec, load_target("ir"))
        assert sorted(checked.order) == sorted(s.id for s in pipeline.spec.steps)
        assert checked.warnings == ()
        text = load_target("ir").compile(checked, {}).text
        assert PipelineSpec.from_dict(json.loads(text)) == pipeline.spec  # nothing dropped


def test_explicit_dependencies_keep_only_needed_edges():
    spec = spec_from_edges(4, [(0, 1), (1, 2), (0, 2), (2, 3), (0, 3)])
    checked = graph.check(spec)
    kept = sorted((u, v) for v in checked.order for u in checked.explicit_only_predecessors(v))
    assert kept == [("s0", "s1"), ("s1", "s2"), ("s2", "s3")]
    assert sorted(checked.graph.edges) == sorted(
        [("s0", "s1"), ("s1", "s2"), ("s0", "s2"), ("s2", "s3"), ("s0", "s3")]
    )


def test_explicit_only_predecessors_drops_edges_implied_by_data():
    @dsl.pipeline(name="p")
    def p():
        a = node()
        b = sink(data=a.output)
        sink(data=b.output).after(a)  # implied by a → b → c: not needed

    checked = graph.check(p.spec)
    assert checked.explicit_only_predecessors("sink-2") == []


def test_the_search_for_another_path_visits_each_step_once():
    """30 diamonds in a row have 2**30 paths; a search that revisited steps would never end
    (under mutation testing too: pytest's per-test timeout fails it)."""

    @dsl.pipeline(name="ladder")
    def ladder():
        top = node().set_name("a-000")
        rung = [top]
        for i in range(1, 31):
            rung = [node().set_name(f"a-{i:03d}-{side}").after(*rung) for side in "lr"]
        node().set_name("z").after(top)  # ordered after the ladder by name, not reachable

    checked = graph.check(ladder.spec)
    assert checked.order[-1] == "z"
    assert checked.explicit_only_predecessors("z") == ["a-000"]
    assert checked.explicit_only_predecessors("a-030-l") == ["a-029-l", "a-029-r"]


def test_critical_path_with_durations():
    spec = spec_from_edges(5, [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)])
    checked = graph.check(spec)
    length, path = graph.critical_path(checked.graph)
    assert length == 4 and path[0] == "s0" and path[-1] == "s4"
    length, path = graph.critical_path(checked.graph, {"s2": 10})
    assert length == 13 and path == ["s0", "s2", "s3", "s4"]
    assert graph.critical_path(nx.DiGraph()) == (0.0, [])


def test_resources_survive_ir_round_trip():
    @dsl.pipeline(name="p")
    def p():
        node().set_resources(Resources(cpu=0.5, memory="768MiB", disk="20GiB"))

    spec = p.spec
    again = PipelineSpec.from_dict(json.loads(dumps_json(spec.to_dict())))
    assert again == spec
    assert again.steps[0].resources.disk_bytes == 20 * 1024**3


@st.composite
def random_dags(draw, max_nodes: int = 25):
    n = draw(st.integers(1, max_nodes))
    pairs = [(u, v) for v in range(n) for u in range(v)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=60)) if pairs else []
    perm = draw(st.permutations(range(n)))  # shuffle names so order is not the index order
    return n, [(perm[u], perm[v]) for u, v in edges]


@settings(max_examples=150, deadline=None)
@given(random_dags())
def test_random_dags_are_accepted_in_a_valid_deterministic_order(dag):
    n, edges = dag
    spec = spec_from_edges(n, edges)
    checked = graph.check(spec)
    position = {s: i for i, s in enumerate(checked.order)}
    assert len(position) == n
    for u, v in edges:
        assert position[f"s{u}"] < position[f"s{v}"]
    reversed_spec = dataclasses.replace(spec, steps=spec.steps[::-1])
    assert graph.check(reversed_spec).order == checked.order  # definition order is irrelevant
    reduced = nx.DiGraph(
        [(u, v) for v in checked.order for u in checked.explicit_only_predecessors(v)]
    )
    reduced.add_nodes_from(checked.graph)
    assert (
        nx.transitive_closure_dag(reduced).edges == nx.transitive_closure_dag(checked.graph).edges
    )


@settings(max_examples=150, deadline=None)
@given(random_dags(), st.data())
def test_random_cycles_are_rejected_naming_a_real_cycle(dag, data):
    n, edges = dag
    if not edges:
        edges = [(0, 0)]
    else:
        u, v = data.draw(st.sampled_from(edges))
        path = nx.shortest_path(nx.DiGraph(edges), u, v)
        edges = [*edges, (v, path[0])]  # back edge closes a cycle
    spec = spec_from_edges(max(n, 1), edges)
    with pytest.raises(PipelineError) as info:
        graph.check(spec)
    cycles = [d for d in info.value.diagnostics if d.code == "PC001"]
    assert cycles
    g = nx.DiGraph([(f"s{a}", f"s{b}") for a, b in edges])
    for d in cycles:
        names = d.message.removeprefix("cycle: ").split(" → ")
        assert names[0] == names[-1]
        for a, b in itertools.pairwise(names):
            assert g.has_edge(a, b), f"{a}→{b} is not an edge; message {d.message}"


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_random_bad_bindings_are_all_reported(data):
    """Corrupting k different steps of a valid spec yields at least k errors, never a crash."""
    base = golden_spec("multi-camera")
    ids = [s["id"] for s in base["steps"]]
    chosen = data.draw(st.lists(st.sampled_from(ids), unique=True, min_size=1, max_size=4))
    for step in base["steps"]:
        if step["id"] in chosen:
            name = sorted(step["arguments"])[0]
            step["arguments"][name] = data.draw(
                st.sampled_from(
                    [
                        {"parameter": "nope"},
                        {"output": {"step": "ghost", "name": "x"}},
                        {"importer": "missing"},
                        {"constant": None},
                    ]
                )
            )
    spec = PipelineSpec.from_dict(base)
    with pytest.raises(PipelineError) as info:
        graph.check(spec)
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) >= len(chosen)
    assert {d.code for d in errors} <= {"PC003", "PC004"}  # type mismatch / unknown reference
    for step in chosen:  # each corrupted step is named by its own diagnostic
        assert any(f"of step '{step}'" in d.message for d in errors), step
    assert all(d.location is None or d.location.line > 0 for d in errors)


def test_component_spec_round_trip_keeps_placeholders():
    comp = load_example("multi_camera").spec.component("detect-objects")
    assert ComponentSpec.from_dict(comp.to_dict()) == comp


def test_a_steps_problem_points_at_the_step_else_at_the_pipeline():
    """A diagnostic about a step carries the step's ``file:line`` (where the user called it);
    a step without one (a spec from JSON) falls back to the pipeline's."""

    @dsl.pipeline(name="located")
    def located():
        node()

    spec = located.spec
    (step,) = spec.steps
    assert step.location is not None and spec.location is not None
    assert step.location != spec.location
    unknown_component = dataclasses.replace(step, component="nope")
    unknown_input = dataclasses.replace(step, arguments=(("extra", Constant(1)),))
    for bad in (unknown_component, unknown_input):
        for where in (step.location, None):
            moved = dataclasses.replace(bad, location=where)
            with pytest.raises(PipelineError) as info:
                graph.check(dataclasses.replace(spec, steps=(moved,)))
            (problem,) = [d for d in info.value.diagnostics if d.code == "PC004"]
            assert problem.location == (where or spec.location), problem
    with pytest.raises(PipelineError) as info:
        graph.check(dataclasses.replace(spec, steps=(dataclasses.replace(step, component="nope"),)))
    (problem,) = info.value.diagnostics
    assert problem.message == "step 'node' uses unknown component 'nope'"
    assert problem.hint == "add the component to the spec"
