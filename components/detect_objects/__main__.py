"""``python -m pipecast.components.detect_objects --frames DIR --detections DIR [...]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipecast.components._common import run_main
from pipecast.components.detect_objects._detect import METHODS, Settings, detect


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="detect_objects", description="Detect objects in frames.")
    p.add_argument("--frames", type=Path, required=True, help="output of extract_frames")
    p.add_argument("--detections", type=Path, required=True, help="output folder")
    p.add_argument("--threshold", type=float, default=0.5, help="minimum detection score")
    p.add_argument("--method", default="background", help=f"one of {', '.join(METHODS)}")
    p.add_argument("--min_area", type=int, default=80, help="smallest blob, in pixels")
    return p


def _body(args: argparse.Namespace) -> str:
    settings = Settings(args.method, args.threshold, args.min_area)
    frames, found = detect(args.frames, args.detections, settings)
    return f"{found} detections in {frames} frames ({args.method})"


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parser(), _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
