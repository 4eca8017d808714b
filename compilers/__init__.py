"""Compilers: the graph compiler, one module per target, the canonical serializer.

The registry below is the only place that names targets; adding a target is one line here plus
its module. Target modules are imported lazily, so the CLI starts without loading any SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pipecast.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from ._target import Target

__all__ = ["TARGETS", "load_target", "target_names"]

# target name → module defining ``TARGET``
TARGETS: dict[str, str] = {
    "ir": "pipecast.compilers.ir",
    "sagemaker": "pipecast.compilers.sagemaker",
    "stepfunctions": "pipecast.compilers.stepfunctions",
    "kubeflow": "pipecast.compilers.kubeflow",
}


def target_names() -> list[str]:
    """Every registered target, in a fixed order (the registry's)."""
    return list(TARGETS)


def load_target(name: str) -> Target:
    """The target called ``name``; an unknown name is a usage error with a suggestion."""
    module_name = TARGETS.get(name)
    if module_name is None:
        raise UsageError(
            f"unknown target '{name}'{did_you_mean(name, [*TARGETS, 'all'])}"
            f" (targets: {', '.join(TARGETS)}, all)"
        )
    target: Target = importlib.import_module(module_name).TARGET
    return target
