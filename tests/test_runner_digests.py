"""What ``--resume`` compares: a folder's digest (names, bytes, symlink targets; not times) and
the identity of an in-process fake. A digest that misses a change reuses stale outputs; one that
sees a change that is not there reruns for nothing."""

from __future__ import annotations

import os
import types
from pathlib import Path

from test_runner_resume import _fakes, pair

from pipecast.compilers import graph
from pipecast.runner import Capacity, run_pipeline
from pipecast.runner._journal import digest_folder


def _tree(root: Path) -> Path:
    (root / "a" / "deep").mkdir(parents=True)
    (root / "z").mkdir()
    (root / "a" / "deep" / "f.txt").write_text("one")
    (root / "z" / "g.txt").write_text("two")
    return root


def test_a_missing_folder_is_missing_and_an_existing_one_is_a_sha256(tmp_path):
    assert digest_folder(tmp_path / "nope") == "missing"
    digest = digest_folder(_tree(tmp_path / "t"))
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_a_change_anywhere_in_the_tree_changes_the_digest(tmp_path):
    root = _tree(tmp_path / "t")
    before = digest_folder(root)
    (root / "a" / "deep" / "f.txt").write_text("ONE")  # not in the last folder walked
    assert digest_folder(root) != before
    (root / "a" / "deep" / "f.txt").write_text("one")
    assert digest_folder(root) == before  # the same bytes again: the same digest
    (root / "a" / "deep" / "f.txt").rename(root / "a" / "deep" / "h.txt")
    assert digest_folder(root) != before  # a renamed file
    (root / "a" / "deep" / "h.txt").rename(root / "a" / "deep" / "f.txt")
    (root / "a" / "empty").mkdir()
    assert digest_folder(root) != before  # an added empty folder


def test_times_do_not_count_and_a_file_is_digested_alone(tmp_path):
    root = _tree(tmp_path / "t")
    before = digest_folder(root)
    os.utime(root / "z" / "g.txt", (1, 1))
    assert digest_folder(root) == before
    assert digest_folder(root / "z" / "g.txt") != digest_folder(root / "a" / "deep" / "f.txt")


def test_a_symlink_counts_by_its_target_not_by_what_it_points_at(tmp_path):
    """An output holding a link to a folder elsewhere: the digest covers the link, never the
    linked folder's content (which the step did not write and a rerun would not change)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.txt").write_text("1")
    root = _tree(tmp_path / "t")
    (root / "link").symlink_to(outside, target_is_directory=True)
    before = digest_folder(root)
    (outside / "x.txt").write_text("2")
    (outside / "more.txt").write_text("3")
    assert digest_folder(root) == before
    (root / "link").unlink()
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    assert digest_folder(root) != before
    # a file whose bytes are a link's target text is still not that link
    (root / "link").unlink()
    (root / "link").write_text(str(tmp_path))
    assert digest_folder(root) != before


def test_resume_reruns_a_step_whose_fake_is_another_function_of_the_same_name(tmp_path):
    """Fakes are told apart by module and name: two ``use`` fakes from different modules are
    different code, so the second run must not reuse the first one's output."""
    checked = graph.check(pair.spec)
    cap = Capacity(2, 2**33, 0)
    calls: list[str] = []
    fakes = _fakes(calls)
    first = run_pipeline(checked, {"n": 3}, tmp_path, fakes=fakes, capacity=cap)
    assert first.succeeded and calls == ["make", "use"]
    other = types.FunctionType(
        fakes["use"].__code__,
        fakes["use"].__globals__,
        "use_fake",
        None,
        fakes["use"].__closure__,
    )
    other.__qualname__ = fakes["use"].__qualname__
    other.__module__ = "somewhere.else"
    calls.clear()
    again = run_pipeline(
        checked,
        {"n": 3},
        tmp_path,
        run_id=first.run_id,
        resume=True,
        fakes={**fakes, "use": other},
        capacity=cap,
    )
    assert again.succeeded and calls == ["use"]
    assert again.steps["make"].status == "cached" and again.steps["use"].status == "succeeded"


def test_names_that_are_not_utf8_are_digested_by_their_bytes(tmp_path):
    """A file name of raw bytes (Latin-1 from an old camera, say) reaches Python with surrogate
    escapes; the digest takes the name's own bytes instead of failing."""
    root = tmp_path / "t"
    root.mkdir()
    raw = os.fsencode(root) + b"/caf\xe9.txt"
    with open(raw, "wb") as handle:
        handle.write(b"frames")
    os.symlink(b"caf\xe9.txt", os.fsencode(root) + b"/link-\xff")
    (root / "sub-\udcff").mkdir()  # a folder name from undecodable bytes too
    first = digest_folder(root)
    os.rename(raw, os.fsencode(root) + b"/caf\xe8.txt")
    assert digest_folder(root) != first  # the name's bytes count
