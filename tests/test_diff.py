"""``pipecast diff``: semantic, per-step changes between two documents of one target."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from helpers import GOLDEN_DIR, available_targets, compile_text, load_example, run_cli

from pipecast.compilers import diff, load_target
from pipecast.dsl import Resources


def _golden(name: str, target: str) -> str:
    return (GOLDEN_DIR / f"{name}.{load_target(target).suffix}").read_text()


def _reviewable_targets() -> list[str]:
    return [t for t in available_targets() if load_target(t).review is not None]


@pytest.mark.parametrize("target", _reviewable_targets())
def test_detects_target_from_content_and_equal_documents_have_no_changes(target):
    text = _golden("video-analysis", target)
    document = diff.load_document(text)
    assert diff.detect_target(document) == target
    summary = diff.summarize_text(text)
    assert set(summary.steps) == {"extract-frames", "detect-objects", "track", "summarize"}
    assert diff.diff(summary, summary) == []


@pytest.mark.parametrize("target", _reviewable_targets())
def test_one_changed_image_and_resources_show_as_exactly_that_step(target, tmp_path):
    pipeline = load_example("video_analysis")
    spec = pipeline.spec
    detect = spec.step("detect-objects")
    comps = tuple(
        c if c.name != "detect-objects" else replace(c, image=c.image.replace("0.1.0", "0.2.0"))
        for c in spec.components
    )
    steps = tuple(
        s if s.id != "track" else replace(s, resources=Resources(cpu=8, memory="32GiB"))
        for s in spec.steps
    )
    changed = replace(spec, components=comps, steps=steps)
    old_text = compile_text(spec, target)
    new_text = compile_text(changed, target)
    old, new = diff.summarize_text(old_text), diff.summarize_text(new_text)
    changes = diff.diff(old, new)
    assert {c.id for c in changes} == {"detect-objects", "track"}
    image = [c for c in changes if c.id == "detect-objects" and c.field == "image"]
    assert image and image[0].old.endswith("0.1.0") and image[0].new.endswith("0.2.0")
    assert all(c.kind == "changed" for c in changes)
    assert detect.resources is not None


def test_cli_formats_and_exit_codes(tmp_path):
    old = GOLDEN_DIR / "video-analysis.ir.json"
    data = json.loads(old.read_text())
    data["steps"] = [s for s in data["steps"] if s["id"] != "summarize"]
    data["parameters"][1]["default"] = 6.0
    new = tmp_path / "new.ir.json"
    new.write_text(json.dumps(data))
    same = run_cli("diff", str(old), str(old))
    assert same.returncode == 0 and "no changes" in same.stdout
    text = run_cli("diff", str(old), str(new))
    assert text.returncode == 1
    assert text.stdout.splitlines()[0] == (
        "pipeline 'video-analysis' (ir): 1 step removed, 1 parameter changed"
    )
    assert "- step summarize: container step, image " in text.stdout
    md = run_cli("diff", str(old), str(new), "--format", "markdown")
    assert (
        md.stdout.startswith("### pipeline 'video-analysis'")
        and "| default | `5.0` | `6.0` |" in md.stdout
    )
    js = json.loads(run_cli("diff", str(old), str(new), "--format", "json").stdout)
    assert js["equal"] is False and {c["id"] for c in js["changes"]} == {"summarize", "fps"}


def test_unreadable_or_mixed_documents_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_cli("diff", str(bad), str(GOLDEN_DIR / "video-analysis.ir.json"))
    assert result.returncode == 1 and "not valid JSON" in result.stderr
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    result = run_cli("diff", str(other), str(other))
    assert result.returncode == 1 and "not a document pipecast can read" in result.stderr
    assert "Traceback" not in result.stderr
    missing = run_cli("diff", str(tmp_path / "nope.json"), str(other))
    assert missing.returncode == 1 and "no such file" in missing.stderr
