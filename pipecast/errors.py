"""Errors and diagnostics: every user mistake becomes one of these, never a bare traceback.

The hierarchy::

    PipecastError                  base; the CLI prints it and exits 1 (2 for UsageError)
    ├── DefinitionError            misuse of the DSL while a pipeline or component is defined
    ├── PipelineError              one or more Diagnostics from building or checking a pipeline
    │   └── TargetsError           ... for several targets at once, grouped by target
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
and what was seen, the user's ``file:line`` when known, and a hint saying how to fix it. Every
code and its one-line meaning is in :data:`CODES`; one rule has one code, whether the DSL finds
it while the pipeline function runs or the graph check finds it in a spec (loaded from JSON, say).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CODES",
    "RETIRED_CODES",
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
    "Severity",
    "SourceLocation",
    "TargetsError",
    "UsageError",
    "did_you_mean",
]

Severity = Literal["error", "warning"]

# every diagnostic code and what it means (PC0xx: the graph check and targets; PC1xx: the DSL)
CODES: dict[str, str] = {
    "PC001": "the steps form a cycle",
    "PC002": "a required input is not bound",
    "PC003": "type mismatch: a value, parameter or artifact of the wrong type, or an unknown type",
    "PC004": "unknown reference: no such step, input, output, parameter, importer, component "
    "or target",
    "PC005": "duplicate or illegal name (step id, importer id, parameter)",
    "PC006": "no instance type satisfies a step's resources (targets that place steps)",
    "PC007": "spot max_wait is shorter than the step's timeout",
    "PC008": "a feature the target cannot express",
    "PC009": "a target limit is exceeded (steps, inputs, arguments, ids, document size)",
    "PC010": "an image is missing or has no tag or digest (':latest' is a warning)",
    "PC011": "a bad value (an environment variable name, a flag)",
    "PC012": "an env name that looks like a secret (a warning: values are stored in plain text)",
    "PC013": "a compiled document fails the checks deploy runs (service limits, API models)",
    "PC014": "a feature dropped on a target, as its targets=(...) asks (a note, not an error)",
    "PC020": "an output is used outside its branch without dsl.OneOf (or OneOf is not exclusive)",
    "PC021": "a loop item or a loop step's output is used outside its loop (use dsl.Collected)",
    "PC022": "dsl.Collected of an output that is not produced in a loop",
    "PC023": "a condition compares values of mismatched types, or an artifact",
    "PC024": "exit handler misuse: exit task inside its handler, nested handlers, RUN_STATUS",
    "PC025": "a loop's parallelism is below 1 or its items are not a list",
    "PC030": "a cost estimate needs a count the pipeline does not give (a run-time loop's items)",
    "PC100": "the DSL was used wrongly",
    "PC101": "a size, duration or resource setting is not valid",
    "PC102": "a component or importer was called outside a pipeline function",
    "PC103": "an image or command is not valid",
    "PC104": "a component or pipeline name is not valid",
    "PC105": "a function signature cannot be a component or pipeline interface",
    "PC106": "an argument template names no such input or output, or leaves one out",
    "PC107": "a step setting (resources, spot, retry, env, caching) has the wrong type",
    "PC120": "a run-time value was used as text or in a Python `if`/`for` (use dsl.If/ParallelFor)",
    "PC121": "a task has no output of that name",
    "PC122": "task.output on a task without exactly one output",
    "PC123": ".after() was given something other than a task",
    "PC124": "a step id given to .set_name() is not valid",
    "PC125": "an instance type is not an ml.* type",
    "PC126": "two different components share one name",
    "PC127": "a pipeline was called directly instead of compiled or run",
    "PC128": "a @dsl.component lives in a file no image can import (not a module name)",
    "PC140": "a control-flow construct was used wrongly (Elif without If, no comparison, ...)",
    "PC201": "a path taken from data (a manifest entry, an S3 key) would leave its folder",
    "PC202": "an input holds a symlink that points out of its folder",
    "PC203": "an unknown --resume run id",
    "PC204": "impossible resources or capacity for a local run",
}

# codes no longer emitted → the code of the same rule (the DSL's binding checks once had their
# own codes; they report the graph check's codes now, so one rule has one code)
RETIRED_CODES: dict[str, str] = {
    "PC110": "PC004",
    "PC111": "PC004",
    "PC112": "PC002",
    "PC113": "PC003",
    "PC114": "PC003",
    "PC115": "PC005",
}


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

    def __init__(
        self,
        diagnostics: Sequence[Diagnostic],
        *,
        pipeline: str | None = None,
        spec: object | None = None,
    ) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.pipeline = pipeline
        # the pipeline's spec when the DSL could build it despite these problems (a setting it
        # left out): the CLI runs the graph and target checks on it too, to report everything
        self.spec = spec
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        head = f"pipeline '{pipeline}': " if pipeline else ""
        summary = f"{head}{errors} error{'s' if errors != 1 else ''}"
        super().__init__("\n".join([*(d.format() for d in self.diagnostics), summary]))

    def render(self) -> str:
        return str(self)


class TargetsError(PipelineError):
    """Every problem of several targets in one report: the ones all failing targets share
    (graph and DSL mistakes) once, then each target's own under its name."""

    def __init__(
        self,
        shared: Sequence[Diagnostic],
        by_target: dict[str, list[Diagnostic]],
        other: dict[str, list[str]],
        *,
        pipeline: str | None = None,
    ) -> None:
        everything = [*shared, *(d for ds in by_target.values() for d in ds)]
        super().__init__(everything, pipeline=pipeline)
        self.shared = sorted(shared, key=Diagnostic.sort_key)
        self.by_target = {k: sorted(v, key=Diagnostic.sort_key) for k, v in by_target.items()}
        self.other = other
        self._text = self._grouped()

    def _grouped(self) -> str:
        lines: list[str] = []
        if self.shared:
            lines.append("every target:")
            lines += ["  " + d.format().replace("\n", "\n  ") for d in self.shared]
        for name in sorted({*self.by_target, *self.other}, key=self._order):
            if not self.by_target.get(name) and not self.other.get(name):
                continue  # only shared problems: shown once above
            lines.append(f"{name}:")
            lines += ["  " + d.format().replace("\n", "\n  ") for d in self.by_target.get(name, [])]
            lines += [f"  error: {m}" for m in self.other.get(name, [])]
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        errors += sum(len(m) for m in self.other.values())
        own = [
            name
            for name in sorted({*self.by_target, *self.other}, key=self._order)
            if self.other.get(name)
            or any(d.severity == "error" for d in self.by_target.get(name, []))
        ]
        if any(d.severity == "error" for d in self.shared):
            where = " (every target" + (f"; also {', '.join(own)}" if own else "") + ")"
        else:
            where = f" ({', '.join(own)})" if own else ""
        head = f"pipeline '{self.pipeline}': " if self.pipeline else ""
        lines.append(f"{head}{errors} error{'s' if errors != 1 else ''}{where}")
        return "\n".join(lines)

    def _order(self, name: str) -> int:
        names = list(self.by_target) + [n for n in self.other if n not in self.by_target]
        return names.index(name)

    def __str__(self) -> str:
        return self._text

    def render(self) -> str:
        return self._text


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
