"""Scale-out of one step in a local run (DESIGN §13): each worker's shard, and the merge after.

A step with ``set_instances(count, shard=[...])`` runs as ``count`` workers. Each sharded input
is split by object with the rule the Kubeflow target uses too: the input's files (objects), keyed
by their path relative to the input folder and sorted by the key's UTF-8 bytes (S3's listing
order), object ``i`` goes to worker ``i mod count``. Every worker gets a folder of its own with
copies of its objects (copies, not links: a worker cannot reach the other shards or change the
input), the other inputs whole, and its own output folders. After all workers succeeded their
outputs are moved into the step's output folders; a file two workers both wrote is an error
naming both workers and the file (PC205): SageMaker would let the last upload win silently.

Layout under the step folder: ``_shards/<i>/in/<input>/`` and ``_shards/<i>/out/<output>/``
(removed once merged), logs in ``_logs/worker-<i>/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipecast.errors import RunError

__all__ = ["ShardClash", "merge_outputs", "objects", "shard_of", "split_input", "worker_dirs"]


class ShardClash(RunError):
    """Two workers wrote the same relative path into one output (PC205)."""


def objects(folder: Path) -> list[str]:
    """The folder's files as ``/``-separated keys relative to it, in S3 listing order."""
    keys = [
        Path(root, name).relative_to(folder).as_posix()
        for root, _dirs, files in os.walk(folder)
        for name in files
    ]
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def shard_of(keys: Iterable[str], index: int, count: int) -> list[str]:
    """The keys worker ``index`` of ``count`` gets: key ``i`` when ``i mod count == index``."""
    return [k for i, k in enumerate(keys) if i % count == index]


def worker_dirs(step_dir: Path, index: int) -> tuple[Path, Path]:
    """(inputs folder, outputs folder) of worker ``index``."""
    base = step_dir / "_shards" / str(index)
    return base / "in", base / "out"


def split_input(source: Path, dest: Path, index: int, count: int) -> int:
    """Copy worker ``index``'s objects of ``source`` into ``dest`` (made empty first); returns
    how many it got (zero is fine: more workers than objects leaves some with nothing)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    mine = shard_of(objects(source), index, count)
    for key in mine:
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / key, target)
    return len(mine)


def merge_outputs(worker_outputs: Mapping[int, Path], dest: Path, output: str) -> None:
    """Move every worker's files of ``output`` into ``dest``; raise :class:`ShardClash` naming
    both workers and the file when two wrote the same path (nothing is moved then)."""
    owner: dict[str, int] = {}
    folders: dict[str, int] = {}  # every parent folder of a file → the first worker with it
    clashes: list[str] = []
    for index in sorted(worker_outputs):
        for key in objects(worker_outputs[index]):
            parents = [key.rsplit("/", n)[0] for n in range(1, key.count("/") + 1)]
            other = owner.get(key, folders.get(key))
            other = (
                other
                if other is not None
                else next((owner[p] for p in parents if p in owner), None)
            )
            if other is not None and other != index:
                clashes.append(f"workers {other} and {index} both wrote '{output}/{key}'")
                continue
            owner[key] = index
            for p in parents:
                folders.setdefault(p, index)
    if clashes:
        shown = "; ".join(clashes[:5]) + (
            f"; and {len(clashes) - 5} more" if len(clashes) > 5 else ""
        )
        raise ShardClash(
            "PC205",
            f"{shown} (a sharded step's workers share one output folder)",
            hint="write file names derived from your inputs (e.g. the input file's name), "
            "so that no two machines write the same one",
        )
    dest.mkdir(parents=True, exist_ok=True)
    for key, index in sorted(owner.items()):
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(worker_outputs[index] / key, target)
