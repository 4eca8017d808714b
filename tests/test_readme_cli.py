"""The README's command synopsis matches the CLI: every option a command takes is listed for it,
every option listed exists, and a listed set of choices is the command's own (issue #15 item 10:
``plan``'s real options)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from pipecast.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b")
_CHOICES = re.compile(r"(--[a-z][a-z-]*) \{?([a-z]+(?:\|[a-z]+)+)\}?")


def _synopsis() -> dict[str, list[str]]:
    """Command → the synopsis lines for it (continuation lines joined), from the first code
    block under '## Command line'."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Command line", 1)[1]
    block = section.split("```", 2)[1]
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in block.splitlines():
        if line.startswith("pipecast "):
            current = [line]
            found.setdefault(line.split()[1], []).append("")
        elif line.startswith(" ") and current is not None:
            current.append(line.strip())
        else:
            continue
        name = current[0].split()[1]
        found[name][-1] = " ".join(current)
    return found


def _command(name: str) -> click.Command:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, name)
    assert command is not None, name
    return command


def _options(command: click.Command) -> dict[str, click.Option]:
    return {
        opt: p
        for p in command.params
        if isinstance(p, click.Option)
        for opt in p.opts
        if opt != "--help"
    }


def _documented(lines: list[str]) -> set[str]:
    return {m for line in lines for m in _OPTION.findall(line)}


SYNOPSIS = _synopsis()


def test_the_synopsis_covers_the_commands_users_run_against_a_pipeline():
    assert {"compile", "validate", "graph", "diff", "plan", "deploy", "start"} <= set(SYNOPSIS)


@pytest.mark.parametrize("name", sorted(SYNOPSIS))
def test_every_listed_option_exists(name):
    options = _options(_command(name))
    unknown = _documented(SYNOPSIS[name]) - set(options)
    # "-t" is documented in prose ("--target is also -t"), never invented in the synopsis
    assert not unknown, f"README lists {sorted(unknown)} for `pipecast {name}`; it has none"


@pytest.mark.parametrize("name", sorted(SYNOPSIS))
def test_every_option_is_listed(name):
    documented = _documented(SYNOPSIS[name])
    missing = [
        p.opts[0]
        for p in _command(name).params
        if isinstance(p, click.Option)
        and p.opts[0] != "--help"
        and not any(opt in documented for opt in (*p.opts, *p.secondary_opts))
    ]
    assert not missing, f"`pipecast {name}` takes {missing}; the README does not list them"


@pytest.mark.parametrize("name", sorted(SYNOPSIS))
def test_listed_choices_are_the_commands_own(name):
    options = _options(_command(name))
    for line in SYNOPSIS[name]:
        for flag, choices in _CHOICES.findall(line):
            param = options[flag]
            if flag == "--target":
                continue  # targets come from the registry; tests/test_targets.py checks them
            assert isinstance(param.type, click.Choice), (name, flag)
            assert choices.split("|") == list(param.type.choices), (name, flag)


def test_plan_synopsis_has_format_and_tags():
    """Before #15 item 10 the README hid plan's --format, --config, --region, --artifact-root."""
    (line,) = SYNOPSIS["plan"]
    for flag in ("--format", "--tag", "--config", "--region", "--artifact-root"):
        assert flag in line
