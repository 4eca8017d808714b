"""What the graph checks tell a user, word for word (DESIGN §12; STYLE "Errors": a stable code,
what was expected and what was seen, and a hint): one hand-edited IR per rule of
``compilers/_checks.py``, each giving exactly the diagnostics its rule describes (with the
follow-on ones a mistake implies, e.g. an unknown type that no longer fits its binding)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from helpers import marked_line

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.dsl.spec import ARTIFACT_TYPES, PARAMETER_TYPES, PipelineSpec


@dsl.container_component(image="r/make:1.0", command=["make"])
def make(count: int, data: Output[Dataset]):
    """Makes data."""


@dsl.container_component(image="r/use:1.0", command=["use"])
def use(data: Input[Dataset], label: str):
    """Uses data."""


@dsl.pipeline(name="base")  # the pipeline
def base(root: str = "s3://b/x", n: int = 2):
    imp = dsl.importer(uri=root, artifact_type=Dataset)
    made = make(count=n)  # make
    use(data=made.outputs["data"], label="x")  # use
    use(data=imp.output, label="y").set_name("use-imported")  # use-imported


BASE = base.spec.to_dict()
NAMES_HINT = (
    "step ids: lowercase letters, digits, hyphens, starting with a letter; parameters: Python "
    "identifiers"
)
PARAMETER_HINT = f"one of {', '.join(PARAMETER_TYPES)}"
ARTIFACT_HINT = f"one of {', '.join(ARTIFACT_TYPES)}"
Edit = Callable[[dict[str, Any]], None]
Expected = set[tuple[str, str, str, str]]  # code, severity, message, hint


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in doc["steps"] if s["id"] == step_id)
    return found


def _set(step_id: str, **fields: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        _step(doc, step_id).update(fields)

    return edit


def _bind(step_id: str, name: str, binding: dict[str, Any] | None) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        arguments = _step(doc, step_id)["arguments"]
        if binding is None:
            del arguments[name]
        else:
            arguments[name] = binding

    return edit


def _all(*edits: Edit) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        for one in edits:
            one(doc)

    return edit


def _parameter(index: int, **fields: Any) -> Edit:
    return lambda doc: doc["parameters"][index].update(fields)


def _component(index: int, **fields: Any) -> Edit:
    return lambda doc: doc["components"][index].update(fields)


def _importer(**fields: Any) -> Edit:
    return lambda doc: doc["importers"][0].update(fields)


def _type_of(part: str, **fields: Any) -> Edit:
    return lambda doc: doc["components"][0][part][0].update(fields)


def error(code: str, message: str, hint: str) -> tuple[str, str, str, str]:
    return code, "error", message, hint


CASES: dict[str, tuple[Edit, Expected]] = {
    "step name": (
        _set("use-imported", id="Use_X"),
        {error("PC005", "step name 'Use_X' is not valid", NAMES_HINT)},
    ),
    "parameter name": (
        _all(_parameter(1, name="2n"), _bind("make", "count", {"parameter": "2n"})),
        {error("PC005", "parameter name '2n' is not valid", NAMES_HINT)},
    ),
    "importer name": (
        _all(_importer(id="Imp"), _bind("use-imported", "data", {"importer": "Imp"})),
        {error("PC005", "importer name 'Imp' is not valid", NAMES_HINT)},
    ),
    "importer and step share an id": (
        _all(_importer(id="make"), _bind("use-imported", "data", {"importer": "make"})),
        {
            error(
                "PC005",
                "duplicate id 'make' (importer and step)",
                "give each step a unique .set_name()",
            )
        },
    ),
    "two steps share an id": (
        _set("use-imported", id="use"),
        {
            error(
                "PC005", "duplicate id 'use' (step and step)", "give each step a unique .set_name()"
            )
        },
    ),
    "two parameters share a name": (
        lambda doc: doc["parameters"].append({"name": "n", "type": "int", "default": 3}),
        {error("PC005", "duplicate pipeline parameter 'n'", "rename one of them")},
    ),
    "unknown parameter type": (
        _parameter(1, type="complex"),
        {
            error("PC003", "parameter 'n' has unknown type 'complex'", PARAMETER_HINT),
            error(
                "PC003",
                "input 'count' of step 'make' is int, parameter 'n' is complex",
                "declare 'n' as int",
            ),
        },
    ),
    "default of another type": (
        _parameter(1, default="two"),
        {error("PC003", "default 'two' of parameter 'n' is not a int", "give a int default")},
    ),
    "unknown input type": (
        _type_of("inputs", type="complex"),
        {
            error(
                "PC003",
                "input 'count' of component 'make' has unknown type 'complex'",
                PARAMETER_HINT,
            ),
            error(
                "PC003",
                "input 'count' of step 'make' is complex, parameter 'n' is int",
                "declare 'n' as complex",
            ),
        },
    ),
    "unknown output type": (
        _type_of("outputs", type="Blob"),
        {
            error(
                "PC003", "output 'data' of component 'make' has unknown type 'Blob'", ARTIFACT_HINT
            ),
            error(
                "PC003",
                "input 'data' of step 'use' expects Dataset, got Blob",
                "connect an output of type Dataset",
            ),
        },
    ),
    "image without a tag": (
        _component(0, image="registry:5000/make"),
        {
            error(
                "PC010",
                "image 'registry:5000/make' of component 'make' has no tag or digest",
                "pin a version (':1.2.3') or a digest ('@sha256:...') so every run uses the same "
                "code",
            )
        },
    ),
    "image tagged latest": (
        _component(0, image="r/make:latest"),
        {
            (
                "PC010",
                "warning",
                "image 'r/make:latest' of component 'make' uses ':latest'",
                "pin a version so runs are reproducible",
            )
        },
    ),
    "image pinned by digest": (_component(0, image="r/make@sha256:" + "a" * 64), set()),
    "importer of an unknown type": (
        _importer(artifact_type="Blob"),
        {
            error("PC003", "importer 'importer' has unknown artifact type 'Blob'", ARTIFACT_HINT),
            error(
                "PC003",
                "input 'data' of step 'use-imported' expects Dataset, got Blob",
                "connect an output of type Dataset",
            ),
        },
    ),
    "importer of an unknown parameter": (
        _importer(uri={"parameter": "nope"}),
        {
            error(
                "PC004",
                "importer 'importer' uses unknown parameter 'nope'",
                "declare it as a pipeline parameter",
            )
        },
    ),
    "importer of an int parameter": (
        _importer(uri={"parameter": "n"}),
        {
            error(
                "PC003",
                "importer 'importer' uri parameter 'n' is int, not str",
                "declare it as str",
            )
        },
    ),
    "unknown input": (
        _bind("use", "extra", {"constant": 1}),
        {error("PC004", "step 'use' passes unknown input 'extra'", "'use' takes: data, label")},
    ),
    "constant for an artifact": (
        _bind("use", "data", {"constant": "s3://x"}),
        {
            error(
                "PC003",
                "input 'data' of step 'use' is an artifact, got a constant",
                "use dsl.importer(uri=...).output",
            )
        },
    ),
    "constant of another type": (
        _bind("use", "label", {"constant": 3}),
        {error("PC003", "input 'label' of step 'use' is str, got 3", "pass a str")},
    ),
    "unknown parameter": (
        _bind("use", "label", {"parameter": "nope"}),
        {
            error(
                "PC004",
                "input 'label' of step 'use' uses unknown parameter 'nope'",
                "declare it as a pipeline parameter",
            )
        },
    ),
    "parameter for an artifact": (
        _bind("use", "data", {"parameter": "root"}),
        {
            error(
                "PC003",
                "input 'data' of step 'use' is an artifact, got parameter 'root'",
                "use dsl.importer(uri=param)",
            )
        },
    ),
    "parameter of another type": (
        _bind("make", "count", {"parameter": "root"}),
        {
            error(
                "PC003",
                "input 'count' of step 'make' is int, parameter 'root' is str",
                "declare 'root' as int",
            )
        },
    ),
    "artifact for a parameter": (
        _bind("use", "label", {"importer": "importer"}),
        {
            error(
                "PC003",
                "input 'label' of step 'use' is a str parameter, got an artifact",
                "pass a value or a parameter",
            )
        },
    ),
    "unknown importer": (
        _bind("use-imported", "data", {"importer": "nope"}),
        {
            error(
                "PC004",
                "input 'data' of step 'use-imported' uses unknown importer 'nope'",
                "declare it",
            )
        },
    ),
    "unknown upstream step": (
        _bind("use", "data", {"output": {"step": "ghost", "name": "data"}}),
        {
            error(
                "PC004",
                "input 'data' of step 'use' reads from unknown step 'ghost'",
                "check the step id",
            )
        },
    ),
    "unknown upstream output": (
        _bind("use", "data", {"output": {"step": "make", "name": "nope"}}),
        {
            error(
                "PC004",
                "input 'data' of step 'use' reads unknown output 'nope' of step 'make'",
                "outputs: data",
            )
        },
    ),
    "unbound input": (
        _bind("use", "label", None),
        {
            error(
                "PC002",
                "input 'label' of step 'use' is not bound",
                "pass label=... when calling 'use'",
            )
        },
    ),
    "after an unknown step": (
        _set("use", after=["ghost"]),
        {error("PC004", "step 'use' runs after unknown step 'ghost'", "check the step id")},
    ),
    "spot wait shorter than the timeout": (
        _set("make", spot={"max_wait_seconds": 60, "checkpoints": False}, timeout_seconds=120),
        {
            error(
                "PC007",
                "step 'make': spot max_wait (60s) is shorter than its timeout (120s)",
                "max_wait covers waiting for capacity plus running: make it at least the timeout, "
                "e.g. Spot(max_wait='2h') with .set_timeout('1h')",
            )
        },
    ),
    "spot wait as long as the timeout": (
        _set("make", spot={"max_wait_seconds": 120, "checkpoints": False}, timeout_seconds=120),
        set(),
    ),
    "env name": (
        _set("make", env={"1BAD": "x"}),
        {
            error(
                "PC011",
                "step 'make': env name '1BAD' is not valid",
                "use letters, digits and _, not starting with a digit",
            )
        },
    ),
    "env name of a secret": (
        _set("make", env={"API_TOKEN": "x", "TOKENIZERS_PARALLELISM": "1", "MONKEY": "m"}),
        {
            (
                "PC012",
                "warning",
                "step 'make': env 'API_TOKEN' looks like a secret; its value is stored in plain "
                "text in every compiled document (and in code review)",
                "pass a reference instead (an AWS Secrets Manager or SSM parameter name the step "
                "reads at run time, or a Kubernetes secret), not the secret itself",
            )
        },
    ),
    "cycle": (
        _set("make", after=["use"]),
        {
            error(
                "PC001",
                "cycle: make → use → make",
                "remove one of the .after() calls or data connections in the cycle",
            )
        },
    ),
}


SHARD_HINT = "shard splits artifact inputs by object; its artifact inputs: data"
SCALE_CASES: dict[str, tuple[Edit, Expected]] = {
    "no machines": (
        _set("make", instances=0),
        {
            error(
                "PC040",
                "step 'make': instances must be a whole number of machines, at least 1; got 0",
                "e.g. .set_instances(4, shard=['frames'])",
            )
        },
    ),
    "shard of a parameter": (
        _set("use", instances=2, shard=["label"]),
        {
            error(
                "PC041",
                "step 'use': shard names 'label', which is a parameter of 'use'",
                SHARD_HINT,
            )
        },
    ),
    "shard of no input": (
        _set("use", instances=2, shard=["dta"]),
        {
            error(
                "PC041",
                "step 'use': shard names 'dta', which is not an input of 'use'; did you mean "
                "'data'?",
                SHARD_HINT,
            )
        },
    ),
    "shard of an unbound input": (
        _all(_set("use", instances=2, shard=["data"]), _bind("use", "data", None)),
        {
            error(
                "PC042",
                "step 'use': sharded input 'data' is not bound, so there is nothing to split",
                "bind 'data' to an importer (an S3 prefix or a manifest) or to an upstream output, "
                "or leave it out of shard",
            ),
            error(
                "PC002",
                "input 'data' of step 'use' is not bound",
                "pass data=... when calling 'use'",
            ),
        },
    ),
    "shard read by URI": (
        _all(
            _set("use", instances=2, shard=["data"]),
            lambda doc: doc["components"][1]["args"].__setitem__(1, {"inputUri": "data"}),
        ),
        {
            error(
                "PC042",
                "step 'use': sharded input 'data' reaches the container as a URI (dsl.input_uri), "
                "which every machine would read whole",
                "pass 'data' as a path (dsl.input_path, the default) so each machine sees only its "
                "shard's folder, or leave it out of shard",
            )
        },
    ),
    "a parameter output of a scaled-out step": (
        _all(
            _set("make", instances=2),
            lambda doc: doc["components"][0]["outputs"].append(
                {"name": "n", "kind": "parameter", "type": "int"}
            ),
        ),
        {
            error(
                "PC043",
                "step 'make' runs on 2 machines, but its output 'n' is a parameter (one file every "
                "machine would overwrite)",
                "write the result into an artifact folder (Output[Dataset]) under a file name "
                "derived from the inputs, and read it downstream",
            )
        },
    ),
    "a scaled-out step that writes folders": (_set("use", instances=3, shard=["data"]), set()),
}
CASES.update(SCALE_CASES)


@pytest.mark.parametrize(
    ("spot", "instances", "expected"),
    [
        (None, 5, "step 'make': 5 instances exceed fake's limit of 3 per processing job"),
        (None, 3, None),
        (
            {"max_wait_seconds": 60, "checkpoints": False},
            3,
            "step 'make': 3 instances exceed fake's limit of 2 per spot job",
        ),
    ],
)
def test_a_targets_machine_limit_depends_on_how_the_step_runs(spot, instances, expected):
    document = copy.deepcopy(BASE)
    _set("make", instances=instances, spot=spot)(document)
    limits = {"max_instances": {"default": ("processing job", 3), "spot": ("spot job", 2)}}
    diagnostics, _ = graph.diagnose(PipelineSpec.from_dict(document), [_limited(**limits)])
    got = [(d.code, d.message, d.hint, d.step) for d in diagnostics]
    limit = 2 if spot else 3
    assert got == (
        []
        if expected is None
        else [
            (
                "PC040",
                expected,
                f"ask for at most {limit}, or split the input over several steps",
                "make",
            )
        ]
    )


@pytest.mark.parametrize("case", list(CASES))
def test_each_rule_says_what_it_expected_and_what_it_saw(case):
    edit, expected = CASES[case]
    document = copy.deepcopy(BASE)
    edit(document)
    diagnostics, _ = graph.diagnose(PipelineSpec.from_dict(document))
    got = {(d.code, d.severity, d.message, d.hint) for d in diagnostics}
    assert got == expected
    assert len(diagnostics) == len(expected)  # each problem once


def test_the_base_pipeline_has_no_diagnostics():
    assert graph.diagnose(PipelineSpec.from_dict(copy.deepcopy(BASE)))[0] == []


# ----- control flow (compilers/_flow_checks.py) -------------------------------------------------

IMG = "r/flow:1.0"


@dsl.container_component(image=IMG, command=["count"])
def count(camera: str, n: Output[int], frames: Output[Dataset]):
    """Counts."""


@dsl.container_component(image=IMG, command=["total"])
def total(counts: list):
    """Totals."""


@dsl.container_component(image=IMG, command=["use-n"])
def use_n(n: int):
    """Uses n."""


@dsl.container_component(image=IMG, command=["report"])
def report(status: str):
    """Reports."""


@dsl.pipeline(name="flow")
def flow(cams: list = ["a", "b"], limit: int = 1, mode: str = "x"):  # noqa: B006
    """exit-handler-1 { loop-2 { count; condition-3 { big } }; total; condition-4 { ca };
    condition-5 (else) { cb }; joined }, with report as the exit task."""
    done = report(status=dsl.RUN_STATUS)  # the exit task
    with dsl.ExitHandler(done):  # the exit handler
        with dsl.ParallelFor(cams, parallelism=2) as cam:  # the loop
            counted = count(camera=cam)
            with dsl.If(counted.outputs["n"] > limit):
                use_n(n=counted.outputs["n"]).set_name("big")
        total(counts=dsl.Collected(counted.outputs["n"]))
        with dsl.If(mode == "x"):
            a = count(camera="a").set_name("ca")
        with dsl.Else():
            b = count(camera="b").set_name("cb")
        use_n(n=dsl.OneOf(a.outputs["n"], b.outputs["n"])).set_name("joined")


FLOW = flow.spec.to_dict()
LOOP_HINT = (
    "loop over a list literal, a `list` pipeline parameter, a `list` output parameter or an "
    "enclosing loop's item"
)
BRANCH_HINT = (
    "read it inside the same dsl.If block, or join the outputs of every branch with "
    "dsl.OneOf(a.output, b.output)"
)
COMPARE_HINT = (
    "compare a value with a value of the same type, e.g. dsl.If(task.outputs['count'] > 0); "
    "artifacts cannot be compared"
)
RUN_STATUS_PC024 = error(
    "PC024",
    "input 'status' of step 'report' is dsl.RUN_STATUS, but 'report' is no exit handler's task",
    "bind dsl.RUN_STATUS to the task given to `dsl.ExitHandler(task)`",
)


def _group(group_id: str, **fields: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        next(g for g in doc["groups"] if g["id"] == group_id).update(fields)

    return edit


def _when(group_id: str, **fields: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        next(g for g in doc["groups"] if g["id"] == group_id)["when"][0].update(fields)

    return edit


def _out(step: str, name: str) -> dict[str, Any]:
    return {"step": step, "name": name}


def _out_of(step: str, name: str) -> dict[str, Any]:
    return {"output": _out(step, name)}


FLOW_CASES: dict[str, tuple[Edit, Expected]] = {
    "step in an unknown group": (
        _set("total", group="ghost"),
        {
            error(
                "PC004",
                "step 'total' is in unknown group 'ghost'",
                "groups: condition-3, condition-4, condition-5, exit-handler-1, loop-2",
            )
        },
    ),
    "group in an unknown group": (
        lambda doc: doc["groups"].append(
            {"id": "condition-9", "kind": "condition", "parent": "ghost", "when": [], "unless": []}
        ),
        {
            error(
                "PC004",
                "group 'condition-9' is inside unknown group 'ghost'",
                "check the group ids",
            )
        },
    ),
    "parallelism below one": (
        _group("loop-2", parallelism=0),
        {
            error(
                "PC025",
                "loop 'loop-2': parallelism is 0; it must be at least 1",
                "dsl.ParallelFor(items, parallelism=N) with N ≥ 1, or None for no limit",
            )
        },
    ),
    "loop over a constant text": (
        _group("loop-2", items={"constant": "ab"}),
        {error("PC025", "loop 'loop-2' iterates over a constant 'ab', not a list", LOOP_HINT)},
    ),
    "loop over an unknown parameter": (
        _group("loop-2", items={"parameter": "nope"}),
        {
            error(
                "PC025",
                "loop 'loop-2' iterates over unknown parameter 'nope', not a list",
                LOOP_HINT,
            )
        },
    ),
    "loop over an int parameter": (
        _group("loop-2", items={"parameter": "limit"}),
        {
            error(
                "PC025",
                "loop 'loop-2' iterates over parameter 'limit' of type int, not a list",
                LOOP_HINT,
            )
        },
    ),
    "loop over an artifact of a branch": (
        _group("loop-2", items={"output": _out("ca", "frames")}),
        {
            error("PC025", "loop 'loop-2' iterates over output 'ca.frames', not a list", LOOP_HINT),
            error(
                "PC020",
                "loop 'loop-2' reads 'ca.frames' outside its branch 'condition-4', where the step "
                "may not have run",
                BRANCH_HINT,
            ),
        },
    ),
    "exit handler of an unknown step": (
        _group("exit-handler-1", exit_step="ghost"),
        {
            error(
                "PC004",
                "exit handler 'exit-handler-1' runs unknown step 'ghost'",
                "create the exit task before `with dsl.ExitHandler(task):`",
            ),
            RUN_STATUS_PC024,
        },
    ),
    "exit task inside its own handler": (
        _set("report", group="exit-handler-1"),
        {
            error(
                "PC024",
                "exit task 'report' is inside its own exit handler 'exit-handler-1'",
                "create the exit task before the `with dsl.ExitHandler(...)` block, outside it",
            )
        },
    ),
    "nested exit handlers": (
        lambda doc: doc["groups"].append(
            {"id": "exit-handler-9", "kind": "exit_handler", "parent": "loop-2", "exit_step": "big"}
        ),
        {
            error(
                "PC024",
                "exit handler 'exit-handler-9' is nested inside exit handler 'exit-handler-1'",
                "use one dsl.ExitHandler around the steps; nested handlers are not supported",
            )
        },
    ),
    "loop item outside its loop": (
        _bind("joined", "n", {"loop_item": {"loop": "loop-2"}}),
        {
            error(
                "PC021",
                "input 'n' of step 'joined' uses the item of loop 'loop-2' outside that loop",
                "use the loop item only inside its `with dsl.ParallelFor(...) as item:` block",
            )
        },
    ),
    "output read outside its branch": (
        _bind("joined", "n", {"output": _out("ca", "n")}),
        {
            error(
                "PC020",
                "input 'n' of step 'joined' reads 'ca.n' outside its branch 'condition-4', where "
                "the step may not have run",
                BRANCH_HINT,
            )
        },
    ),
    "output read outside its loop": (
        _bind("joined", "n", {"output": _out("count", "n")}),
        {
            error(
                "PC021",
                "input 'n' of step 'joined' reads 'count.n' outside its loop 'loop-2', which runs "
                "it once per item",
                "fan in with dsl.Collected(...) to get every iteration's 'n'",
            )
        },
    ),
    "collected outside any loop": (
        _bind("total", "counts", {"collected": _out("ca", "n")}),
        {
            error(
                "PC022",
                "input 'counts' of step 'total' collects 'ca.n', which is not produced in a loop "
                "around which it is read",
                "dsl.Collected fans in the outputs of a dsl.ParallelFor, after the loop; pass the "
                "output directly",
            )
        },
    ),
    "collected of a step in a condition": (
        _all(
            _set("big", component="count", arguments={"camera": {"constant": "z"}}),
            _bind("total", "counts", {"collected": _out("big", "n")}),
        ),
        {
            error(
                "PC020",
                "input 'counts' of step 'total' collects 'big.n', which runs inside a condition, "
                "so some iterations may have no value",
                "collect an output of a step outside the dsl.If block, or put the reader inside it",
            )
        },
    ),
    "collected of an unknown output": (
        _bind("total", "counts", {"collected": _out("count", "nope")}),
        {
            error(
                "PC004",
                "input 'counts' of step 'total' reads unknown output 'nope' of step 'count'",
                "check the ids",
            )
        },
    ),
    "collected artifacts into a parameter": (
        _bind("total", "counts", {"collected": _out("count", "frames")}),
        {
            error(
                "PC003",
                "input 'counts' is a parameter (list), dsl.Collected gives an artifact (Dataset)",
                "connect artifacts to Input[...] inputs and values to parameter inputs",
            )
        },
    ),
    "collected values into an int": (
        _bind("big", "n", {"collected": _out("count", "n")}),
        {
            error(
                "PC022",
                "input 'n' of step 'big' collects 'count.n', which is not produced in a loop "
                "around which it is read",
                "dsl.Collected fans in the outputs of a dsl.ParallelFor, after the loop; pass the "
                "output directly",
            ),
            error(
                "PC003", "input 'n' is int, dsl.Collected gives list", "declare the input as list"
            ),
        },
    ),
    "one of an output inside a loop": (
        _bind("joined", "n", {"one_of": [_out("count", "n"), _out("cb", "n")]}),
        {
            error(
                "PC021",
                "input 'n' of step 'joined' joins 'count.n' from inside a loop",
                "fan in a loop's outputs with dsl.Collected",
            )
        },
    ),
    "one of an output outside any branch": (
        _set("cb", group="exit-handler-1"),
        {
            error(
                "PC020",
                "input 'n' of step 'joined': dsl.OneOf option 'cb.n' is not inside a branch, so "
                "it is not exclusive with the others",
                "dsl.OneOf joins outputs of the branches of one dsl.If/Elif/Else",
            )
        },
    ),
    "one of two outputs of one branch": (
        _bind("joined", "n", {"one_of": [_out("ca", "n"), _out("ca", "n")]}),
        {
            error(
                "PC020",
                "input 'n' of step 'joined': dsl.OneOf joins outputs of branches that are not "
                "exclusive (condition-4, condition-4)",
                "give dsl.OneOf one output from each branch of a single dsl.If/Elif/Else",
            )
        },
    ),
    "one of outputs of different types": (
        _bind("joined", "n", {"one_of": [_out("ca", "n"), _out("cb", "frames")]}),
        {
            error(
                "PC003",
                "input 'n' of step 'joined': dsl.OneOf joins outputs of different types",
                "join outputs of one type",
            )
        },
    ),
    "an artifact input fed a value, and one of two artifacts": (
        _all(
            lambda doc: next(c for c in doc["components"] if c["name"] == "use-n").update(
                inputs=[{"name": "n", "kind": "artifact", "type": "Artifact"}],
                args=["--n", {"inputPath": "n"}],
            ),
            _bind("joined", "n", {"one_of": [_out("ca", "frames"), _out("cb", "frames")]}),
        ),
        {
            # 'big' still passes count's int; 'joined' gets a Dataset, which Artifact accepts
            error(
                "PC003",
                "input 'n' is an artifact (Artifact), output 'count.n' gives a value (int)",
                "connect artifacts to Input[...] inputs and values to parameter inputs",
            )
        },
    ),
    "parallelism of one": (_group("loop-2", parallelism=1), set()),
    "loop over an int output": (
        _group("loop-2", items={"output": _out("ca", "n")}),
        {
            error("PC025", "loop 'loop-2' iterates over output 'ca.n', not a list", LOOP_HINT),
            error(
                "PC020",
                "loop 'loop-2' reads 'ca.n' outside its branch 'condition-4', where the step "
                "may not have run",
                BRANCH_HINT,
            ),
        },
    ),
    "loop over a collected output": (
        _group("loop-2", items={"collected": _out("ca", "n")}),
        {
            error(
                "PC025",
                "loop 'loop-2' iterates over CollectedRef(step='ca', output='n'), not a list",
                LOOP_HINT,
            ),
            error(
                "PC022",
                "loop 'loop-2' collects 'ca.n', which is not produced in a loop around which it "
                "is read",
                "dsl.Collected fans in the outputs of a dsl.ParallelFor, after the loop; pass the "
                "output directly",
            ),
        },
    ),
    "booleans equal": (
        _when("condition-4", left={"constant": True}, op="==", right={"constant": False}),
        set(),
    ),
    "lists unequal": (
        _when("condition-4", left={"constant": [1]}, op="!=", right={"constant": [2]}),
        set(),
    ),
    "text ordered": (_when("condition-4", op=">"), set()),
    "a list compared with a dict": (
        _when("condition-4", left={"constant": [1]}, right={"constant": {"a": 1}}),
        {error("PC023", "condition 'condition-4': [1] (list) == {'a': 1} (dict)", COMPARE_HINT)},
    ),
    "text compared with null": (
        _when("condition-4", right={"constant": None}),
        {
            error(
                "PC023", "condition 'condition-4': parameter 'mode' (str) == None (?)", COMPARE_HINT
            )
        },
    ),
    "an unknown output read into a parameter": (
        _bind("joined", "n", {"output": _out("count", "nope")}),
        {
            error(
                "PC004",
                "input 'n' of step 'joined' reads unknown output 'nope' of step 'count'",
                "outputs: n, frames",
            ),
            error(
                "PC021",
                "input 'n' of step 'joined' reads 'count.nope' outside its loop 'loop-2', which "
                "runs it once per item",
                "fan in with dsl.Collected(...) to get every iteration's 'nope'",
            ),
        },
    ),
    "an output of a step that has none": (
        _all(_set("joined", group="condition-3"), _bind("joined", "n", _out_of("big", "n"))),
        {
            error(
                "PC004",
                "input 'n' of step 'joined' reads unknown output 'n' of step 'big'",
                "'big' has no outputs",
            )
        },
    ),
    "an int output into a float input": (
        lambda doc: next(c for c in doc["components"] if c["name"] == "use-n")["inputs"][0].update(
            type="float"
        ),
        set(),
    ),
    "run status into an int": (
        lambda doc: next(c for c in doc["components"] if c["name"] == "report")["inputs"][0].update(
            type="int"
        ),
        {
            error(
                "PC003",
                "input 'status' of step 'report' is int, dsl.RUN_STATUS is a JSON string",
                "declare the input as str",
            )
        },
    ),
    "items of a literal list of another type": (
        _group("loop-2", items={"constant": [1, 2]}),
        {
            error(
                "PC003",
                "input 'camera' of step 'count' is str, the loop's items are int",
                "loop over str values",
            )
        },
    ),
    "unknown operator": (
        _when("condition-4", op="~="),
        {
            error(
                "PC023",
                "condition 'condition-4': unknown operator '~=' (one of == != < <= > >=)",
                COMPARE_HINT,
            )
        },
    ),
    "an artifact compared": (
        _when("condition-3", left={"output": _out("count", "frames")}),
        {
            error(
                "PC023",
                "condition 'condition-3': output 'count.frames' is an artifact, not a value",
                COMPARE_HINT,
            )
        },
    ),
    "values of two types compared": (
        _when("condition-4", right={"constant": 1}),
        {
            error(
                "PC023", "condition 'condition-4': parameter 'mode' (str) == 1 (int)", COMPARE_HINT
            )
        },
    ),
    "an int compared with a float": (_when("condition-3", right={"constant": 0.5}), set()),
    "booleans ordered": (
        _when("condition-4", left={"constant": True}, op=">", right={"constant": False}),
        {
            error(
                "PC023",
                "condition 'condition-4': > orders numbers and text, not bool",
                COMPARE_HINT,
            )
        },
    ),
}


@pytest.mark.parametrize("case", list(FLOW_CASES))
def test_each_control_flow_rule_says_what_it_expected_and_what_it_saw(case):
    edit, expected = FLOW_CASES[case]
    document = copy.deepcopy(FLOW)
    edit(document)
    diagnostics, _ = graph.diagnose(PipelineSpec.from_dict(document))
    got = {(d.code, d.severity, d.message, d.hint) for d in diagnostics}
    assert got == expected
    assert len(diagnostics) == len(expected)


def test_a_control_flow_problem_points_at_the_block_in_the_pipeline():
    # the IR file carries no source lines: change the spec the DSL built, which does
    spec = flow.spec
    groups = tuple(
        dataclasses.replace(g, exit_step="ghost") if g.id == "exit-handler-1" else g
        for g in spec.groups
    )
    diagnostics, _ = graph.diagnose(dataclasses.replace(spec, groups=groups))
    where = {d.code: d.location for d in diagnostics}
    assert sorted(where) == ["PC004", "PC024"]  # with the exit task now no handler's
    assert where["PC004"] is not None
    assert where["PC004"].line == marked_line(flow, "the exit handler")
    assert where["PC024"] is not None
    assert where["PC024"].line == marked_line(flow, "the exit task")


def _flow_with(group_id: str, **fields: Any) -> PipelineSpec:
    """The spec the DSL built for ``flow`` (with its source lines), one group changed."""
    spec = flow.spec
    groups = tuple(dataclasses.replace(g, **fields) if g.id == group_id else g for g in spec.groups)
    return dataclasses.replace(spec, groups=groups)


def test_loop_shape_problems_point_at_the_loop():
    from pipecast.dsl.spec import Constant

    for fields in ({"parallelism": 0}, {"items": Constant("ab")}):
        (problem,) = graph.diagnose(_flow_with("loop-2", **fields))[0]
        assert problem.code == "PC025"
        assert problem.location is not None
        assert problem.location.line == marked_line(flow, "the loop")


def test_exit_handler_problems_name_the_exit_task_or_point_at_the_handler():
    spec = flow.spec
    steps = tuple(
        dataclasses.replace(s, group="exit-handler-1") if s.id == "report" else s
        for s in spec.steps
    )
    inside = [
        d for d in graph.diagnose(dataclasses.replace(spec, steps=steps))[0] if d.code == "PC024"
    ]
    assert [(d.step, d.location.line if d.location else None) for d in inside] == [
        ("report", marked_line(flow, "the exit task"))
    ]
    # a handler nested in the loop (a copy of the outer one, so it has the outer one's line)
    groups = (
        *spec.groups,
        dataclasses.replace(
            spec.group("exit-handler-1"), id="exit-handler-9", parent="loop-2", exit_step="big"
        ),
    )
    found = [
        d
        for d in graph.diagnose(dataclasses.replace(spec, groups=groups))[0]
        if d.message.startswith("exit handler 'exit-handler-9' is nested")
    ]
    assert [d.location.line if d.location else None for d in found] == [
        marked_line(flow, "the exit handler")
    ]


def test_the_flow_pipeline_has_no_diagnostics():
    assert graph.diagnose(PipelineSpec.from_dict(copy.deepcopy(FLOW)))[0] == []


def test_a_list_parameter_on_a_target_that_cannot_pass_one():
    import dataclasses

    from pipecast.compilers import load_target
    from pipecast.compilers.target import Capabilities

    plain = dataclasses.replace(load_target("sagemaker"), capabilities=Capabilities())
    diagnostics, _ = graph.diagnose(flow.spec, [plain])
    found = [d for d in diagnostics if d.message.startswith("pipeline parameter")]
    assert [(d.code, d.message, d.hint, d.location) for d in found] == [
        (
            "PC008",
            "pipeline parameter 'cams' is a list, which is not expressible on sagemaker",
            "the local runner (`pipecast run --local`) and `--target ir` take it; for sagemaker, "
            "pass a str and parse it in the step",
            flow.spec.parameters[0].location,
        )
    ]
    assert flow.spec.parameters[0].location is not None


# ----- a target's declared limits (compilers/_checks.py) ----------------------------------------


def _limited(**limits: Any) -> Any:
    import dataclasses

    from pipecast.compilers import load_target
    from pipecast.compilers.target import Capabilities, Limits

    return dataclasses.replace(
        load_target("ir"),
        name="fake",
        capabilities=Capabilities(supported={"scale_out"}),
        limits=Limits(**limits),
    )


def _step_error(code: str, message: str, hint: str, step: str) -> tuple[str, str, str, str | None]:
    return code, message, hint, step


TEMPLATES = {"inputPath": "/in/{name}", "outputPath": "/out/{step}/{name}", "value": "{{{name}}}"}
LIMIT_CASES: dict[str, tuple[dict[str, Any], Edit, set[tuple[str, str, str, str | None]]]] = {
    "steps": (
        {"max_steps": 2},
        lambda doc: None,
        {
            (
                "PC009",
                "3 steps exceed fake's limit of 2",
                "split the pipeline into smaller ones",
                None,
            )
        },
    ),
    "no image": (
        {},
        _component(1, image=""),
        {
            _step_error(
                "PC010",
                "component 'use' has no image; fake runs every step in a container",
                "build an image with pipecast and your module installed and pass image=... to "
                "@dsl.component",
                step,
            )
            for step in ("use", "use-imported")
        },
    ),
    "counts per step": (
        {
            "max_inputs_per_step": 0,
            "max_outputs_per_step": 0,
            "max_arg_count": 3,
            "max_env_vars": 0,
        },
        _set("make", env={"A": "1"}),
        {
            *(
                _step_error(
                    "PC009",
                    f"step '{step}': 1 artifact inputs exceed fake's limit of 0",
                    "merge inputs into one artifact directory",
                    step,
                )
                for step in ("use", "use-imported")
            ),
            _step_error(
                "PC009",
                "step 'make': 1 outputs exceed fake's limit of 0",
                "write several results into one output directory",
                "make",
            ),
            *(
                _step_error(
                    "PC009",
                    f"step '{step}': 4 container arguments exceed fake's limit of 3",
                    "pass fewer arguments, e.g. a config file artifact",
                    step,
                )
                for step in ("make", "use", "use-imported")
            ),
            _step_error(
                "PC009",
                "step 'make': 1 environment variables exceed fake's limit of 0",
                "pass fewer variables",
                "make",
            ),
        },
    ),
    "step id length": (
        {"step_id_max_length": 4},
        lambda doc: None,
        {
            _step_error(
                "PC009",
                "step id 'use-imported' is longer than 4 characters (fake)",
                "choose a shorter .set_name()",
                "use-imported",
            )
        },
    ),
    "argument length, as the target renders it": (
        {"max_arg_length": 10, "placeholder_text": TEMPLATES},
        _bind("use", "label", {"constant": "y" * 70}),
        {
            _step_error(
                "PC009",
                "step 'make': argument '/out/make/data' is 14 characters; fake allows 10",
                "pass long values in an input artifact instead",
                "make",
            ),
            _step_error(
                "PC009",
                f"step 'use': argument '{'y' * 57}...' is 70 characters; fake allows 10",
                "pass long values in an input artifact instead",
                "use",
            ),
        },
    ),
    "a joined argument, with a placeholder the target renders as nothing": (
        {"max_arg_length": 12, "placeholder_text": {"outputPath": "/out/{step}/{name}"}},
        lambda doc: doc["components"][0]["args"].extend(
            [["--to=", {"outputPath": "data"}], ["--n=", {"value": "count"}, "!!!!!"]]
        ),
        {
            _step_error(
                "PC009",
                "step 'make': argument '/out/make/data' is 14 characters; fake allows 12",
                "pass long values in an input artifact instead",
                "make",
            ),
            _step_error(
                "PC009",
                "step 'make': argument '--to=/out/make/data' is 19 characters; fake allows 12",
                "pass long values in an input artifact instead",
                "make",
            ),
        },
    ),
    "arguments within their limits": (
        {"max_arg_length": 14, "placeholder_text": TEMPLATES, "max_steps": 3, "max_arg_count": 4},
        lambda doc: None,
        set(),
    ),
}


@pytest.mark.parametrize("case", list(LIMIT_CASES))
def test_each_limit_of_a_target_names_the_count_the_limit_and_the_target(case):
    limits, edit, expected = LIMIT_CASES[case]
    document = copy.deepcopy(BASE)
    edit(document)
    diagnostics, _ = graph.diagnose(PipelineSpec.from_dict(document), [_limited(**limits)])
    got = {(d.code, d.message, d.hint, d.step) for d in diagnostics}
    assert got == expected
    assert len(diagnostics) == len(expected)


# ----- what a target cannot express (compilers/_features.py) ------------------------------------

EXPRESSED_BY = "sagemaker, stepfunctions and kubeflow can express it"


def _refusals(document: dict[str, Any], capabilities: Any) -> set[tuple[str, str, str, str | None]]:
    import dataclasses

    target = dataclasses.replace(_limited(), capabilities=capabilities)
    diagnostics, _ = graph.diagnose(PipelineSpec.from_dict(document), [target])
    return {(d.code, d.message, d.hint, d.step) for d in diagnostics}


def _gpu(doc: dict[str, Any]) -> None:
    resources = {"cpu": 1, "memory": 2**30, "gpu": 1, "gpu_type": None, "disk": None}
    _step(doc, "make")["resources"] = resources


def test_a_refused_feature_names_the_targets_that_can_and_the_fix_on_this_one():
    from pipecast.compilers.target import Capabilities

    document = copy.deepcopy(BASE)
    _gpu(document)
    message = "step 'make': gpu (Resources(gpu=...)) is not expressible on fake"
    generic = f"{EXPRESSED_BY}; remove it for fake, or compile for one of those"
    assert _refusals(document, Capabilities(unsupported={"gpu"})) == {
        ("PC008", message, generic, "make")
    }
    advised = Capabilities(unsupported={"gpu"}, hints={"gpu": "use a CPU type"})
    assert _refusals(document, advised) == {
        ("PC008", message, f"{EXPRESSED_BY}; use a CPU type", "make")
    }
    _set("make", retry={"max_attempts": 3, "backoff_seconds": 60, "backoff_rate": 2.0})(document)
    _step(document, "make").pop("resources")
    assert _refusals(document, Capabilities(unsupported={"retry"})) == {
        (
            "PC008",
            "step 'make': retry (.set_retry(Retry(...))) is not expressible on fake",
            f"{EXPRESSED_BY}; keep it there and drop it on fake with "
            'targets=("sagemaker", "stepfunctions", "kubeflow") on the same call, or remove it',
            "make",
        )
    }


def test_an_opt_in_feature_is_refused_once_naming_its_steps():
    from pipecast.compilers.target import Capabilities

    document = copy.deepcopy(BASE)
    template = _step(document, "use-imported")
    document["steps"] += [{**copy.deepcopy(template), "id": f"extra-{i:02}"} for i in range(11)]
    for step in document["steps"]:
        step["instances"] = 2
    names = sorted(s["id"] for s in document["steps"])
    (found,) = _refusals(document, Capabilities())
    shown = ", ".join(f"'{n}'" for n in [s["id"] for s in document["steps"]][:10])
    assert found == (
        "PC008",
        "scale out (.set_instances(count, shard=[...])) is not expressible on fake; it is used by "
        f"steps {shown} and {len(names) - 10} more",
        f"{EXPRESSED_BY}; remove it for fake, or compile for one of those",
        document["steps"][0]["id"],
    )
    for step in document["steps"][1:]:
        step["instances"] = 1
    (found,) = _refusals(document, Capabilities())
    assert found[1].endswith(f"it is used by step '{document['steps'][0]['id']}'")


def test_a_loop_over_a_list_output_is_accepted_and_over_a_dict_output_is_not():
    @dsl.container_component(image=IMG, command=["list"])
    def listing(names: Output[list], table: Output[dict]):
        """Lists names."""

    @dsl.pipeline(name="listed")
    def listed():
        made = listing()
        with dsl.ParallelFor(made.outputs["names"]) as name:
            count(camera=name)

    assert graph.diagnose(listed.spec)[0] == []
    document = listed.spec.to_dict()
    document["groups"][0]["items"] = {"output": {"step": "listing", "name": "table"}}
    (problem,) = graph.diagnose(PipelineSpec.from_dict(document))[0]
    assert (problem.code, problem.message) == (
        "PC025",
        "loop 'loop-1' iterates over output 'listing.table', not a list",
    )


def test_target_limit_problems_point_at_the_step_or_the_pipeline():
    import dataclasses

    limits = {"max_steps": 2, "max_arg_count": 3, "step_id_max_length": 4}
    diagnostics, _ = graph.diagnose(base.spec, [_limited(**limits)])
    lines = {
        (d.message.split(":")[0].split(" exceed")[0], d.location.line if d.location else None)
        for d in diagnostics
    }
    assert lines == {
        ("3 steps", marked_line(__file__, "the pipeline")),
        ("step 'make'", marked_line(__file__, "make")),
        ("step 'use'", marked_line(__file__, "use")),
        ("step 'use-imported'", marked_line(__file__, "use-imported")),
        (
            "step id 'use-imported' is longer than 4 characters (fake)",
            marked_line(__file__, "use-imported"),
        ),
    }
    # a component without an image: at the component, else at the step that uses it
    imageless = dataclasses.replace(make.spec, image="")
    spec = dataclasses.replace(base.spec, components=(imageless, use.spec))
    (problem,) = graph.diagnose(spec, [_limited()])[0]
    assert (problem.code, problem.location) == ("PC010", make.spec.location)
    unplaced = dataclasses.replace(imageless, location=None)
    spec = dataclasses.replace(base.spec, components=(unplaced, use.spec))
    (problem,) = graph.diagnose(spec, [_limited()])[0]
    assert problem.location is not None
    assert problem.location.line == marked_line(__file__, "make")


@pytest.mark.parametrize(("length", "shown"), [(60, "y" * 60), (61, "y" * 57 + "...")])
def test_an_argument_over_the_limit_is_shown_whole_up_to_sixty_characters(length, shown):
    document = copy.deepcopy(BASE)
    _bind("use", "label", {"constant": "y" * length})(document)
    (problem,) = graph.diagnose(PipelineSpec.from_dict(document), [_limited(max_arg_length=20)])[0]
    assert problem.message == (
        f"step 'use': argument '{shown}' is {length} characters; fake allows 20"
    )


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_json_parameter_is_refused_at_its_declaration_where_the_target_cannot_pass_one(kind):
    @dsl.pipeline(name="listed")
    def listed(value: list = [1]):  # noqa: B006
        make(count=1)

    @dsl.pipeline(name="mapped")
    def mapped(value: dict = {"a": 1}):  # noqa: B006
        make(count=1)

    spec = (listed if kind == "list" else mapped).spec
    (param,) = spec.parameters
    assert param.type == kind
    (problem,) = graph.diagnose(spec, [_limited()])[0]
    assert problem.code == "PC008"
    assert problem.message == (
        f"pipeline parameter 'value' is a {kind}, which is not expressible on fake"
    )
    assert problem.location == (param.location or spec.location)
    assert problem.location is not None
