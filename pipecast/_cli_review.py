"""``pipecast diff OLD NEW``: the semantic, step-by-step diff of two compiled documents."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipecast.errors import DocumentError

__all__ = ["diff_command", "read_document", "semantic_diff_text"]


def semantic_diff_text(
    old_text: str,
    new_text: str,
    fmt: str,
    old_name: str,
    new_name: str,
    target: str | None = None,
    pipeline: str | None = None,
) -> tuple[bool, str]:
    """(equal, rendered review) of two documents of one target: the engine of ``diff``,
    ``plan`` and ``compile --check`` (``pipeline``: the name, when the caller knows it)."""
    from pipecast.compilers import diff

    review = diff.compare_texts(old_text, new_text, old_name, new_name, target, pipeline)
    return review.equal, review.render(fmt)


def read_document(path: str) -> str:
    """A document's text, or one clear line saying why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{path}: cannot read: {exc}") from None


@click.command("diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown is meant for pull requests; json lists every difference with its path",
)
def diff_command(old: str, new: str, fmt: str) -> None:
    """Compare two compiled documents of one target, step by step, then every other
    difference by JSON path. Exit 0 when they are equivalent, 1 when they differ."""
    equal, text = semantic_diff_text(read_document(old), read_document(new), fmt, old, new)
    click.echo(text, nl=False)
    sys.exit(0 if equal else 1)
