"""``python -m pipecast.components.track_objects --detections DIR --tracks DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipecast.components._common import run_main
from pipecast.components.track_objects._track import Settings, track


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="track_objects", description="Link detections into tracks.")
    p.add_argument("--detections", type=Path, required=True, help="output of detect_objects")
    p.add_argument("--tracks", type=Path, required=True, help="output folder")
    p.add_argument("--iou_threshold", type=float, default=0.3, help="minimum IoU to match")
    p.add_argument("--max_gap", type=int, default=2, help="frames a track may go unseen")
    p.add_argument("--min_length", type=int, default=3, help="shortest track kept, in frames")
    return p


def _body(args: argparse.Namespace) -> str:
    videos, tracks = track(
        args.detections, args.tracks, Settings(args.iou_threshold, args.max_gap, args.min_length)
    )
    return f"{tracks} tracks in {videos} videos"


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parser(), _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
