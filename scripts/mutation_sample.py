"""Draw a uniform random sample of a stage's mutants: a score for an area too big for a full pass.

Why: ``compilers/`` alone holds over 16,000 mutants; a full pass takes hours on 2 cores (see
docs/mutation.md). mutmut runs a full pass fastest-first, so a pass stopped early measures the
cheapest mutants, not the area. A uniform random sample of n mutants estimates the area's score
with a known error (the report prints a 95 % Wilson interval), and every survivor in it is a real
survivor to kill or explain.

Run by ``scripts/mutation.sh`` inside a staging tree (``MUTATION_SAMPLE=n``, ``MUTATION_SEED``):
it generates the mutants with mutmut's own code, exactly as ``mutmut run`` does first (which then
finds the files unchanged and keeps them), reads every mutant's name from mutmut's ``.meta`` files
and writes a sorted sample to ``sample.txt``, one name per line (mutmut prints to stdout while it
generates). The same seed and code give the same sample.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path


def generate() -> None:
    """mutmut's generation step (3.8), without the test and type-check phases that follow it."""
    try:
        from mutmut.__main__ import create_mutants
        from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir, setup_source_paths
    except ImportError as exc:  # a mutmut release that moved them
        raise SystemExit(
            f"mutation_sample.py: this mutmut has no {exc.name}; pin mutmut 3.8"
        ) from exc
    Path("mutants").mkdir(exist_ok=True)
    copy_src_dir()
    copy_also_copy_files()
    setup_source_paths()
    create_mutants(os.cpu_count() or 1)


def mutant_names(mutants: Path) -> list[str]:
    """Every mutant of every mutated module, in a stable order (the sample depends on it)."""
    names: set[str] = set()
    for meta in mutants.rglob("*.py.meta"):
        names.update(json.loads(meta.read_text())["exit_code_by_key"])
    return sorted(names)


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or not sys.argv[2].isdigit():
        raise SystemExit("usage: mutation_sample.py SIZE SEED (both whole numbers)")
    size, seed = int(sys.argv[1]), int(sys.argv[2])
    generate()
    names = mutant_names(Path("mutants"))
    if not names:
        raise SystemExit("mutation_sample.py: no mutants generated (check only_mutate)")
    sample = sorted(random.Random(seed).sample(names, min(size, len(names))))
    Path("sample.txt").write_text("".join(name + "\n" for name in sample))
    print(f"sample: {len(sample)} of {len(names)} mutants, seed {seed} (sample.txt)")


if __name__ == "__main__":
    main()
