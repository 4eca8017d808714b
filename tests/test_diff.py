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
    assert all(c.kind == "changed" for c in changes)
    # detect-objects: only its image changed (its resources did not)
    image = [c for c in changes if c.id == "detect-objects"]
    assert [c.field for c in image] == ["image"], image
    assert image[0].old.endswith("0.1.0") and image[0].new.endswith("0.2.0")
    assert detect.resources is not None and detect.resources != Resources(cpu=8, memory="32GiB")
    # track: its new resources show, as what the target makes of them (an instance type on the
    # AWS targets, cpu and memory in the user's units elsewhere), and nothing else
    track = {c.field: (c.old, c.new) for c in changes if c.id == "track"}
    if target in ("sagemaker", "stepfunctions"):
        assert set(track) == {"instance type"}, track
        assert track["instance type"][0] != track["instance type"][1]
    else:
        assert set(track) == {"resources.cpu", "resources.memory"}, track
        assert track["resources.memory"][1] in ("32GiB", "32Gi")
    # the complete review adds nothing the summary does not already show
    review = diff.compare_texts(old_text, new_text)
    assert not review.equal and review.unexplained == [], review.unexplained


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


def _edited(**step_changes):
    """The flagship spec with ``track`` replaced by ``replace(track, **step_changes)``."""
    spec = load_example("video_analysis").spec
    steps = tuple(s if s.id != "track" else replace(s, **step_changes) for s in spec.steps)
    return spec, replace(spec, steps=steps)


@pytest.mark.parametrize("target", _reviewable_targets())
def test_an_env_var_added_to_a_step_is_shown(target):
    spec, changed = _edited(
        env=(*load_example("video_analysis").spec.step("track").env, ("NEW_FLAG", "1"))
    )
    review = diff.compare_texts(compile_text(spec, target), compile_text(changed, target))
    rows = [(c.id, c.field, c.old, c.new) for c in review.changes]
    assert rows == [("track", "env.NEW_FLAG", None, "1")], rows
    assert "env.NEW_FLAG: (none) → 1" in review.render("text")


@pytest.mark.parametrize("target", _reviewable_targets())
def test_a_parameter_default_change_is_shown_on_every_target(target):
    spec = load_example("video_analysis").spec
    params = tuple(p if p.name != "fps" else replace(p, default=6.0) for p in spec.parameters)
    changed = replace(spec, parameters=params)
    review = diff.compare_texts(compile_text(spec, target), compile_text(changed, target))
    assert not review.equal
    rows = [(c.scope, c.id, c.field, c.old, c.new) for c in review.changes]
    assert ("parameter", "fps", "default", 5.0, 6.0) in rows, rows
    assert review.unexplained == []


@pytest.mark.parametrize("target", [t for t in _reviewable_targets() if t != "ir"])
def test_a_field_the_summary_does_not_show_is_reported_by_path(target, tmp_path):
    """A larger disk changes only VolumeSizeInGB (SageMaker, Step Functions) or a field no
    summary row models: the review lists it by path and the CLI exits 1."""
    spec, _ = _edited()
    text = compile_text(spec, target)
    document = diff.load_document(text)
    marker = "pipecast-test-unmodelled"
    if target == "kubeflow":
        main = document[0] if isinstance(document, list) else document
        main["pipelineInfo"]["description"] = marker
    elif target == "sagemaker":
        document["Steps"][2]["Arguments"]["ProcessingResources"]["ClusterConfig"][
            "VolumeSizeInGB"
        ] = 31
    else:
        document["States"]["track"]["Arguments"]["ProcessingResources"]["ClusterConfig"][
            "VolumeSizeInGB"
        ] = 31
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_text(text)
    new.write_text(json.dumps(document))
    result = run_cli("diff", str(old), str(new))
    assert result.returncode == 1 and "no changes" not in result.stdout, result.stdout
    assert "1 other difference" in result.stdout.splitlines()[0]
    expected = (
        "pipelineInfo.description"
        if target == "kubeflow"
        else ("Steps[track]" if target == "sagemaker" else "States.track")
        + ".Arguments.ProcessingResources.ClusterConfig.VolumeSizeInGB: 30 → 31"
    )
    assert expected in result.stdout, result.stdout
    js = json.loads(run_cli("diff", str(old), str(new), "--format", "json").stdout)
    assert js["equal"] is False and len(js["differences"]) == 1


@pytest.mark.skipif("kubeflow" not in _reviewable_targets(), reason="kfp not installed")
def test_kubeflow_memory_change_is_one_row_in_the_users_units():
    spec, changed = _edited(resources=Resources(cpu=2, memory="8GiB"))
    review = diff.compare_texts(compile_text(spec, "kubeflow"), compile_text(changed, "kubeflow"))
    rows = [(c.id, c.field, c.old, c.new) for c in review.changes]
    assert rows == [("track", "resources.memory", "4Gi", "8Gi")], rows
    assert review.unexplained == [] and len(review.differences) == 4  # KFP writes it 4 times


@pytest.mark.parametrize("target", _reviewable_targets())
def test_headers_name_the_pipeline_and_two_pipelines_say_so(target):
    video, camera = _golden("video-analysis", target), _golden("multi-camera", target)
    same = diff.compare_texts(video, video).render()
    assert same == f"pipeline 'video-analysis' ({target}): no changes\n"
    other = diff.compare_texts(video, camera).render()
    assert other.startswith(
        f"pipelines 'video-analysis' and 'multi-camera' ({target}): two different pipelines: "
    )


def test_a_role_change_is_one_row_per_step(tmp_path):
    old = _golden("video-analysis", "sagemaker")
    new = old.replace("role/pipecast-jobs", "role/pipecast-jobs-v2")
    review = diff.compare_texts(old, new)
    assert {(c.id, c.field) for c in review.changes} == {
        (s, "role") for s in ("extract-frames", "detect-objects", "track", "summarize")
    }
    assert review.unexplained == []


def test_bad_inputs_are_one_clear_line(tmp_path):
    golden = GOLDEN_DIR / "video-analysis.sagemaker.json"
    text = golden.read_text()
    cases = {
        "truncated.json": (text[: len(text) // 2], 1, "not valid JSON (truncated?)"),
        "truncated.yaml": (_cut_after_root(_golden("video-analysis", "kubeflow")), 1, "malformed"),
        "other.json": ('{"hello": 1}', 1, "not a document pipecast can read"),
        "empty.json": ("", 1, "empty document"),
    }
    for name, (content, code, message) in cases.items():
        path = tmp_path / name
        path.write_text(content)
        against = golden.with_suffix(".yaml").with_name("video-analysis.kubeflow.yaml")
        result = run_cli("diff", str(against if name.endswith(".yaml") else golden), str(path))
        assert result.returncode == code, (name, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, (
            name,
            result.stderr,
        )
        assert "Traceback" not in result.stderr
    mixed = run_cli("diff", str(golden), str(GOLDEN_DIR / "video-analysis.ir.json"))
    assert mixed.returncode == 2 and "compare two documents of one target" in mixed.stderr
    assert len(mixed.stderr.strip().splitlines()) == 1


def _cut_after_root(text: str) -> str:
    """A KFP document cut a few lines into ``root:`` (still YAML, no longer complete)."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("root:"))
    return "".join(lines[: at + 3])


def test_compile_check_uses_the_same_engine(tmp_path):
    """A stale file whose only change is outside the summary is stale with its path shown; the
    same document written differently is stale too (the bytes must match) and says why."""
    flagship = str(GOLDEN_DIR.parent / "video_analysis.py")
    golden = GOLDEN_DIR / "video-analysis.sagemaker.json"
    document = json.loads(golden.read_text())
    document["Steps"][2]["Arguments"]["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] = 7
    on_disk = tmp_path / "video-analysis.sagemaker.json"
    on_disk.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    stale = run_cli("compile", flagship, "-t", "sagemaker", "-o", str(on_disk), "--check")
    assert stale.returncode == 1 and "Traceback" not in stale.stderr
    assert "1 other difference" in stale.stderr
    assert (
        "Steps[track].Arguments.ProcessingResources.ClusterConfig.VolumeSizeInGB: 7 → 30"
        in stale.stderr
    )
    on_disk.write_text(json.dumps(json.loads(golden.read_text()), indent=4))
    reformatted = run_cli("compile", flagship, "-t", "sagemaker", "-o", str(on_disk), "--check")
    assert reformatted.returncode == 1 and "same document written differently" in (
        reformatted.stderr
    )
    on_disk.write_text(golden.read_text())
    fresh = run_cli("compile", flagship, "-t", "sagemaker", "-o", str(on_disk), "--check")
    assert fresh.returncode == 0 and "up to date" in fresh.stderr
