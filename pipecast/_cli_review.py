"""``pipecast diff OLD NEW``: the semantic, step-by-step diff of two compiled documents."""

from __future__ import annotations

import sys

import click

from pipecast.errors import DocumentError

__all__ = ["diff_command", "semantic_diff_text"]


def semantic_diff_text(
    old_text: str, new_text: str, fmt: str, old_name: str, new_name: str, target: str | None = None
) -> tuple[bool, str]:
    """(equal, rendered diff) for two documents of the same target."""
    from pipecast.compilers import diff

    old = diff.summarize_text(old_text, old_name, target)
    new = diff.summarize_text(new_text, new_name, target)
    if old.target != new.target:
        raise DocumentError(
            f"{old_name} is a {old.target} document but {new_name} is a "
            f"{new.target} document; compare documents of one target"
        )
    changes = diff.diff(old, new)
    return not changes, diff.render(changes, old, new, fmt)


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown is meant for pull requests",
)
def diff_command(old: str, new: str, fmt: str) -> None:
    """Compare two compiled documents of one target, step by step. Exit 1 when they differ."""
    from pathlib import Path

    def read(path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DocumentError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise DocumentError(f"{path}: cannot read: {exc}") from None

    equal, text = semantic_diff_text(read(old), read(new), fmt, old, new)
    click.echo(text, nl=False)
    sys.exit(0 if equal else 1)
