"""pytest plugin: run pipelines offline in unit tests, with chosen steps replaced by fakes.

Registered as a ``pytest11`` entry point, so installing pipecast gives every test the
``pipecast_run`` fixture::

    def test_detector_sees_the_frames(pipecast_run):
        seen = {}

        def fake_detect(frames, detections, threshold):
            seen["frames"] = sorted(os.listdir(frames.path))
            (Path(detections.path) / "detections.json").write_text("[]")

        result = pipecast_run(video_analysis, params={"video_uri": "tests/data/videos"},
                              fakes={"detect-objects": fake_detect, ...})
        assert result.succeeded
        assert result["detect-objects"].parameters == {"threshold": 0.5}

A fake receives exactly what the real step would: artifact objects (``.path``/``.uri``; output
directories exist) and typed parameters. No cloud, no Docker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from pipecast.runner import Capacity, RunResult, run_pipeline

__all__ = ["pipecast_run", "pipecast_sample_videos", "run_offline"]


def run_offline(
    pipeline: Any,
    workdir: Path,
    params: Mapping[str, Any] | None = None,
    fakes: Mapping[str, Callable[..., Any]] | None = None,
    capacity: Capacity | None = None,
    isolation: str = "inprocess",
) -> RunResult:
    """Check and run ``pipeline`` under ``workdir``; defaults fill missing parameters."""
    from pipecast.compilers import graph
    from pipecast.errors import ParameterError

    spec = getattr(pipeline, "spec", pipeline)
    values = {p.name: p.default for p in spec.parameters if p.optional}
    values.update(params or {})
    missing = [p.name for p in spec.parameters if p.name not in values]
    if missing:
        raise ParameterError(f"pipeline '{spec.name}' needs parameters: {', '.join(missing)}")
    # a fake replaces a step in every iteration ("detect") or in one ("detect/1")
    unknown = {f for f in fakes or {} if f.split("/", 1)[0] not in {s.id for s in spec.steps}}
    if unknown:
        raise ParameterError(f"fakes for unknown steps: {', '.join(sorted(unknown))}")
    return run_pipeline(
        graph.check(spec),
        values,
        workdir,
        fakes=fakes,
        capacity=capacity or Capacity(cpu=4, memory=16 * 1024**3, gpu=1),
        isolation=isolation,
        backoff_scale=0.0,
    )


@pytest.fixture
def pipecast_run(tmp_path: Path) -> Callable[..., RunResult]:
    """``pipecast_run(pipeline, params=..., fakes=..., capacity=...)`` → RunResult."""

    def run(pipeline: Any, **kwargs: Any) -> RunResult:
        return run_offline(pipeline, tmp_path / "runs", **kwargs)

    return run


@pytest.fixture(scope="session")
def pipecast_sample_videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ``videos/*.mp4`` (moving shapes) and ``ground_truth.json``, made once.

    For tests of video components: :mod:`pipecast.components.synthetic` reads the truth back
    (``load``, ``boxes_at``). Needs the ``components`` extra (OpenCV); skips without it.
    """
    pytest.importorskip("cv2", reason="needs the extra: pip install 'pipecast[components]'")
    from pipecast.components.synthetic import generate

    out = tmp_path_factory.mktemp("sample-videos")
    generate(out, videos=2, seed=7)
    return out
