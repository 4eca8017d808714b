"""Every refusal of the ``kubeflow`` target in one table: its code, full message, hint, step and
the ``file:line`` it points at (the user's line in this file, marked ``# name``).

Each case compiles a small pipeline for Kubeflow in the test; the diagnostics it fails with must
be exactly the listed ones, in order. (Their meaning is tested next to each construct:
test_kubeflow_flow.py, test_kubeflow_collected.py, test_kubeflow_rules.py.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import EXAMPLE_CONFIG, compile_document, marked_line

from pipecast import dsl
from pipecast.config import Config
from pipecast.dsl import Dataset, Input, Output, Resources, Spot
from pipecast.errors import Diagnostic, MissingExtraError, PipelineError

pytest.importorskip("kfp")

IMG = "registry.example.com/refused:1.0"
HERE = __file__
EMPTY_SPOT_CONFIG = Config({**EXAMPLE_CONFIG.data, "kubeflow": {"spot_node_selector": {}}})
NO_SPOT_CONFIG = Config({k: v for k, v in EXAMPLE_CONFIG.data.items() if k != "kubeflow"})

# the hints shared by several refusals
LITERAL_HINT = (
    "KFP and Kubernetes have no escape for it; pass the text in an input file (an artifact); "
    "sagemaker and stepfunctions pass it as is"
)
LOCAL_RUN = "(`pipecast run --local` does)"
TEXT_ITEM_HINT = (
    "loop over a literal list, compare inside the step, or compile for a target that supports "
    f"it {LOCAL_RUN}"
)
COLLECTED_HINT = (
    "read the collected folder in a step next to the loop (outside any dsl.If, ParallelFor or "
    "ExitHandler the loop is not in, and not scaled out), e.g. one that copies it into one "
    f"artifact, or compile for a target that supports it {LOCAL_RUN}"
)
CHAIN_HINT = (
    "write it with dsl.If / dsl.Elif / dsl.Else (an IR edited by hand may hold other shapes), "
    "or compile for a target that supports it"
)


def literal(where: str, text: str, marker: str) -> str:
    return (
        f"{where} {text!r} contains {marker!r}, which Kubeflow would resolve at run time instead "
        "of passing it on: it cannot reach the job unchanged on this target"
    )


def text_item(group: str) -> str:
    return (
        f"condition '{group}' compares a loop item of a run-time list (or a dict item's field) "
        "with a value that is not text: not expressible on kubeflow, where kfp types such items "
        "as text and would compare text"
    )


def collected_into(step: str, where: str) -> str:
    return (
        f"step '{step}': input 'parts' collects artifacts {where}: not expressible on kubeflow "
        "(kfp cannot pass a list of artifacts into a group)"
    )


# ----- components -------------------------------------------------------------------------------


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset]):
    """Writes a dataset."""


@dsl.container_component(image=IMG, command=["take"], args=["--x", dsl.param("x")])
def take(x: str):
    """Reads a text."""


@dsl.container_component(image=IMG, command=["num"])
def num(value: int):
    """Reads a number."""


@dsl.container_component(image=IMG, command=["read"])
def read(data: Input[Dataset]):
    """Reads a dataset."""


@dsl.container_component(image=IMG, command=["run", "{{$.x}}"])
def placeholder_command(x: str):
    """Its command holds a KFP placeholder."""


@dsl.container_component(image=IMG, command=["run"], args=['{"IfPresent": {"x": 1}}'])
def structured_arg():
    """An argument kfp would read as a structured placeholder."""


@dsl.container_component(image=IMG, command=["run"], args=[[dsl.param("a"), dsl.param("b")]])
def joined(a: str, b: str):
    """One argument made of two inputs."""


@dsl.container_component(image=IMG, command=["run"], args=[["{{$", dsl.param("a")]])
def prefixed(a: str):
    """One argument: a literal and an input."""


@dsl.container_component(image=IMG, command=["read"], instances=2, shard=["data"])
def read_sharded(data: Input[Dataset]):
    """Reads its share of a dataset."""


@dsl.container_component(image=IMG, command=["part"])
def make_part(item: int, part: Output[Dataset]):
    """Writes one part."""


@dsl.container_component(image=IMG, command=["parts"])
def use_parts(parts: Input[Dataset]):
    """Reads the collected folder."""


@dsl.container_component(image=IMG, command=["parts"], instances=2, shard=["parts"])
def use_parts_scaled(parts: Input[Dataset]):
    """Reads the collected folder on two machines."""


@dsl.container_component(image=IMG, command=["uri"], args=["--at", dsl.input_uri("parts")])
def use_uri(parts: Input[Dataset]):
    """Reads the URI of its input."""


@dsl.container_component(image=IMG, command=["report"])
def report(status: str):
    """Reports how the run ended."""


# ----- pipelines, each refused for one reason ---------------------------------------------------


@dsl.pipeline(name="spot-unset")
def spot_unset():
    make().set_spot(Spot("2h"))  # spot


@dsl.pipeline(name="unsafe-default")  # default
def unsafe_default(p: str = "a$(HOME)"):
    take(x=p)


@dsl.pipeline(name="unsafe-uri")
def unsafe_uri():
    imp = dsl.importer(uri="s3://b/{{$.x}}/", artifact_type=Dataset)  # uri
    read(data=imp.output)


@dsl.pipeline(name="unsafe-value")
def unsafe_value():
    take(x="a{{channel:x}}")  # value


@dsl.pipeline(name="unsafe-command")
def unsafe_command():
    placeholder_command(x="safe")  # command


@dsl.pipeline(name="unsafe-structured")
def unsafe_structured():
    structured_arg()  # structured


@dsl.pipeline(name="unsafe-joined")
def unsafe_joined():
    joined(a="{{", b="$.x")  # joined


@dsl.pipeline(name="unsafe-run-time")
def unsafe_run_time(p: str = "safe"):
    prefixed(a=p)  # run-time


@dsl.pipeline(name="exit-reads")
def exit_reads():
    first = make().set_name("first")
    done = read(data=first.outputs["data"]).set_name("done")  # exit-reads
    with dsl.ExitHandler(done):
        num(value=1)


@dsl.pipeline(name="exit-waits")
def exit_waits():
    second = num(value=2).set_name("second")
    first = num(value=1).set_name("first")
    done = report(status=dsl.RUN_STATUS).after(second, first).set_name("done")  # exit-waits
    with dsl.ExitHandler(done):
        num(value=3)


@dsl.pipeline(name="odd-key")
def odd_key(rows: list = [{"zone-id": 1}]):  # noqa: B006
    with dsl.ParallelFor(rows) as row:
        num(value=row["zone-id"])  # odd-key


@dsl.pipeline(name="after-branch")  # after-branch
def after_branch(mode: str = "a"):
    with dsl.If(mode == "a"):  # after-if
        inside = num(value=1).set_name("inside")
    num(value=2).set_name("outside").after(inside)  # after


@dsl.pipeline(name="after-nested")
def after_nested(mode: str = "a"):
    with dsl.If(mode != "c"):  # outer-if
        num(value=0)
        with dsl.If(mode == "a"):
            inside = num(value=1).set_name("inside")
    num(value=2).set_name("outside").after(inside)  # after-nested


@dsl.pipeline(name="after-same-branch")
def after_same_branch(mode: str = "a", cams: list = ["a"]):  # noqa: B006
    with dsl.If(mode == "a"):
        first = num(value=1).set_name("first")
        num(value=2).set_name("second").after(first)
    with dsl.ParallelFor(cams):
        looped = num(value=3).set_name("looped")
    num(value=4).set_name("after-loop").after(looped)


@dsl.pipeline(name="inner-exit")
def inner_exit(cams: list = ["a"]):  # noqa: B006
    with dsl.ParallelFor(cams):  # exit-loop
        done = report(status=dsl.RUN_STATUS)
        with dsl.ExitHandler(done):  # inner-exit
            num(value=1)


@dsl.pipeline(name="run-time-item")
def run_time_item(nums: list = [1, 2]):  # noqa: B006
    with dsl.ParallelFor(nums) as n, dsl.If(n > 1):  # run-time-item
        num(value=n)


@dsl.pipeline(name="item-on-the-right")
def item_on_the_right(nums: list = [1, 2], k: int = 1):  # noqa: B006
    with dsl.ParallelFor(nums) as n, dsl.If(k == n):  # item-on-the-right
        num(value=n)


@dsl.pipeline(name="mixed-items")
def mixed_items():
    with dsl.ParallelFor([1, "a"]) as n, dsl.If(n == 1):  # mixed-items
        num(value=1)


@dsl.pipeline(name="list-items")
def list_items():
    with dsl.ParallelFor([[1], [2]]) as n, dsl.If(n == [1]):  # list-items
        num(value=1)


@dsl.pipeline(name="dict-field")
def dict_field(rows: list = [{"n": 1}]):  # noqa: B006
    with dsl.ParallelFor(rows) as row, dsl.If(row["n"] == 1):  # dict-field
        num(value=1)


@dsl.pipeline(name="sharded-manifest")
def sharded_manifest(source: str = "s3://b/list.json"):
    imp = dsl.importer(uri=source, artifact_type=Dataset, manifest=True)
    read_sharded(data=imp.output)  # manifest


@dsl.pipeline(name="collected-if")
def collected_if(flag: str = "a"):
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.If(flag == "a"):  # collected-if-group
        use_parts(parts=dsl.Collected(made.outputs["part"]))  # collected-if


@dsl.pipeline(name="collected-scaled")
def collected_scaled():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    use_parts_scaled(parts=dsl.Collected(made.outputs["part"]))  # collected-scaled


@dsl.pipeline(name="collected-nested")
def collected_nested(flags: list = ["a"]):  # noqa: B006
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.ParallelFor(flags) as flag:  # other-loop
        num(value=1)
        with dsl.If(flag == "a"):
            use_parts(parts=dsl.Collected(made.outputs["part"]))  # collected-nested


@dsl.pipeline(name="collected-exit")
def collected_exit():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    with dsl.ExitHandler(report(status=dsl.RUN_STATUS)):  # handler
        use_parts(parts=dsl.Collected(made.outputs["part"]))  # collected-exit


@dsl.pipeline(name="collected-uri")
def collected_uri():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    use_uri(parts=dsl.Collected(made.outputs["part"]))  # collected-uri


@dsl.pipeline(name="disk")
def disk():
    make().set_resources(Resources(cpu=1, memory="1Gi", disk="10Gi"))  # disk


@dsl.pipeline(name="chain")
def chain(mode: str = "a"):
    with dsl.If(mode == "a"):  # if
        num(value=1)
    with dsl.Elif(mode == "b"):  # elif
        num(value=2)


@dsl.pipeline(name="chain3")
def chain3(mode: str = "a"):
    with dsl.If(mode == "a"):  # if3
        num(value=1)
    with dsl.Elif(mode == "b"):  # elif3
        num(value=2)
    with dsl.Else():  # else3
        num(value=3)


@dsl.pipeline(name="lone-if")
def lone_if(mode: str = "a"):
    with dsl.If(mode == "a"):  # lone-if
        num(value=1)


def _edited(pipeline: Any, **changes: dict[str, Any]) -> Any:
    """``pipeline``'s IR edited by hand: condition ``gN`` (its N-th group) changed (the DSL
    writes every branch as one comparison, unless the earlier branches' comparisons)."""
    spec = pipeline.spec
    groups = list(spec.groups)
    for key, change in changes.items():
        index = int(key[1:])
        groups[index] = dataclasses.replace(groups[index], **change)
    return dataclasses.replace(spec, groups=tuple(groups))


def _elif_with_two_comparisons() -> Any:
    from pipecast.dsl.spec import Comparison, Constant, ParameterRef

    extra = Comparison("!=", ParameterRef("mode"), Constant("c"))
    return _edited(chain, g1={"when": (*chain.spec.groups[1].when, extra)})


def _else_before_elif() -> Any:
    """chain3's Elif without its comparison, and the Else after it unless the If only."""
    first = chain3.spec.groups[0]
    return _edited(chain3, g1={"when": ()}, g2={"unless": first.when})


EDITED_CHAINS = {
    "an elif of two comparisons": (_elif_with_two_comparisons(), ("if", "elif")),
    "an elif taken whatever the if did": (_edited(chain, g1={"unless": ()}), ("if", "elif")),
    "a first branch without a comparison": (_edited(chain, g0={"when": ()}), ("if", "elif")),
    "a lone else": (_edited(lone_if, g0={"when": ()}), ("lone-if",)),
    "an else before an elif": (_else_before_elif(), ("if3", "elif3", "else3")),
}


# ----- the table --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """One expected diagnostic; ``marker`` names the line it points at (``# marker``)."""

    message: str
    hint: str
    step: str | None
    marker: str
    code: str = "PC008"


def _group_id(pipeline: Any, marker: str) -> str:
    """The id of the group the DSL made at the line marked ``marker`` (the innermost one)."""
    line = marked_line(HERE, marker)
    spec = getattr(pipeline, "spec", pipeline)
    group = [g for g in spec.groups if g.location and g.location.line == line][-1]
    return str(group.id)


# the groups a message names, as ``{marker}``: the group at the line marked ``# marker``
GROUP_MARKERS = (
    "after-if",
    "outer-if",
    "exit-loop",
    "inner-exit",
    "run-time-item",
    "item-on-the-right",
    "mixed-items",
    "list-items",
    "dict-field",
    "collected-if-group",
    "other-loop",
    "handler",
    "if",
    "elif",
    "if3",
    "elif3",
    "else3",
    "lone-if",
)

CASES: dict[str, tuple[Any, Config, list[Refusal]]] = {
    "spot without a node selector": (
        spot_unset,
        NO_SPOT_CONFIG,
        [
            Refusal(
                "step 'make': spot capacity on Kubeflow needs a node selector, and [kubeflow] "
                "spot_node_selector is not configured",
                "add to pipecast.toml (with your cluster's spot label): [kubeflow] "
                'spot_node_selector = { "eks.amazonaws.com/capacityType" = "SPOT" }; or drop '
                ".set_spot() for this target",
                "make",
                "spot",
            )
        ],
    ),
    "spot with an empty node selector": (
        spot_unset,
        EMPTY_SPOT_CONFIG,
        [
            Refusal(
                "step 'make': spot capacity on Kubeflow needs a node selector, and [kubeflow] "
                "spot_node_selector is not configured",
                "add to pipecast.toml (with your cluster's spot label): [kubeflow] "
                'spot_node_selector = { "eks.amazonaws.com/capacityType" = "SPOT" }; or drop '
                ".set_spot() for this target",
                "make",
                "spot",
            )
        ],
    ),
    "parameter default": (
        unsafe_default,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("default of parameter 'p'", "a$(HOME)", "$("), LITERAL_HINT, None, "default"
            )
        ],
    ),
    "importer uri": (
        unsafe_uri,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("importer 'importer' URI", "s3://b/{{$.x}}/", "{{$"),
                LITERAL_HINT,
                None,
                "uri",
            )
        ],
    ),
    "argument value": (
        unsafe_value,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("step 'take': argument x", "a{{channel:x}}", "{{channel:"),
                LITERAL_HINT,
                "take",
                "value",
            )
        ],
    ),
    "command entry": (
        unsafe_command,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("step 'placeholder-command': command entry", "{{$.x}}", "{{$"),
                LITERAL_HINT,
                "placeholder-command",
                "command",
            )
        ],
    ),
    "structured argument": (
        unsafe_structured,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal(
                    "step 'structured-arg': argument", '{"IfPresent": {"x": 1}}', '{"IfPresent"'
                ),
                LITERAL_HINT,
                "structured-arg",
                "structured",
            )
        ],
    ),
    "argument joined from safe constants": (
        unsafe_joined,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("step 'joined': argument", "{{$.x", "{{$"),
                LITERAL_HINT,
                "joined",
                "joined",
            )
        ],
    ),
    "argument with a run-time value": (
        unsafe_run_time,
        EXAMPLE_CONFIG,
        [
            Refusal(
                literal("step 'prefixed': argument", "{{$…", "{{$"),
                LITERAL_HINT,
                "prefixed",
                "run-time",
            )
        ],
    ),
    "exit task reading a step": (
        exit_reads,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'done': an exit task that reads or waits for other steps (first) is not "
                "expressible on kubeflow",
                "KFP starts an exit task when its handler ends and nothing else; pass it "
                "pipeline parameters and constants only, or compile for a target that supports "
                f"it {LOCAL_RUN}",
                "done",
                "exit-reads",
            )
        ],
    ),
    "exit task waiting for steps": (
        exit_waits,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'done': an exit task that reads or waits for other steps (first, second) "
                "is not expressible on kubeflow",
                "KFP starts an exit task when its handler ends and nothing else; pass it "
                "pipeline parameters and constants only, or compile for a target that supports "
                f"it {LOCAL_RUN}",
                "done",
                "exit-waits",
            )
        ],
    ),
    "loop item key that is not a name": (
        odd_key,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'num': argument value reads loop item key 'zone-id', which is not a "
                "Python name, and kfp reads dict loop items by attribute: not expressible on "
                "kubeflow",
                "name the dict keys like Python variables (letters, digits, _), or compile for "
                "a target that supports it",
                "num",
                "odd-key",
            )
        ],
    ),
    "after into a condition": (
        after_branch,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'outside': .after('inside'), a step inside condition '{after-if}' that "
                "'outside' is not in, is not expressible on kubeflow (kfp refuses a dependency "
                "into a dsl.If from outside it)",
                "move 'outside' into the same branch, read the branches' output with dsl.OneOf, "
                f"or compile for a target that supports it {LOCAL_RUN}",
                "outside",
                "after",
            )
        ],
    ),
    "after into nested conditions (the outermost named)": (
        after_nested,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'outside': .after('inside'), a step inside condition '{outer-if}' that "
                "'outside' is not in, is not expressible on kubeflow (kfp refuses a dependency "
                "into a dsl.If from outside it)",
                "move 'outside' into the same branch, read the branches' output with dsl.OneOf, "
                f"or compile for a target that supports it {LOCAL_RUN}",
                "outside",
                "after-nested",
            )
        ],
    ),
    "exit handler inside a loop": (
        inner_exit,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "exit handler '{inner-exit}' inside '{exit-loop}' is not expressible on kubeflow: "
                "kfp allows dsl.ExitHandler only at the top of the pipeline",
                "move the `with dsl.ExitHandler(...)` block out of the loop or condition, or "
                f"compile for a target that supports it {LOCAL_RUN}",
                None,
                "inner-exit",
            )
        ],
    ),
    "item of a run-time list with a number": (
        run_time_item,
        EXAMPLE_CONFIG,
        [Refusal(text_item("{run-time-item}"), TEXT_ITEM_HINT, None, "run-time-item")],
    ),
    "a number with an item of a run-time list": (
        item_on_the_right,
        EXAMPLE_CONFIG,
        [Refusal(text_item("{item-on-the-right}"), TEXT_ITEM_HINT, None, "item-on-the-right")],
    ),
    "item of a mixed literal list with a number": (
        mixed_items,
        EXAMPLE_CONFIG,
        [Refusal(text_item("{mixed-items}"), TEXT_ITEM_HINT, None, "mixed-items")],
    ),
    "item of a literal list of lists with a number": (
        list_items,
        EXAMPLE_CONFIG,
        [Refusal(text_item("{list-items}"), TEXT_ITEM_HINT, None, "list-items")],
    ),
    "field of a dict item with text": (
        dict_field,
        EXAMPLE_CONFIG,
        [Refusal(text_item("{dict-field}"), TEXT_ITEM_HINT, None, "dict-field")],
    ),
    "sharded manifest": (
        sharded_manifest,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'read-sharded': sharding the manifest input 'data' is not expressible on "
                "kubeflow (the step receives the manifest file itself)",
                "import the objects' S3 prefix instead of a manifest for kubeflow; sagemaker, "
                "stepfunctions and the local runner shard a manifest",
                "read-sharded",
                "manifest",
            )
        ],
    ),
    "collected artifacts into a condition": (
        collected_if,
        EXAMPLE_CONFIG,
        [
            Refusal(
                collected_into(
                    "use-parts",
                    "inside '{collected-if-group}', a group the loop of 'make-part' is not in",
                ),
                COLLECTED_HINT,
                "use-parts",
                "collected-if",
            )
        ],
    ),
    "collected artifacts into a scaled-out step": (
        collected_scaled,
        EXAMPLE_CONFIG,
        [
            Refusal(
                collected_into(
                    "use-parts-scaled", "in a scaled-out step (the ParallelFor of its shards)"
                ),
                COLLECTED_HINT,
                "use-parts-scaled",
                "collected-scaled",
            )
        ],
    ),
    "collected artifacts into another loop (its outermost group named)": (
        collected_nested,
        EXAMPLE_CONFIG,
        [
            Refusal(
                collected_into(
                    "use-parts", "inside '{other-loop}', a group the loop of 'make-part' is not in"
                ),
                COLLECTED_HINT,
                "use-parts",
                "collected-nested",
            )
        ],
    ),
    "collected artifacts into an exit handler": (
        collected_exit,
        EXAMPLE_CONFIG,
        [
            Refusal(
                collected_into(
                    "use-parts", "inside '{handler}', a group the loop of 'make-part' is not in"
                ),
                COLLECTED_HINT,
                "use-parts",
                "collected-exit",
            )
        ],
    ),
    "uri of collected artifacts": (
        collected_uri,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'use-uri': the URI of collected artifact input 'parts' is not expressible "
                "on kubeflow: KFP hands the step a list of artifacts, with no one URI for all of "
                "them",
                "read the folder by its path (dsl.InputPath / Input[...]) instead, or compile for "
                f"a target that supports it {LOCAL_RUN}",
                "use-uri",
                "collected-uri",
            )
        ],
    ),
    "disk": (
        disk,
        EXAMPLE_CONFIG,
        [
            Refusal(
                "step 'make': disk (Resources(disk=...)) is not expressible on kubeflow",
                "sagemaker and stepfunctions can express it; remove it for kubeflow, or compile "
                "for one of those",
                "make",
                "disk",
            )
        ],
    ),
}
CASES.update(
    {
        f"{shape} (an edited IR)": (
            spec,
            EXAMPLE_CONFIG,
            [
                Refusal(
                    f"condition '{{{marker}}}' is not an If/Elif/Else branch of one comparison "
                    "whose `unless` is the earlier branches' comparisons: not expressible on "
                    "kubeflow",
                    CHAIN_HINT,
                    None,
                    marker,
                )
                # the whole chain is refused, each branch where it is
                for marker in markers
            ],
        )
        for shape, (spec, markers) in EDITED_CHAINS.items()
    }
)


def _diagnostics(pipeline: Any, config: Config) -> list[Diagnostic]:
    with pytest.raises(PipelineError) as info:
        compile_document(pipeline, "kubeflow", config)
    return list(info.value.diagnostics)


def _shown(diagnostics: list[Diagnostic]) -> list[tuple[Any, ...]]:
    return [
        (
            d.code,
            d.message,
            d.hint,
            d.step,
            d.location and (Path(d.location.file).resolve(), d.location.line),
        )
        for d in diagnostics
    ]


@pytest.mark.parametrize(("pipeline", "config", "expected"), CASES.values(), ids=CASES.keys())
def test_each_refusal_says_what_why_and_where(
    pipeline: Any, config: Config, expected: list[Refusal]
) -> None:
    def filled(text: str) -> str:
        """``text`` with each ``{marker}`` of a group replaced by that group's id."""
        for marker in GROUP_MARKERS:
            if f"{{{marker}}}" in text:
                text = text.replace(f"{{{marker}}}", _group_id(pipeline, marker))
        return text

    here = Path(HERE).resolve()
    assert _shown(_diagnostics(pipeline, config)) == [
        (r.code, filled(r.message), r.hint, r.step, (here, marked_line(HERE, r.marker)))
        for r in expected
    ]


@pytest.mark.parametrize(
    "pipeline", [chain, chain3, lone_if, after_same_branch], ids=lambda p: p.name
)
def test_the_shapes_kfp_takes_are_accepted(pipeline: Any) -> None:
    assert compile_document(pipeline, "kubeflow").text.startswith("# PIPELINE DEFINITION")


# ----- kfp's own refusals, and documents kfp cannot load ----------------------------------------


def test_kfps_own_refusal_is_a_diagnostic_at_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    """The safety net: with pipecast's check switched off, kfp's exception becomes PC008 on one
    line, at the pipeline's definition."""
    from pipecast.compilers import kubeflow_flow

    monkeypatch.setattr(kubeflow_flow, "_after_problems", lambda spec, step: [])
    (problem,) = _diagnostics(after_branch, EXAMPLE_CONFIG)
    assert (problem.code, problem.step, problem.severity) == ("PC008", None, "error")
    assert problem.message.startswith(
        "kfp refuses to build this pipeline: InvalidTopologyException: Illegal task dependency "
        "across DSL context managers."
    )
    assert problem.message == " ".join(problem.message.split())  # one line
    assert problem.hint == (
        "change the construct kfp names, or compile for another target; please report it: "
        "pipecast should have said so before kfp did"
    )
    assert problem.location is not None
    assert (Path(problem.location.file).resolve(), problem.location.line) == (
        Path(HERE).resolve(),
        marked_line(HERE, "after-branch"),
    )


def test_an_error_of_pipecasts_own_code_is_not_blamed_on_kfp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipecast.compilers import kubeflow

    def broken(*args: Any) -> None:
        raise ValueError("a pipecast bug")

    monkeypatch.setattr(kubeflow, "_apply_settings", broken)
    with pytest.raises(ValueError, match=r"^a pipecast bug$"):
        compile_document(num_only, "kubeflow")


@dsl.pipeline(name="num-only")
def num_only():
    num(value=1)


def test_a_document_kfp_cannot_load_is_one_problem_naming_kfps_error() -> None:
    from pipecast.compilers.kubeflow import document_problems

    assert document_problems(compile_document(num_only, "kubeflow").text) == []
    assert document_problems("{}") == [(None, "kfp cannot load it: KeyError: 'pipelineInfo'")]
    ((where, problem),) = document_problems("a: [1")
    assert where is None and problem.startswith("kfp cannot load it: ParserError: ")
    assert problem == " ".join(problem.split())  # kfp's lines joined into one


def test_checking_a_document_without_kfp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pipecast.compilers.kubeflow import document_problems

    monkeypatch.setitem(sys.modules, "kfp.components", None)  # the import fails
    with pytest.raises(MissingExtraError) as info:
        document_problems("{}")
    assert str(info.value) == "this needs the 'kfp' package: pip install 'pipecast[kubeflow]'"
