"""Steps run inside pipecast's process (fakes) and what a failed attempt reports: the exit code a
raising fake gets, a timed-out fake abandoned with exit 124 and a note in its stderr, the error of
a process that failed without a word, and where imported inputs are put."""

from __future__ import annotations

import threading
from pathlib import Path

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.testing import run_offline


def one_step(command: list[str], timeout: int | None = None):
    @dsl.container_component(image="r.example.com/s:1", command=command)
    def step(out: Output[Dataset]):
        """One step."""

    @dsl.pipeline(name="one")
    def one():
        task = step().set_name("s")
        if timeout is not None:
            task.set_timeout(timeout)

    return one


def test_a_fake_that_raises_fails_its_step_with_exit_code_1_and_its_traceback(tmp_path):
    def broken(out):
        raise RuntimeError("the fake broke")

    result = run_offline(one_step(["true"]), tmp_path / "runs", fakes={"s": broken})
    step = result["s"]
    assert (step.status, step.exit_code) == ("failed", 1)
    assert step.error is not None and step.error.startswith("exit code 1; stderr ends with:\n")
    assert step.error.endswith("RuntimeError: the fake broke")


def test_a_fake_past_its_timeout_is_abandoned_with_exit_124(tmp_path):
    release = threading.Event()

    def slow(out):
        release.wait(5)

    try:
        result = run_offline(one_step(["true"], timeout=1), tmp_path / "runs", fakes={"s": slow})
    finally:
        release.set()
    step = result["s"]
    assert (step.status, step.exit_code) == ("failed", 124)
    stderr = (Path(step.log_dir) / "stderr.txt").read_text()
    assert stderr == "\ntimed out after 1s (in-process code goes on in its thread)\n"


def test_a_process_that_fails_silently_reports_its_exit_code_alone(tmp_path):
    result = run_offline(one_step(["sh", "-c", "exit 3"]), tmp_path / "runs")
    step = result["s"]
    assert (step.status, step.exit_code, step.error) == ("failed", 3, "exit code 3")


def test_an_imported_input_is_read_from_the_runs_inputs_folder(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("A")

    @dsl.container_component(image="r.example.com/r:1", command=["false"])
    def read(data: Input[Dataset], out: Output[Dataset]):
        """Reads the import."""

    @dsl.pipeline(name="imports")
    def imports(uri: str):
        read(data=dsl.importer(uri=uri).output).set_name("read")

    seen = {}

    def read_fake(data, out):
        seen["path"] = Path(data.path)

    result = run_offline(
        imports, tmp_path / "runs", params={"uri": str(tmp_path / "raw")}, fakes={"read": read_fake}
    )
    assert result.succeeded
    assert seen["path"].parent == result.run_dir / "_inputs"
    assert (seen["path"] / "a.txt").read_text() == "A"
