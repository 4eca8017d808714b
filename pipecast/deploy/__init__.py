"""Plan, deploy and start compiled pipelines on AWS (SageMaker Pipelines, Step Functions).

The only part of pipecast that talks to AWS (boto3 is the ``aws`` extra, imported lazily).
Each deployable target names a small backend module (``Target.deploy``; the AWS ones live here)
with the same functions (``fetch``, ``role``, ``create``, ``update``, ``tag``, ``start``,
``validate``); this module orchestrates them so that a deploy converges (DESIGN §15): the
deployed definition, role and tags end equal to the compiled ones.

- ``plan``: compile, fetch what is deployed, and show every difference: the definition (the
  review engine of ``pipecast diff``), the role, the tags; exit 1 when anything differs;
- ``deploy``: validate (never deploy a document that fails the validators), then create, or
  apply each part that differs and report what was applied. When a call fails part way, the
  error says what was applied and what was not; since the plan compares every part, running
  deploy again applies exactly what is left;
- ``start``: start an execution with typed parameters and print its id and console link.

Tags: pipecast sets the tags it is given (``[<target>] tags`` and ``--tag``) and never removes
others, which other tools (cost allocation, AWS itself) may own.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pipecast.errors import DeployError, DocumentError, UsageError, did_you_mean

if TYPE_CHECKING:
    from pipecast.compilers.diff import Review
    from pipecast.config import Config

    from .aws import Deployed

__all__ = ["Backend", "DeployResult", "PlanResult", "backend", "deploy", "plan"]


class Backend(Protocol):
    """What each backend module provides."""

    def fetch(self, name: str, config: Config) -> Deployed | None: ...

    def role(self, config: Config) -> str | None: ...

    def create(self, name: str, text: str, config: Config, tags: dict[str, str]) -> str: ...

    def update(
        self, deployed: Deployed, name: str, text: str, config: Config, definition: bool, role: bool
    ) -> None: ...

    def tag(self, arn: str, tags: dict[str, str], config: Config) -> None: ...

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
    """Every difference between the compiled pipeline and what is deployed under its name."""

    target: str
    name: str
    exists: bool
    equal: bool
    diff: str
    definition_changed: bool = False
    role: tuple[str | None, str] | None = None  # (deployed, compiled) when they differ
    tags: dict[str, str] = field(default_factory=dict)  # tags to set (missing or other value)
    deployed: Deployed | None = None

    @property
    def parts(self) -> list[str]:
        """What a deploy would apply, in the order it applies it."""
        out = ["definition"] if self.definition_changed else []
        out += ["role"] if self.role else []
        return out + (["tags"] if self.tags else [])


@dataclass(frozen=True)
class DeployResult:
    target: str
    name: str
    action: str  # "created", "updated", "unchanged"
    arn: str
    plan: PlanResult
    applied: tuple[str, ...] = ()


def plan(
    target: str,
    name: str,
    text: str,
    config: Config,
    fmt: str = "text",
    tags: dict[str, str] | None = None,
) -> PlanResult:
    """Compare the compiled ``text``, role and ``tags`` with what is deployed under ``name``."""
    from pipecast.compilers import diff

    chosen = backend(target)
    deployed = chosen.fetch(name, config)
    if deployed is None:
        message = f"{target} pipeline '{name}' is not deployed yet: deploy will create it\n"
        if fmt == "json":
            message = _json_plan(target, name, None, None, {}, exists=False)
        return PlanResult(target, name, False, False, message)
    review = diff.compare_texts(
        deployed.definition, text, f"deployed {name}", f"compiled {name}", target, name, False
    )
    wanted_role = chosen.role(config)
    role = (deployed.role, wanted_role) if wanted_role and deployed.role != wanted_role else None
    to_tag = {k: v for k, v in sorted((tags or {}).items()) if deployed.tags.get(k) != v}
    equal = review.equal and role is None and not to_tag
    if fmt == "json":
        rendered = _json_plan(target, name, review, role, to_tag, exists=True, deployed=deployed)
    else:
        rendered = _render_plan(target, name, review, role, to_tag, deployed, fmt)
    return PlanResult(target, name, True, equal, rendered, not review.equal, role, to_tag, deployed)


def _render_plan(
    target: str,
    name: str,
    review: Review,
    role: tuple[str | None, str] | None,
    to_tag: dict[str, str],
    deployed: Deployed,
    fmt: str,
) -> str:
    if review.equal and role is None and not to_tag:
        return f"pipeline '{name}' ({target}): no changes\n"
    if review.equal:
        head = f"pipeline '{name}' ({target}): definition unchanged"
        text = f"### {head}\n" if fmt == "markdown" else f"{head}\n"
    else:
        text = review.render(fmt)
    if role is not None:
        text += f"~ role: {role[0] or '(none)'} → {role[1]}\n"
    for key, value in to_tag.items():
        before = deployed.tags.get(key)
        text += f"+ tag {key}={value}\n" if before is None else f"~ tag {key}: {before} → {value}\n"
    return text


def _json_plan(
    target: str,
    name: str,
    review: Review | None,
    role: tuple[str | None, str] | None,
    to_tag: dict[str, str],
    *,
    exists: bool,
    deployed: Deployed | None = None,
) -> str:
    from pipecast.compilers.canonical import dumps_json

    definition = json.loads(review.render("json")) if review is not None else None
    text: str = dumps_json(
        {
            "target": target,
            "pipeline": name,
            "exists": exists,
            "equal": review is not None and review.equal and role is None and not to_tag,
            "definition": definition,
            "role": None if role is None else {"old": role[0], "new": role[1]},
            "tags": [
                {"key": k, "old": (deployed.tags.get(k) if deployed else None), "new": v}
                for k, v in to_tag.items()
            ],
        }
    )
    return text


def deploy(target: str, name: str, text: str, config: Config, tags: dict[str, str]) -> DeployResult:
    """Validate, then create, or apply each part (definition, role, tags) that differs.

    A failure part way raises a DeployError naming what was applied and what was not; a rerun
    plans again and applies exactly the rest.
    """
    chosen = backend(target)
    problems = chosen.validate(text)
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:30])
        raise DocumentError(f"refusing to deploy: the {target} document fails validation:\n{shown}")
    result = plan(target, name, text, config, tags=tags)
    if result.equal:
        return DeployResult(target, name, "unchanged", "", result)
    if not result.exists:
        arn = chosen.create(name, text, config, tags)  # one call sets all three
        created = ("definition", "role", "tags") if tags else ("definition", "role")
        return DeployResult(target, name, "created", arn, result, created)
    deployed = result.deployed
    assert deployed is not None
    applied: list[str] = []
    steps: list[tuple[list[str], Any]] = []
    if result.definition_changed or result.role:
        parts: list[str] = [p for p in ("definition", "role") if p in result.parts]
        steps.append(
            (
                parts,
                lambda: chosen.update(
                    deployed, name, text, config, result.definition_changed, bool(result.role)
                ),
            )
        )
    if result.tags:
        steps.append((["tags"], lambda: chosen.tag(deployed.arn, result.tags, config)))
    for parts, call in steps:
        try:
            call()
        except DeployError as exc:
            missing = [p for p in result.parts if p not in applied]
            done = ", ".join(applied) or "nothing"
            raise DeployError(
                f"{target} pipeline '{name}' partly deployed: applied {done}; not applied "
                f"{', '.join(missing)} ({exc}); run pipecast deploy again to finish"
            ) from None
        applied += parts
    return DeployResult(target, name, "updated", deployed.arn, result, tuple(applied))
