"""``pipecast cost REF --target T``: what one run costs, per step, before anything runs."""

from __future__ import annotations

import click

from pipecast.errors import UsageError

__all__ = ["cost_command", "parse_items"]


def parse_items(values: tuple[str, ...]) -> dict[str, int]:
    """``--items N`` (every loop over a run-time list) and ``--items LOOP=N`` (one loop)."""
    from pipecast.compilers.cost import ALL_LOOPS

    items: dict[str, int] = {}
    for value in values:
        key, sep, count = value.rpartition("=")
        key = key if sep else ALL_LOOPS
        try:
            number = int(count)
        except ValueError:
            number = -1
        if number < 0 or (sep and not key):
            raise UsageError(
                f"--items {value}: expected a count (--items 12) or LOOP=COUNT (--items loop-2=12)"
            )
        items[key] = number
    return items


@click.command("cost")
@click.argument("ref")
@click.option(
    "--target", "-t", "target", required=True, metavar="TARGET", help="sagemaker or stepfunctions"
)
@click.option("--runs-per-month", type=click.IntRange(min=1), help="also show the monthly cost")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown is ready to paste in a pull request",
)
@click.option(
    "--items", multiple=True, metavar="N|LOOP=N", help="iterations of a loop over a run-time list"
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="config file (default: pipecast.toml / pyproject.toml)",
)
@click.option("--region", help="overrides region from the config")
def cost_command(
    ref: str,
    target: str,
    runs_per_month: int | None,
    fmt: str,
    items: tuple[str, ...],
    config_file: str | None,
    region: str | None,
) -> None:
    """Estimate what one run of REF costs on TARGET: per step, the total, the makespan and the
    same work as one monolithic job. Offline: prices come from a dated catalogue."""
    from pipecast._loader import load_pipeline
    from pipecast.compilers import load_target, target_names
    from pipecast.compilers.cost import estimate
    from pipecast.compilers.cost_report import render
    from pipecast.config import load_config

    chosen = load_target(target)
    if chosen.run_shape is None:
        priced = [n for n in target_names() if load_target(n).run_shape is not None]
        raise UsageError(
            f"pipecast cost has no prices for '{target}'; targets it estimates: {', '.join(priced)}"
        )
    wanted = parse_items(items)
    loaded = load_pipeline(ref)
    config = load_config(config_file, pipeline_file=loaded.file).with_overrides({"region": region})
    result = estimate(
        loaded.spec,  # type: ignore[arg-type]
        chosen,
        config,
        items=wanted,
        runs_per_month=runs_per_month,
    )
    for warning in result.warnings:
        click.echo(warning, err=True)
    click.echo(render(result, fmt), nl=False)
