"""Local runs stay inside (DESIGN §15): nothing a run reads (manifest entries, S3 keys, symlinks,
run ids) makes it write outside its run folder.

The property tests snapshot the whole folder tree around the run (with HOME pointing into it, so
a stray ``~`` expansion would show) before and after a run whose manifest holds hostile entries:
``..``, absolute paths into the snapshot, ``~``, NUL, backslashes, parts over 255 bytes, unicode.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from helpers import run_cli, write_pipeline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipecast import dsl
from pipecast.dsl import Dataset, Input, Output
from pipecast.errors import LoadError, RunError
from pipecast.runner._paths import inside, path_problem
from pipecast.testing import run_offline

pytestmark = pytest.mark.timeout(120)


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[str, int, int]]:
    """Every entry under ``root`` except ``skip``: kind, size, mtime (ns). Symlinks not followed."""
    seen: dict[str, tuple[str, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = here / name
            if skip is not None and path == skip:
                continue
            st_ = path.lstat()
            kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
            seen[str(path.relative_to(root))] = (kind, st_.st_size, st_.st_mtime_ns)
    return seen


@dsl.container_component(image="r.example.com/read:1", command=["true"])
def read(data: Input[Dataset], out: Output[Dataset]):
    """Reads its input folder (a fake does the work)."""


@dsl.pipeline(name="contain")
def contain(uri: str):
    read(data=dsl.importer(uri=uri, manifest=True).output).set_name("read")


PARTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "~",
        "~root",
        "a",
        "victim",
        "é",
        "日本語",
        "x" * 300,
        "b\\..\\..\\c",
        "nul\x00x",
        "tab\tx",
        " ",
        "owned.txt",
        "{ROOT}",
    ]
)
KEYS = st.lists(PARTS, min_size=1, max_size=6).map("/".join) | st.lists(PARTS, max_size=5).map(
    lambda parts: "/{ROOT}/" + "/".join(parts)
)


def _hostile_run(keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        monkeypatch.setenv("HOME", str(root / "home"))
        (root / "home").mkdir()
        (root / "home" / ".bashrc").write_text("mine")
        (root / "victim").mkdir()
        (root / "victim" / "owned.txt").write_text("mine")
        source = root / "source"
        source.mkdir()
        keys = [k.replace("{ROOT}", str(root).lstrip("/")) for k in keys]
        for key in keys:  # provide the objects that are plain paths, so some runs succeed
            if path_problem(key) is None and len(key) < 1000:
                target = source / key
                if source.resolve() in target.resolve().parents:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not target.is_dir():
                        target.write_text("object")
        manifest = root / "manifest.json"
        manifest.write_text(json.dumps([{"prefix": str(source) + "/"}, *keys]))
        work = root / "work"
        before = snapshot(root)
        seen: dict[str, list[str]] = {}

        def fake(data, out):
            seen["files"] = [str(p) for p in Path(data.path).rglob("*")]

        try:
            result = run_offline(contain, work, params={"uri": str(manifest)}, fakes={"read": fake})
        except RunError as exc:
            assert exc.diagnostic.code == "PC201"
            assert str(manifest) in str(exc)
        except LoadError as exc:  # an object that is not there (e.g. the key names a folder)
            assert "cannot" in str(exc)
        else:
            run_dir = result.run_dir.resolve()
            assert result.succeeded, result["read"].error
            for path in seen["files"]:
                assert run_dir in Path(path).resolve().parents
        after = snapshot(root, skip=work)
        assert {k: v for k, v in after.items() if k != "work"} == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keys=st.lists(KEYS, min_size=1, max_size=4))
def test_hostile_manifest_entries_never_write_outside_the_run(keys, monkeypatch):
    _hostile_run(keys, monkeypatch)


@pytest.mark.parametrize(
    "key",
    [
        "../../../victim/owned.txt",
        "/{ROOT}/victim/owned.txt",
        "~/.bashrc",  # literal: a folder named "~" inside the input, never $HOME
        "a/../../x",
        "nul\x00.txt",
        "a\\..\\..\\x",
        "y" * 256,
        "日本語/ünïcødé.txt",
    ],
)
def test_each_hostile_kind_is_refused_or_kept_inside(key, monkeypatch):
    _hostile_run([key], monkeypatch)


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_inside_returns_only_paths_under_the_folder(name):
    folder = Path(tempfile.gettempdir()) / "pipecast-inside-check"
    try:
        target = inside(folder, name, what="key", source="test")
    except RunError as exc:
        assert exc.diagnostic.code == "PC201" and repr(name) in str(exc)
    else:
        assert folder.resolve() in target.resolve().parents


def test_the_error_names_the_entry_and_the_manifest(tmp_path):
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"prefix": str(tmp_path) + "/"}, "ok.txt", "../../x"]))
    (tmp_path / "ok.txt").write_text("1")
    with pytest.raises(RunError) as caught:
        run_offline(contain, tmp_path / "runs", params={"uri": str(manifest)}, fakes={})
    text = str(caught.value)
    assert "PC201" in text and "'../../x'" in text and str(manifest) in text
    assert "hint:" in text
    assert not (tmp_path.parent / "x").exists()


CLI_PIPE = '''
@dsl.container_component(image="r.example.com/a:1", command=["true"])
def s(data: Input[Dataset], out: Output[Dataset]):
    """x"""

@dsl.pipeline(name="p")
def p(uri: str):
    s(data=dsl.importer(uri=uri, manifest=True).output)
'''


def test_cli_refuses_an_escaping_manifest_entry_with_exit_1_and_no_traceback(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.mp4").write_text("a")
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps([{"prefix": str(tmp_path / "data") + "/"}, "a.mp4", "../../../x"])
    )
    path = write_pipeline(tmp_path, CLI_PIPE)
    work = tmp_path / "deep" / "runs"
    before = snapshot(tmp_path)
    result = run_cli(
        "run", str(path), "--local", "--workdir", str(work), "-p", f"uri={manifest}", cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert "error[PC201]" in result.stderr and "'../../../x'" in result.stderr
    assert str(manifest) in result.stderr and "Traceback" not in result.stderr
    after = snapshot(tmp_path, skip=tmp_path / "deep")
    assert {k: v for k, v in after.items() if not k.startswith(("deep", "__pycache__"))} == {
        k: v for k, v in before.items() if not k.startswith("__pycache__")
    }


@pytest.mark.parametrize("run_id", ["../../escape", "/tmp/escape", "a/b", "..", "~"])
def test_cli_resume_id_that_is_a_path_is_refused(tmp_path, run_id):
    path = write_pipeline(tmp_path, CLI_PIPE)
    before = snapshot(tmp_path)
    result = run_cli(
        "run",
        str(path),
        "--local",
        "--workdir",
        str(tmp_path / "w" / "runs"),
        "-p",
        "uri=x",
        "--resume",
        run_id,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "error[PC201]" in result.stderr and "Traceback" not in result.stderr
    after = snapshot(tmp_path)
    assert {k for k in after if not k.startswith("__pycache__")} == {
        k for k in before if not k.startswith("__pycache__")
    }
    assert not Path("/tmp/escape").exists() or run_id != "/tmp/escape"


# ----- symlinks in local input folders ------------------------------------------------------


@dsl.pipeline(name="folder")
def folder(uri: str):
    read(data=dsl.importer(uri=uri).output).set_name("read")


def test_a_symlink_out_of_the_input_folder_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    (data / "leak.txt").symlink_to(secret)
    with pytest.raises(RunError) as caught:
        run_offline(folder, tmp_path / "runs", params={"uri": str(data)}, fakes={"read": print})
    assert caught.value.diagnostic.code == "PC202"
    assert "leak.txt" in str(caught.value) and "outside" in str(caught.value)
    copies = [p for p in (tmp_path / "runs").rglob("*") if p.is_file() and p.name != "run.json"]
    assert all(p.read_text() != "do not copy" for p in copies)


def test_a_local_manifest_object_that_links_out_of_its_prefix_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.mp4").write_text("a")
    (data / "b.mp4").symlink_to(secret)
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"prefix": f"{data}/"}, "a.mp4", "b.mp4"]))
    with pytest.raises(RunError) as caught:
        run_offline(contain, tmp_path / "runs", params={"uri": str(manifest)}, fakes={})
    text = str(caught.value)
    assert "PC202" in text and "'b.mp4'" in text and str(manifest) in text
    copies = [p for p in (tmp_path / "runs").rglob("*") if p.is_file() and p.name != "run.json"]
    assert all(p.read_text() != "do not copy" for p in copies)


def test_a_directory_symlink_out_of_the_input_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "b.txt").write_text("b")
    data = tmp_path / "data"
    data.mkdir()
    (data / "dir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(RunError, match="PC202"):
        run_offline(folder, tmp_path / "runs", params={"uri": str(data)}, fakes={"read": print})


def test_symlinks_inside_the_input_folder_stay_inside_the_copy(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "real.txt").write_text("real")
    (data / "alias.txt").symlink_to(data / "sub" / "real.txt")
    (data / "again").symlink_to("sub", target_is_directory=True)
    seen = {}

    def fake(data, out):
        root = Path(data.path).resolve()
        seen["alias"] = (Path(data.path) / "alias.txt").read_text()
        seen["again"] = (Path(data.path) / "again" / "real.txt").read_text()
        seen["inside"] = all(root in p.resolve().parents for p in Path(data.path).rglob("*"))

    result = run_offline(folder, tmp_path / "runs", params={"uri": str(data)}, fakes={"read": fake})
    assert result.succeeded, result["read"].error
    assert seen == {"alias": "real", "again": "real", "inside": True}


# ----- S3 keys (moto) -----------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="data")
        yield client


@pytest.mark.parametrize(
    "key",
    [
        "raw/../../../evil.txt",
        "raw//abs.txt",
        "raw/a\\..\\..\\b.txt",
        "raw/./dot.txt",
        "raw/" + "z" * 300,
    ],
)
def test_s3_keys_that_are_not_safe_paths_are_refused(s3, tmp_path, key):
    s3.put_object(Bucket="data", Key="raw/ok.txt", Body=b"ok")
    s3.put_object(Bucket="data", Key=key, Body=b"evil")
    before = snapshot(tmp_path)
    with pytest.raises(RunError) as caught:
        run_offline(
            folder,
            tmp_path / "a" / "b" / "runs",
            params={"uri": "s3://data/raw/"},
            fakes={"read": print},
        )
    assert caught.value.diagnostic.code == "PC201"
    assert f"s3://data/{key}" in str(caught.value)
    after = snapshot(tmp_path, skip=tmp_path / "a")
    assert {k: v for k, v in after.items() if k != "a"} == before
    partial = list((tmp_path / "a").rglob("*.partial"))
    assert partial == []  # the half-made copy is removed, nothing to mistake for an input


def test_s3_folder_markers_are_skipped_and_keys_keep_their_paths(s3, tmp_path):
    s3.put_object(Bucket="data", Key="raw/", Body=b"")
    s3.put_object(Bucket="data", Key="raw/day1/", Body=b"")
    s3.put_object(Bucket="data", Key="raw/day1/a.mp4", Body=b"A")
    s3.put_object(Bucket="data", Key="raw/日本/b.mp4", Body=b"B")
    seen = {}

    def fake(data, out):
        seen["files"] = sorted(
            str(p.relative_to(data.path)) for p in Path(data.path).rglob("*") if p.is_file()
        )

    result = run_offline(
        folder, tmp_path / "runs", params={"uri": "s3://data/raw/"}, fakes={"read": fake}
    )
    assert result.succeeded, result["read"].error
    assert seen["files"] == ["day1/a.mp4", "日本/b.mp4"]


def test_s3_manifest_entry_escaping_is_refused_naming_entry_and_manifest(s3, tmp_path):
    s3.put_object(Bucket="data", Key="raw/a.mp4", Body=b"A")
    s3.put_object(Bucket="data", Key="evil.txt", Body=b"evil")
    body = json.dumps([{"prefix": "s3://data/raw/"}, "a.mp4", "../evil.txt"]).encode()
    s3.put_object(Bucket="data", Key="lists/m.json", Body=body)
    with pytest.raises(RunError) as caught:
        run_offline(
            contain,
            tmp_path / "runs",
            params={"uri": "s3://data/lists/m.json"},
            fakes={"read": print},
        )
    text = str(caught.value)
    assert "PC201" in text and "'../evil.txt'" in text and "s3://data/lists/m.json" in text
    assert not any(p.name == "evil.txt" for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("a\x00b", "it contains a NUL or control character"),
        ("a\nb", "it contains a NUL or control character"),
        ("a\x7fb", "it contains a NUL or control character"),
        ("a\\b", "it contains a backslash"),
        ("/etc/passwd", "it is an absolute path"),
        ("/", "it is an absolute path"),
        ("a//b", "it has an empty or '.' part"),
        ("a/", "it has an empty or '.' part"),
        ("./a", "it has an empty or '.' part"),
        ("a/../../b", "it has a '..' part"),
        ("..", "it has a '..' part"),
        ("x" * 256, "a part is longer than 255 bytes"),
        ("é" * 128, "a part is longer than 255 bytes"),  # 256 bytes in UTF-8, 128 characters
        ("x" * 255, None),  # at the limit
        ("a/" + "x" * 255, None),
        ("a/b.txt", None),
        ("..a/b..", None),  # dots inside a name are a name
        ("~/x", None),  # no shell here: '~' is a folder named '~'
    ],
)
def test_every_unsafe_name_has_its_own_reason(name, problem):
    """Each check says what is wrong in words a user can act on (they reach the PC201 message),
    and a name at a limit passes."""
    assert path_problem(name) == problem


def test_inside_joins_the_parts_and_refuses_a_symlink_already_on_disk_that_leads_out(tmp_path):
    folder, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    (folder / "ok").mkdir(parents=True)
    elsewhere.mkdir()
    (folder / "out").symlink_to(elsewhere, target_is_directory=True)
    assert inside(folder, "ok/a/b.txt", what="key", source="s") == folder / "ok" / "a" / "b.txt"
    assert inside(folder, "not-yet/a", what="key", source="s") == folder / "not-yet" / "a"
    with pytest.raises(RunError) as info:
        inside(folder, "out/b.txt", what="manifest entry", source="s3://b/m.json")
    diagnostic = info.value.diagnostic
    assert diagnostic.code == "PC201"
    assert diagnostic.message == (
        f"manifest entry 'out/b.txt' in s3://b/m.json would be written outside its folder: "
        f"it resolves to {elsewhere.resolve() / 'b.txt'}, outside {folder.resolve()}"
    )
    assert diagnostic.hint == (
        "use plain relative paths such as 'day1/a.mp4' (no '..', no leading '/')"
    )
    with pytest.raises(RunError) as named:
        inside(folder, "../x", what="key", source="s", hint="rename the key")
    assert named.value.diagnostic.hint == "rename the key"
    assert "it has a '..' part" in named.value.diagnostic.message
