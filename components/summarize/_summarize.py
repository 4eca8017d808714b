"""Turn tracks into a JSON summary and a self-contained HTML report with a timeline per video.

The report is one HTML file with inline SVG (drawn by matplotlib) and inline CSS: no scripts and
no network, so it opens from S3, from an e-mail or offline, and renders the same everywhere.
The SVG is made reproducible (fixed hash salt, no date), so the same tracks give the same bytes.
"""

from __future__ import annotations

import html
import io
import itertools
import math
from pathlib import Path
from typing import Any

from pipecast.components._common import (
    SUMMARY_FORMAT,
    TRACKS_FORMAT,
    read_json,
    write_json,
    write_text,
)


def _distance(path: list[list[float]]) -> float:
    centres = [(p[1] + p[3] / 2, p[2] + p[4] / 2) for p in path]
    return sum(math.dist(a, b) for a, b in itertools.pairwise(centres))


def summarize_video(video: dict[str, Any]) -> dict[str, Any]:
    """Per-video numbers a reader of the report wants first."""
    tracks = video["tracks"]
    counts = [c for _, c in video["counts"]]
    per_track = [
        {
            "id": tr["id"],
            "label": tr["label"],
            "start": tr["start"],
            "end": tr["end"],
            "seconds": round(tr["end"] - tr["start"], 3),
            "detections": tr["detections"],
            "mean_score": tr["mean_score"],
            "distance_px": round(_distance(tr["path"]), 1),
        }
        for tr in tracks
    ]
    labels: dict[str, int] = {}
    for tr in tracks:
        labels[tr["label"]] = labels.get(tr["label"], 0) + 1
    return {
        "name": video["name"],
        "source": video.get("source", video["name"]),
        "duration": video.get("duration", 0.0),
        "frames": len(counts),
        "objects": len(tracks),
        "by_label": dict(sorted(labels.items())),
        "max_simultaneous": max(counts, default=0),
        "mean_per_frame": round(sum(counts) / len(counts), 3) if counts else 0.0,
        "tracks": per_track,
    }


def timeline_svg(video: dict[str, Any]) -> str:
    """A track timeline (one bar per track) over the per-frame detection count, as SVG text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tracks = video["tracks"]
    duration = max([video.get("duration", 0.0)] + [tr["end"] for tr in tracks] + [1.0])
    with plt.rc_context({"svg.hashsalt": "pipecast", "svg.fonttype": "none", "font.size": 9}):
        fig, (top, bottom) = plt.subplots(
            2,
            1,
            figsize=(8, 1.2 + 0.28 * max(len(tracks), 1) + 1.4),
            sharex=True,
            gridspec_kw={"height_ratios": [max(len(tracks), 1), 4]},
        )
        for row, tr in enumerate(tracks):
            top.broken_barh(
                [(tr["start"], max(tr["end"] - tr["start"], 0.05))],
                (row - 0.35, 0.7),
                color=f"C{row % 10}",
            )
        top.set_yticks(range(len(tracks)), [f"#{tr['id']} {tr['label']}" for tr in tracks])
        top.set_ylim(-0.7, max(len(tracks), 1) - 0.3)
        top.invert_yaxis()
        top.set_title(f"{video['name']}: {len(tracks)} tracked objects")
        times = [t for t, _ in video["counts"]]
        counts = [c for _, c in video["counts"]]
        bottom.step(times, counts, where="post", color="black", linewidth=1)
        bottom.set_ylabel("detections")
        bottom.set_xlabel("time (s)")
        bottom.set_xlim(0, duration)
        bottom.set_ylim(0, max([*counts, 1]) + 0.5)
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25rem 0.75rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { max-width: 100%; height: auto; }
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_html(title: str, summary: dict[str, Any], svgs: dict[str, str]) -> str:
    overview = _table(
        ["video", "duration (s)", "frames", "objects", "max at once", "mean per frame"],
        [
            [
                v["name"],
                v["duration"],
                v["frames"],
                v["objects"],
                v["max_simultaneous"],
                v["mean_per_frame"],
            ]
            for v in summary["videos"]
        ],
    )
    sections = []
    for v in summary["videos"]:
        tracks = _table(
            ["track", "label", "start (s)", "end (s)", "detections", "mean score", "moved (px)"],
            [
                [
                    f"#{t['id']}",
                    t["label"],
                    t["start"],
                    t["end"],
                    t["detections"],
                    t["mean_score"],
                    t["distance_px"],
                ]
                for t in v["tracks"]
            ],
        )
        sections.append(
            f'<section id="{html.escape(v["name"])}"><h2>{html.escape(v["name"])}</h2>'
            f"<figure>{svgs[v['name']]}</figure>{tracks}</section>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>{summary['objects']} objects tracked in {len(summary['videos'])} videos.</p>"
        f"{overview}{''.join(sections)}</body></html>\n"
    )


def summarize(tracks_dir: Path, summary_dir: Path, report_dir: Path, title: str) -> int:
    """Write ``summary_dir/summary.json`` and ``report_dir/index.html``; the object count."""
    data = read_json(tracks_dir / "tracks.json", TRACKS_FORMAT)
    videos = [summarize_video(v) for v in data["videos"]]
    summary = {
        "format": SUMMARY_FORMAT,
        "fps": data["fps"],
        "objects": sum(v["objects"] for v in videos),
        "videos": videos,
    }
    write_json(summary_dir / "summary.json", summary)
    svgs = {v["name"]: timeline_svg(v) for v in data["videos"]}
    write_text(report_dir / "index.html", report_html(title, summary, svgs))
    return int(summary["objects"])
