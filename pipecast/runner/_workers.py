"""One attempt of a scaled-out step (``set_instances``) in a local run: ``count`` workers.

What a worker sees and how outputs come back together is :mod:`._shards`'s; this module runs
the workers: as separate processes (or containers) side by side, as many at once as the step's
declared resources fit in the machine (the scheduler reserved that many worker shares before
the step started), and one after another when the step's code runs inside pipecast (a fake, or
a ``@dsl.component`` under ``--isolation inprocess``), since in-process code shares one
interpreter. A worker that fails fails the attempt (the others finish first, as on SageMaker,
where a job fails when one of its instances does); retries rerun every worker.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pipecast.dsl.spec import StepSpec

from ._inprocess import failure_text
from ._shards import merge_outputs, split_input, worker_dirs

if TYPE_CHECKING:
    from ._engine import Runner

__all__ = ["run_workers"]

Plan = tuple[int, dict[str, str], dict[str, str], Path]


def _plans(
    runner: Runner, step: StepSpec, text: dict[str, str], uris: dict[str, str], log_dir: Path
) -> list[Plan]:
    """Each worker's paths: its shard of each sharded input, its own output folders, its logs."""
    comp = runner.spec.component(step.component)
    step_dir = runner.run_dir / step.id
    shutil.rmtree(step_dir / "_shards", ignore_errors=True)  # an earlier attempt's
    plans: list[Plan] = []
    for index in range(step.instances):
        in_dir, out_dir = worker_dirs(step_dir, index)
        wtext, wuris = dict(text), dict(uris)
        for name in step.shard:
            if name in text:  # the graph check refuses unbound sharded inputs (PC042)
                view = in_dir / name
                split_input(Path(text[name]), view, index, step.instances)
                wtext[name] = str(view)
        for out in comp.outputs:
            folder = out_dir / out.name
            folder.mkdir(parents=True)
            wtext[out.name] = wuris[out.name] = str(folder)
        wlog = log_dir / f"worker-{index}"
        wlog.mkdir(parents=True, exist_ok=True)
        plans.append((index, wtext, wuris, wlog))
    return plans


def _in_process(runner: Runner, step: StepSpec) -> bool:
    comp = runner.spec.component(step.component)
    python_here = bool(comp.python_function) and runner.isolation == "inprocess"
    return runner.fakes.get(step.id) is not None or (python_here and step.timeout_seconds is None)


def run_workers(
    runner: Runner, step: StepSpec, text: dict[str, str], uris: dict[str, str], log_dir: Path
) -> int:
    """Run every worker, then merge their outputs into ``text``'s output folders; the attempt's
    exit code (the first failed worker's). A clash of output files raises
    :class:`~._shards.ShardClash`, which fails the step without a retry (it would clash again).
    """
    plans = _plans(runner, step, text, uris, log_dir)
    at_once = 1 if _in_process(runner, step) else runner.scheduler.workers_at_once(step)

    def work(plan: Plan) -> int:
        index, wtext, wuris, wlog = plan
        if runner.stop.is_set():
            return 130
        return runner.run_process(step, wtext, wuris, wlog, worker=index)

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        codes = dict(zip((p[0] for p in plans), pool.map(work, plans), strict=True))
    failed = [i for i, code in sorted(codes.items()) if code != 0]
    if failed:
        report = "\n".join(
            f"worker {i} of {step.instances}: {failure_text(codes[i], log_dir / f'worker-{i}')}"
            for i in failed
        )
        (log_dir / "stderr.txt").write_text(report + "\n", encoding="utf-8")
        return codes[failed[0]]
    comp = runner.spec.component(step.component)
    for out in comp.outputs:
        outputs = {index: Path(wtext[out.name]) for index, wtext, _, _ in plans}
        merge_outputs(outputs, Path(text[out.name]), out.name)
    shutil.rmtree(runner.run_dir / step.id / "_shards")
    return 0
