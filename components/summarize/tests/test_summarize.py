"""summarize: the summary agrees with the tracks; the report is deterministic and renders."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pipecast.components.summarize.__main__ import main
from pipecast.components.synthetic import load, truth_detections
from pipecast.components.track_objects._track import Settings, track

pytest.importorskip("matplotlib")

CHROMIUM = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)


@pytest.fixture(scope="module")
def tracks(pipecast_sample_videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("summarize")
    truth_detections(load(pipecast_sample_videos / "ground_truth.json"), work / "det", fps=5.0)
    track(work / "det", work / "tracks", Settings())
    return work / "tracks"


def _summarize(tracks: Path, out: Path) -> tuple[dict, str]:
    assert (
        main(
            [
                "--tracks",
                str(tracks),
                "--summary",
                str(out / "s"),
                "--report",
                str(out / "r"),
                "--title",
                "Cams <1&2>",
            ]
        )
        == 0
    )
    return json.loads((out / "s" / "summary.json").read_text()), (
        out / "r" / "index.html"
    ).read_text()


def test_summary_counts_the_true_objects(
    pipecast_sample_videos: Path, tracks: Path, tmp_path: Path
) -> None:
    summary, report = _summarize(tracks, tmp_path)
    truth = {v.name: v for v in load(pipecast_sample_videos / "ground_truth.json")}
    assert summary["format"] == "pipecast.summary/1"
    assert summary["objects"] == sum(len(v.objects) for v in truth.values())
    for video in summary["videos"]:
        expected = truth[video["name"]]
        assert video["objects"] == len(expected.objects)
        assert video["frames"] == 40
        assert 1 <= video["max_simultaneous"] <= len(expected.objects)
        for tr in video["tracks"]:
            assert tr["seconds"] == pytest.approx(tr["end"] - tr["start"])
            assert tr["distance_px"] > 20  # every synthetic object moves
    assert report.count("<svg") == len(truth)
    assert "Cams &lt;1&amp;2&gt;" in report  # user text is escaped
    # self-contained: no scripts, no stylesheets, images or fonts fetched from anywhere
    for fetches in ("<script", "<link", 'src="', 'href="http', "url(http", "@import"):
        assert fetches not in report


def test_report_is_byte_for_byte_reproducible(tracks: Path, tmp_path: Path) -> None:
    assert _summarize(tracks, tmp_path / "a")[1] == _summarize(tracks, tmp_path / "b")[1]


def test_tracks_from_the_wrong_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tracks.json").write_text("[1, 2")
    assert (
        main(
            [
                "--tracks",
                str(tmp_path),
                "--summary",
                str(tmp_path / "s"),
                "--report",
                str(tmp_path / "r"),
            ]
        )
        == 2
    )
    assert "not valid JSON" in capsys.readouterr().err


def open_in_chromium(page: Path, work: Path) -> tuple[str, str, Path]:
    """Headless Chromium: (DOM after load, Chromium's log, screenshot)."""
    assert CHROMIUM is not None
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={work / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run(
        [*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    shot = work / "report.png"
    subprocess.run(
        [*flags, "--window-size=1000,1400", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dom.stdout, dom.stderr, shot


@pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
)
def test_report_opens_in_headless_chromium(tracks: Path, tmp_path: Path) -> None:
    _summarize(tracks, tmp_path)
    dom, log, shot = open_in_chromium(tmp_path / "r" / "index.html", tmp_path)
    assert "<title>Cams &lt;1&amp;2&gt;</title>" in dom
    assert dom.count("<svg") == 2 and "tracked objects" in dom
    problems = [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert problems == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
