"""Errors and diagnostics: every user mistake becomes one of these, never a bare traceback.

The hierarchy::

    PipecastError                  base; the CLI prints it and exits 1 (2 for UsageError)
    ├── DefinitionError            misuse of the DSL while a pipeline or component is defined
    ├── PipelineError              one or more Diagnostics from building or checking a pipeline
    ├── ConfigError                missing or invalid configuration key
    ├── LoadError                  a pipeline REF cannot be imported or found
    ├── DocumentError              a compiled document is invalid (validators, diff inputs)
    ├── ParameterError             a run parameter is unknown, missing or mistyped (-p NAME=VALUE)
    ├── DeployError                an AWS call failed (credentials, access, throttling, ...)
    ├── MissingExtraError          an optional dependency is not installed (one-line install hint)
    ├── RunError                   a local run cannot go on: a path escapes its folder, an unknown
    │                              run id, impossible resources (a Diagnostic with a PC2xx code)
    └── UsageError                 wrong command-line usage (exit code 2)

A :class:`Diagnostic` is the unit of reporting: a stable code, a message saying what was expected
and what was seen, the user's ``file:line`` when known, and a hint saying how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ConfigError",
    "DefinitionError",
    "DeployError",
    "Diagnostic",
    "DocumentError",
    "LoadError",
    "MissingExtraError",
    "ParameterError",
    "PipecastError",
    "PipelineError",
    "RunError",
    "SourceLocation",
    "UsageError",
    "did_you_mean",
]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class SourceLocation:
    """Where in the user's code something was defined (file path and 1-based line)."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a pipeline, with enough context to fix it without reading our code."""

    code: str
    message: str
    location: SourceLocation | None = None
    hint: str | None = None
    severity: Severity = "error"
    step: str | None = None

    def format(self) -> str:
        """Render as ``file:line: error[PC001]: message`` plus an indented hint line."""
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity}[{self.code}]: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def sort_key(self) -> tuple[str, int, str, str]:
        loc = self.location
        return (loc.file if loc else "", loc.line if loc else 0, self.code, self.message)


class PipecastError(Exception):
    """Base of every error pipecast raises on purpose."""

    exit_code = 1

    def render(self) -> str:
        """The text the CLI prints on stderr."""
        return f"error: {self}"


class DefinitionError(PipecastError):
    """The DSL was used wrongly (bad argument, type, memory string, ...)."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "PC100",
        location: SourceLocation | None = None,
        hint: str | None = None,
    ) -> None:
        self.diagnostic = Diagnostic(code=code, message=message, location=location, hint=hint)
        super().__init__(self.diagnostic.format())

    def render(self) -> str:
        return str(self)


class PipelineError(PipecastError):
    """A pipeline has one or more problems; all of them are carried and reported together."""

    def __init__(self, diagnostics: Sequence[Diagnostic], *, pipeline: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.pipeline = pipeline
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        head = f"pipeline '{pipeline}': " if pipeline else ""
        summary = f"{head}{errors} error{'s' if errors != 1 else ''}"
        super().__init__("\n".join([*(d.format() for d in self.diagnostics), summary]))

    def render(self) -> str:
        return str(self)


class ConfigError(PipecastError):
    """Configuration is missing a key or has an invalid value."""


class LoadError(PipecastError):
    """A pipeline reference cannot be loaded."""


class DocumentError(PipecastError):
    """A compiled document failed validation or cannot be read."""


class ParameterError(PipecastError):
    """A run parameter (``-p NAME=VALUE``) is unknown, missing or not of the declared type."""


class DeployError(PipecastError):
    """An AWS call failed; the message is one line saying what and how to fix it."""


class MissingExtraError(PipecastError):
    """An optional dependency is missing; the message is the one-line install command."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(f"this needs the '{module}' package: pip install 'pipecast[{extra}]'")


class RunError(PipecastError):
    """A local run refused to start or go on; carries one Diagnostic (code PC2xx)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        step: str | None = None,
    ) -> None:
        self.diagnostic = Diagnostic(
            code=code, message=message, location=location, hint=hint, step=step
        )
        super().__init__(self.diagnostic.format())

    def render(self) -> str:
        return str(self)


class UsageError(PipecastError):
    """Wrong command-line usage."""

    exit_code = 2


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
