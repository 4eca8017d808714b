"""``pipecast run REF --local [-p NAME=VALUE ...] [--engine auto|docker|podman|process]``."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ["run_command"]


@click.command("run")
@click.argument("ref")
@click.option("--local", is_flag=True, required=True, help="run on this machine (required)")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE")
@click.option("--workdir", type=click.Path(file_okay=False), help="default: .pipecast/runs")
@click.option("--config", "config_file", type=click.Path(dir_okay=False))
@click.option(
    "--isolation",
    type=click.Choice(["inprocess", "subprocess"]),
    default="inprocess",
    show_default=True,
    help="how Python components run",
)
@click.option(
    "--resume",
    "resume",
    metavar="RUN_ID",
    help="finish an earlier run: reuse the steps whose component, parameters and inputs are "
    "unchanged, rerun the rest (parameters default to the run's recorded ones)",
)
@click.option("--cpus", type=float, help="CPU capacity to schedule against (default: cores)")
@click.option("--memory", help="memory capacity, e.g. 16GiB (default: this machine's)")
@click.option("--gpus", type=int, help="GPU capacity (default: GPUs nvidia-smi sees)")
@click.option(
    "--engine",
    type=click.Choice(["auto", "docker", "podman", "process"]),
    default="auto",
    show_default=True,
    envvar="PIPECAST_ENGINE",
    help="where container steps run: in their image through docker or podman (auto: the first "
    "whose daemon answers, else process), or as local processes. Python function components "
    "always run in-process or as subprocesses (--isolation). Env: PIPECAST_ENGINE.",
)
def run_command(
    ref: str,
    local: bool,
    params: tuple[str, ...],
    workdir: str | None,
    config_file: str | None,
    isolation: str,
    resume: str | None,
    cpus: float | None,
    memory: str | None,
    gpus: int | None,
    engine: str,
) -> None:
    """Run the pipeline locally: parallel where the graph and capacity allow, same layout as
    the cloud ({workdir}/{pipeline}/{run_id}/{step}/{output}/)."""
    from pipecast._loader import load_pipeline
    from pipecast.compilers import graph
    from pipecast.config import load_config
    from pipecast.dsl.units import parse_memory

    from ._container import detect
    from ._engine import Capacity
    from ._progress import Progress
    from ._start import run_pipeline

    loaded = load_pipeline(ref)
    spec = loaded.spec
    config = load_config(config_file, pipeline_file=loaded.file)
    root = Path(workdir or config.get("local.workdir") or ".pipecast/runs")
    values = _values(spec, params, root, resume)
    checked = graph.check(spec)  # type: ignore[arg-type]
    detected = Capacity.detect()
    capacity = Capacity(
        detected.cpu if cpus is None else cpus,
        parse_memory(memory, "--memory") if memory else detected.memory,
        detected.gpu if gpus is None else gpus,
    )
    detection = detect(engine)
    if detection.note:
        click.echo(detection.note, err=True)
    progress = Progress(checked.order)
    with progress:
        result = run_pipeline(
            checked,
            values,
            root,
            run_id=resume,
            resume=resume is not None,
            handle_signals=True,
            capacity=capacity,
            isolation=isolation,
            on_event=progress.event,
            on_warning=progress.warn,
            engine=detection.engine,
        )
    final = tuple(s for s in checked.order if checked.graph.out_degree(s) == 0)
    progress.summary(result, final)
    if not result.succeeded:
        again = ["pipecast", "run", ref, "--local", "--workdir", str(root)]
        if engine != "auto":
            again += ["--engine", engine]
        click.echo(f"resume with: {shlex.join([*again, '--resume', result.run_id])}", err=True)
    if result.signal is not None:
        sys.exit(128 + int(signal.Signals[result.signal]))
    sys.exit(0 if result.succeeded else 1)


def _values(spec: Any, pairs: tuple[str, ...], root: Path, resume: str | None) -> dict[str, Any]:
    """Parameter values: ``-p`` over, with ``--resume``, the run's recorded ones over defaults.

    A resumed run without ``-p`` thus reruns nothing that succeeded; ``-p x=NEW`` changes only x.
    """
    from pipecast.errors import ParameterError
    from pipecast.params import parse_params, resolve_params

    if resume is None:
        return dict(resolve_params(spec, pairs))
    from ._journal import known_runs, read_journal, unknown_run
    from ._paths import safe_id

    pipeline_dir = root / safe_id(spec.name, what="pipeline name")
    safe_id(resume, what="--resume run id", known=known_runs(pipeline_dir))
    recorded = read_journal(pipeline_dir / resume)
    if not recorded:
        raise unknown_run(resume, spec.name, pipeline_dir)
    declared = {p.name for p in spec.parameters}
    values: dict[str, Any] = dict(resolve_params(spec, (), require_all=False))
    values.update({k: v for k, v in dict(recorded.get("parameters", {})).items() if k in declared})
    values.update(parse_params(spec, pairs))
    missing = sorted(declared - set(values))
    if missing:
        raise ParameterError(
            f"pipeline '{spec.name}' needs " + ", ".join(f"-p {m}=..." for m in missing)
        )
    return values
