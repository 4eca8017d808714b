"""What a target declares: its capabilities and limits as data, its config keys, and ``compile``.

The graph compiler reads these tables to report every unsupported use and every limit breach
before any target code runs, so target modules never re-implement those checks, and no shared
code asks ``if target == ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipecast.config import Config
    from pipecast.errors import Diagnostic

    from .diff import DocumentSummary
    from .graph import CheckedPipeline

__all__ = ["FEATURES", "Capabilities", "Document", "Limits", "Target"]

# feature name → how a user asks for it (for error messages)
FEATURES: Mapping[str, str] = {
    "spot": ".set_spot(Spot(...)) / spot=Spot(...)",
    "gpu": "Resources(gpu=...)",
    "retry": ".set_retry(Retry(...))",
    "caching": ".set_caching(True)",
    "timeout": ".set_timeout(...)",
    "env": ".set_env(...)",
    "manifest_inputs": "dsl.importer(..., manifest=True)",
    "python_components": "@dsl.component",
    "instance_type": ".set_instance_type(...)",
    "disk": "Resources(disk=...)",
}


@dataclass(frozen=True)
class Capabilities:
    """Which DSL features a target can express. Anything False is a compile error when used."""

    spot: bool = False
    gpu: bool = False
    retry: bool = False
    caching: bool = False
    timeout: bool = False
    env: bool = False
    manifest_inputs: bool = False
    python_components: bool = True
    instance_type: bool = False
    disk: bool = False
    requires_image: bool = True

    def supports(self, feature: str) -> bool:
        return bool(getattr(self, feature))


@dataclass(frozen=True)
class Limits:
    """Hard limits of the service, checked before emitting (None: no limit)."""

    max_steps: int | None = None
    max_inputs_per_step: int | None = None
    max_outputs_per_step: int | None = None
    max_arg_count: int | None = None
    max_arg_length: int | None = None
    max_env_vars: int | None = None
    step_id_max_length: int | None = None
    max_document_bytes: int | None = None
    # how each placeholder kind renders (for argument-length checks); ``{name}`` is replaced
    placeholder_text: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Document:
    """A compiled document: its exact text, the file suffix it is written with, and notes
    (precedences added by a layout, size remarks) shown to the user on stderr."""

    target: str
    text: str
    suffix: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """A compilation target; each target module exposes one as ``TARGET``."""

    name: str
    suffix: str
    description: str
    capabilities: Capabilities
    limits: Limits
    compile: Callable[[CheckedPipeline, Config], Document]
    required_config: tuple[str, ...] = ()
    check: Callable[[CheckedPipeline, Config], list[Diagnostic]] | None = None
    extra: str | None = None  # optional dependency group this target needs
    extra_module: str | None = None  # a module whose absence means the extra is missing
    # review support (``pipecast diff``/``--check``/``plan``): recognise a parsed document of this
    # target, and reduce it to a per-step summary (see compilers/diff.py)
    detect: Callable[[Any], bool] | None = None
    describe: Callable[[Any], DocumentSummary] | None = None
    # the document checks ``deploy`` runs (service limits, API models), which ``compile`` and
    # ``validate`` run too: compiled text → (step id or None, problem) pairs
    validate_document: Callable[[str], list[tuple[str | None, str]]] | None = None
    # False: only ``validate --document`` runs them (a document the target's own SDK wrote, with
    # nothing deployed by pipecast, where they would repeat the SDK's work at its cost)
    validate_on_compile: bool = True
    document_kind: str = "document"  # what users call this target's documents, for messages

    def missing_extra(self) -> str | None:
        """The install hint when the optional dependency is absent, else None (no import)."""
        if self.extra_module is None:
            return None
        import importlib.util

        try:
            found = importlib.util.find_spec(self.extra_module) is not None
        except (ImportError, ValueError):
            found = False
        return None if found else f"pip install 'pipecast[{self.extra}]'"

    def __repr__(self) -> str:
        return f"<pipecast target {self.name}>"


def unused(*_: Any) -> None:  # pragma: no cover - keeps type checkers quiet on protocols
    return None
