"""Plan, deploy and start compiled pipelines on AWS (SageMaker Pipelines, Step Functions).

The only part of pipecast that talks to AWS (boto3 is the ``aws`` extra, imported lazily).
Each deployable target names a small backend module (``Target.deploy``; the AWS ones live here)
with the same four functions (``fetch``, ``upsert``, ``start``, ``validate``); this module
orchestrates them:

- ``plan``: compile, fetch what is deployed, show the semantic diff (exit 1 when it differs);
- ``deploy``: validate (never deploy a document that fails the validators), then create or
  update, idempotently: an unchanged definition is not sent again;
- ``start``: start an execution with typed parameters and print its id and console link.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pipecast.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from pipecast.config import Config

__all__ = ["Backend", "DeployResult", "PlanResult", "backend", "deploy", "plan"]


class Backend(Protocol):
    """What each backend module provides."""

    def fetch(self, name: str, config: Config) -> str | None: ...

    def upsert(
        self, name: str, text: str, config: Config, tags: dict[str, str], exists: bool
    ) -> str: ...

    def start(self, name: str, params: dict[str, Any], config: Config) -> tuple[str, str]: ...

    def validate(self, text: str) -> list[str]: ...


def backend(target: str) -> Backend:
    """The deploy backend ``target`` declares (the registry knows which targets deploy)."""
    from pipecast.compilers import deployable_targets, load_target

    deployable = deployable_targets()
    module = load_target(target).deploy if target in deployable else None
    if module is None:
        raise UsageError(
            f"cannot deploy to '{target}'{did_you_mean(target, deployable)}; "
            f"deployable targets: {', '.join(deployable)}"
        )
    loaded: Backend = importlib.import_module(module)  # type: ignore[assignment]
    return loaded


@dataclass(frozen=True)
class PlanResult:
    target: str
    name: str
    exists: bool
    equal: bool
    diff: str


@dataclass(frozen=True)
class DeployResult:
    target: str
    name: str
    action: str  # "created", "updated", "unchanged"
    arn: str
    plan: PlanResult


def _same_document(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return a == b


def plan(target: str, name: str, text: str, config: Config, fmt: str = "text") -> PlanResult:
    """Compare the compiled ``text`` with what is deployed under ``name``."""
    from pipecast._cli_review import semantic_diff_text

    deployed = backend(target).fetch(name, config)
    if deployed is None:
        return PlanResult(
            target,
            name,
            False,
            False,
            f"{target} pipeline '{name}' is not deployed yet: deploy will create it\n",
        )
    if _same_document(deployed, text):
        return PlanResult(target, name, True, True, f"pipeline '{name}' ({target}): no changes\n")
    equal, rendered = semantic_diff_text(
        deployed, text, fmt, f"deployed {name}", f"compiled {name}", target
    )
    if equal:
        rendered = (
            rendered.rstrip("\n") + " (the documents differ only in details the summary "
            "does not show)\n"
        )
    return PlanResult(target, name, True, False, rendered)


def deploy(target: str, name: str, text: str, config: Config, tags: dict[str, str]) -> DeployResult:
    """Validate, then create or update; a deployed identical definition is left alone."""
    from pipecast.errors import DocumentError

    chosen = backend(target)
    problems = chosen.validate(text)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:30])
        raise DocumentError(f"refusing to deploy: the {target} document fails validation:\n{shown}")
    result = plan(target, name, text, config)
    if result.equal:
        return DeployResult(target, name, "unchanged", "", result)
    arn = chosen.upsert(name, text, config, tags, result.exists)
    return DeployResult(target, name, "updated" if result.exists else "created", arn, result)
