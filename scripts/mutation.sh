#!/usr/bin/env bash
# Mutation testing (mutmut 3) over the four areas, or over the folders/modules given:
#   scripts/mutation.sh                      # compilers/ dsl/ pipecast/runner/ pipecast/deploy/
#   scripts/mutation.sh compilers/ dsl/_spec.py
#   scripts/mutation.sh --survivors          # after adding tests: re-test only the last survivors
# Not part of CI (a full run takes about an hour on 2 cores); see docs/mutation.md.
#
# Why a staging tree: the project installs with a setuptools package-dir mapping (pipecast.dsl is
# dsl/, pipecast.compilers is compilers/) through an editable finder. mutmut copies the sources into
# mutants/ and puts that folder first on sys.path; with the repository layout, `import pipecast.dsl`
# would then fall through to the editable finder and test the UNMUTATED dsl/. So we copy the code
# into build/mutation/ with the installed layout (pipecast/dsl, pipecast/compilers, ...), run mutmut
# there, and first check that a planted mutant is killed (the run stops if it is not).
#
# Environment: PYTHON (default .venv/bin/python), MUTATION_JOBS (default: CPU count),
# MUTATION_STAGE (default build/mutation), MUTATION_SKIP_CANARY=1 to skip the planted-mutant check.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py="${PYTHON:-$root/.venv/bin/python}"
case "$py" in /*) ;; */*) py="$root/$py" ;; esac
stage="${MUTATION_STAGE:-build/mutation}"
jobs="${MUTATION_JOBS:-$(nproc)}"

# Fast tests only: every tests/ module but wheel builds, Docker image checks, whole-demo runs and
# the moto end-to-end executions (minutes each: they would dominate every mutant they touch; the
# layouts they run are checked structurally in test_stepfunctions.py and test_sfn_layout_rules.py).
# Tests that reach the code only through a subprocess cannot be attributed to a function by mutmut,
# so the subprocess-heavy CLI/determinism modules are left out too (and test_ci_skips, which runs
# pytest inside pytest). Tests marked slow never run. New test modules join by default.
slow_tests=(
  tests/test_stepfunctions_moto.py tests/test_packaging.py tests/test_component_images.py
  tests/test_flagship.py tests/test_determinism.py tests/test_cli.py tests/test_readme_example.py
  tests/test_ci_skips.py
)
test_selection=(tests -m "not slow")
for f in "${slow_tests[@]}"; do test_selection+=("--ignore=$f"); done
# Tests of stack introspection itself: under mutmut a trampoline frame sits between the function
# and its caller, so they fail on unmutated code (what they check is not what mutmut changes).
test_selection+=("--deselect=tests/test_kubeflow.py::test_cheap_stack_names_the_real_caller")

tar_copy() {  # tar_copy SRC DEST: copy a folder's contents without caches
  mkdir -p "$2" && (cd "$1" && tar -cf - --exclude=__pycache__ .) | tar -xf - -C "$2"
}
report() {
  "$py" -m mutmut results --all true > results.txt 2>&1 || true
  "$py" "$root/scripts/mutation_report.py" mutants | tee report.md
  echo "report: $stage/report.md, survivors: $stage/survivors.txt (mutmut show NAME, from $stage)"
}

if [ "${1:-}" = "--survivors" ]; then
  # Same staged code and mutants; fresh tests. mutmut collects coverage for the new tests, then
  # re-tests the survivors of the last run (killed mutants stay killed: tests were only added).
  [ -s "$stage/survivors.txt" ] || { echo "no $stage/survivors.txt: run a full pass first" >&2; exit 2; }
  rm -rf "$stage/tests" && tar_copy tests "$stage/tests"
  cp scripts/mutation_plugin.py "$stage/"
  cp scripts/mutation_sitecustomize.py "$stage/sitecustomize.py"
  cd "$stage"
  mapfile -t names < <(cut -d: -f1 survivors.txt)
  TIMEFORMAT="mutmut run: %0R s wall, %0U s user + %0S s system CPU"
  time nice -n 10 "$py" -m mutmut run --max-children "$jobs" "${names[@]}"
  report
  exit 0
fi

# Repository folder -> installed package folder (a module or folder argument keeps its tail).
installed_path() {
  case "$1" in
    dsl|dsl/*) echo "pipecast/$1" ;;
    compilers|compilers/*) echo "pipecast/$1" ;;
    pipecast/*) echo "$1" ;;
    *) echo "scripts/mutation.sh: $1 is not under dsl/, compilers/ or pipecast/" >&2; exit 2 ;;
  esac
}
[ $# -gt 0 ] || set -- compilers/ dsl/ pipecast/runner/ pipecast/deploy/
patterns=()
for arg in "$@"; do
  p=$(installed_path "${arg%/}")
  [ -e "$root/${arg%/}" ] || { echo "scripts/mutation.sh: no such file or folder: $arg" >&2; exit 2; }
  if [ -d "$root/${arg%/}" ]; then patterns+=("$p/*"); else patterns+=("$p"); fi
done

# The staging tree: the installed layout, real copies (mutmut walks it and does not follow links).
rm -rf "$stage" && mkdir -p "$stage/pipecast"
for f in pipecast/*.py pipecast/py.typed; do cp "$f" "$stage/pipecast/"; done
for d in deploy runner; do tar_copy "pipecast/$d" "$stage/pipecast/$d"; done
for d in dsl compilers components schemas; do tar_copy "$d" "$stage/pipecast/$d"; done
for d in tests examples; do tar_copy "$d" "$stage/$d"; done
cp README.md scripts/mutation_plugin.py "$stage/"
cp scripts/mutation_sitecustomize.py "$stage/sitecustomize.py"

toml_list() { local out="" x; for x in "$@"; do out+="\"$x\", "; done; echo "[${out%, }]"; }
{
  cat pyproject.toml
  cat <<EOF

[tool.mutmut]
source_paths = ["pipecast"]
only_mutate = $(toml_list "${patterns[@]}")
also_copy = ["examples", "README.md", "mutation_plugin.py", "sitecustomize.py"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "mutation_plugin", "-q"]
pytest_add_cli_args_test_selection = $(toml_list "${test_selection[@]}")
use_git_change_detection = false
EOF
} > "$stage/pyproject.toml"

cd "$stage"
# Subprocesses started by tests (python -m pipecast ...) import the repository's code through the
# editable install: mutmut's trampolines cannot run outside its process, and it could not attribute
# a kill to them anyway. So CLI behaviour is mutation-tested through in-process tests only.
export PYTHONHASHSEED=0

if [ "${MUTATION_SKIP_CANARY:-0}" != 1 ]; then
  # Planted mutant: the serializer stops sorting keys, in a copy laid out like mutants/, and the
  # golden tests run the way mutmut runs them (that copy first on sys.path, cwd inside it). If they
  # still pass, the tests import the repository's unmutated code and every score would be a lie.
  canary=canary
  rm -rf "$canary" && mkdir "$canary"
  cp -r pipecast tests examples README.md pyproject.toml "$canary/"
  "$py" - "$canary/pipecast/compilers/canonical.py" <<'PY'
import pathlib, sys
path = pathlib.Path(sys.argv[1])
text = path.read_text()
assert "for key in sorted(o):" in text, "canary: canonical.py changed; update the planted mutant"
path.write_text(text.replace("for key in sorted(o):", "for key in o:"))
PY
  goldens() { (cd "$1" && nice -n 10 "$py" -m pytest -q -x -p no:cacheprovider \
      tests/test_goldens.py >/dev/null 2>&1); }
  goldens . || { echo "scripts/mutation.sh: tests/test_goldens.py fails on the clean copy" >&2; exit 3; }
  if goldens "$canary"; then
    echo "scripts/mutation.sh: the planted mutant SURVIVED: tests import unmutated code" >&2
    exit 3
  fi
  echo "planted mutant (unsorted JSON keys) killed: the tests import the staged copy"
  rm -rf "$canary"
fi

TIMEFORMAT="mutmut run: %0R s wall, %0U s user + %0S s system CPU"
time nice -n 10 "$py" -m mutmut run --max-children "$jobs"
report
