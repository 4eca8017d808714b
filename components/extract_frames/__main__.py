"""``python -m pipecast.components.extract_frames --video DIR --frames DIR [--fps 5]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipecast.components._common import run_main
from pipecast.components.extract_frames._extract import extract


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="extract_frames", description="Decode videos into JPEG frames at a chosen rate."
    )
    p.add_argument("--video", type=Path, required=True, help="a video file or a folder of videos")
    p.add_argument("--frames", type=Path, required=True, help="output folder")
    p.add_argument("--fps", type=float, default=5.0, help="frames per second to keep")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality, 1-100")
    return p


def _body(args: argparse.Namespace) -> str:
    done = extract(args.video, args.frames, args.fps, args.quality)
    note = f" (skipped {len(done.skipped)} non-video files)" if done.skipped else ""
    return f"{done.frames} frames from {done.videos} videos at {args.fps:g} fps{note}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parser(), _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
