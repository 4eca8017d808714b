"""Text output parameters on Kubeflow (DESIGN §12): the step writes JSON, KFP keeps the file's
raw text, and a wrapper in the step's container turns the one into the other.

Oracles: the local runner's value for the same pipeline; real processes running the compiled
command as KFP's launcher would (the ``output_file`` placeholder replaced by a path, Kubernetes'
``$$`` reduced to ``$``), then reading the file as KFP's ``TextToPbValue`` does for ``STRING``
(the whole file is the value); kfp's own loader for the document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import compile_document, compile_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meaning import parse

from pipecast import dsl
from pipecast.compilers._kfp_collected import VIEW_ROOT
from pipecast.compilers._kfp_text import WRAPPER
from pipecast.dsl import Dataset, Input, Output
from pipecast.testing import run_offline

kfp = pytest.importorskip("kfp")

IMG = "registry.example.com/text:1.0"


@dsl.container_component(image=IMG, command=["say"])
def say(text: Output[str], count: Output[int]):
    """Writes a text and a number."""


@dsl.container_component(image=IMG, command=["listen"])
def listen(text: str):
    """Reads text."""


@dsl.component(image=IMG)
def label() -> str:
    """A Python component returning text (kfp's single ``output``)."""
    return "label"


@dsl.pipeline(name="text-out")
def text_out():
    said = say()
    listen(text=said.outputs["text"])
    listen(text=label().output).set_name("listen-label")


def _container(step: str) -> dict:
    main = parse("kubeflow", compile_text(text_out, "kubeflow"))["main"]
    return dict(main["deploymentSpec"]["executors"][f"exec-{step}"]["container"])


def _launch(container: dict, files: dict[str, Path], program: list[str]):
    """The container's command and args as KFP's launcher runs them, the user's command (after
    ``--``) replaced by ``program``; returns the finished process."""
    argv = []
    for text in (*container["command"], *container["args"]):
        text = text.replace("$$", "$")
        for name, path in files.items():
            text = text.replace(f"{{{{$.outputs.parameters['{name}'].output_file}}}}", str(path))
        argv.append(text)
    argv[argv.index("--") + 1 : len(container["command"])] = program
    return subprocess.run(argv, capture_output=True, text=True)


WRITE = (
    "import json, sys\n"
    "args = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
    "value, ascii_only = json.loads(sys.argv[-1])\n"
    "text = json.dumps(value, ensure_ascii=ascii_only)\n"
    "open(args['--text'], 'w', encoding='utf-8').write(text)\n"
    "open(args['--count'], 'w').write('3')\n"
)


def test_kfp_keeps_the_text_the_local_runner_hands_on(tmp_path):
    value = 'it\'s "quoted"\\ \n\ttabbed, é, 😀, $(HOME) {{$}}'
    seen: dict = {}

    def fake_say(text, count):
        Path(text).write_text(json.dumps(value))
        Path(count).write_text("3")

    local = run_offline(
        text_out,
        tmp_path / "local",
        fakes={
            "say": fake_say,
            "listen": lambda text: seen.setdefault("text", text),
            "listen-label": lambda text: seen.setdefault("label", text),
        },
    )
    assert local.succeeded and seen == {"text": value, "label": "label"}

    files = {"text": tmp_path / "text", "count": tmp_path / "count"}
    program = [sys.executable, "-c", WRITE, "--text", str(files["text"])]
    program += ["--count", str(files["count"]), json.dumps([value, True])]
    container = _container("say")
    container["args"] = []  # the program above names its files itself
    done = _launch(container, files, program)
    assert done.returncode == 0, done.stderr
    # KFP's STRING value is the whole file; downstream it is {{$.inputs.parameters['text']}}
    assert files["text"].read_bytes().decode("utf-8") == seen["text"]
    assert files["count"].read_text() == "3"  # other outputs are KFP's to parse


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
    ascii_only=st.booleans(),
    padding=st.sampled_from(["", "\n", " \r\n\t"]),
)
def test_any_text_without_nul_comes_out_as_written(tmp_path_factory, value, ascii_only, padding):
    folder = tmp_path_factory.mktemp("text")
    out = folder / "text"
    script = "import sys; open(sys.argv[1], 'w', encoding='utf-8').write(sys.argv[2])"
    written = padding + json.dumps(value, ensure_ascii=ascii_only) + padding
    argv = ["sh", "-c", WRAPPER, "pipecast-text", "1", str(out), "--"]
    done = subprocess.run([*argv, sys.executable, "-c", script, str(out), written])
    assert done.returncode == 0
    assert out.read_bytes().decode("utf-8") == value


@pytest.mark.parametrize(
    "written", ["hello", "42", '"a" "b"', '"unclosed', '"bad \\q escape"', '"\\u0000"']
)
def test_a_file_that_is_not_one_json_string_fails_the_task_by_name(tmp_path, written):
    out = tmp_path / "text"
    script = "import sys; open(sys.argv[1], 'w').write(sys.argv[2])"
    argv = ["sh", "-c", WRAPPER, "pipecast-text", "1", str(out), "--", sys.executable, "-c"]
    done = subprocess.run([*argv, script, str(out), written], capture_output=True, text=True)
    assert done.returncode == 1
    assert f"output parameter file {out} does not hold one JSON string" in done.stderr


def test_the_commands_status_and_arguments_pass_through(tmp_path):
    out = tmp_path / "text"
    tricky = ["$(HOME)", "a b", "*", "'; rm -rf /", "$$", "--"]
    code = "import sys, json; print(json.dumps(sys.argv[1:])); sys.exit(7)"
    argv = ["sh", "-c", WRAPPER, "pipecast-text", "1", str(out), "--", sys.executable, "-c", code]
    done = subprocess.run([*argv, *tricky], capture_output=True, text=True)
    assert done.returncode == 7 and json.loads(done.stdout) == tricky
    assert not out.exists()  # nothing written, nothing rewritten: KFP reports the missing file


def test_the_document_loads_and_notes_what_the_image_needs(tmp_path):
    from kfp.components import load_component_from_file

    path = tmp_path / "text-out.yaml"
    path.write_text(compile_text(text_out, "kubeflow"), encoding="utf-8")
    assert load_component_from_file(str(path)).name == "text-out"
    command = _container("label")["command"]
    # the Python component's single return value is kfp's `output`; its runtime follows `--`
    assert command[3:6] == ["pipecast-text", "1", "{{$.outputs.parameters['output'].output_file}}"]
    assert command[6:8] == ["--", "python"]
    notes = compile_document(text_out, "kubeflow").notes
    assert any("step 'say' writes text output parameters ('text')" in n for n in notes)
    assert all("sh, awk and mv" in n for n in notes if "text output" in n)


@dsl.container_component(image=IMG, command=["make-part"])
def make_part(item: int, part: Output[Dataset]):
    """Writes one part."""


@dsl.container_component(image=IMG, command=["describe"])
def describe(parts: Input[Dataset], text: Output[str]):
    """Reads the collected folder, writes a text."""


@dsl.pipeline(name="collect-and-say")
def collect_and_say():
    with dsl.ParallelFor([1, 2]) as item:
        made = make_part(item=item)
    describe(parts=dsl.Collected(made.outputs["part"]))


DESCRIBE = (
    "import json, os, sys\n"
    "args = dict(zip(sys.argv[1::2], sys.argv[2::2]))\n"
    "parts = sorted(os.listdir(args['--parts']))\n"
    "open(args['--text'], 'w').write(json.dumps(' '.join(parts)))\n"
)


def test_a_step_with_both_wrappers_gets_its_folder_and_hands_on_its_text(tmp_path):
    """The collected-artifacts prelude runs first, then the text wrapper, then the program."""
    main = parse("kubeflow", compile_text(collect_and_say, "kubeflow"))["main"]
    container = dict(main["deploymentSpec"]["executors"]["exec-describe"]["container"])
    command = container["command"]
    assert command[3] == "pipecast-collect" and "pipecast-text" in command
    assert command.index("pipecast-text") < command.index("describe")
    uris = [f"s3://b/run/make-part/{i}/part" for i in range(2)]
    for uri in uris:
        (tmp_path / "s3" / uri[5:]).mkdir(parents=True)
    executor_input = {"inputs": {"artifacts": {"parts": {"artifacts": [{"uri": u} for u in uris]}}}}
    view = tmp_path / "view"
    argv = []
    for text in (*command, *container["args"]):
        text = text.replace("$$", "$").replace("{{$}}", json.dumps(executor_input))
        text = text.replace("{{$.outputs.parameters['text'].output_file}}", str(tmp_path / "t"))
        argv.append(text.replace(VIEW_ROOT, str(view)))
    argv[len(command) - 1 : len(command)] = [sys.executable, "-c", DESCRIBE]
    env = {**os.environ, "PIPECAST_MOUNT_ROOT": str(tmp_path)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "t").read_text() == "0 1"  # raw text, as KFP keeps it
