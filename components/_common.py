"""What the video components share: the formats they hand to each other and the CLI plumbing.

The components run in different images; each has pipecast installed, and nothing heavier is
imported here.

Formats (each versioned, so a component can refuse data it does not understand):

- ``frames/index.json`` (``pipecast.frames/1``): per video its size, source fps, duration and
  the extracted frames (file relative to the frames directory, time in seconds, source index).
- ``detections/detections.jsonl`` (``pipecast.detections/1``): one line per frame:
  ``{"video", "frame", "t", "objects": [{"box": [x, y, w, h], "score", "label"}]}``, and
  ``detections/meta.json`` with the video metadata and the detector's settings.
- ``tracks/tracks.json`` (``pipecast.tracks/1``): per video the tracks (id, label, start, end,
  path of ``[t, x, y, w, h]``) and the number of detections per frame.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pipecast.compilers.canonical import atomic_write

__all__ = [
    "Box",
    "ComponentError",
    "iou",
    "read_json",
    "read_jsonl",
    "run_main",
    "write_json",
    "write_jsonl",
    "write_text",
]

FRAMES_FORMAT = "pipecast.frames/1"
DETECTIONS_FORMAT = "pipecast.detections/1"
TRACKS_FORMAT = "pipecast.tracks/1"
SUMMARY_FORMAT = "pipecast.summary/1"


Box = tuple[float, float, float, float]  # x, y, width, height in pixels


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two ``[x, y, w, h]`` boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class ComponentError(Exception):
    """Bad input to a component: reported as one line on stderr with exit code 2, no traceback."""


def write_text(path: Path, text: str) -> None:
    """Write atomically, so a killed step leaves no half-written file (pipecast's own writer)."""
    atomic_write(path, text)


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_jsonl(path: Path, rows: Iterable[Any]) -> None:
    write_text(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def read_json(path: Path, expected_format: str) -> dict[str, Any]:
    """Read a JSON document a previous component wrote, checking its format tag."""
    if not path.is_file():
        raise ComponentError(f"{path} not found: is the input the output of the right step?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ComponentError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data, dict) or data.get("format") != expected_format:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ComponentError(f"{path}: expected format {expected_format!r}, found {found!r}")
    return data


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise ComponentError(f"{path} not found: is the input the output of the right step?")
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ComponentError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc


def run_main(
    parser: argparse.ArgumentParser,
    body: Callable[[argparse.Namespace], str],
    argv: Sequence[str] | None = None,
) -> int:
    """Parse ``--name value`` arguments (the container contract), run, print one result line.

    Bad input exits 2 with a one-line message; anything else is a bug and keeps its traceback.
    """
    args = parser.parse_args(argv)
    try:
        message = body(args)
    except ComponentError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    print(f"{parser.prog}: {message}")
    return 0
