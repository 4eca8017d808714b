"""The values users write in the DSL: sizes, durations, Resources, Spot and Retry.

Every unit a user may type maps to exactly one number of bytes or seconds, and every value
outside the accepted range is a PC101 definition error pointing at the user's line.
"""

from __future__ import annotations

import pytest

from pipecast.dsl import Resources, Retry, Spot
from pipecast.dsl.spec import format_bytes
from pipecast.dsl.units import parse_duration, parse_memory
from pipecast.errors import DefinitionError

KIB, MIB, GIB, TIB = 1024, 1024**2, 1024**3, 1024**4

# the hint a user reads for each kind of mistake: how to write the value instead
SIZE_HINTS = {
    "is not a size": "write sizes as '512MiB', '16GiB' or '1.5TiB' (GB/MB are decimal)",
    "must be positive": "give a size such as '1GiB'",
    "has no unit": "write '{value}GiB' or '{value}MiB' ('{value}B' for bytes)",
    "must be a size string like '16GiB'": "write sizes as '512MiB', '16GiB' or '1.5TiB'",
}
DURATION_HINTS = {
    "is not a duration": "write durations as '90s', '30m', '2h', '1d' or a number of seconds",
    "must be positive": "give a duration such as '30m'",
    "must be a string like '30m'": (
        "write durations as '90s', '30m', '2h', '1d' or a number of seconds"
    ),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7b", 7),
        ("3B", 3),
        ("2k", 2000),
        ("2kB", 2000),
        ("512MB", 512 * 10**6),
        ("5m", 5 * 10**6),
        ("3g", 3 * 10**9),
        ("4GB", 4 * 10**9),
        ("2t", 2 * 10**12),
        ("2TB", 2 * 10**12),
        ("3Ki", 3 * KIB),
        ("3KiB", 3 * KIB),
        ("5Mi", 5 * MIB),
        ("512MiB", 512 * MIB),
        ("7Gi", 7 * GIB),
        ("16GiB", 16 * GIB),
        ("2Ti", 2 * TIB),
        ("1.5TiB", 3 * TIB // 2),
        (" 8 GiB ", 8 * GIB),
        ("8gib", 8 * GIB),
    ],
)
def test_every_size_unit_has_its_own_factor(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("16 gigs", "is not a size"),
        ("GiB", "is not a size"),
        ("-1GiB", "is not a size"),
        ("1.5.2GiB", "is not a size"),
        ("0GiB", "must be positive"),
        ("0.1b", "must be positive"),
        ("16", "has no unit"),
        (4096, "has no unit"),
        (True, "must be a size string like '16GiB'"),
        (1.5, "must be a size string like '16GiB'"),
        (None, "must be a size string like '16GiB'"),
    ],
)
def test_bad_sizes_are_pc101_naming_the_field(value, fragment):
    with pytest.raises(DefinitionError) as info:
        parse_memory(value, "Resources.disk")
    assert info.value.diagnostic.code == "PC101"
    assert fragment in info.value.diagnostic.message
    assert "Resources.disk" in info.value.diagnostic.message
    assert info.value.diagnostic.hint == SIZE_HINTS[fragment].format(value=str(value).strip())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("45", 45),
        ("45s", 45),
        ("2m", 120),
        ("3h", 10800),
        ("2d", 172800),
        (" 1.5 h ", 5400),
        ("0.5s", 1),
        (7, 7),
        (2.01, 3),
        (0.2, 1),
    ],
)
def test_durations_are_whole_seconds_rounded_up(value, expected):
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("soon", "is not a duration"),
        ("5w", "is not a duration"),
        ("-3s", "is not a duration"),
        ("0s", "must be positive"),
        (0, "must be positive"),
        (-1.5, "must be positive"),
        (float("inf"), "must be positive"),
        (float("nan"), "must be positive"),
        (False, "must be a string like '30m'"),
        ([1], "must be a string like '30m'"),
    ],
)
def test_bad_durations_are_pc101_naming_the_field(value, fragment):
    with pytest.raises(DefinitionError) as info:
        parse_duration(value, "Retry.backoff")
    assert info.value.diagnostic.code == "PC101"
    assert fragment in info.value.diagnostic.message
    assert "Retry.backoff" in info.value.diagnostic.message
    assert info.value.diagnostic.hint == DURATION_HINTS[fragment]


def test_without_a_field_name_the_message_names_the_kind_of_value() -> None:
    with pytest.raises(DefinitionError) as info:
        parse_duration("soon")
    assert info.value.diagnostic.message == "duration 'soon' is not a duration"
    with pytest.raises(DefinitionError) as info:
        parse_memory("16")
    assert info.value.diagnostic.message == "memory '16' has no unit"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (2 * TIB, "2TiB"),
        (16 * GIB, "16GiB"),
        (1536 * MIB, "1536MiB"),
        (3 * KIB, "3KiB"),
        (1000, "1000B"),
        (1, "1B"),
    ],
)
def test_format_bytes_is_the_shortest_exact_binary_spelling(size, text):
    assert format_bytes(size) == text
    assert parse_memory(text) == size


def test_resources_defaults_and_normalised_fields():
    r = Resources()
    assert (r.cpu, r.memory_bytes, r.gpu, r.gpu_type, r.disk_bytes) == (1, 2 * GIB, 0, None, None)
    r = Resources(cpu=0.5, memory="512MB", gpu=4, gpu_type="A10G", disk="100GiB")
    assert r.memory_bytes == 512 * 10**6
    assert r.disk_bytes == 100 * GIB
    assert (r.cpu, r.gpu, r.gpu_type) == (0.5, 4, "A10G")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"cpu": 0}, "Resources.cpu must be a positive number"),
        ({"cpu": -2}, "Resources.cpu must be a positive number"),
        ({"cpu": True}, "Resources.cpu must be a positive number"),
        ({"cpu": "4"}, "Resources.cpu must be a positive number"),
        ({"gpu": -1}, "Resources.gpu must be a whole number"),
        ({"gpu": 1.0}, "Resources.gpu must be a whole number"),
        ({"gpu": True}, "Resources.gpu must be a whole number"),
        ({"gpu": 1, "gpu_type": ""}, "Resources.gpu_type must be a GPU model name"),
        ({"gpu": 1, "gpu_type": 7}, "Resources.gpu_type must be a GPU model name"),
        ({"gpu_type": "A10G"}, "gpu_type is set but gpu=0"),
        ({"memory": "lots"}, "Resources.memory"),
        ({"disk": "lots"}, "Resources.disk"),
    ],
)
def test_bad_resources_are_pc101(kwargs, fragment):
    with pytest.raises(DefinitionError) as info:
        Resources(**kwargs)
    assert info.value.diagnostic.code == "PC101"
    assert fragment in info.value.diagnostic.message


def test_resources_accept_the_smallest_valid_values():
    r = Resources(cpu=0.25, memory="1B", gpu=0)
    assert (r.cpu, r.memory_bytes, r.gpu) == (0.25, 1, 0)
    assert Resources(gpu=1, gpu_type="T4").gpu == 1


def test_spot_default_and_units():
    assert Spot().max_wait_seconds == 7200
    assert Spot("90m").max_wait_seconds == 5400
    assert Spot(max_wait=600).max_wait_seconds == 600


def test_retry_defaults_and_normalised_fields():
    r = Retry()
    assert (r.max_attempts, r.backoff_seconds, r.backoff_rate) == (3, 30, 2.0)
    r = Retry(5, "2m", 3)
    assert (r.max_attempts, r.backoff_seconds, r.backoff_rate) == (5, 120, 3.0)
    assert isinstance(r.backoff_rate, float)


@pytest.mark.parametrize(("attempts", "rate"), [(1, 1), (20, 10), (1, 1.0), (20, 10.0)])
def test_retry_range_bounds_are_inclusive(attempts, rate):
    r = Retry(max_attempts=attempts, backoff_rate=rate)
    assert (r.max_attempts, r.backoff_rate) == (attempts, float(rate))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_attempts": 0}, "Retry.max_attempts must be a whole number from 1 to 20"),
        ({"max_attempts": 21}, "Retry.max_attempts must be a whole number from 1 to 20"),
        ({"max_attempts": 2.0}, "Retry.max_attempts must be a whole number from 1 to 20"),
        ({"max_attempts": True}, "Retry.max_attempts must be a whole number from 1 to 20"),
        ({"backoff_rate": 0.99}, "Retry.backoff_rate must be from 1 to 10"),
        ({"backoff_rate": 10.5}, "Retry.backoff_rate must be from 1 to 10"),
        ({"backoff_rate": True}, "Retry.backoff_rate must be from 1 to 10"),
        ({"backoff_rate": "2"}, "Retry.backoff_rate must be from 1 to 10"),
        ({"backoff": "0s"}, "Retry.backoff must be positive"),
    ],
)
def test_bad_retries_are_pc101(kwargs, fragment):
    with pytest.raises(DefinitionError) as info:
        Retry(**kwargs)
    assert info.value.diagnostic.code == "PC101"
    assert fragment in info.value.diagnostic.message
    assert info.value.diagnostic.location.file.endswith("test_dsl_values.py")


def test_a_bad_spot_names_its_field_and_shows_a_valid_spot() -> None:
    with pytest.raises(DefinitionError) as info:
        Spot(max_wait="soon")
    assert info.value.diagnostic.code == "PC101"
    assert info.value.diagnostic.message == "Spot.max_wait 'soon' is not a duration"
    with pytest.raises(DefinitionError) as info:
        Spot(checkpoints="yes")  # type: ignore[arg-type]
    assert info.value.diagnostic.code == "PC101"
    assert info.value.diagnostic.message == "Spot.checkpoints must be True or False, got 'yes'"
    assert info.value.diagnostic.hint == "e.g. Spot(max_wait='2h', checkpoints=True)"


@pytest.mark.parametrize(
    ("kwargs", "hint"),
    [
        ({"max_attempts": 0}, "e.g. Retry(max_attempts=3)"),
        ({"backoff_rate": 0.5}, "e.g. Retry(max_attempts=3, backoff='30s', backoff_rate=2)"),
    ],
)
def test_a_bad_retry_shows_a_valid_retry(kwargs: dict[str, float], hint: str) -> None:
    with pytest.raises(DefinitionError) as info:
        Retry(**kwargs)  # type: ignore[arg-type]
    assert info.value.diagnostic.hint == hint
