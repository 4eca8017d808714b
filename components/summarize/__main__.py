"""``python -m pipecast.components.summarize --tracks DIR --summary DIR --report DIR``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from pipecast.components._common import run_main
from pipecast.components.summarize._summarize import summarize


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="summarize", description="Summarise tracks; HTML report.")
    p.add_argument("--tracks", type=Path, required=True, help="output of track_objects")
    p.add_argument("--summary", type=Path, required=True, help="output folder for summary.json")
    p.add_argument("--report", type=Path, required=True, help="output folder for index.html")
    p.add_argument("--title", default="Video analysis report")
    return p


def _body(args: argparse.Namespace) -> str:
    objects = summarize(args.tracks, args.summary, args.report, args.title)
    return f"{objects} objects; report at {args.report / 'index.html'}"


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(parser(), _body, argv)


if __name__ == "__main__":
    raise SystemExit(main())
