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


def collect(mutants: Path, survivors: dict[str, list[str]]) -> dict[str, Counter[str]]:
    """Verdict counts by installed module path; each module's survivors go into ``survivors``."""
    by_module: dict[str, Counter[str]] = {}
    for meta in sorted(mutants.rglob("*.py.meta")):
        module = meta.relative_to(mutants).as_posix()[: -len(".meta")]
        codes = dict(_read_meta(meta)["exit_code_by_key"])
        # A --survivors re-run re-tests only the last survivors, and mutmut forgets every other
        # verdict; the script keeps the earlier ones in verdicts-before/ (same layout).
        before = mutants.parent / "verdicts-before" / meta.relative_to(mutants)
        if before.is_file():
            for name, code in _read_meta(before)["exit_code_by_key"].items():
                # (a mutant of a function since changed or removed has another name or none)
                if name in codes and status_of(codes[name]) == "not checked":
                    codes[name] = code
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
