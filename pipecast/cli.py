"""The ``pipecast`` command line (DESIGN §9).

Exit codes: 0 ok, 1 the pipeline or a document is wrong (diagnostics on stderr), 2 usage error.
A user mistake never shows a traceback; set ``PIPECAST_DEBUG=1`` to see one for internal errors.
Commands other than the core ones are loaded lazily (``LAZY_COMMANDS``), so ``pipecast --help``
and ``pipecast compile`` never import kfp, boto3 or the SageMaker SDK.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from pipecast import __version__
from pipecast.errors import PipecastError, UsageError

__all__ = ["LAZY_COMMANDS", "cli", "compile", "graph", "main", "validate"]

# command name → "module:attribute" of a click command, imported only when that command runs
LAZY_COMMANDS: dict[str, str] = {
    "cost": "pipecast._cli_cost:cost_command",
    "diff": "pipecast._cli_review:diff_command",
    "plan": "pipecast.deploy.cli:plan_command",
    "deploy": "pipecast.deploy.cli:deploy_command",
    "start": "pipecast.deploy.cli:start_command",
    "run": "pipecast.runner.cli:run_command",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from pipecast.errors import did_you_mean

            raise click.UsageError(
                f"no command '{name}'{did_you_mean(name, self.list_commands(ctx))}", ctx
            )
        return super().resolve_command(ctx, args)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pipecast")
def cli() -> None:
    """Write an inference pipeline once; compile it to SageMaker Pipelines, Step Functions and
    Kubeflow Pipelines; run and test it offline."""


def _config(config_file: str | None, pipeline_file: Path | None, overrides: dict[str, Any]) -> Any:
    from pipecast.config import load_config

    return load_config(config_file, pipeline_file=pipeline_file).with_overrides(overrides)


def _notes(notes: Sequence[str]) -> None:
    for note in notes:
        click.echo(note, err=True)


class _TargetOption(click.Option):
    """``--target``, whose help lists the registered targets when help is shown (not at import:
    reading the registry's entry points is left to the commands that need it)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from pipecast.compilers import target_names

        self.help = f"{', '.join(target_names())}, or all"
        return super().get_help_record(ctx)


_target_option = click.option(
    "--target", "-t", "target", cls=_TargetOption, required=True, metavar="TARGET"
)
_config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="config file (default: pipecast.toml / pyproject.toml)",
)
_root_option = click.option("--artifact-root", help="overrides artifact_root from the config")
_region_option = click.option("--region", help="overrides region from the config")


@cli.command()
@click.argument("ref")
@_target_option
@click.option("-o", "--output", type=click.Path(), help="file (one target) or directory (all)")
@_config_option
@_root_option
@_region_option
@click.option("--check", is_flag=True, help="exit 1 if the file(s) on disk are stale")
def compile(
    ref: str,
    target: str,
    output: str | None,
    config_file: str | None,
    artifact_root: str | None,
    region: str | None,
    check: bool,
) -> None:
    """Compile the pipeline REF (file.py[:function] or package.module:function) for TARGET."""
    from pipecast._api import check_targets, paused_gc, resolve_targets
    from pipecast.compilers.canonical import atomic_write

    if target == "all" and output is None:
        raise UsageError("--target all writes several files: give a directory with -o")
    if check and output is None:
        raise UsageError("--check compares with files on disk: give them with -o")
    if output is not None and target != "all" and Path(output).is_dir():
        raise UsageError(
            f"-o {output} is a directory; -o names the file to write for one target "
            f"(e.g. -o {Path(output) / ('pipeline.' + target)}), or use --target all"
        )
    if (
        output is not None
        and target == "all"
        and Path(output).exists()
        and not Path(output).is_dir()
    ):
        raise UsageError(
            f"-o {output} is a file; --target all writes several files into a directory"
        )
    targets, skipped = resolve_targets(target)
    with paused_gc():
        spec, file, early = _load(ref)
        cfg = _config(config_file, file, {"artifact_root": artifact_root, "region": region})
        _notes(skipped)
        documents = check_targets(spec, targets, cfg, early)
    name = spec.name
    stale = False
    for doc in documents:
        _notes(doc.notes)
        if output is None:
            click.echo(doc.text, nl=False)
            continue
        path = Path(output) / f"{name}.{doc.suffix}" if target == "all" else Path(output)
        if check:
            if _is_stale(path, doc.text, doc.target):
                stale = True
            continue
        atomic_write(path, doc.text)
        click.echo(f"wrote {path}", err=True)
    if stale:
        sys.exit(1)


def _is_stale(path: Path, text: str, target: str) -> bool:
    """Compare the file on disk with the compiled text through the review engine (the one
    behind ``diff`` and ``plan``); any byte that differs makes the file stale."""
    try:
        old = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        click.echo(f"stale: {path} does not exist (run the same command without --check)", err=True)
        return True
    if old == text:
        click.echo(f"up to date: {path}", err=True)
        return False
    from pipecast._cli_review import semantic_diff_text
    from pipecast.errors import PipecastError

    try:
        equal, rendered = semantic_diff_text(
            old, text, "text", f"{path} (on disk)", f"{path} (compiled)", target
        )
    except PipecastError as exc:
        click.echo(f"stale: {path} is not a readable {target} document ({exc})", err=True)
        return True
    if equal:
        click.echo(
            f"stale: {path} is the same document written differently (key order or "
            "formatting); rerun the same command without --check to rewrite it",
            err=True,
        )
        return True
    click.echo(f"stale: {path} differs from what the pipeline compiles to:", err=True)
    click.echo(rendered, err=True, nl=False)
    return True


@cli.command()
@click.argument("ref", required=False)
@click.option(
    "--document",
    type=click.Path(dir_okay=False),
    help="validate a compiled document (SageMaker, Step Functions or Kubeflow; any origin) "
    "instead of a REF",
)
@click.option(
    "--target",
    "-t",
    default="all",
    show_default=True,
    metavar="TARGET",
    help="check for one target, or for all available",
)
@_config_option
@_root_option
@_region_option
def validate(
    ref: str | None,
    document: str | None,
    target: str,
    config_file: str | None,
    artifact_root: str | None,
    region: str | None,
) -> None:
    """Check a pipeline for TARGET(s) without writing anything; list every problem.

    With --document FILE, check a compiled document instead, with the checks deploy runs: a
    SageMaker definition (envelope, references, cycles, every job request against botocore's
    service model), a Step Functions state machine (ASL structure and limits, every job request),
    a Kubeflow pipeline (kfp's own loader). The target is read from the document.
    """
    from pipecast._api import check_targets, resolve_targets

    if document is not None:
        _validate_document(document, None if target == "all" else target)
        return
    if ref is None:
        raise UsageError("give a pipeline REF, or --document FILE")

    targets, skipped = resolve_targets(target)
    spec, file, early = _load(ref)
    cfg = _config(config_file, file, {"artifact_root": artifact_root, "region": region})
    _notes(skipped)
    documents = check_targets(spec, targets, cfg, early)
    for doc in documents:
        _notes(doc.notes)
    ok = [doc.target for doc in documents]
    click.echo(f"ok: pipeline '{spec.name}' is valid for {', '.join(ok)}")


def _load(ref: str) -> tuple[Any, Path | None, list[Any]]:
    """The pipeline's spec, its file and the problems the DSL found while building it. A spec
    the DSL could build despite them (a bad setting it left out) is returned with them, so the
    graph and target checks still run and every problem is reported in one go."""
    from pipecast._loader import load_pipeline
    from pipecast.errors import PipelineError

    try:
        loaded = load_pipeline(ref)
    except PipelineError as exc:
        if exc.spec is None:
            raise
        location = exc.spec.location  # type: ignore[attr-defined]
        file = Path(location.file).resolve() if location else None
        return exc.spec, file, list(exc.diagnostics)
    return loaded.spec, loaded.file, []


def _validate_document(path: str, target: str | None) -> None:
    """``validate --document``: the target's document checks (the ones deploy runs)."""
    from pipecast._cli_review import read_document
    from pipecast.compilers import diff, load_target
    from pipecast.errors import DocumentError

    text = read_document(path)
    found = diff.detect_target(diff.load_document(text, path), path)
    if target is not None and target != found:
        raise UsageError(f"{path} is a {found} document, not {target}")
    checker = load_target(found).validate_document
    if checker is None:
        raise UsageError(f"{path}: {found} documents have no document checks; validate the REF")
    problems = [f"step '{step}': {p}" if step else p for step, p in checker(text)]
    kind = load_target(found).document_kind
    if problems:
        raise DocumentError(
            f"{path}: {len(problems)} problem(s) in this {kind}:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    click.echo(f"ok: {path} is a valid {kind}")


@cli.command()
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "json"]),
    default="mermaid",
    show_default=True,
)
def graph(ref: str, fmt: str) -> None:
    """Print the step graph (data edges solid, .after() edges dashed)."""
    from pipecast._loader import load_pipeline
    from pipecast.compilers import graph as graph_mod
    from pipecast.compilers.graph_formats import render

    loaded = load_pipeline(ref)
    checked = graph_mod.check(loaded.spec)  # type: ignore[arg-type]
    click.echo(render(checked, fmt), nl=False)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI, turning every pipecast error into a message and an exit code."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="pipecast",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except PipecastError as exc:
        click.echo(exc.render(), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("PIPECAST_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in pipecast; rerun with PIPECAST_DEBUG=1 and report the "
            "traceback",
            err=True,
        )
        sys.exit(70)
    sys.exit(0)
