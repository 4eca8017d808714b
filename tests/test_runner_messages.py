"""The local runner's refusals, word for word where the words are the contract (code, hint):
resuming a run that does not exist, a local input folder with a dangling symlink, ``file://``
inputs, and the capacity warning on a terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import write_pipeline

from pipecast import dsl
from pipecast.cli import main
from pipecast.compilers import graph
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import RunError
from pipecast.runner import run_pipeline
from pipecast.testing import run_offline

pytestmark = pytest.mark.timeout(120)


@dsl.container_component(image="r.example.com/read:1", command=["true"])
def read(data: Input[Dataset], out: Output[Dataset]):
    """Reads its input folder (a fake does the work)."""


@dsl.pipeline(name="folder")
def folder(uri: str):
    read(data=dsl.importer(uri=uri).output).set_name("read")


HINT = "pass one of the known ids (and the same --workdir), or drop --resume to start a new run"


def test_resuming_a_run_that_does_not_exist_lists_the_last_twenty_known(tmp_path):
    checked = graph.check(folder.spec)
    with pytest.raises(RunError) as none:
        run_pipeline(checked, {"uri": "x"}, tmp_path, run_id="nope", resume=True)
    diagnostic = none.value.diagnostic
    assert (diagnostic.code, diagnostic.hint) == ("PC203", HINT)
    assert diagnostic.message == (
        f"no run 'nope' of pipeline 'folder' under {tmp_path / 'folder'}; known runs: none yet"
    )
    ids = [f"2026010{d}-0000{n:02d}-abcdef" for d in (1, 2) for n in range(11)]  # 22, sorted
    for run_id in ids:
        (tmp_path / "folder" / run_id).mkdir(parents=True)
        (tmp_path / "folder" / run_id / "run.json").write_text("{}")
    (tmp_path / "folder" / "no-journal").mkdir()  # not a run: no run.json
    with pytest.raises(RunError) as some:
        run_pipeline(checked, {"uri": "x"}, tmp_path, run_id="nope", resume=True)
    assert some.value.diagnostic.hint == HINT
    assert some.value.diagnostic.message.endswith(f"known runs: {', '.join(ids[-20:])}")


def test_a_dangling_symlink_in_an_input_folder_is_refused_with_a_hint(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "gone.txt").symlink_to(tmp_path / "missing.txt")
    with pytest.raises(RunError) as caught:
        run_offline(folder, tmp_path / "runs", params={"uri": str(data)}, fakes={"read": print})
    diagnostic = caught.value.diagnostic
    assert diagnostic.code == "PC202"
    assert diagnostic.hint == "copy the file into the input folder, or remove the link"
    assert diagnostic.message == (
        f"input {data}: symlink gone.txt points to nothing ({tmp_path / 'missing.txt'})"
    )


def test_an_input_symlink_out_of_the_folder_names_the_link_and_hint(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "secret.txt").write_text("s")
    (data / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(RunError) as caught:
        run_offline(folder, tmp_path / "runs", params={"uri": str(data)}, fakes={"read": print})
    assert caught.value.diagnostic.message == (
        f"input {data}: symlink leak.txt points outside it ({tmp_path / 'secret.txt'})"
    )
    assert caught.value.diagnostic.hint == "copy the file into the input folder, or remove the link"


@pytest.mark.parametrize("form", ["plain", "file-uri"])
def test_a_local_file_or_file_uri_input_is_copied_in(tmp_path, form):
    source = tmp_path / "in.txt"
    source.write_text("hello")
    uri = str(source) if form == "plain" else f"file://{source}"
    seen = {}

    def fake(data, out):
        seen["files"] = {p.name: p.read_text() for p in Path(data.path).iterdir()}

    result = run_offline(folder, tmp_path / "runs", params={"uri": uri}, fakes={"read": fake})
    assert result.succeeded
    assert seen["files"] == {"in.txt": "hello"}


def test_on_a_terminal_the_capacity_warning_is_printed_as_is(capsys, monkeypatch, tmp_path):
    path = write_pipeline(
        tmp_path,
        '''
@dsl.container_component(image="r.example.com/a:1", command=["true"])
def s(out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="big")
def big():
    s().set_name("big").set_resources(Resources(cpu=8, memory="1GiB"))
''',
    )
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    monkeypatch.setenv("PIPECAST_ENGINE", "process")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--local", "--workdir", "runs", "--cpus", "2", "--memory", "4GiB"])
    err = capsys.readouterr().err
    assert info.value.code == 0, err
    # printed above the live table, wrapped to the terminal's width, without colour codes inside
    # (rich would highlight the numbers) and without reading brackets as markup
    start = err.index("warning: ")
    shown = err[start : err.index("it will run alone", start) + len("it will run alone")]
    assert "\x1b" not in shown
    assert " ".join(shown.split()) == (
        "warning: step 'big' asks for more than this machine has (8 CPU, 1.0 GiB, 0 GPU; "
        "capacity 2 CPU, 4.0 GiB, 0 GPU); it will run alone"
    )
    assert json.loads(next((tmp_path / "runs" / "big").glob("*/run.json")).read_text())


def _cli_run(capsys, monkeypatch, tmp_path, *args: str) -> tuple[int, str]:
    path = write_pipeline(
        tmp_path,
        '''
@dsl.container_component(image="r.example.com/a:1", command=["true"])
def s(out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="resumable")
def resumable(uri: str, n: int = 1):
    s().set_name("s")
''',
    )
    monkeypatch.setenv("PIPECAST_ENGINE", "process")
    with pytest.raises(SystemExit) as info:
        main(["run", str(path), "--local", "--workdir", str(tmp_path / "runs"), *args])
    return int(info.value.code or 0), capsys.readouterr().err


def test_cli_resume_of_an_unknown_run_names_it_the_pipeline_and_the_folder(
    capsys, monkeypatch, tmp_path
):
    code, err = _cli_run(capsys, monkeypatch, tmp_path, "--resume", "nope")
    assert code == 1
    assert (
        f"no run 'nope' of pipeline 'resumable' under {tmp_path / 'runs' / 'resumable'}; "
        "known runs: none yet"
    ) in err
    assert HINT in err


def test_cli_resume_id_that_is_a_path_names_the_option(capsys, monkeypatch, tmp_path):
    code, err = _cli_run(capsys, monkeypatch, tmp_path, "--resume", "../elsewhere")
    assert code == 1 and "error[PC201]" in err and "--resume run id" in err


def test_cli_resume_keeps_recorded_parameters_and_asks_for_missing_ones(
    capsys, monkeypatch, tmp_path
):
    code, _ = _cli_run(capsys, monkeypatch, tmp_path, "-p", "uri=a", "-p", "n=5")
    assert code == 0
    (run_dir,) = (tmp_path / "runs" / "resumable").iterdir()
    journal = json.loads((run_dir / "run.json").read_text())
    assert journal["parameters"] == {"uri": "a", "n": 5}
    # -p on resume changes only that parameter; the rest are the recorded ones
    code, err = _cli_run(capsys, monkeypatch, tmp_path, "--resume", run_dir.name, "-p", "n=6")
    assert code == 0, err
    assert json.loads((run_dir / "run.json").read_text())["parameters"] == {"uri": "a", "n": 6}
    # a record without a required parameter: resume asks for it by name
    journal["parameters"] = {"n": 5}
    (run_dir / "run.json").write_text(json.dumps(journal))
    code, err = _cli_run(capsys, monkeypatch, tmp_path, "--resume", run_dir.name)
    assert code == 1 and "pipeline 'resumable' needs -p uri=..." in err
