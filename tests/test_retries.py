"""What ``Retry(max_attempts)`` retries on each target (the README's table), tested per target.

- SageMaker: ``RetryPolicies`` retry service faults only; a failing container is not retried,
  and compiling says so (a warning, not an error).
- Step Functions: the Task's ``Retry`` catches ``States.TaskFailed``, which is what a ``.sync``
  job that failed (container errors included) raises: executed here, a job failing twice runs
  three times.
- Kubeflow: the task's ``retryPolicy`` retries the pod whatever made it fail.
- Local runner: a process that exits non-zero is run again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from asl_interpreter import ExecutionFailed, execute
from helpers import EXAMPLE_CONFIG, ROOT, compile_text

from pipecast import dsl
from pipecast._api import compile_spec, resolve_targets
from pipecast.compilers.sagemaker import RETRYABLE
from pipecast.compilers.stepfunctions import RETRY_ERRORS
from pipecast.dsl import Dataset, Output, Resources, Retry

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/gen/step:1.0.0"


@dsl.container_component(
    image=IMAGE, command=["python", "-m", "gen"], resources=Resources(cpu=2, memory="4GiB")
)
def work(out: Output[Dataset]) -> None:
    """Produce."""


def retried(attempts: int) -> dsl.Pipeline:
    @dsl.pipeline(name="retried")
    def pipeline() -> None:
        work().set_name("flaky").set_retry(Retry(max_attempts=attempts, backoff="10s"))

    return pipeline


def notes_for(target: str, pipeline: dsl.Pipeline) -> tuple[str, ...]:
    (t,), _ = resolve_targets(target)
    return compile_spec(pipeline.spec, t, EXAMPLE_CONFIG).notes


def test_sagemaker_retries_service_faults_and_warns_about_container_errors() -> None:
    document = json.loads(compile_text(retried(3), "sagemaker"))
    (policy,) = document["Steps"][0]["RetryPolicies"]
    assert policy["ExceptionType"] == RETRYABLE
    assert all(e.startswith("SageMaker.") for e in RETRYABLE)  # service faults only
    assert policy["MaxAttempts"] == 2
    (warning,) = [n for n in notes_for("sagemaker", retried(3)) if "Retry(3)" in n]
    assert "warning[PC008]" in warning and "exits with an error is not retried" in warning
    assert "stepfunctions, kubeflow and the local runner retry any failure" in warning


def test_no_retry_no_warning() -> None:
    assert not any("Retry(" in n for n in notes_for("sagemaker", retried(1)))
    document = json.loads(compile_text(retried(1), "sagemaker"))
    assert "RetryPolicies" not in document["Steps"][0]


@pytest.mark.parametrize("target", ["stepfunctions", "kubeflow"])
def test_targets_that_retry_any_failure_do_not_warn(target: str) -> None:
    if target == "kubeflow":
        pytest.importorskip("kfp")
    assert not any("Retry(" in n for n in notes_for(target, retried(3)))


def test_step_functions_retries_a_failed_job() -> None:
    """A job that fails (``States.TaskFailed``, as a container error does) is run again."""
    assert "States.TaskFailed" in RETRY_ERRORS
    document = json.loads(compile_text(retried(3), "stepfunctions"))
    _, player = execute(document, {}, failures={"flaky": 2})
    names = [job.name for job in player.jobs if job.state == "flaky"]
    assert len(names) == 3 and len(set(names)) == 3  # each attempt has its own job name
    with pytest.raises(ExecutionFailed):
        execute(document, {}, failures={"flaky": 3})


def test_kubeflow_retries_the_pod() -> None:
    pytest.importorskip("kfp")
    documents = list(yaml.safe_load_all(compile_text(retried(3), "kubeflow")))
    task = documents[0]["root"]["dag"]["tasks"]["flaky"]
    assert task["retryPolicy"]["maxRetryCount"] == 2
    assert task["retryPolicy"]["backoffDuration"] == "10s"


FAIL_ONCE = (
    "import pathlib, sys; marker = pathlib.Path(sys.argv[1]); "
    "sys.exit(0) if marker.exists() else (marker.touch(), sys.exit(3))"
)


def test_local_runner_retries_the_process(tmp_path: Path) -> None:
    """A container step whose process exits 3 on its first attempt succeeds on the second;
    without a retry the same process fails the run."""
    from pipecast.testing import run_offline

    def pipeline_with(attempts: int, marker: Path) -> dsl.Pipeline:
        @dsl.container_component(
            image=IMAGE,
            command=[sys.executable, "-c", FAIL_ONCE],
            args=[str(marker), dsl.output_path("out")],
        )
        def fail_once(out: Output[Dataset]) -> None:
            """Exit 3 the first time."""

        @dsl.pipeline(name="local-retry")
        def pipeline() -> None:
            fail_once().set_retry(Retry(max_attempts=attempts, backoff=1))

        return pipeline

    result = run_offline(pipeline_with(2, tmp_path / "a"), tmp_path / "runs-a")
    assert result["fail-once"].status == "succeeded" and result["fail-once"].attempts == 2
    result = run_offline(pipeline_with(1, tmp_path / "b"), tmp_path / "runs-b")
    assert result["fail-once"].status == "failed" and result["fail-once"].exit_code == 3


def test_readme_documents_one_meaning_per_target() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("**What `Retry(max_attempts)` retries**") :]
    rows = [line for line in table.splitlines()[:8] if line.startswith("| ")]
    assert [r.split("|")[1].strip() for r in rows[1:]] == [
        "SageMaker",
        "Step Functions",
        "Kubeflow",
        "local runner",
    ]
    assert all(e in rows[1] for e in RETRYABLE)
    assert "States.TaskFailed" in rows[2]
