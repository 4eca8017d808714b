"""Inputs of local runs: what lands in a step's input folder for a local path, a ``file://`` URI
or a manifest, and what the user reads when an input cannot be used.

These call the runner's ``materialise`` directly (in-process, no pipeline needed): the folder it
fills is the folder a step's ``Input`` points at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipecast.errors import LoadError, RunError
from pipecast.runner._inputs import materialise


def files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def write_manifest(path: Path, prefix: str, *keys: str) -> Path:
    path.write_text(json.dumps([{"prefix": prefix}, *keys]))
    return path


@pytest.fixture
def data(tmp_path):
    folder = tmp_path / "data"
    (folder / "day1" / "cam").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "day1" / "cam" / "b.txt").write_text("B")
    return folder


# ----- manifests ----------------------------------------------------------------------------


def test_a_manifest_given_as_a_file_uri_is_read_and_its_nested_keys_keep_their_folders(
    tmp_path, data
):
    manifest = write_manifest(tmp_path / "m.json", f"{data}/", "a.txt", "day1/cam/b.txt")
    dest = tmp_path / "run" / "in"
    materialise(f"file://{manifest}", dest, manifest=True)
    assert files(dest) == {"a.txt": "A", "day1/cam/b.txt": "B"}


def test_a_file_uri_prefix_in_a_manifest_reads_the_local_objects(tmp_path, data):
    manifest = write_manifest(tmp_path / "m.json", f"file://{data}/", "day1/cam/b.txt")
    dest = tmp_path / "in"
    materialise(str(manifest), dest, manifest=True)
    assert files(dest) == {"day1/cam/b.txt": "B"}


def test_a_prefix_without_a_trailing_slash_is_a_file_name_prefix(tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "img_1.png").write_text("1")
    (frames / "img_2.png").write_text("2")
    manifest = write_manifest(tmp_path / "m.json", f"{frames}/img_", "1.png", "2.png")
    dest = tmp_path / "in"
    materialise(str(manifest), dest, manifest=True)
    assert files(dest) == {"1.png": "1", "2.png": "2"}


def test_a_relative_prefix_is_read_from_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "img_1.png").write_text("1")
    manifest = write_manifest(tmp_path / "m.json", "img_", "1.png")
    dest = tmp_path / "in"
    materialise(str(manifest), dest, manifest=True)
    assert files(dest) == {"1.png": "1"}


def test_a_missing_manifest_names_the_uri_and_the_reason(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(LoadError) as caught:
        materialise(str(missing), tmp_path / "in", manifest=True)
    assert str(caught.value) == f"cannot read input {missing}: No such file or directory"
    assert not (tmp_path / "in").exists()


EXPECTED = '[{"prefix": "s3://bucket/path/"}, "key1", "key2", ...]'


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"prefix": "s3://b/"}',
        '[{"path": "s3://b/"}, "a"]',
        '[{"prefix": 5}, "a"]',
        '[{"prefix": "s3://b/"}, "a", 7]',
        '[{"prefix": "s3://b/"}, ["a"]]',
    ],
)
def test_a_file_that_is_not_a_manifest_is_refused_showing_the_expected_shape(tmp_path, body):
    manifest = tmp_path / "m.json"
    manifest.write_text(body)
    with pytest.raises(LoadError) as caught:
        materialise(str(manifest), tmp_path / "in", manifest=True)
    assert str(caught.value) == f"{manifest} is not a manifest file: expected {EXPECTED}"
    assert not (tmp_path / "in").exists()


def test_an_escaping_manifest_entry_is_called_a_manifest_entry(tmp_path, data):
    manifest = write_manifest(tmp_path / "m.json", f"{data}/", "a.txt", "../x")
    with pytest.raises(RunError) as caught:
        materialise(str(manifest), tmp_path / "in", manifest=True)
    assert caught.value.diagnostic.code == "PC201"
    assert caught.value.diagnostic.message.startswith(f"manifest entry '../x' in {manifest} ")


def link_out(tmp_path: Path, data: Path, name: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not copy")
    (data / name).symlink_to(secret)


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_a_manifest_object_linking_out_of_its_prefix_is_refused_with_pc202_and_a_hint(
    tmp_path, data, scheme
):
    link_out(tmp_path, data, "leak.txt")
    manifest = write_manifest(tmp_path / "m.json", f"{scheme}{data}/", "a.txt", "leak.txt")
    dest = tmp_path / "in"
    with pytest.raises(RunError) as caught:
        materialise(str(manifest), dest, manifest=True)
    diagnostic = caught.value.diagnostic
    assert diagnostic.code == "PC202"
    assert diagnostic.message == (
        f"manifest {manifest}: entry 'leak.txt' is a symlink out of {data.resolve()} "
        f"({(tmp_path / 'secret.txt').resolve()})"
    )
    assert diagnostic.hint == "copy the file into the prefix folder, or remove the link"
    assert not dest.exists()


def test_a_file_name_prefix_object_linking_out_of_its_folder_is_refused(tmp_path, data):
    link_out(tmp_path, data, "img_2.png")
    manifest = write_manifest(tmp_path / "m.json", f"{data}/img_", "2.png")
    with pytest.raises(RunError) as caught:
        materialise(str(manifest), tmp_path / "in", manifest=True)
    assert caught.value.diagnostic.code == "PC202"


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


def test_an_s3_manifest_reads_s3_even_when_a_local_folder_looks_like_its_prefix(
    s3, tmp_path, monkeypatch
):
    # a local folder named "s3:" in the working folder holds a link out at the same path:
    # an S3 prefix's objects are S3's, never checked against (or read from) local files
    monkeypatch.chdir(tmp_path)
    local = tmp_path / "s3:" / "data" / "raw"
    local.mkdir(parents=True)
    link_out(tmp_path, local, "a.mp4")
    s3.put_object(Bucket="data", Key="raw/a.mp4", Body=b"from s3")
    manifest = write_manifest(tmp_path / "m.json", "s3://data/raw/", "a.mp4")
    dest = tmp_path / "in"
    materialise(str(manifest), dest, manifest=True)
    assert files(dest) == {"a.mp4": "from s3"}


# ----- local paths --------------------------------------------------------------------------


def test_a_local_input_that_does_not_exist_says_what_to_give(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(LoadError) as caught:
        materialise(str(missing), tmp_path / "in", manifest=False)
    assert str(caught.value) == (
        f"input {missing} does not exist (give an existing file, directory or s3:// URI)"
    )
    assert not (tmp_path / "in").exists()


def test_a_local_file_input_lands_in_the_folder_under_its_name(tmp_path, data):
    dest = tmp_path / "in"
    materialise(f"file://{data / 'a.txt'}", dest, manifest=False)
    assert files(dest) == {"a.txt": "A"}


def test_a_local_folder_input_is_copied_whole(tmp_path, data):
    dest = tmp_path / "in"
    materialise(str(data), dest, manifest=False)
    assert files(dest) == {"a.txt": "A", "day1/cam/b.txt": "B"}


# ----- S3 prefixes ----------------------------------------------------------------------------


def test_an_s3_prefix_brings_exactly_its_objects_keeping_their_folders(s3, tmp_path):
    for key in ("raw/a.txt", "raw/day1/b.txt", "raw/day1/c.txt", "other/z.txt", "rawx.txt"):
        s3.put_object(Bucket="data", Key=key, Body=key.encode())
    dest = tmp_path / "runs" / "r1" / "in"  # folders above it are made too
    materialise("s3://data/raw/", dest, manifest=False)
    assert files(dest) == {
        "a.txt": "raw/a.txt",
        "day1/b.txt": "raw/day1/b.txt",
        "day1/c.txt": "raw/day1/c.txt",
    }


def test_an_s3_prefix_without_a_slash_keeps_the_names_under_it(s3, tmp_path):
    s3.put_object(Bucket="data", Key="raw/a.txt", Body=b"A")
    s3.put_object(Bucket="data", Key="raw/b/c.txt", Body=b"C")
    dest = tmp_path / "in"
    materialise("s3://data/raw", dest, manifest=False)
    assert files(dest) == {"a.txt": "A", "b/c.txt": "C"}


def test_an_s3_uri_of_one_object_brings_that_object_under_its_name(s3, tmp_path):
    s3.put_object(Bucket="data", Key="lists/raw/a.txt", Body=b"A")
    dest = tmp_path / "in"
    materialise("s3://data/lists/raw/a.txt", dest, manifest=False)
    assert files(dest) == {"a.txt": "A"}


def test_an_empty_s3_prefix_is_refused(s3, tmp_path):
    s3.put_object(Bucket="data", Key="raw/a.txt", Body=b"A")
    with pytest.raises(LoadError) as caught:
        materialise("s3://data/empty/", tmp_path / "in", manifest=False)
    assert str(caught.value) == "input s3://data/empty/ holds no objects"
    assert not (tmp_path / "in").exists()


def test_an_unsafe_s3_key_is_called_an_s3_key(s3, tmp_path):
    s3.put_object(Bucket="data", Key="raw/../x.txt", Body=b"A")
    with pytest.raises(RunError) as caught:
        materialise("s3://data/raw/", tmp_path / "in", manifest=False)
    assert caught.value.diagnostic.code == "PC201"
    assert caught.value.diagnostic.message.startswith("S3 key '../x.txt' in s3://data/raw/../x.txt")


def test_an_input_that_cannot_be_copied_is_refused_and_leaves_nothing_behind(tmp_path, data):
    os.mkfifo(data / "pipe")
    (data / "b-link").symlink_to(data / "pipe")  # a link to a named pipe: no file to copy
    dest = tmp_path / "in"
    with pytest.raises(LoadError) as caught:
        materialise(str(data), dest, manifest=False)
    assert str(caught.value).startswith(f"cannot materialise input {data}: ")
    assert "named pipe" in str(caught.value)
    assert list(tmp_path.glob("*in*")) == []  # neither the folder nor a half-made copy
