"""The shard-safe frames layout: every frame carries its own metadata, no file is shared.

A step scaled out with ``set_instances(count, shard=[...])`` sees only its shard, split by
object (DESIGN §13), and its machines write into one output prefix. The default layout does not
survive that: ``extract_frames`` writes one ``frames/index.json`` for all its videos (every
machine would write it), and ``detect_objects`` needs that index to place each frame in time
(a frame split from its index is lost). With ``PIPECAST_FRAMES_LAYOUT=per-frame`` in the step's
environment (``task.set_env(...)``; the container is unchanged) the video components instead:

- ``extract_frames`` writes no index; each JPEG holds its metadata (the video's name, size,
  source fps and duration, the frame's number, time and source index, the extraction fps) as
  JSON in a JPEG comment segment (``COM``, which every decoder skips); a machine with no video
  writes nothing;
- ``detect_objects`` reads the frames it has (any subset of any videos) from their comments and
  writes, per video, ``<video>/<first frame>.jsonl`` and ``<video>/<first frame>.json``: names
  derived from its inputs, so no two machines write the same file;
- ``track_objects`` reads either layout and joins the pieces of each video by frame number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipecast.components._common import ComponentError

__all__ = ["LAYOUT_ENV", "embed", "enabled", "read_meta"]

LAYOUT_ENV = "PIPECAST_FRAMES_LAYOUT"
_SOI, _COM = b"\xff\xd8", 0xFE


def enabled() -> bool:
    """True when the step runs with ``PIPECAST_FRAMES_LAYOUT=per-frame``."""
    value = os.environ.get(LAYOUT_ENV, "")
    if value not in ("", "per-frame", "index"):
        raise ComponentError(f"{LAYOUT_ENV} must be 'per-frame' or 'index', got {value!r}")
    return value == "per-frame"


def embed(jpeg: bytes, meta: dict[str, Any]) -> bytes:
    """``jpeg`` with ``meta`` as JSON in a comment segment right after the start marker."""
    payload = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if not jpeg.startswith(_SOI) or len(payload) > 65533:
        raise ComponentError("cannot embed frame metadata: not a JPEG, or metadata too large")
    segment = bytes([0xFF, _COM]) + (len(payload) + 2).to_bytes(2, "big") + payload
    return _SOI + segment + jpeg[2:]


def read_meta(path: Path) -> dict[str, Any] | None:
    """The metadata :func:`embed` wrote into the JPEG at ``path``, or None if it has none."""
    data = path.read_bytes()
    if not data.startswith(_SOI):
        return None
    at = 2
    while at + 4 <= len(data) and data[at] == 0xFF:
        marker = data[at + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no comment before the pixels
            return None
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker == _COM:
            try:
                found = json.loads(data[at + 4 : at + 2 + length].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return None
            return found if isinstance(found, dict) and "video" in found else None
        at += 2 + length
    return None
