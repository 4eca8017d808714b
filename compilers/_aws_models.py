"""The slice of botocore's service models that pipecast's document validators check against.

``pipecast compile`` and ``validate`` run the same document checks as ``deploy`` (DESIGN §15),
but compiling must not import botocore (the ``aws`` extra; ``tests/test_cli.py`` holds it to
that). So the request shapes of the operations pipecast emits (CreateProcessingJob,
CreateTrainingJob, and the S3 / Step Functions calls of run-time handshakes) are extracted from
botocore once, with every constraint the validator reads (type, members, required, min, max,
enum, pattern), into ``compilers/data/aws_requests.json``. ``tests/test_validate_limits.py``
re-extracts them from the installed botocore and fails when they disagree. Regenerate with::

    python -m pipecast.compilers._aws_models
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["OPERATIONS", "extract", "input_shape", "shapes"]

# botocore service → the operations whose requests pipecast writes
OPERATIONS: dict[str, tuple[str, ...]] = {
    "sagemaker": ("CreateProcessingJob", "CreateTrainingJob"),
    "s3": ("GetObject", "ListObjectsV2", "PutObject"),
    "stepfunctions": ("SendTaskSuccess",),
}
_FILE = "aws_requests.json"


def extract() -> dict[str, Any]:
    """The slice, read from the installed botocore (only this function imports it)."""
    import botocore
    import botocore.session

    session = botocore.session.get_session()
    services: dict[str, Any] = {}
    for service, operations in OPERATIONS.items():
        model = session.get_service_model(service)
        table: dict[str, Any] = {}
        inputs = {}
        for operation in operations:
            shape = model.operation_model(operation).input_shape
            inputs[operation] = shape.name
            _collect(shape, table)
        services[service] = {"operations": inputs, "shapes": table}
    return {"botocore": botocore.__version__, "services": services}


def _collect(shape: Any, table: dict[str, Any]) -> None:
    if shape.name in table:
        return
    entry: dict[str, Any] = {"type": shape.type_name}
    table[shape.name] = entry
    metadata = shape.metadata
    for key in ("min", "max", "pattern"):
        if key in metadata:
            entry[key] = metadata[key]
    if getattr(shape, "enum", None):
        entry["enum"] = list(shape.enum)
    if shape.type_name == "structure":
        entry["members"] = {name: member.name for name, member in shape.members.items()}
        entry["required"] = list(shape.required_members)
        for member in shape.members.values():
            _collect(member, table)
    elif shape.type_name == "list":
        entry["member"] = shape.member.name
        _collect(shape.member, table)
    elif shape.type_name == "map":
        entry["key"], entry["value"] = shape.key.name, shape.value.name
        _collect(shape.key, table)
        _collect(shape.value, table)


@cache
def _slice() -> dict[str, Any]:
    path = resources.files("pipecast.compilers") / "data" / _FILE
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def shapes(service: str) -> dict[str, Any]:
    """Every shape of ``service`` in the slice, by name."""
    table: dict[str, Any] = _slice()["services"][service]["shapes"]
    return table


def input_shape(service: str, operation: str) -> str | None:
    """The name of ``operation``'s request shape, or None when the slice does not have it."""
    name = _slice()["services"].get(service, {}).get("operations", {}).get(operation)
    return None if name is None else str(name)


if __name__ == "__main__":  # pragma: no cover - maintenance command
    from pathlib import Path

    from .canonical import atomic_write, dumps_json

    target = Path(__file__).resolve().parent / "data" / _FILE
    atomic_write(target, dumps_json(extract()))
    print(f"wrote {target}")
