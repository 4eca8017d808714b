#!/usr/bin/env bash
# Mutation testing (mutmut 3) over the four areas, or over the folders/modules given:
#   scripts/mutation.sh pipecast/runner/           # one area (its own stage and tests)
#   scripts/mutation.sh compilers/ dsl/_spec.py    # several; the stage is named after them
#   scripts/mutation.sh --survivors pipecast/runner/   # after adding tests: re-test the survivors
#   scripts/mutation.sh --update pipecast/runner/  # after a change: re-measure only what it touched
#   scripts/mutation.sh --report                   # one table over every stage in build/mutation/
#   scripts/mutation.sh --strata build/mutation/runner   # what a stopped pass measured (by cost)
#   MUTATION_SAMPLE=1000 scripts/mutation.sh compilers/  # a random sample: score with a 95 % interval
# Not part of CI; run one area at a time (see docs/mutation.md for the times).
#
# Why a staging tree: the project installs with a setuptools package-dir mapping (pipecast.dsl is
# dsl/, pipecast.compilers is compilers/) through an editable finder. mutmut copies the sources into
# mutants/ and puts that folder first on sys.path; with the repository layout, `import pipecast.dsl`
# would then fall through to the editable finder and test the UNMUTATED dsl/. So we copy the code
# into build/mutation/<areas>/ with the installed layout (pipecast/dsl, pipecast/compilers, ...),
# run mutmut there, and first check that a planted mutant is killed (the run stops if it is not).
#
# Environment: PYTHON (default .venv/bin/python), MUTATION_JOBS (default: CPU count),
# MUTATION_STAGE (default build/mutation/<areas>), MUTATION_SKIP_CANARY=1 to skip the
# planted-mutant check, MUTATION_TESTS (test files or folders, instead of the areas' own tests),
# MUTATION_EXAMPLES (hypothesis examples per property test, default 10), MUTATION_NICE (default 19),
# MUTATION_SAMPLE=n (test a uniform random sample of n mutants, not all), MUTATION_SEED (default 12).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
py="${PYTHON:-$root/.venv/bin/python}"
case "$py" in /*) ;; */*) py="$root/$py" ;; esac
jobs="${MUTATION_JOBS:-$(nproc)}"
niceness="${MUTATION_NICE:-19}"
# Property tests exist to find inputs, not to kill mutants: during a run they draw a few
# examples, derandomized so that a mutant's verdict does not depend on luck (tests/conftest.py
# registers the profile; scripts/mutation_plugin.py caps the tests' own max_examples).
export PIPECAST_HYPOTHESIS_PROFILE=mutation
export MUTATION_EXAMPLES="${MUTATION_EXAMPLES:-10}"

mode=run
case "${1:-}" in
  --survivors) mode=survivors; shift ;;
  --report) mode=report; shift ;;
  --update) mode=update; shift ;;
  --strata)
    [ -d "${2:-}/mutants" ] || { echo "usage: scripts/mutation.sh --strata build/mutation/<stage>" >&2; exit 2; }
    exec "$py" "$root/scripts/mutation_report.py" --strata "$2/mutants" ;;
esac

tar_copy() {  # tar_copy SRC DEST: copy a folder's contents without caches
  mkdir -p "$2" && (cd "$1" && tar -cf - --exclude=__pycache__ .) | tar -xf - -C "$2"
}

if [ "$mode" = report ]; then
  # Every stage's latest verdicts in one table (a module measured in two stages: the newer wins).
  mapfile -t dirs < <(cd build/mutation 2>/dev/null && ls -1dtr -- */mutants)
  [ ${#dirs[@]} -gt 0 ] || { echo "no build/mutation/*/mutants: run an area first" >&2; exit 2; }
  cd build/mutation && "$py" "$root/scripts/mutation_report.py" "${dirs[@]}" | tee report.md
  exit 0
fi

[ $# -gt 0 ] || set -- compilers/ dsl/ pipecast/runner/ pipecast/deploy/
slug=$(printf '%s+' "${@%/}" | sed -e 's/+$//' -e 's#pipecast/##g' -e 's#/#-#g')
stage="${MUTATION_STAGE:-build/mutation/$slug}"

report() {
  "$py" -m mutmut results --all true > results.txt 2>&1 || true
  "$py" "$root/scripts/mutation_report.py" mutants | tee report.md
  echo "report: $stage/report.md, survivors: $stage/survivors.txt (mutmut show NAME, from $stage)"
}

# The tests of an area. mutmut first records which selected tests reach each function, then runs
# only those for a mutant, fastest first, stopping at the first failure; a narrow selection makes
# that first pass and the clean run short. The runner and deploy have their own test modules;
# the DSL and the compilers are reached by almost every other module, so they get the whole fast
# suite except the runner's and deploy's modules (slow, and they do not check compiled documents).
# test_retries and test_scale_out check the DSL and every target too: they stay in every area's
# selection (only the runner-only modules leave the DSL's and the compilers').
runner_only_tests=(tests/test_runner*.py tests/test_flow_runner.py)
runner_tests=("${runner_only_tests[@]}" tests/test_retries.py tests/test_scale_out.py)
deploy_tests=(tests/test_deploy*.py)
tests_for() {
  case "$1" in
    pipecast/runner | pipecast/runner/*) echo "${runner_tests[@]}" ;;
    pipecast/deploy | pipecast/deploy/*) echo "${deploy_tests[@]}" ;;
    *) echo tests ;;
  esac
}

# Never selected: wheel builds, Docker image checks, whole-demo runs and the moto end-to-end
# executions (minutes each: they would dominate every mutant they touch; the layouts they run are
# checked structurally in test_stepfunctions.py and test_sfn_layout_rules.py). Tests that reach the
# code only through a subprocess cannot be attributed to a function by mutmut, so the
# subprocess-heavy CLI/determinism/all-problems modules are left out too (a child imports the
# mutated DSL from mutants/ without the location plugin, so its file:line names mutmut's
# trampoline), test_ci_skips, which runs pytest inside pytest, and test_exported_members, which
# would see mutmut's generated names in every mutated module, and test_mutation_tools, which tests
# these scripts (a stage holds no scripts/). Tests marked slow never run.
# New test modules join their area by default.
slow_tests=(
  tests/test_stepfunctions_moto.py tests/test_packaging.py tests/test_component_images.py
  tests/test_flagship.py tests/test_determinism.py tests/test_cli.py tests/test_readme_example.py
  tests/test_ci_skips.py
  tests/test_all_problems.py
  tests/test_exported_members.py
  tests/test_mutation_tools.py
)
# Single tests left out: stack introspection itself (under mutmut a trampoline frame sits between
# the function and its caller, so it fails on unmutated code), test_dsl_surface (it lists a
# module's public globals, and mutmut adds its own to a mutated pipecast.dsl), and tests that drive the code in a
# server or child process only (mutmut cannot attribute them; in-process tests make the same calls).
# test_the_cli_module_is_what_runs checks that a child python imports this checkout, which in a
# staging tree it does not (by design: see the note on subprocesses below).

deselected=(
  tests/test_runner_interrupts.py::test_the_cli_module_is_what_runs
  tests/test_kubeflow.py::test_cheap_stack_names_the_real_caller
  tests/test_kubeflow_units.py::test_cheap_stack_has_the_frames_names_and_lines_of_the_real_one
  tests/test_public_api.py::test_dsl_surface
  tests/test_deploy.py::test_moto_server_through_aws_endpoint_url
  tests/test_deploy.py::test_no_credentials_through_the_cli
)

if [ -n "${MUTATION_TESTS:-}" ]; then
  read -r -a selected <<< "$MUTATION_TESTS"
else
  selected=()
  for arg in "$@"; do
    # shellcheck disable=SC2207  # file names without spaces
    selected+=($(tests_for "${arg%/}"))
  done
  case " ${selected[*]} " in
    *" tests "*)
      # The whole fast suite, minus the runner's and deploy's modules unless their area was asked.
      case " $* " in *" pipecast/runner"*) ;; *) slow_tests+=("${runner_only_tests[@]}") ;; esac
      case " $* " in *" pipecast/deploy"*) ;; *) slow_tests+=("${deploy_tests[@]}") ;; esac
      selected=(tests)
      ;;
  esac
  mapfile -t selected < <(printf '%s\n' "${selected[@]}" | sort -u)
fi
# Only the exclusions inside the selection are passed: mutmut resets every verdict of a stage when
# its test arguments change, so a module added to slow_tests must not reset the runner's stage.
in_selection() {  # in_selection FILE: is FILE one of the selected files or under a selected folder?
  local s
  for s in "${selected[@]}"; do
    case "$1" in "$s" | "${s%/}"/*) return 0 ;; esac
  done
  return 1
}
test_selection=("${selected[@]}" -m "not slow")
for f in "${slow_tests[@]}"; do in_selection "$f" && test_selection+=("--ignore=$f"); done
# (MUTATION_DESELECT, more test ids to leave out, is applied by mutation_plugin.py in every mode:
# in the selection it would reset a stage each time it changed.)
for t in "${deselected[@]}"; do
  case " ${test_selection[*]} " in *" --ignore=${t%%::*} "*) continue ;; esac  # (already out)
  in_selection "${t%%::*}" && test_selection+=("--deselect=$t")
done

# Repository folder -> installed package folder (a module or folder argument keeps its tail).
installed_path() {
  case "$1" in
    dsl|dsl/*) echo "pipecast/$1" ;;
    compilers|compilers/*) echo "pipecast/$1" ;;
    pipecast/*) echo "$1" ;;
    *) echo "scripts/mutation.sh: $1 is not under dsl/, compilers/ or pipecast/" >&2; exit 2 ;;
  esac
}
patterns=()
for arg in "$@"; do
  p=$(installed_path "${arg%/}")
  [ -e "$root/${arg%/}" ] || { echo "scripts/mutation.sh: no such file or folder: $arg" >&2; exit 2; }
  if [ -d "$root/${arg%/}" ]; then patterns+=("$p/*"); else patterns+=("$p"); fi
done

stage_layout() {  # stage_layout DEST: the code, tests and examples in the installed layout
  mkdir -p "$1/pipecast"
  for f in pipecast/*.py pipecast/py.typed; do cp "$f" "$1/pipecast/"; done
  for d in deploy runner; do tar_copy "pipecast/$d" "$1/pipecast/$d"; done
  for d in dsl compilers components schemas; do tar_copy "$d" "$1/pipecast/$d"; done
  for d in tests examples; do tar_copy "$d" "$1/$d"; done
  cp README.md "$1/"
}

sync_tree() {  # sync_tree SRC DEST: DEST's files become SRC's; only changed files are rewritten
  local f
  while IFS= read -r f; do
    cmp -s "$1/$f" "$2/$f" || { mkdir -p "$(dirname "$2/$f")" && cp "$1/$f" "$2/$f"; }
  done < <(cd "$1" && find . -type f)
  while IFS= read -r f; do
    [ -e "$1/$f" ] || rm -f "$2/$f"
  done < <(cd "$2" && find . -type f ! -path '*/__pycache__/*')
}

if [ "$mode" = update ]; then
  # An earlier full pass's stage, brought up to date: a changed file gets a new modification time
  # (an unchanged one keeps its own), so mutmut regenerates only changed files and forgets only the
  # verdicts of functions whose code changed (it hashes each function); it collects coverage for
  # new tests only. Then the survivors are re-tested with the current tests (below).
  [ -d "$stage/mutants" ] || { echo "no $stage/mutants: run a full pass first" >&2; exit 2; }
  if [ -f "$stage/sample.txt" ]; then
    echo "$stage holds a random sample: run a fresh sample (MUTATION_SAMPLE) instead" >&2; exit 2
  fi
  fresh="$stage.sync"
  rm -rf "$fresh" && stage_layout "$fresh"
  for d in pipecast tests examples; do sync_tree "$fresh/$d" "$stage/$d"; done
  cmp -s "$fresh/README.md" "$stage/README.md" || cp "$fresh/README.md" "$stage/"
  rm -rf "$fresh"
elif [ "$mode" = survivors ]; then
  # Same staged code and mutants; the current tests and selection. mutmut collects coverage for
  # the new tests, then re-tests the survivors of the last run; the earlier verdicts are kept
  # aside and merged by the report (killed mutants stay killed: tests were only added).
  [ -s "$stage/survivors.txt" ] || { echo "no $stage/survivors.txt: run a full pass first" >&2; exit 2; }
  rm -rf "$stage/tests" && tar_copy tests "$stage/tests"
  # The pass's own selection is kept (below), which may predate a module added to slow_tests
  # since: such modules cannot run in a stage, so they are left out of its copy instead (only
  # those: other test modules import some of the ignored ones; mutmut keeps old copies too).
  for f in "${slow_tests[@]}"; do
    grep -q -- "--ignore=$f\"" "$stage/pyproject.toml" || rm -f "$stage/$f" "$stage/mutants/$f"
  done
else
  # The staging tree: the installed layout, real copies (mutmut walks it and does not follow links).
  rm -rf "$stage" && stage_layout "$stage"  # (and verdicts-before/: a new pass)
fi
cp scripts/mutation_plugin.py "$stage/"
cp scripts/mutation_sitecustomize.py "$stage/sitecustomize.py"

# A mutant that makes the runner wait forever sleeps rather than spins, so mutmut's CPU-time limit
# never fires; pytest-timeout's wall limit (600 s in pyproject.toml) is cut to this. The slowest
# selected test took 8 s under mutmut's trampolines on a loaded machine; every hanging mutant
# holds a worker for the whole limit (21 such in one runner pass), so it is kept near 4x that.
test_timeout="${MUTATION_TEST_TIMEOUT:-30}"
# mypy --strict is part of `make test` (and so of CI): a mutant it rejects never reaches a user,
# so mutmut counts it caught without running a test (one mypy run over every mutant, in mutants/).
# MUTATION_TYPECHECK=0 runs every mutant through the tests instead.
type_check=""
if [ "${MUTATION_TYPECHECK:-1}" != 0 ]; then
  type_check="type_check_command = [\"$py\", \"-m\", \"mypy\", \"--config-file\", \"../pyproject.toml\", \"-p\", \"pipecast\", \"-O\", \"json\"]"
fi
toml_list() { local out="" x; for x in "$@"; do out+="\"$x\", "; done; echo "[${out%, }]"; }
if [ "$mode" = survivors ] && [ -f "$stage/pyproject.toml" ]; then
  # Re-testing survivors keeps the pass's own test selection: a changed selection would make
  # mutmut reset the stage and run its whole stats pass again (many minutes); new test modules
  # are in the selection anyway (it names folders). The survivors got past mypy already, so the
  # type check (12 minutes for compilers/) is left out; the verdicts it gave are kept aside.
  grep -v '^type_check_command' "$stage/pyproject.toml" > "$stage/pyproject.toml.new"
else
{
  cat "$root/pyproject.toml"
  cat <<EOF

[tool.mutmut]
source_paths = ["pipecast"]
only_mutate = $(toml_list "${patterns[@]}")
also_copy = ["examples", "README.md", "mutation_plugin.py", "sitecustomize.py"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "mutation_plugin", "-q", "--timeout=$test_timeout"]
pytest_add_cli_args_test_selection = $(toml_list "${test_selection[@]}")
use_git_change_detection = false
$type_check
EOF
} > "$stage/pyproject.toml.new"
fi
mv "$stage/pyproject.toml.new" "$stage/pyproject.toml"
if [ "$mode" = survivors ]; then
  echo "stage: $stage; tests: the pass's own selection (in $stage/pyproject.toml)"
else
  echo "stage: $stage; tests: ${test_selection[*]}"
fi

run_named() {  # run_named: test the mutants named on stdin (one per line), then report
  local names
  mapfile -t names
  time nice -n "$niceness" "$py" -m mutmut run --max-children "$jobs" "${names[@]}"
  report
}

cd "$stage"
# Subprocesses started by tests (python -m pipecast ...) import the repository's code through the
# editable install: mutmut's trampolines cannot run outside its process, and it could not attribute
# a kill to them anyway. So CLI behaviour is mutation-tested through in-process tests only.
export PYTHONHASHSEED=0
TIMEFORMAT="mutmut run: %0R s wall, %0U s user + %0S s system CPU"

if [ "$mode" = update ]; then
  # The mutants of changed and new functions, then the survivors with the current tests: new tests
  # may kill old survivors, and mutmut never re-tests a decided mutant by itself. The verdicts an
  # earlier --survivors run kept aside go back into mutmut's files first. (A changed test
  # selection, e.g. a module added to slow_tests, makes mutmut reset every verdict: a full pass.)
  "$py" "$root/scripts/mutation_report.py" --restore mutants
  time nice -n "$niceness" "$py" -m mutmut run --max-children "$jobs"
  report
  mode=survivors
  [ -s survivors.txt ] || exit 0
fi
if [ "$mode" = survivors ]; then
  # mutmut forgets the verdicts of the mutants it does not re-test: keep them (the report merges)
  "$py" "$root/scripts/mutation_report.py" --keep mutants
  cut -d: -f1 survivors.txt | run_named
  exit 0
fi

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
  goldens() { (cd "$1" && nice -n "$niceness" "$py" -m pytest -q -x -p no:cacheprovider \
      tests/test_goldens.py >/dev/null 2>&1); }
  goldens . || { echo "scripts/mutation.sh: tests/test_goldens.py fails on the clean copy" >&2; exit 3; }
  if goldens "$canary"; then
    echo "scripts/mutation.sh: the planted mutant SURVIVED: tests import unmutated code" >&2
    exit 3
  fi
  echo "planted mutant (unsorted JSON keys) killed: the tests import the staged copy"
  rm -rf "$canary"
fi

if [ -n "${MUTATION_SAMPLE:-}" ]; then
  # An area too big for a full pass: a uniform random sample (sample.txt), which the report
  # marks with a 95 % interval. mutmut re-runs mypy over every mutant, but tests only these.
  "$py" "$root/scripts/mutation_sample.py" "$MUTATION_SAMPLE" "${MUTATION_SEED:-12}"
  run_named < sample.txt
  exit 0
fi
time nice -n "$niceness" "$py" -m mutmut run --max-children "$jobs"
report
