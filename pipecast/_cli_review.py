"""``pipecast diff OLD NEW``: the semantic, step-by-step diff of two compiled documents."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click

from pipecast.errors import DocumentError

__all__ = ["cost_change_text", "diff_command", "read_document", "semantic_diff_text"]


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


def cost_change_text(
    old_text: str,
    new_text: str,
    fmt: str,
    hours: Mapping[str, float] | None = None,
    spot_discount: float | None = None,
) -> str:
    """The price change of the steps whose machine or spot changed, as a section to append
    to a review (empty when none did, or for ``json``, whose keys stay the review's own).
    ``hours``: machine-hours per step (``plan`` knows them from the pipeline; ``diff`` of two
    documents does not, and shows the change per machine-hour)."""
    from pipecast.compilers import cost, diff
    from pipecast.compilers.aws_jobs import catalogue_info
    from pipecast.errors import PipecastError

    if fmt == "json":
        return ""
    try:
        old, new = diff.summarize_text(old_text), diff.summarize_text(new_text)
    except PipecastError:
        return ""
    discount = cost.DEFAULT_SPOT_DISCOUNT if spot_discount is None else spot_discount
    lines = cost.cost_changes(old, new, hours, discount)
    if not lines:
        return ""
    info = catalogue_info()
    head = (
        f"cost change ({info['region']} prices as of {info['as_of']}, spot {discount:.0%} "
        "below on demand; pipecast cost REF for the whole run)"
    )
    if fmt == "markdown":
        return "\n".join(["", f"**{head}**", "", *(f"- {line}" for line in lines)]) + "\n"
    return "\n".join([f"{head}:", *(f"  {line}" for line in lines)]) + "\n"


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
    old_text, new_text = read_document(old), read_document(new)
    equal, text = semantic_diff_text(old_text, new_text, fmt, old, new)
    click.echo(text + cost_change_text(old_text, new_text, fmt), nl=False)
    sys.exit(0 if equal else 1)
