"""The mutation-testing scripts' arithmetic: a score docs/mutation.md quotes is only as good as the
report that counted it (scripts/mutation_report.py) and the sample it was drawn from
(scripts/mutation_sample.py). Left out of mutation runs: a staging tree holds no scripts/."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from helpers import ROOT


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _script("mutation_report")
sample = _script("mutation_sample")


def _meta(path: Path, codes: dict[str, int | None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"exit_code_by_key": codes}))


@pytest.mark.parametrize(
    ("detected", "checked", "low", "high"),
    [
        (90, 100, 0.8256, 0.9448),
        (100, 100, 0.9630, 1.0),
        (0, 10, 0.0, 0.2775),
        (45, 50, 0.7864, 0.9565),
    ],
)
def test_wilson_interval_matches_the_textbook_values(
    detected: int, checked: int, low: float, high: float
) -> None:
    got_low, got_high = report.wilson(detected, checked)
    assert got_low == pytest.approx(low, abs=5e-4)
    assert got_high == pytest.approx(high, abs=5e-4)


def test_a_sampled_row_shows_its_interval_and_a_full_row_does_not() -> None:
    counts = Counter({"killed": 80, "caught by type check": 10, "survived": 10, "not checked": 900})
    sampled = report.row("compilers/", counts, sampled=True)
    assert sampled.endswith("| 90.0 % (82.6–94.5) |")
    assert "| 1000 | 100 | 80 | 10 | 10 | 0 |" in sampled
    assert report.row("compilers/", counts).endswith("| 90.0 % |")
    whole = Counter({"killed": 9, "survived": 1})
    assert report.row("dsl/", whole, sampled=True).endswith("| 90.0 % |")


def test_kept_verdicts_fill_only_the_gaps_of_mutants_that_still_exist(tmp_path: Path) -> None:
    mutants = tmp_path / "mutants"
    meta = mutants / "pipecast/dsl/_x.py.meta"
    _meta(meta, {"f__mutmut_1": None, "f__mutmut_2": 0, "f__mutmut_3": None})
    before = tmp_path / "verdicts-before/pipecast/dsl/_x.py.meta"
    # _1 was killed in an earlier pass; _2's earlier verdict is older than the current one; the
    # function since lost its fourth mutant, whose verdict must not come back as a mutant.
    _meta(before, {"f__mutmut_1": 1, "f__mutmut_2": 1, "f__mutmut_4": 0})
    survivors: dict[str, list[str]] = {}
    counts = report.collect(mutants, survivors)["pipecast/dsl/_x.py"]
    assert counts == Counter({"killed": 1, "survived": 1, "not checked": 1})
    assert survivors["pipecast/dsl/_x.py"] == ["f__mutmut_2: survived"]


def test_report_marks_a_sampled_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for stage, sampled in (("compilers", True), ("dsl", False)):
        codes: dict[str, int | None] = {f"f__mutmut_{i}": None for i in range(10)}
        codes.update({"f__mutmut_0": 1, "f__mutmut_1": 0})
        _meta(tmp_path / stage / f"mutants/pipecast/{stage}/m.py.meta", codes)
        if sampled:
            (tmp_path / stage / "sample.txt").write_text("f__mutmut_0\nf__mutmut_1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["mutation_report.py", "dsl/mutants", "compilers/mutants"])
    report.main()
    rows = {line.split(" | ")[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["| compilers/"].endswith("| 50.0 % (9.5–90.5) |")
    assert rows["| dsl/"].endswith("| 50.0 % |")
    assert (tmp_path / "survivors.txt").read_text() == "f__mutmut_1: survived\n" * 2


def test_sample_names_are_every_mutant_once_in_a_stable_order(tmp_path: Path) -> None:
    _meta(tmp_path / "pipecast/b.py.meta", {"b.g__mutmut_2": None, "b.g__mutmut_1": 0})
    _meta(tmp_path / "pipecast/a.py.meta", {"a.f__mutmut_1": None})
    assert sample.mutant_names(tmp_path) == ["a.f__mutmut_1", "b.g__mutmut_1", "b.g__mutmut_2"]


def test_restore_puts_kept_verdicts_back_where_mutmut_has_none(tmp_path: Path) -> None:
    meta = tmp_path / "mutants/pipecast/dsl/_x.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps({"exit_code_by_key": {"f__mutmut_1": None, "f__mutmut_2": 0}, "other": 7})
    )
    _meta(
        tmp_path / "verdicts-before/pipecast/dsl/_x.py.meta",
        {"f__mutmut_1": 1, "f__mutmut_2": 1, "gone": 0},
    )
    report.restore(tmp_path / "mutants")
    assert json.loads(meta.read_text()) == {
        "exit_code_by_key": {"f__mutmut_1": 1, "f__mutmut_2": 0},
        "other": 7,
    }
    assert not (tmp_path / "verdicts-before").exists()


def test_strata_name_what_a_stopped_pass_decided(tmp_path: Path) -> None:
    mutants = tmp_path / "mutants"
    # three functions: f's tests take 1 s, g's 3 s, h's 10 s; the pass stopped inside g
    stats = {
        "duration_by_test": {"t1": 1.0, "t2": 2.0, "t3": 7.0},
        "tests_by_mangled_function_name": {
            "pipecast.dsl.m.x_f": ["t1"],
            "pipecast.dsl.m.x_g": ["t1", "t2"],
            "pipecast.dsl.m.x_h": ["t1", "t2", "t3"],
        },
    }
    mutants.mkdir()
    (mutants / "mutmut-stats.json").write_text(json.dumps(stats))
    codes: dict[str, int | None] = {
        "pipecast.dsl.m.x_f__mutmut_1": 1,
        "pipecast.dsl.m.x_f__mutmut_2": 0,
        "pipecast.dsl.m.x_g__mutmut_1": None,
        "pipecast.dsl.m.x_h__mutmut_1": None,
    }
    _meta(mutants / "pipecast/dsl/m.py.meta", codes)
    (line,) = report.strata(mutants)
    assert line == (
        "dsl/: the 2 of 4 mutants (50.0 %) whose tests take under 3.00 s; "
        "all 2 decided there: 50.0 % caught"
    )
    (tmp_path / "sample.txt").write_text(
        "pipecast.dsl.m.x_f__mutmut_1\npipecast.dsl.m.x_g__mutmut_1\n"
    )
    (line,) = report.strata(mutants)
    assert line.startswith("dsl/: the 2 of 4 mutants (50.0 %) whose tests take under 3.00 s; ")
    assert line.endswith(
        "1 of the sample's 2 decided there: 100.0 % caught (95 % interval 20.7–100.0)"
    )
