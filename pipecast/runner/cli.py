"""``pipecast run REF --local [-p NAME=VALUE ...] [--engine auto|docker|podman|process]``."""

from __future__ import annotations

import sys
from pathlib import Path

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
    help="finish an earlier run, skipping steps that succeeded",
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
    from pipecast.params import resolve_params

    from ._container import detect
    from ._engine import Capacity, run_pipeline
    from ._progress import Progress

    loaded = load_pipeline(ref)
    spec = loaded.spec
    values = resolve_params(spec, params)  # type: ignore[arg-type]
    checked = graph.check(spec)  # type: ignore[arg-type]
    config = load_config(config_file, pipeline_file=loaded.file)
    root = Path(workdir or config.get("local.workdir") or ".pipecast/runs")
    detected = Capacity.detect()
    capacity = Capacity(
        cpus or detected.cpu,
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
            capacity=capacity,
            isolation=isolation,
            on_event=progress.event,
            engine=detection.engine,
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    final = tuple(s for s in checked.order if checked.graph.out_degree(s) == 0)
    progress.summary(result, final)
    sys.exit(0 if result.succeeded else 1)
