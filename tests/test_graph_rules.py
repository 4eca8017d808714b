"""The step graph as ``pipecast graph`` shows it (Mermaid, DOT, JSON), and the graph passes that
targets share, tested in-process (the CLI tests run in a subprocess, which mutation testing
cannot attribute to the code)."""

from __future__ import annotations

import json

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.compilers.graph_formats import render
from pipecast.dsl import Dataset, Input, Output, Resources, Spot

IMG = "r.example.com/x:1.0"


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], extra: Output[Dataset]):
    """Produce two datasets."""


@dsl.container_component(image=IMG, command=["use"])
def use(data: Input[Dataset], more: Input[Dataset]):
    """Consume two datasets."""


@dsl.pipeline(name="shape")
def shape():
    a = make().set_name("a")
    use(data=a.outputs["data"], more=a.outputs["extra"]).set_resources(
        Resources(cpu=1, memory="1GiB", gpu=2)
    ).set_spot(Spot())
    make().set_name("late").after(a)


CHECKED = graph.check(shape.spec)


def test_json_lists_nodes_in_order_and_edges_with_their_kind():
    document = json.loads(render(CHECKED, "json"))
    assert document == {
        "pipeline": "shape",
        "nodes": [
            {"id": "a", "component": "make"},
            {"id": "late", "component": "make"},
            {"id": "use", "component": "use"},
        ],
        "edges": [
            {"from": "a", "to": "late", "data": False, "outputs": [], "explicit": True},
            {
                "from": "a",
                "to": "use",
                "data": True,
                "outputs": ["data", "extra"],
                "explicit": False,
            },
        ],
    }


def test_dot_labels_components_gpus_and_spot_and_dashes_ordering_edges():
    assert render(CHECKED, "dot") == (
        'digraph "shape" {\n'
        "  rankdir=LR;\n"
        '  "a" [label="a (make)"];\n'
        '  "late" [label="late (make)"];\n'
        '  "use" [label="use 2×GPU spot"];\n'
        '  "a" -> "late" [style=dashed];\n'
        '  "a" -> "use" [label="data, extra"];\n'
        "}\n"
    )


def test_mermaid_is_a_flowchart_with_stable_node_ids():
    assert render(CHECKED, "mermaid") == (
        "flowchart LR\n"
        '  s0["a (make)"]\n'
        '  s1["late (make)"]\n'
        '  s2["use 2×GPU spot"]\n'
        "  s0 -.-> s1\n"
        "  s0 -- data, extra --> s2\n"
    )


def test_checked_pipeline_accessors():
    assert sorted(CHECKED.graph.predecessors("use")) == ["a"]
    assert list(CHECKED.graph.predecessors("a")) == []
    assert [s.id for s in CHECKED.steps()] == ["a", "late", "use"]
    assert CHECKED.explicit_only_predecessors("late") == ["a"]
    assert CHECKED.explicit_only_predecessors("use") == []  # a data edge is not explicit-only


@dsl.container_component(image=IMG, command=["say"])
def say(text: str):
    """Say a value."""


@dsl.container_component(image=IMG, command=["count"])
def count_it(n: Output[int]):
    """Count something."""


@dsl.pipeline(name="labels")
def labels(jobs: list = [{"mode": "fast", "n": 1}], limit: int = 2):  # noqa: B006
    counted = count_it()
    with dsl.ParallelFor(jobs, parallelism=3) as job, dsl.If(job["mode"] == "fast"):
        say(text="fast").set_name("in-fast")
    with dsl.ParallelFor([1, 2]) as n:
        with dsl.If(n > limit):
            say(text="big").set_name("in-big")
        with dsl.Elif(counted.outputs["n"] >= 3):
            say(text="many").set_name("in-many")
        with dsl.Else():
            say(text="few").set_name("in-few")


def test_group_labels_show_each_kind_of_operand_as_the_pipeline_wrote_it():
    mermaid = render(graph.check(labels.spec), "mermaid")
    titles = [line.strip() for line in mermaid.splitlines() if "subgraph" in line]
    assert titles == [
        'subgraph loop_1["loop-1: for each in jobs (parallelism 3)"]',
        "subgraph condition_2[\"condition-2: if item['mode'] == #quot;fast#quot;\"]",
        'subgraph loop_3["loop-3: for each in [1, 2]"]',
        'subgraph condition_4["condition-4: if item > limit"]',
        'subgraph condition_5["condition-5: else if count-it.n >= 3"]',
        'subgraph condition_6["condition-6: else"]',
    ]


def test_each_step_is_drawn_once_inside_its_innermost_group():
    checked = graph.check(labels.spec)
    assert render(checked, "dot") == (
        'digraph "labels" {\n'
        "  rankdir=LR;\n"
        '  "count-it" [label="count-it"];\n'
        '  subgraph "cluster_loop-1" {\n'
        '    label="loop-1: for each in jobs (parallelism 3)";\n'
        '    subgraph "cluster_condition-2" {\n'
        '      label="condition-2: if item[\'mode\'] == \\"fast\\"";\n'
        '      "in-fast" [label="in-fast (say)"];\n'
        "    }\n"
        "  }\n"
        '  subgraph "cluster_loop-3" {\n'
        '    label="loop-3: for each in [1, 2]";\n'
        '    subgraph "cluster_condition-4" {\n'
        '      label="condition-4: if item > limit";\n'
        '      "in-big" [label="in-big (say)"];\n'
        "    }\n"
        '    subgraph "cluster_condition-5" {\n'
        '      label="condition-5: else if count-it.n >= 3";\n'
        '      "in-many" [label="in-many (say)"];\n'
        "    }\n"
        '    subgraph "cluster_condition-6" {\n'
        '      label="condition-6: else";\n'
        '      "in-few" [label="in-few (say)"];\n'
        "    }\n"
        "  }\n"
        '  "count-it" -> "in-few" [style=dashed];\n'
        '  "count-it" -> "in-many" [style=dashed];\n'
        "}\n"
    )
    mermaid = render(checked, "mermaid").splitlines()
    assert [line.strip() for line in mermaid if "(say)" in line] == [
        's2["in-fast (say)"]',
        's1["in-big (say)"]',
        's4["in-many (say)"]',
        's3["in-few (say)"]',
    ]
    assert mermaid.index('      s2["in-fast (say)"]') == 4  # inside loop-1 and condition-2
