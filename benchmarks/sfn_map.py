"""Inline Map against Distributed Map on Step Functions: history events and state transitions
per loop iteration, measured by running compiled state machines in moto's Step Functions
interpreter (the test fixtures' patches: jsonata-python, SageMaker jobs played instantly, S3 in
moto), for a loop of one processing step.

- *inline*: ``dsl.ParallelFor`` over a list parameter → an inline ``Map``; every iteration's
  events land in the execution's own history, which Step Functions caps at 25,000 events.
- *distributed*: the same loop over a step's list output → a Distributed Map (``ItemReader``
  from S3); iterations run as child executions, each with its own history, and the parent's
  history stays the same size whatever the item count.

Printed per item count: the parent history's events, events per iteration, state transitions
per iteration (``*StateEntered`` events, what Standard workflows bill), and whether the parent
history fits the 25,000-event cap; then the item count where inline stops fitting, which is where
the switch to a Distributed Map pays off (or is forced). Moto evaluates JSONata in pure Python
(about 0.1 s of CPU per iteration), so counts above ``--measure-up-to`` (default 1,000) are
extrapolated from the per-iteration figures, which are the same at every measured count (the
line says so); ``--measure-up-to 10000`` measures 10,000 too (about 20 minutes).

    python benchmarks/sfn_map.py [--items 10 1000 10000] [--measure-up-to 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from pipecast import dsl
from pipecast.dsl import Output, Resources

ROOT = Path(__file__).resolve().parent.parent
HISTORY_CAP = 25_000  # events in one execution's history (Step Functions quota)
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/step:1.0.0"


def pipelines() -> dict[str, Any]:
    small = Resources(cpu=1, memory="2GiB")

    @dsl.container_component(image=IMAGE, command=["list"], resources=small)
    def list_items(n: int, items: Output[list]):
        """Write the item list (the Distributed Map reads it from S3)."""

    @dsl.container_component(image=IMAGE, command=["work"], resources=small)
    def work(item: str):
        """One iteration's job."""

    @dsl.pipeline(name="bench-inline")
    def inline(items: list = [], n: int = 0):  # noqa: B006
        with dsl.ParallelFor(items, parallelism=40) as item:
            work(item=item)

    @dsl.pipeline(name="bench-distributed")
    def distributed(items: list = [], n: int = 0):  # noqa: B006
        listed = list_items(n=n)
        with dsl.ParallelFor(listed.outputs["items"], parallelism=40) as item:
            work(item=item)

    return {"inline": inline, "distributed": distributed}


def run(kind: str, pipeline: Any, n: int, moto: Any) -> dict[str, Any]:
    from helpers import compile_text
    from test_stepfunctions_flow import decimal_tolerance
    from test_stepfunctions_moto import STATES_ROLE

    items = [f"i{k}" for k in range(n)]
    moto.resolver.behaviour = {"list-items": lambda p: {"items": items}}
    moto.resolver.spec = pipeline.spec
    document = decimal_tolerance(compile_text(pipeline, "stepfunctions"))
    started = time.perf_counter()
    machine = moto.client.create_state_machine(
        name=f"{kind}-{n}", definition=document, roleArn=STATES_ROLE
    )["stateMachineArn"]
    arn = moto.client.start_execution(
        stateMachineArn=machine, name=f"{kind}-{n}", input=json.dumps({"items": items, "n": n})
    )["executionArn"]
    while (described := moto.client.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.2)  # no time limit: a large inline Map takes minutes in moto
    seconds = time.perf_counter() - started
    assert described["status"] == "SUCCEEDED", described
    events: list[dict[str, Any]] = []
    token = None
    while True:
        page = moto.client.get_execution_history(
            executionArn=described["executionArn"],
            maxResults=1000,
            **({"nextToken": token} if token else {}),
        )
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            break
    entered = sum(1 for e in events if e["type"].endswith("StateEntered"))
    jobs = sum(1 for p in moto.resolver.played if p.step == "work")
    moto.resolver.played.clear()
    return {"events": len(events), "entered": entered, "jobs": jobs, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10, 1000, 10000])
    parser.add_argument("--measure-up-to", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tests"))
    import pytest
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dist,
    )
    from test_stepfunctions_flow import BehaviourResolver, _tolerated_failures
    from test_stepfunctions_moto import moto_sfn

    made = pipelines()
    fixture = moto_sfn.__wrapped__  # type: ignore[attr-defined]
    rows: list[tuple[str, int, dict[str, Any]]] = []
    with pytest.MonkeyPatch.context() as mp:
        component = dist.DistributedIterationComponent
        mp.setattr(component, "_map_run", _tolerated_failures(component._map_run))
        generator = fixture(mp)
        moto = next(generator)
        ours = BehaviourResolver()
        moto.resolver.run = ours.run
        moto.resolver = ours
        baseline = {kind: run(kind, made[kind], 0, moto) for kind in made}
        for n in [n for n in args.items if n <= args.measure_up_to]:
            for kind in made:
                rows.append((kind, n, run(kind, made[kind], n, moto)))
        generator.close()
    print(
        f"{'map':<12} {'items':>7} {'parent events':>14} {'events/iter':>12} "
        f"{'transitions/iter':>17} {'fits 25k':>9} {'moto s':>7}"
    )
    per_iteration: dict[str, tuple[float, float]] = {}
    for kind, n, row in rows:
        assert row["jobs"] == n, (kind, n, row)
        extra = (row["events"] - baseline[kind]["events"]) / n
        moves = (row["entered"] - baseline[kind]["entered"]) / n
        per_iteration[kind] = (extra, moves)
        fits = "yes" if row["events"] <= HISTORY_CAP else "NO"
        print(
            f"{kind:<12} {n:>7,} {row['events']:>14,} {extra:>12.2f} {moves:>17.2f} "
            f"{fits:>9} {row['seconds']:>7.1f}"
        )
    for n in [n for n in args.items if n > args.measure_up_to]:
        for kind in made:
            extra, moves = per_iteration[kind]
            events = int(baseline[kind]["events"] + extra * n)
            fits = "yes" if events <= HISTORY_CAP else "NO"
            print(
                f"{kind:<12} {n:>7,} {events:>14,} {extra:>12.2f} {moves:>17.2f} "
                f"{fits:>9}  (extrapolated)"
            )
    inline = per_iteration["inline"][0]
    limit = int((HISTORY_CAP - baseline["inline"]["events"]) // inline) if inline else 0
    print(
        f"\ninline Map: {inline:.1f} parent-history events per iteration → at most {limit:,} "
        f"items fit the {HISTORY_CAP:,}-event history; a Distributed Map keeps the parent at "
        f"{rows[-1][2]['events']:,} events for any count (its iterations' events go to child "
        "executions, each billed for its own transitions plus a start)."
    )
    print(json.dumps({"inline_events_per_iteration": inline, "inline_item_limit": limit}))


if __name__ == "__main__":
    main()
