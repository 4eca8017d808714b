"""External inputs for local runs: local paths, ``s3://`` prefixes and SageMaker manifest files.

A manifest (``[{"prefix": "s3://bucket/videos/"}, "a.mp4", "day2/b.mp4"]``) is materialised
object by object into the input directory, keeping the keys' relative paths: the thing
SageMaker's own local mode cannot do.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from pipecast.errors import LoadError

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
                rel = obj["Key"][len(prefix) :].lstrip("/") or os.path.basename(obj["Key"])
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target))
                count += 1
    if count == 0:
        raise LoadError(f"input {uri} holds no objects")
    return count


def _copy_local(uri: str, dest: Path) -> None:
    source = Path(uri.removeprefix("file://")).expanduser()
    if source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True)
    elif source.is_file():
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / source.name)
    else:
        raise LoadError(
            f"input {uri} does not exist (give an existing file, directory or s3:// URI)"
        )


def materialise(uri: str, dest: Path, manifest: bool) -> None:
    """Bring the artifact at ``uri`` into the directory ``dest``."""
    if not manifest:
        if uri.startswith("s3://"):
            _download_prefix(uri, dest)
        else:
            _copy_local(uri, dest)
        return
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
    for key in keys:
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_read(prefix + key))  # SageMaker's rule: object = prefix + key
