"""Which DSL features each step uses (``compilers/target.py``'s ``FEATURES``): the table the
graph check reads to refuse, per target, what it cannot express (DESIGN §12). One pipeline, one
step per feature, and the exact set of features each step uses."""

from __future__ import annotations

from pipecast import dsl
from pipecast.compilers.target import FEATURES
from pipecast.dsl import Dataset, Input, Output, Resources, Retry, Spot

IMG = "r/features:1.0"


@dsl.container_component(image=IMG, command=["plain"])
def plain():
    """Uses nothing."""


@dsl.container_component(image=IMG, command=["read"])
def read(data: Input[Dataset]):
    """Reads an artifact."""


@dsl.container_component(image=IMG, command=["make"])
def make(data: Output[Dataset], count: Output[int]):
    """Writes an artifact and a number."""


@dsl.container_component(image=IMG, command=["say"])
def say(text: Output[str]):
    """Writes text."""


@dsl.container_component(image=IMG, command=["take"])
def take(value: int):
    """Takes a number."""


@dsl.container_component(image=IMG, command=["take-text"])
def take_text(value: str):
    """Takes text."""


@dsl.container_component(image=IMG, command=["take-list"])
def take_list(values: list):
    """Takes a list."""


@dsl.container_component(image=IMG, command=["take-dict"])
def take_dict(values: dict):
    """Takes a dict."""


@dsl.container_component(image=IMG, command=["read-all"])
def read_all(parts: Input[Dataset]):
    """Reads a folder of parts."""


@dsl.container_component(image=IMG, command=["report"])
def report(status: str):
    """Reports how the run ended."""


@dsl.component(image=IMG)
def python_step() -> None:
    """A Python function."""


@dsl.pipeline(name="features")
def features(cams: list = ["a"]):  # noqa: B006
    plain().set_name("plain")
    plain().set_name("spot").set_spot(Spot("2h"))
    plain().set_name("gpu").set_resources(Resources(cpu=1, memory="1GiB", gpu=1))
    plain().set_name("disk").set_resources(Resources(cpu=1, memory="1GiB", disk="10GiB"))
    plain().set_name("cpu-only").set_resources(Resources(cpu=1, memory="1GiB"))
    plain().set_name("retry").set_retry(Retry(max_attempts=3))
    plain().set_name("no-retry").set_retry(Retry(max_attempts=1))
    plain().set_name("caching").set_caching(True)
    plain().set_name("no-caching").set_caching(False)
    plain().set_name("timeout").set_timeout("1h")
    plain().set_name("env").set_env(A="1")
    plain().set_name("instance-type").set_instance_type("ml.m5.large")
    python_step().set_name("python")
    manifest = dsl.importer(uri="s3://b/list.json", artifact_type=Dataset, manifest=True)
    read(data=manifest.output).set_name("manifest")
    prefix = dsl.importer(uri="s3://b/x/", artifact_type=Dataset)
    read(data=prefix.output).set_name("prefix")
    made = make().set_name("writes-number")
    read(data=made.outputs["data"]).set_name("reads-artifact")
    take(value=made.outputs["count"]).set_name("reads-number")
    said = say().set_name("writes-text")
    take_text(value=said.output).set_name("reads-text")
    take_list(values=["a"]).set_name("list-input")
    take_dict(values={"a": 1}).set_name("dict-input")
    read(data=prefix.output).set_name("scaled").set_instances(2, shard=["data"])
    with dsl.If(said.output == "x"):
        plain().set_name("in-if")
        a = make().set_name("branch-a")
    with dsl.Else():
        b = make().set_name("branch-b")
    take(value=dsl.OneOf(a.outputs["count"], b.outputs["count"])).set_name("joined")
    with dsl.ParallelFor(["x", "y"]) as item:
        take_text(value=item).set_name("literal-loop")
        looped = make().set_name("in-literal-loop")
        with dsl.ParallelFor([1, 2]):
            plain().set_name("nested-literal-loop")
    read_all(parts=dsl.Collected(looped.outputs["data"])).set_name("collects-artifacts")
    take_list(values=dsl.Collected(looped.outputs["count"])).set_name("collects-numbers")
    with dsl.ParallelFor([["p", "q"]]) as row, dsl.ParallelFor(row):
        plain().set_name("loop-over-an-item")
    with dsl.ParallelFor(cams) as cam:
        take_text(value=cam).set_name("runtime-loop")
        with dsl.ParallelFor(["z"]):
            plain().set_name("literal-loop-in-runtime-loop")
    done = report(status=dsl.RUN_STATUS).set_name("exit-task")
    with dsl.ExitHandler(done):
        plain().set_name("guarded")


EXPECTED: dict[str, set[str]] = {
    "plain": set(),
    "spot": {"spot"},
    "gpu": {"gpu"},
    "disk": {"disk"},
    "cpu-only": set(),
    "retry": {"retry"},
    "no-retry": set(),
    "caching": {"caching"},
    "no-caching": set(),
    "timeout": {"timeout"},
    "env": {"env"},
    "instance-type": {"instance_type"},
    "python": {"python_components"},
    "manifest": {"manifest_inputs"},
    "prefix": set(),
    "writes-number": {"output_parameters"},
    "reads-artifact": set(),  # its producer also writes a number, which it does not read
    "reads-number": {"output_parameters"},
    "writes-text": {"output_parameters", "text_output_parameters"},
    "reads-text": {"output_parameters"},
    "list-input": {"json_parameters"},
    "dict-input": {"json_parameters"},
    "scaled": {"scale_out"},
    "in-if": {"conditions"},
    "branch-a": {"conditions", "output_parameters"},
    "branch-b": {"conditions", "output_parameters"},
    "joined": {"one_of", "output_parameters"},
    "literal-loop": {"loops"},
    "in-literal-loop": {"loops", "output_parameters"},
    "nested-literal-loop": {"loops"},
    # dsl.Collected and dsl.OneOf are values between steps whatever they carry (DESIGN §12): a
    # target that has not opted in to them refuses them
    "collects-artifacts": {"collected_artifacts", "output_parameters"},
    "collects-numbers": {"json_parameters", "output_parameters"},
    "loop-over-an-item": {"loops"},  # the enclosing loop's items are a literal
    "runtime-loop": {"loops", "runtime_loops"},
    "literal-loop-in-runtime-loop": {"loops", "runtime_loops"},
    "exit-task": {"exit_handler"},
    "guarded": {"exit_handler"},
}


def test_each_step_uses_exactly_its_features():
    spec = features.spec
    used = {
        step.id: {name for name, feature in FEATURES.items() if feature.used(spec, step)}
        for step in spec.steps
    }
    assert used == EXPECTED
