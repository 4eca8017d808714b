"""``pipecast plan | deploy | start REF --target T``, T one of the targets with a deploy backend."""

from __future__ import annotations

import sys
from typing import Any

import click

__all__ = ["deploy_command", "plan_command", "start_command"]


class _Deployable(click.Choice):  # type: ignore[type-arg]
    """The registered targets that declare a deploy backend, read from the registry when first
    needed (``pipecast --help`` lists these commands without loading any target)."""

    def __init__(self) -> None:
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        from pipecast.compilers import deployable_targets

        return tuple(deployable_targets())

    @choices.setter
    def choices(self, _: object) -> None:
        pass


def _compile(
    ref: str, target: str, config_file: str | None, region: str | None, artifact_root: str | None
) -> tuple[Any, Any, str]:
    from pipecast._api import compile_spec, resolve_targets
    from pipecast._loader import load_pipeline
    from pipecast.config import load_config

    loaded = load_pipeline(ref)
    config = load_config(config_file, pipeline_file=loaded.file).with_overrides(
        {"region": region, "artifact_root": artifact_root}
    )
    (resolved,), _ = resolve_targets(target)
    document = compile_spec(loaded.spec, resolved, config)  # type: ignore[arg-type]
    for note in document.notes:
        click.echo(note, err=True)
    return loaded.spec, config, document.text


def _options(func: Any) -> Any:
    # pragma: no mutate block
    # (this runs once, as the module is imported, to decorate the commands; mutmut forks its
    # workers after that, so no mutant here could take effect: docs/mutation.md)
    for option in reversed(
        [
            click.argument("ref"),
            click.option("--target", "-t", type=_Deployable(), required=True),
            click.option("--config", "config_file", type=click.Path(dir_okay=False)),
            click.option("--region", help="AWS region (default: config, then AWS settings)"),
            click.option("--artifact-root", help="overrides artifact_root from the config"),
        ]
    ):
        func = option(func)
    return func


def _tags(target: str, config: Any, tags: tuple[str, ...]) -> dict[str, str]:
    """The tags the pipeline is deployed with: ``[<target>] tags`` overridden by ``--tag``."""
    from pipecast.errors import UsageError

    tag_map = {str(k): str(v) for k, v in (config.get(f"{target}.tags") or {}).items()}
    for item in tags:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag takes KEY=VALUE, got {item!r}")
        tag_map[key] = value
    return tag_map


_tag_option = click.option(
    "--tag", "tags", multiple=True, metavar="KEY=VALUE", help="resource tag (repeat)"
)


@click.command("plan")
@_options
@_tag_option
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
def plan_command(
    ref: str,
    target: str,
    config_file: str | None,
    region: str | None,
    artifact_root: str | None,
    tags: tuple[str, ...],
    fmt: str,
) -> None:
    """Show what deploy would change: definition, role, tags. Exit 0: no change, 1: changes."""
    from pipecast import deploy

    spec, config, text = _compile(ref, target, config_file, region, artifact_root)
    result = deploy.plan(target, spec.name, text, config, fmt, _tags(target, config, tags))
    click.echo(result.diff + _cost_change(spec, config, result, text, fmt), nl=False)
    sys.exit(0 if result.equal else 1)


def _cost_change(spec: Any, config: Any, result: Any, text: str, fmt: str) -> str:
    """What the definition change does to the price of a run (``pipecast cost`` prices)."""
    from pipecast._cli_review import cost_change_text
    from pipecast.compilers.cost import step_hours
    from pipecast.errors import PipelineError

    if result.deployed is None or not result.definition_changed:
        return ""
    try:
        hours: dict[str, float] | None = step_hours(spec)
    except PipelineError:  # a loop over a run-time list: no count, so per machine-hour
        hours = None
    discount = config.get("cost.spot_discount")
    return cost_change_text(result.deployed.definition, text, fmt, hours, discount)


@click.command("deploy")
@_options
@_tag_option
def deploy_command(
    ref: str,
    target: str,
    config_file: str | None,
    region: str | None,
    artifact_root: str | None,
    tags: tuple[str, ...],
) -> None:
    """Validate, then create the pipeline or apply what differs (idempotent)."""
    from pipecast import deploy

    spec, config, text = _compile(ref, target, config_file, region, artifact_root)
    result = deploy.deploy(target, spec.name, text, config, _tags(target, config, tags))
    if result.action == "unchanged":
        click.echo(f"no change: {target} pipeline '{spec.name}' is up to date")
        return
    click.echo(result.plan.diff, nl=False, err=True)
    click.echo(f"{result.action}: {result.arn}")
    click.echo(f"applied: {', '.join(result.applied)}", err=True)


@click.command("start")
@_options
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE")
def start_command(
    ref: str,
    target: str,
    config_file: str | None,
    region: str | None,
    artifact_root: str | None,
    params: tuple[str, ...],
) -> None:
    """Start an execution of the deployed pipeline; prints its id and console link."""
    from pipecast import deploy
    from pipecast._loader import load_pipeline
    from pipecast.config import load_config
    from pipecast.params import resolve_params

    loaded = load_pipeline(ref)
    config = load_config(config_file, pipeline_file=loaded.file).with_overrides(
        {"region": region, "artifact_root": artifact_root}
    )
    values = resolve_params(loaded.spec, params)  # type: ignore[arg-type]
    name = loaded.spec.name  # type: ignore[attr-defined]
    execution, link = deploy.backend(target).start(name, values, config)
    click.echo(execution)
    click.echo(f"console: {link}", err=True)
