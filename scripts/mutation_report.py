"""Summarise a mutmut run: score per module and per area, as Markdown tables for docs/mutation.md.

Run by ``scripts/mutation.sh`` inside a staging tree (``python mutation_report.py mutants``), or
over several stages' ``mutants/`` folders (``scripts/mutation.sh --report``). It
reads mutmut's per-file ``.meta`` results rather than its text output, so the numbers do not depend
on mutmut's display format. A mutant counts as detected when the tests fail on it, time out on it or
crash on it; "no tests" (no fast test reaches the function) counts against the score: that is a
gap too. Scores are over the mutants checked, so an interrupted run still reports what it saw.
A stage that ran a random sample (``MUTATION_SAMPLE``, its ``sample.txt``) gets a 95 % Wilson
interval next to each score: what the sample says about all of the area's mutants. A stopped
full pass gets none (mutmut runs the cheapest mutants first, so they are no random sample).
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

DETECTED = {"killed", "timeout", "segfault", "caught by type check"}
AREAS = ("pipecast/compilers", "pipecast/dsl", "pipecast/runner", "pipecast/deploy")


def status_of(exit_code: int | None) -> str:
    """mutmut's own mapping from a test run's exit code to a verdict."""
    from mutmut.stats import status_by_exit_code

    return str(status_by_exit_code[exit_code])


def repo_path(installed: str) -> str:
    """``pipecast/dsl/_spec.py`` -> ``dsl/_spec.py``: the file a developer edits."""
    for folder in ("dsl", "compilers", "components", "schemas"):
        prefix = f"pipecast/{folder}/"
        if installed.startswith(prefix):
            return folder + "/" + installed[len(prefix) :]
    return installed


def _read_meta(path: Path) -> dict[str, Any]:
    """mutmut rewrites a meta file after each mutant: read again if caught mid-write."""
    for _ in range(50):
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return data
        except ValueError:
            time.sleep(0.1)
    raise SystemExit(f"{path}: not readable JSON")


def verdicts(mutants: Path, meta: Path) -> dict[str, int | None]:
    """One module's verdicts by mutant. A --survivors re-run re-tests only the last survivors,
    and mutmut forgets every other verdict; the script keeps the earlier ones in
    verdicts-before/ (same layout), and they fill the gaps here."""
    codes = dict(_read_meta(meta)["exit_code_by_key"])
    before = mutants.parent / "verdicts-before" / meta.relative_to(mutants)
    if before.is_file():
        for name, code in _read_meta(before)["exit_code_by_key"].items():
            # (a mutant of a function since changed or removed has another name or none)
            if name in codes and status_of(codes[name]) == "not checked":
                codes[name] = code
    return codes


def collect(mutants: Path, survivors: dict[str, list[str]]) -> dict[str, Counter[str]]:
    """Verdict counts by installed module path; each module's survivors go into ``survivors``."""
    by_module: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = meta.relative_to(mutants).as_posix()[: -len(".meta")]
        codes = verdicts(mutants, meta)
        counts = by_module.setdefault(module, Counter())
        survived = survivors[module] = []
        for name, code in sorted(codes.items()):
            status = status_of(code)
            counts[status] += 1
            if status not in DETECTED and status != "not checked":
                survived.append(f"{name}: {status}")
    return by_module


def keep(mutants: Path) -> None:
    """Before a --survivors re-run: add this run's decided verdicts to ``verdicts-before/``
    (mutmut will forget every mutant it does not re-test; ``collect`` puts them back)."""
    for meta in sorted(mutants.rglob("*.py.meta")):
        kept = mutants.parent / "verdicts-before" / meta.relative_to(mutants)
        data = _read_meta(kept) if kept.is_file() else {"exit_code_by_key": {}}
        for name, code in _read_meta(meta)["exit_code_by_key"].items():
            if status_of(code) != "not checked":
                data["exit_code_by_key"][name] = code
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(data))


def cost_of(stats: dict[str, Any], name: str) -> float:
    """mutmut's own estimate of a mutant's cost: the time of every test that reaches its function
    (the order a pass runs mutants in, cheapest first)."""
    function = name.replace("__init__.", "").partition("__mutmut_")[0]
    durations = stats["duration_by_test"]
    return float(
        sum(
            durations.get(t, 0.0) for t in stats["tests_by_mangled_function_name"].get(function, ())
        )
    )


def strata(mutants: Path) -> list[str]:
    """What a stopped pass measured. mutmut runs mutants cheapest first, so a pass stopped early
    has decided exactly the mutants cheaper than the first undecided one: a stratum of the area
    defined by cost. Its score is exact after a full pass, and estimated with an interval after a
    random sample (the sample's members in the stratum are a random sample of it)."""
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    sample_file = mutants.parent / "sample.txt"
    sampled = set(sample_file.read_text().split()) if sample_file.is_file() else None
    lines = []
    for area in AREAS:
        codes: dict[str, int | None] = {}
        for meta in sorted((mutants / area).rglob("*.py.meta")):
            codes.update(verdicts(mutants, meta))
        if not codes:
            continue
        measured = codes if sampled is None else {n: c for n, c in codes.items() if n in sampled}
        open_costs = [
            cost_of(stats, n) for n, c in measured.items() if status_of(c) == "not checked"
        ]
        limit = min(open_costs) if open_costs else float("inf")
        below = [status_of(c) for n, c in measured.items() if cost_of(stats, n) < limit]
        stratum = sum(1 for n in codes if cost_of(stats, n) < limit)
        detected = sum(1 for status in below if status in DETECTED)
        what = f"{len(below)} of the sample's {len(measured)}" if sampled else f"all {len(below)}"
        line = (
            f"{repo_path(area + '/')}: the {stratum} of {len(codes)} mutants "
            f"({100 * stratum / len(codes):.1f} %) whose tests take under {limit:.2f} s; "
            f"{what} decided there: {100 * detected / max(len(below), 1):.1f} % caught"
        )
        if sampled is not None and below:
            low, high = wilson(detected, len(below))
            line += f" (95 % interval {100 * low:.1f}–{100 * high:.1f})"
        lines.append(line)
    return lines


def wilson(detected: int, checked: int) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion: sound near 100 % and for small samples, where
    the normal approximation runs past 100 %."""
    z = 1.959964
    p = detected / checked
    centre = (p + z * z / (2 * checked)) / (1 + z * z / checked)
    half = z * math.sqrt(p * (1 - p) / checked + z * z / (4 * checked * checked))
    half /= 1 + z * z / checked
    return centre - half, centre + half


def restore(mutants: Path) -> None:
    """Before an --update run: put the kept verdicts back into mutmut's own files, so that mutmut
    tests only the mutants without one (it then forgets those of functions whose code changed),
    and drop ``verdicts-before/``: from here on mutmut's files hold every verdict."""
    kept_root = mutants.parent / "verdicts-before"
    for meta in sorted(mutants.rglob("*.py.meta")):
        kept = kept_root / meta.relative_to(mutants)
        if not kept.is_file():
            continue
        data = _read_meta(meta)
        codes = data["exit_code_by_key"]
        for name, code in _read_meta(kept)["exit_code_by_key"].items():
            if name in codes and codes[name] is None:
                codes[name] = code
        partial = meta.with_name(meta.name + ".partial")
        partial.write_text(json.dumps(data, indent=4))
        partial.replace(meta)
    if kept_root.is_dir():
        shutil.rmtree(kept_root)


def row(name: str, counts: Counter[str], sampled: bool = False) -> str:
    """One table row; the score is over the mutants checked (all of them after a full run)."""
    total = sum(counts.values())
    checked = total - counts["not checked"]
    detected = sum(counts[s] for s in DETECTED)
    typed = counts["caught by type check"]
    score = f"{100.0 * detected / checked:.1f} %" if checked else "-"
    if sampled and checked and checked < total:
        low, high = wilson(detected, checked)
        score += f" ({100 * low:.1f}–{100 * high:.1f})"
    return (
        f"| {name} | {total} | {checked} | {detected - typed} | {typed} | {counts['survived']} | "
        f"{counts['no tests']} | {score} |"
    )


def main() -> None:
    if sys.argv[1:2] == ["--strata"]:
        print("\n".join(strata(Path(sys.argv[2] if len(sys.argv) > 2 else "mutants"))))
        return
    if sys.argv[1:2] in (["--keep"], ["--restore"]):
        action = keep if sys.argv[1] == "--keep" else restore
        action(Path(sys.argv[2] if len(sys.argv) > 2 else "mutants"))
        return
    # Several mutants/ folders (one per stage, oldest first): a module measured in more than one
    # keeps its newest verdicts, so re-measuring one module does not count its mutants twice.
    by_module: dict[str, Counter[str]] = {}
    survivors: dict[str, list[str]] = {}
    sampled: set[str] = set()
    for folder in sys.argv[1:] or ["mutants"]:
        modules = collect(Path(folder), survivors)
        by_module.update(modules)
        if (Path(folder).parent / "sample.txt").is_file():
            sampled.update(modules)
        else:
            sampled.difference_update(modules)
    lines = [s for module in sorted(survivors) for s in survivors[module]]
    Path("survivors.txt").write_text("".join(s + "\n" for s in lines))
    header = (
        "| {} | mutants | checked | killed by tests | caught by mypy | survived | no tests "
        "| score (95 % interval if sampled) |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    print(header.format("area"))
    for area in AREAS:
        total: Counter[str] = Counter()
        in_area = [module for module in by_module if module.startswith(area + "/")]
        for module in in_area:
            total += by_module[module]
        if total:
            print(row(repo_path(area + "/"), total, bool(in_area) and set(in_area) <= sampled))
    print()
    print(header.format("module"))
    for module, counts in sorted(by_module.items(), key=lambda kv: repo_path(kv[0])):
        if sum(counts.values()):
            print(row(repo_path(module), counts, module in sampled))


if __name__ == "__main__":
    main()
