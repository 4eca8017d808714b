"""Compilers: the graph compiler, one module per target, the canonical serializer.

The registry below is the only place that names targets: adding a built-in target is one line
in :data:`TARGETS` plus its module; a target in another distribution registers under the
``pipecast.targets`` entry-point group instead (``name = "module"`` or ``"module:attribute"``;
see ``docs/adding-a-target.md``). The CLI's choices and help, ``deploy``'s choices,
``--target all``, the config schema and the docs table are all read from here. Target modules
are imported lazily, so the CLI starts without loading any SDK.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING

from pipecast.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from .target import Target

__all__ = [
    "ENTRY_POINT_GROUP",
    "TARGETS",
    "deployable_targets",
    "load_target",
    "target_names",
    "targets_table",
]

ENTRY_POINT_GROUP = "pipecast.targets"

# target name → module defining ``TARGET`` (built in; one line per target)
TARGETS: dict[str, str] = {
    "ir": "pipecast.compilers.ir",
    "sagemaker": "pipecast.compilers.sagemaker",
    "stepfunctions": "pipecast.compilers.stepfunctions",
    "kubeflow": "pipecast.compilers.kubeflow",
}


@cache
def _plugins() -> tuple[tuple[str, str], ...]:
    """Targets other distributions register (a built-in name cannot be taken over)."""
    from importlib.metadata import entry_points

    return tuple(sorted((ep.name, ep.value) for ep in entry_points(group=ENTRY_POINT_GROUP)))


def _registry() -> dict[str, str]:
    found = dict(TARGETS)
    for name, value in _plugins():
        found.setdefault(name, value)
    return found


def target_names() -> list[str]:
    """Every registered target, in a fixed order: built-in ones first, then plug-ins by name."""
    return list(_registry())


def load_target(name: str) -> Target:
    """The target called ``name``; an unknown name is a usage error with a suggestion."""
    from .target import Target

    registry = _registry()
    where = registry.get(name)
    if where is None:
        raise UsageError(
            f"unknown target '{name}'{did_you_mean(name, [*registry, 'all'])}"
            f" (targets: {', '.join(registry)}, all)"
        )
    module_name, _, attribute = where.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), attribute or "TARGET")
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"target '{name}' ({where}) cannot be loaded: {exc}") from None
    if not isinstance(target, Target) or target.name != name:
        raise UsageError(
            f"target '{name}' ({where}) is not a pipecast.compilers.target.Target named '{name}'"
        )
    return target


def deployable_targets() -> list[str]:
    """The registered targets that declare a deploy backend (``plan``/``deploy``/``start``)."""
    return [name for name in target_names() if load_target(name).deploy is not None]


def targets_table() -> str:
    """The Markdown table of targets in the README, generated from the registry."""
    rows = ["| target | writes | what it is | needs |", "|---|---|---|---|"]
    for name in target_names():
        t = load_target(name)
        needs = ", ".join(f"`{k}`" for k in t.required_config) or "—"
        if t.extra:
            needs += f"; `pip install 'pipecast[{t.extra}]'`"
        rows.append(f"| `{name}` | `<pipeline>.{t.suffix}` | {t.description} | {needs} |")
    return "\n".join(rows) + "\n"
