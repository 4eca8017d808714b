"""External inputs for local runs: local paths, ``s3://`` prefixes and SageMaker manifest files.

A manifest (``[{"prefix": "s3://bucket/videos/"}, "a.mp4", "day2/b.mp4"]``) is materialised
object by object into the input directory, keeping the keys' relative paths: the thing
SageMaker's own local mode cannot do.

Trust: every entry and key is a path chosen by whoever wrote the data, so each goes through
:func:`~pipecast.runner._paths.inside` (an entry such as ``../../.bashrc`` is refused with PC201,
naming the entry and the manifest). S3 keys that are not safe relative paths (``..``, ``//``,
a leading ``/``, backslashes, control characters, parts over 255 bytes) are refused, not
encoded. Keys ending in ``/`` (the console's "folder" markers) are skipped. A symlink inside a
local input folder (or a local manifest's object) that points outside its folder is refused
(PC202); one that points inside is kept inside the copy. Everything lands in a hidden
``.<name>.partial`` folder that is renamed to ``<name>`` only when complete, so an input
half-copied when a run was killed is never used.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from pipecast.errors import LoadError, RunError

from ._paths import inside

__all__ = ["materialise"]


def _s3() -> Any:
    from pipecast.deploy.aws import client

    return client("s3", os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _read(uri: str) -> bytes:
    if uri.startswith("s3://"):
        from pipecast.deploy.aws import aws_errors

        bucket, key = _split(uri)
        with aws_errors(f"reading {uri}"):
            body: bytes = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    try:
        return Path(uri.removeprefix("file://")).read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read input {uri}: {exc.strerror}") from None


def _download_prefix(uri: str, dest: Path) -> int:
    from pipecast.deploy.aws import aws_errors

    bucket, prefix = _split(uri)
    s3, count = _s3(), 0
    with aws_errors(f"listing {uri}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                key: str = obj["Key"]
                if key.endswith("/"):
                    continue  # a "folder" marker, not an object the step wants
                rel = key[len(prefix) :]
                if rel.startswith("/") and not prefix.endswith("/"):
                    rel = rel[1:]  # s3://b/raw lists raw/a.mp4: keep a.mp4
                rel = rel or key.rsplit("/", 1)[-1]
                target = inside(dest, rel, what="S3 key", source=f"s3://{bucket}/{key}")
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, key, str(target))
                count += 1
    if count == 0:
        raise LoadError(f"input {uri} holds no objects")
    return count


def _outside(path: Path, root: Path) -> bool:
    return path != root and root not in path.parents


def _copy_tree(source: Path, dest: Path, uri: str) -> None:
    """Copy ``source`` into ``dest`` without following any symlink out of ``source``."""
    root = source.resolve()
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        here = Path(dirpath)
        out = dest / here.relative_to(source)
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(dirnames + filenames):
            src = here / name
            if not src.is_symlink():
                if src.is_file():
                    shutil.copy2(src, out / name)
                continue
            real = src.resolve()
            if _outside(real, root) or not real.exists():
                why = "points outside it" if real.exists() else "points to nothing"
                raise RunError(
                    "PC202",
                    f"input {uri}: symlink {src.relative_to(source)} {why} ({real})",
                    hint="copy the file into the input folder, or remove the link",
                )
            if real.is_dir():  # kept as a link to the copy of its target, inside dest
                link = os.path.relpath(dest / real.relative_to(root), out)
                os.symlink(link, out / name, target_is_directory=True)
            else:
                shutil.copy2(real, out / name)


def _copy_local(uri: str, dest: Path) -> None:
    source = Path(uri.removeprefix("file://")).expanduser()
    if source.is_dir():
        _copy_tree(source, dest, uri)
    elif source.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / source.name)
    else:
        raise LoadError(
            f"input {uri} does not exist (give an existing file, directory or s3:// URI)"
        )


def _manifest(uri: str, dest: Path) -> None:
    try:
        entries = json.loads(_read(uri))
        prefix = entries[0]["prefix"]
        keys = entries[1:]
        assert isinstance(prefix, str) and all(isinstance(k, str) for k in keys)
    except (ValueError, KeyError, IndexError, TypeError, AssertionError):
        raise LoadError(
            f"{uri} is not a manifest file: expected "
            '[{"prefix": "s3://bucket/path/"}, "key1", "key2", ...]'
        ) from None
    dest.mkdir(parents=True, exist_ok=True)
    targets = [inside(dest, key, what="manifest entry", source=uri) for key in keys]
    for key, target in zip(keys, targets, strict=True):
        if not prefix.startswith("s3://"):
            _refuse_link_out(prefix, key, uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_read(prefix + key))  # SageMaker's rule: object = prefix + key


def _refuse_link_out(prefix: str, key: str, uri: str) -> None:
    """A local manifest's object must not be a symlink to somewhere outside its prefix folder."""
    local = prefix.removeprefix("file://")
    folder = Path(local if local.endswith("/") else os.path.dirname(local) or ".").resolve()
    real = Path(local + key).resolve()
    if _outside(real, folder):
        raise RunError(
            "PC202",
            f"manifest {uri}: entry {key!r} is a symlink out of {folder} ({real})",
            hint="copy the file into the prefix folder, or remove the link",
        )


def materialise(uri: str, dest: Path, manifest: bool) -> None:
    """Bring the artifact at ``uri`` into the directory ``dest``, all or nothing.

    The objects go into ``.<dest>.partial`` first; only a complete copy is renamed to ``dest``
    (replacing an older one), so a copy cut short by a kill or an error is never read.
    """
    partial = dest.parent / f".{dest.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        if manifest:
            _manifest(uri, partial)
        elif uri.startswith("s3://"):
            _download_prefix(uri, partial)
        else:
            _copy_local(uri, partial)
        partial.mkdir(exist_ok=True)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise LoadError(f"cannot materialise input {uri}: {exc}") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(partial, dest)
