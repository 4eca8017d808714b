"""Why a data-derived name is refused (the reason the user reads), and that an accepted one lands
exactly where its parts say, inside its folder, even through symlinks already on disk."""

from __future__ import annotations

import pytest

from pipecast.errors import RunError
from pipecast.runner._paths import MAX_PART_BYTES, inside, path_problem


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "it is empty"),
        ("a\x00b", "it contains a NUL or control character"),
        ("a\tb", "it contains a NUL or control character"),
        ("a\\b", "it contains a backslash"),
        ("/etc/passwd", "it is an absolute path"),
        ("a//b", "it has an empty or '.' part"),
        ("a/./b", "it has an empty or '.' part"),
        ("a/", "it has an empty or '.' part"),
        ("a/../b", "it has a '..' part"),
        ("..", "it has a '..' part"),
        ("a/" + "x" * (MAX_PART_BYTES + 1), f"a part is longer than {MAX_PART_BYTES} bytes"),
        ("é" * 128, f"a part is longer than {MAX_PART_BYTES} bytes"),  # 256 bytes
        ("x" * MAX_PART_BYTES, None),
        ("day1/a b.mp4", None),
        ("..a/b..", None),
    ],
)
def test_the_reason_a_name_is_not_a_safe_relative_path(name, problem):
    assert path_problem(name) == problem


def test_an_accepted_name_is_split_on_slashes_only(tmp_path):
    assert inside(tmp_path, "day 1/a b.mp4", what="S3 key", source="s3://b/") == (
        tmp_path / "day 1" / "a b.mp4"
    )


def test_a_name_through_a_symlink_out_of_the_folder_is_refused_with_where_it_resolves(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (folder / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(RunError) as caught:
        inside(folder, "link/x.txt", what="manifest entry", source="m.json")
    d = caught.value.diagnostic
    assert d.code == "PC201"
    assert d.message == (
        f"manifest entry 'link/x.txt' in m.json would be written outside its folder: it resolves "
        f"to {tmp_path / 'elsewhere' / 'x.txt'}, outside {folder}"
    )
    assert d.hint == "use plain relative paths such as 'day1/a.mp4' (no '..', no leading '/')"


def test_a_name_through_a_symlink_inside_the_folder_is_accepted(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert inside(tmp_path, "alias/x", what="S3 key", source="s3://b/") == tmp_path / "alias/x"
