"""The ``ir`` target: the pipeline spec itself, as canonical JSON (for review and other tools)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._target import Capabilities, Document, Limits, Target
from .canonical import dumps_json

if TYPE_CHECKING:
    from pipecast.config import Config

    from .graph import CheckedPipeline


def compile(checked: CheckedPipeline, config: Config) -> Document:
    """The IR document; it validates against ``schemas/pipeline.schema.json``."""
    return Document(target="ir", text=dumps_json(checked.spec.to_dict()), suffix="ir.json")


TARGET = Target(
    name="ir",
    suffix="ir.json",
    description="pipecast's own pipeline spec (JSON), the input of every other target",
    capabilities=Capabilities(
        spot=True,
        gpu=True,
        retry=True,
        caching=True,
        timeout=True,
        env=True,
        manifest_inputs=True,
        python_components=True,
        instance_type=True,
        disk=True,
        requires_image=False,
    ),
    limits=Limits(),
    compile=compile,
)
