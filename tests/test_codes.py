"""One table of diagnostic codes: every code pipecast emits has a one-line meaning in
``pipecast.errors.CODES``, every listed code is emitted somewhere, retired codes stay retired."""

from __future__ import annotations

import re

from helpers import ROOT

from pipecast.errors import CODES, RETIRED_CODES

CODE_RE = re.compile(r"""["'](PC\d{3})["']""")


def _emitted() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for folder in ("compilers", "dsl", "pipecast"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path == ROOT / "pipecast" / "errors.py":  # leave out the tables themselves
                start = text.index("CODES: dict[str, str] = {")
                text = text[:start] + text[text.index("\n}\n", text.index("RETIRED_CODES: dict")) :]
            for code in CODE_RE.findall(text):
                found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_emitted_code_is_in_the_table_and_every_listed_code_is_emitted():
    emitted = _emitted()
    assert sorted(set(emitted) - set(CODES)) == [], "add a one-line meaning to errors.CODES"
    assert sorted(set(CODES) - set(emitted)) == [], "a listed code nothing emits"
    assert all(meaning and "\n" not in meaning for meaning in CODES.values())


def test_retired_codes_are_not_emitted_and_map_onto_live_ones():
    emitted = _emitted()
    for old, new in RETIRED_CODES.items():
        assert old not in emitted, f"{old} is retired ({new} replaces it): {emitted[old]}"
        assert new in CODES and old not in CODES
