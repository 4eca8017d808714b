"""Control flow in the local runner, in-process with fakes (each step's command is ``false``, so
a step a fake does not replace fails): nested loops, conditions on every comparison, the
``RUN_STATUS`` an exit task is given, the folders a fan-in of artifacts reads, skipped instances
as the caller and ``run.json`` see them, and parallelism around a loop whose nested loop waits.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipecast import dsl
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.runner import Capacity, run_pipeline
from pipecast.runner._results import RunResult, StepResult
from pipecast.testing import run_offline


def run(pipeline: Any, tmp_path: Path, params: dict[str, Any], fakes: dict[str, Any], **kw):
    events: list[tuple[str, str]] = []
    result = run_pipeline(
        graph.check(pipeline.spec),
        params,
        tmp_path / "runs",
        run_id="r1",
        fakes=fakes,
        capacity=Capacity(cpu=4, memory=16 * 1024**3, gpu=0),
        backoff_scale=0.0,
        on_event=lambda kind, r: events.append((kind, r.step)),
        **kw,
    )
    return result, events


def journal(result: RunResult) -> dict[str, Any]:
    return json.loads((result.run_dir / "run.json").read_text())


# ----- nested loops ------------------------------------------------------------------------


def nested_pipeline():
    @dsl.container_component(image="local/make:1", command=["false"])
    def make(part: int, n: Output[int]):
        """Writes its part as n."""

    @dsl.container_component(image="local/use:1", command=["false"])
    def use(n: int, name: str, out: Output[Dataset]):
        """Runs where n > 1."""

    @dsl.container_component(image="local/total:1", command=["false"])
    def total(ns: list, out: Output[Dataset]):
        """Fans in one group's n."""

    @dsl.pipeline(name="nested")
    def nested(groups: list):
        with dsl.ParallelFor(groups) as g:
            with dsl.ParallelFor(g["parts"]) as part:
                made = make(part=part).set_name("make")
                with dsl.If(made.outputs["n"] > 1):
                    use(n=made.outputs["n"], name=g["name"]).set_name("use")
                with dsl.If(g["name"] != "a"):  # the outer loop's item, inside the inner loop
                    use(n=part, name=g["name"]).set_name("mark")
            total(ns=dsl.Collected(made.outputs["n"])).set_name("total")

    return nested


def nested_fakes() -> dict[str, Any]:
    def make(part, n):
        Path(n).write_text(json.dumps(part))

    def use(n, name, out):
        Path(out.path, "seen.txt").write_text(f"{name}{n}")

    def total(ns, out):
        Path(out.path, "ns.json").write_text(json.dumps(ns))

    return {"make": make, "use": use, "mark": use, "total": total}


GROUPS = [{"name": "a", "parts": [1, 2]}, {"name": "b", "parts": [3]}]


def test_nested_loops_run_each_instance_with_its_items_and_fan_in_per_outer_iteration(tmp_path):
    nested = nested_pipeline()
    result, events = run(nested, tmp_path, {"groups": GROUPS}, nested_fakes())
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    assert {k: r.status for k, r in result.steps.items()} == {
        "make/0/0": "succeeded",
        "make/0/1": "succeeded",
        "make/1/0": "succeeded",
        "use/0/0": "skipped",  # n = 1
        "use/0/1": "succeeded",
        "use/1/0": "succeeded",
        "mark/0/0": "skipped",
        "mark/0/1": "skipped",
        "mark/1/0": "succeeded",
        "total/0": "succeeded",
        "total/1": "succeeded",
    }
    assert result.branches == {
        "condition-3/0/0": False,
        "condition-3/0/1": True,
        "condition-3/1/0": True,
        "condition-4/0/0": False,
        "condition-4/0/1": False,
        "condition-4/1/0": True,
    }
    run_dir = result.run_dir
    assert (run_dir / "use" / "0" / "1" / "out" / "seen.txt").read_text() == "a2"
    assert (run_dir / "use" / "1" / "0" / "out" / "seen.txt").read_text() == "b3"
    # each outer iteration's fan-in sees its own inner iterations, in order
    assert json.loads((run_dir / "total" / "0" / "out" / "ns.json").read_text()) == [1, 2]
    assert json.loads((run_dir / "total" / "1" / "out" / "ns.json").read_text()) == [3]
    assert journal(result)["loops"] == {
        "loop-1": GROUPS,
        "loop-2/0": [1, 2],
        "loop-2/1": [3],
    }
    # the untaken instance is reported as skipped, with its end time, to the caller and run.json
    assert ("skipped", "use/0/0") in events
    skipped = result["use/0/0"]
    assert skipped.finished is not None
    assert skipped.finished >= (result["make/0/0"].finished or 0)
    assert journal(result)["steps"]["use/0/0"]["finished"] == skipped.finished


def test_a_failed_inner_iteration_stops_only_its_own_readers(tmp_path):
    nested = nested_pipeline()
    fakes = nested_fakes()

    def make(part, n):
        if part == 2:
            raise RuntimeError("part 2 broke")
        Path(n).write_text(json.dumps(part + 1))

    result, _ = run(nested, tmp_path, {"groups": GROUPS}, {**fakes, "make": make})
    status = {k: (r.status, r.error) for k, r in result.steps.items()}
    assert status["make/0/1"][0] == "failed"
    assert status["use/0/0"] == ("succeeded", None)  # its own make/0/0 worked
    assert status["use/0/1"] == ("skipped", "an upstream step failed")
    assert status["total/0"] == ("skipped", "an upstream step failed")
    assert status["use/1/0"] == ("succeeded", None)
    assert status["total/1"] == ("succeeded", None)


def test_results_list_iterations_in_numeric_index_order():
    keys = ["s/2/0", "s/0/10", "s/10/1", "s/0/2", "s/1/0", "other/0", "s"]
    result = RunResult("p", "r", Path("/x"), {k: StepResult(k) for k in keys})
    assert [r.step for r in result.iterations("s")] == [
        "s/0/2",
        "s/0/10",
        "s/1/0",
        "s/2/0",
        "s/10/1",
    ]


# ----- conditions --------------------------------------------------------------------------


COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def condition_pipeline(op: str):
    @dsl.container_component(image="local/then:1", command=["false"])
    def then(out: Output[Dataset]):
        """Runs when the condition holds."""

    @dsl.pipeline(name="cond")
    def cond(values: list):
        with dsl.ParallelFor(values) as v, dsl.If(COMPARE[op](v, 3)):
            then().set_name("then")

    return cond


VALUES = [2, 3, 4, None, "a"]


def holds(op: str, value: Any) -> bool:
    """null satisfies no comparison (not even !=); values that do not compare neither."""
    if value is None:
        return False
    try:
        return bool(COMPARE[op](value, 3))
    except TypeError:
        return False


@pytest.mark.parametrize("op", list(COMPARE))
def test_a_condition_takes_its_branch_exactly_when_it_holds(tmp_path, op):
    def then(out):
        Path(out.path, "ran").write_text("yes")

    result, _ = run(condition_pipeline(op), tmp_path, {"values": VALUES}, {"then": then})
    assert result.succeeded
    expected = [holds(op, v) for v in VALUES]
    assert [result.branches[f"condition-2/{i}"] for i in range(len(VALUES))] == expected
    assert [r.status == "succeeded" for r in result.iterations("then")] == expected
    assert expected.count(True) >= 1 and expected.count(False) >= 2  # both ways are seen


# ----- the exit task's RUN_STATUS ------------------------------------------------------------


def exit_pipeline():
    @dsl.container_component(image="local/work:1", command=["false"])
    def work(name: str, out: Output[Dataset]):
        """Some work."""

    @dsl.container_component(image="local/report:1", command=["false"])
    def report(status: str, out: Output[Dataset]):
        """The exit task."""

    @dsl.pipeline(name="exit")
    def with_exit():
        work(name="outside").set_name("outside")  # not the handler's: never its status
        rep = report(status=dsl.RUN_STATUS).set_name("report")
        with dsl.ExitHandler(rep):
            work(name="first").set_name("first")
            work(name="second").set_name("second")

    return with_exit


def exit_fakes(broken: str | None, seen: list[str]) -> dict[str, Any]:
    def work(name, out):
        if name == broken:
            raise RuntimeError(f"{name} broke")
        Path(out.path, "done").write_text(name)

    def report(status, out):
        seen.append(status)

    return {"outside": work, "first": work, "second": work, "report": report}


def test_the_exit_task_gets_a_success_status_as_json_with_sorted_keys(tmp_path):
    seen: list[str] = []
    result, _ = run(exit_pipeline(), tmp_path, {}, exit_fakes(None, seen))
    assert result.succeeded
    assert seen == ['{"error": null, "failed_step": null, "state": "SUCCEEDED"}']


@pytest.mark.parametrize("broken", ["first", "second"])  # "outside" runs between them
def test_the_exit_task_gets_the_failed_step_as_json_with_sorted_keys(tmp_path, broken):
    seen: list[str] = []
    result, _ = run(exit_pipeline(), tmp_path, {}, exit_fakes(broken, seen))
    assert result.state == "failed"
    assert result["report"].status == "succeeded"
    (status,) = seen
    error = result[broken].error
    assert error is not None
    expected = {"error": f"{broken}: {error}", "failed_step": broken, "state": "FAILED"}
    assert status == json.dumps(expected)
    assert list(json.loads(status)) == ["error", "failed_step", "state"]


# ----- fan-in of artifacts and skipped instances ----------------------------------------------


def fan_pipeline():
    @dsl.container_component(image="local/crop:1", command=["false"])
    def crop(cam: str, frames: Output[Dataset]):
        """Only where something moved."""

    @dsl.container_component(image="local/gather:1", command=["false"])
    def gather(frames: Input[Dataset], out: Output[Dataset]):
        """Reads every iteration's frames."""

    @dsl.pipeline(name="gather")
    def fan(cams: list):
        with dsl.ParallelFor(cams) as cam:
            cropped = crop(cam=cam).set_name("crop")
        gather(frames=dsl.Collected(cropped.outputs["frames"])).set_name("gather")

    return fan


def test_a_fan_in_of_artifacts_reads_a_collected_folder_with_one_subfolder_per_iteration(
    tmp_path,
):
    seen: dict[str, Any] = {}

    def crop(cam, frames):
        if cam == "gate":  # nothing to keep: it removes its own output folder
            shutil.rmtree(frames.path)
        else:
            Path(frames.path, "f.txt").write_text(cam)

    def gather(frames, out):
        root = Path(frames.path)
        seen["path"] = root
        seen["tree"] = {
            p.relative_to(root).as_posix(): p.read_text() if p.is_file() else None
            for p in sorted(root.rglob("*"))
        }

    fakes = {"crop": crop, "gather": gather}
    result, _ = run(fan_pipeline(), tmp_path, {"cams": ["lobby", "gate", "dock"]}, fakes)
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    assert seen["path"] == result.run_dir / "gather" / "_collected" / "frames"
    # the iteration that left no folder (gate) is an empty one at its index: positions align
    assert seen["tree"] == {"0": None, "0/f.txt": "lobby", "1": None, "2": None, "2/f.txt": "dock"}


# ----- parallelism around a loop whose nested loop waits for a step before the loop -----------


def test_parallelism_counts_an_iteration_busy_until_its_nested_loop_has_run(tmp_path):
    @dsl.container_component(image="local/parts:1", command=["false"])
    def parts(out: Output[list]):
        """The inner loop's items, slow to come."""

    @dsl.container_component(image="local/make:1", command=["false"])
    def make(cam: str, out: Output[Dataset]):
        """One per camera."""

    @dsl.container_component(image="local/use:1", command=["false"])
    def use(cam: str, part: str, out: Output[Dataset]):
        """One per camera and part."""

    @dsl.pipeline(name="busy")
    def busy(cams: list):
        listed = parts().set_name("parts")
        with dsl.ParallelFor(cams, parallelism=1) as cam:
            make(cam=cam).set_name("make")
            with dsl.ParallelFor(listed.outputs["out"]) as part:
                use(cam=cam, part=part).set_name("use")

    order: list[str] = []
    second_make = threading.Event()

    def parts_fake(out):
        second_make.wait(timeout=0.5)  # an iteration that is not done lets the next one start
        order.append("parts")
        Path(out).write_text(json.dumps(["x"]))

    def make_fake(cam, out):
        order.append(f"make {cam}")
        if cam == "b":
            second_make.set()

    def use_fake(cam, part, out):
        time.sleep(0.05)
        order.append(f"use {cam}")

    fakes = {"parts": parts_fake, "make": make_fake, "use": use_fake}
    result, _ = run(busy, tmp_path, {"cams": ["a", "b"]}, fakes)
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    # iteration 0 (make a, then use a once the parts are known) ends before iteration 1 starts
    assert order == ["make a", "parts", "use a", "make b", "use b"]


def test_a_fake_for_a_step_replaces_it_in_every_nested_iteration(tmp_path):
    nested = nested_pipeline()
    result = run_offline(nested, tmp_path / "runs", params={"groups": GROUPS}, fakes=nested_fakes())
    assert result.succeeded
    assert [r.step for r in result.iterations("make")] == ["make/0/0", "make/0/1", "make/1/0"]
    assert all(r.status == "succeeded" for r in result.iterations("make"))


# ----- failures travel down chains and through conditions --------------------------------------


def test_a_failure_skips_every_instance_downstream_with_the_reason(tmp_path):
    @dsl.container_component(image="local/a:1", command=["false"])
    def produce(x: int, n: Output[int], out: Output[Dataset]):
        """Fails for x == 2."""

    @dsl.container_component(image="local/b:1", command=["false"])
    def relay(data: Input[Dataset], out: Output[Dataset]):
        """Passes its input on."""

    @dsl.container_component(image="local/c:1", command=["false"])
    def note(out: Output[Dataset]):
        """Runs when the count is high, reading nothing."""

    @dsl.pipeline(name="chain")
    def chain(xs: list):
        with dsl.ParallelFor(xs) as x:
            made = produce(x=x).set_name("produce")
            second = relay(data=made.outputs["out"]).set_name("second")
            relay(data=second.output).set_name("third")
            with dsl.If(made.outputs["n"] > 0):
                note().set_name("note")

    def produce_fake(x, n, out):
        if x == 2:
            raise RuntimeError("x is 2")
        Path(n).write_text(json.dumps(x))

    def relay_fake(data, out):
        Path(out.path, "ok").write_text("ok")

    def note_fake(out):
        Path(out.path, "ok").write_text("ok")

    fakes = {"produce": produce_fake, "second": relay_fake, "third": relay_fake, "note": note_fake}
    result, _ = run(chain, tmp_path, {"xs": [1, 2]}, fakes)
    status = {k: (r.status, r.error) for k, r in result.steps.items() if k.endswith("/1")}
    assert status == {
        "produce/1": ("failed", status["produce/1"][1]),
        "second/1": ("skipped", "an upstream step failed"),
        "third/1": ("skipped", "an upstream step failed"),  # behind a skipped step, too
        "note/1": ("skipped", "an upstream step failed"),  # its condition reads the failed step
    }
    assert all(result[f"{s}/0"].status == "succeeded" for s in ("second", "third", "note"))


# ----- parallelism of nested loops ---------------------------------------------------------------


@pytest.mark.parametrize("outer", [None, 2])
def test_inner_loop_parallelism_holds_in_every_outer_iteration(tmp_path, outer):
    @dsl.container_component(image="local/a:1", command=["false"])
    def work(g: int, i: int, out: Output[Dataset]):
        """One per group and item."""

    @dsl.pipeline(name="bounded")
    def bounded(groups: list, items: list):
        with (
            dsl.ParallelFor(groups, parallelism=outer) as g,
            dsl.ParallelFor(items, parallelism=1) as i,
        ):
            work(g=g, i=i).set_name("work")

    lock = threading.Lock()
    now: dict[int, int] = {0: 0, 1: 0}
    most: dict[int, int] = {0: 0, 1: 0}

    def work_fake(g, i, out):
        with lock:
            now[g] += 1
            most[g] = max(most[g], now[g])
        time.sleep(0.05)
        with lock:
            now[g] -= 1

    result, _ = run(bounded, tmp_path, {"groups": [0, 1], "items": [0, 1, 2]}, {"work": work_fake})
    assert result.succeeded
    assert most == {0: 1, 1: 1}


def test_a_parallelism_of_two_runs_two_iterations_at_once(tmp_path):
    @dsl.container_component(image="local/a:1", command=["false"])
    def work(i: int, out: Output[Dataset]):
        """Waits for a partner iteration."""

    @dsl.pipeline(name="pairs")
    def pairs(items: list):
        with dsl.ParallelFor(items, parallelism=2) as i:
            work(i=i).set_name("work")

    barrier = threading.Barrier(2, timeout=2)
    lock = threading.Lock()
    counts = {"now": 0, "most": 0}

    def work_fake(i, out):
        with lock:
            counts["now"] += 1
            counts["most"] = max(counts["most"], counts["now"])
        barrier.wait()  # only passes when two iterations are in flight together
        time.sleep(0.05)
        with lock:
            counts["now"] -= 1

    result, _ = run(pairs, tmp_path, {"items": [0, 1, 2, 3]}, {"work": work_fake})
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    assert counts["most"] == 2


def test_a_fan_in_waits_for_a_loop_whose_items_an_upstream_step_writes(tmp_path):
    @dsl.container_component(image="local/list:1", command=["false"])
    def listing(out: Output[list]):
        """The loop's items, known only once this ran."""

    @dsl.container_component(image="local/each:1", command=["false"])
    def each(item: str, n: Output[int]):
        """One per item."""

    @dsl.container_component(image="local/sum:1", command=["false"])
    def fan_in(ns: list, out: Output[Dataset]):
        """Reads every iteration's n."""

    @dsl.pipeline(name="late-items")
    def late():
        listed = listing().set_name("listing")
        with dsl.ParallelFor(listed.outputs["out"]) as item:
            counted = each(item=item).set_name("each")
        fan_in(ns=dsl.Collected(counted.outputs["n"])).set_name("fan-in")

    seen = {}

    def listing_fake(out):
        time.sleep(0.1)
        Path(out).write_text(json.dumps(["a", "bb", "ccc"]))

    def each_fake(item, n):
        Path(n).write_text(json.dumps(len(item)))

    def fan_in_fake(ns, out):
        seen["ns"] = ns

    fakes = {"listing": listing_fake, "each": each_fake, "fan-in": fan_in_fake}
    result, _ = run(late, tmp_path, {}, fakes)
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    assert seen["ns"] == [1, 2, 3]


@pytest.mark.timeout(20)
def test_a_nested_loop_over_what_each_iteration_wrote_runs_under_outer_parallelism(tmp_path):
    """Iteration 0's inner loop runs before iteration 1 starts: its items are known once
    iteration 0 wrote them, without waiting for the other iterations (this used to hang)."""

    @dsl.container_component(image="local/make:1", command=["false"])
    def make(cam: str, parts: Output[list]):
        """This camera's parts."""

    @dsl.container_component(image="local/use:1", command=["false"])
    def use(part: str, out: Output[Dataset]):
        """One per part."""

    @dsl.pipeline(name="per-iteration-items")
    def nested(cams: list):
        with dsl.ParallelFor(cams, parallelism=1) as cam:
            made = make(cam=cam).set_name("make")
            with dsl.ParallelFor(made.outputs["parts"]) as part:
                use(part=part).set_name("use")

    order: list[str] = []

    def make_fake(cam, parts):
        order.append(f"make {cam}")
        Path(parts).write_text(json.dumps([f"{cam}1", f"{cam}2"]))

    def use_fake(part, out):
        order.append(f"use {part}")

    fakes = {"make": make_fake, "use": use_fake}
    result, _ = run(nested, tmp_path, {"cams": ["a", "b"]}, fakes)
    assert result.succeeded, {k: (r.status, r.error) for k, r in result.steps.items()}
    assert [r.step for r in result.iterations("use")] == [
        "use/0/0",
        "use/0/1",
        "use/1/0",
        "use/1/1",
    ]
    assert order[0] == "make a" and sorted(order[1:3]) == ["use a1", "use a2"]
    assert order[3] == "make b" and sorted(order[4:]) == ["use b1", "use b2"]
    assert journal(result)["loops"] == {
        "loop-1": ["a", "b"],
        "loop-2/0": ["a1", "a2"],
        "loop-2/1": ["b1", "b2"],
    }


def test_the_exit_task_names_the_first_failure_in_iteration_order(tmp_path):
    """Iteration 1's nested items are known first (its step is quicker): the status still
    names iteration 0's failure, the first in iteration order."""

    @dsl.container_component(image="local/make:1", command=["false"])
    def make(cam: str, parts: Output[list]):
        """This camera's parts; slow for the first camera."""

    @dsl.container_component(image="local/use:1", command=["false"])
    def use(part: str, out: Output[Dataset]):
        """Fails for every part."""

    @dsl.container_component(image="local/report:1", command=["false"])
    def report(status: str, out: Output[Dataset]):
        """The exit task."""

    @dsl.pipeline(name="first-failure")
    def first_failure(cams: list):
        rep = report(status=dsl.RUN_STATUS).set_name("report")
        with dsl.ExitHandler(rep), dsl.ParallelFor(cams) as cam:
            made = make(cam=cam).set_name("make")
            with dsl.ParallelFor(made.outputs["parts"]) as part:
                use(part=part).set_name("use")

    seen: list[str] = []

    def make_fake(cam, parts):
        if cam == "a":
            time.sleep(0.3)
        Path(parts).write_text(json.dumps([f"{cam}1"]))

    def use_fake(part, out):
        raise RuntimeError(f"{part} broke")

    def report_fake(status, out):
        seen.append(status)

    fakes = {"make": make_fake, "use": use_fake, "report": report_fake}
    result, _ = run(first_failure, tmp_path, {"cams": ["a", "b"]}, fakes)
    assert result.state == "failed"
    (status,) = seen
    assert json.loads(status)["error"].startswith("use/0/0: ")
