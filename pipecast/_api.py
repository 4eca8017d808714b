"""The Python API behind ``pipecast.compile`` and the CLI: spec → checks → target document."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipecast.errors import (
    ConfigError,
    Diagnostic,
    MissingExtraError,
    PipelineError,
    TargetsError,
    UsageError,
)

if TYPE_CHECKING:
    from pipecast.compilers.target import Document, Target
    from pipecast.config import Config
    from pipecast.dsl import Pipeline, PipelineSpec

__all__ = [
    "check_targets",
    "compile",
    "compile_spec",
    "document_diagnostics",
    "paused_gc",
    "resolve_targets",
]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a pipeline is built and compiled.

    Compiling allocates many small objects that all stay alive until it returns, so the
    collector's periodic full passes find nothing to free yet cost time proportional to the heap:
    large compiles became super-linear (SageMaker, 10,000 steps: 111 µs/step with it running,
    81 µs/step paused, as at 1,000 steps). Reference counting still frees everything else, and
    the collector resumes (and catches up) afterwards. Nested use is harmless.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def resolve_targets(name: str) -> tuple[list[Target], list[str]]:
    """The targets ``name`` stands for (``all``: every registered one whose extra is installed)
    and notes for the ones skipped because an optional dependency is missing."""
    from pipecast.compilers import load_target, target_names

    if name != "all":
        target = load_target(name)
        hint = target.missing_extra()
        if hint:
            raise MissingExtraError(target.extra_module or target.name, target.extra or "")
        return [target], []
    targets, notes = [], []
    for tname in target_names():
        target = load_target(tname)
        hint = target.missing_extra()
        if hint:
            notes.append(f"note: skipped target '{tname}' ({hint} to add it)")
        else:
            targets.append(target)
    return targets, notes


def compile_spec(spec: PipelineSpec, target: Target, config: Config) -> Document:
    """Check ``spec`` for ``target`` and compile it. Raises PipelineError with every problem."""
    from pipecast._stack import call_deep
    from pipecast.compilers import graph
    from pipecast.compilers.target import Document

    config.require_all(target.required_config, f"the {target.name} target")

    def build() -> tuple[graph.CheckedPipeline, Document]:
        with paused_gc():
            checked = graph.check(spec, target, config)
            return checked, target.compile(checked, config)

    # deeply nested graphs recurse deeply; large ones go straight to the deep stack
    checked, document = call_deep(build, eager=len(spec.steps) > 256)
    limit = target.limits.max_document_bytes
    size = len(document.text.encode("utf-8"))
    if limit is not None and size > limit:
        raise PipelineError(
            [
                Diagnostic(
                    "PC009",
                    f"the {target.name} document is {size:,} bytes; the service accepts {limit:,}",
                    spec.location,
                    "split the pipeline into smaller ones",
                )
            ],
            pipeline=spec.name,
        )
    refused = document_diagnostics(spec, target, document.text)
    if refused:
        raise PipelineError(refused, pipeline=spec.name)
    notes = tuple(w.format() for w in checked.warnings) + document.notes
    return Document(document.target, document.text, document.suffix, notes)


def check_targets(
    spec: PipelineSpec,
    targets: list[Target],
    config: Config,
    early: list[Diagnostic] | tuple[Diagnostic, ...] = (),
) -> list[Document]:
    """Compile ``spec`` for every target in ``targets``, or raise one error with every problem
    of every target (``compile --target all`` and ``validate``).

    Why: stopping at the first failing target hid the others' problems, and a graph error was
    repeated once per target. Here each target is checked in full; a diagnostic every failing
    target reports (a graph or DSL mistake) is shown once, the rest under the target's name
    (:class:`~pipecast.errors.TargetsError`). ``early``: problems the DSL found while building
    ``spec`` (it left those settings out), shared by all targets; with any, nothing compiles.
    """
    documents: list[Document] = []
    found: dict[str, list[Diagnostic]] = {}
    other: dict[str, list[str]] = {}
    for target in targets:
        try:
            documents.append(compile_spec(spec, target, config))
        except PipelineError as exc:
            found[target.name] = list(exc.diagnostics)
        except ConfigError as exc:
            if len(targets) == 1:
                raise  # one target: the configuration error alone, as ever
            other[target.name] = [str(exc)]
    if not found and not other and not early:
        return documents
    if len(targets) == 1 and not other:
        raise PipelineError([*early, *found.get(targets[0].name, [])], pipeline=spec.name)
    failing = [set(ds) for ds in found.values()]
    shared = set.intersection(*failing) if len(failing) > 1 and not documents else set()
    by_target = {name: [d for d in ds if d not in shared] for name, ds in found.items()}
    raise TargetsError(
        [*early, *sorted(shared, key=Diagnostic.sort_key)],
        by_target,
        other,
        pipeline=spec.name,
    )


# what to change in the pipeline when the service's model refuses a field (first match wins)
_DOCUMENT_HINTS = (
    ("MaxRuntimeInSeconds", "shorten .set_timeout(...) (or timeout= on the component)"),
    ("Environment", "keep .set_env(...) names and values short; pass large data as an input"),
    ("S3Uri", "inputs and outputs are S3 URIs: check dsl.importer(uri=...) and artifact_root"),
    (
        "/Retry/",
        "check .set_retry(Retry(...)): its backoff is a number of seconds the service caps",
    ),
    ("TimeoutSeconds", "shorten .set_timeout(...) (or timeout= on the component)"),
)


def document_diagnostics(spec: PipelineSpec, target: Target, text: str) -> list[Diagnostic]:
    """The checks ``deploy`` runs on a compiled document (``Target.validate_document``: service
    limits, API models), as PC013 diagnostics at the step's line: what validates deploys."""
    if target.validate_document is None or not target.validate_on_compile:
        return []
    steps = {s.id: s for s in spec.steps}
    out = []
    for step_id, problem in target.validate_document(text):
        step = steps.get(step_id) if step_id else None
        hint = next((h for key, h in _DOCUMENT_HINTS if key in problem), None)
        where = f"step '{step.id}': " if step else ""
        out.append(
            Diagnostic(
                "PC013",
                f"{where}the {target.name} service would refuse this document: {problem}",
                (step.location if step else None) or spec.location,
                hint or "pipecast deploy refuses documents that fail this check",
                step=step.id if step else None,
            )
        )
    return out


def compile(
    pipeline: Pipeline | PipelineSpec,
    target: str,
    config: str | Path | Mapping[str, Any] | Config | None = None,
) -> str:
    """Compile ``pipeline`` for ``target`` and return the exact text the CLI would write.

    ``config`` is a path to a TOML file, a mapping of settings, or None to search for
    ``pipecast.toml`` / ``pyproject.toml`` as the CLI does.
    """
    from pipecast.config import load_config
    from pipecast.dsl import Pipeline, PipelineSpec

    if isinstance(pipeline, Pipeline):
        with paused_gc():
            spec = pipeline.spec  # the first access runs the pipeline function
        source = pipeline.location.file if pipeline.location else None
    elif isinstance(pipeline, PipelineSpec):
        spec, source = pipeline, None
    else:
        raise UsageError(f"compile() takes a @dsl.pipeline or a PipelineSpec, got {pipeline!r}")
    if target == "all":
        raise UsageError("compile() returns one document; pass one target name, not 'all'")
    cfg = load_config(config, pipeline_file=source)
    targets, _ = resolve_targets(target)
    document = compile_spec(spec, targets[0], cfg)
    return document.text
