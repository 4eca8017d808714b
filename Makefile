# Two commands on a fresh machine:  `make demo` (the main job) and `make test` (the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
ASL_VALIDATOR := .tools/node_modules/.bin/asl-validator

.PHONY: demo test setup lint bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,kubeflow,aws,components]"
	touch $(STAMP)

# asl-validator (npm) for the Step Functions tests, kept apart from the venv so that a checkout
# whose venv predates it (or a machine that got npm later) still gets it. Where it cannot be had,
# its tests skip with this command in the reason; in CI (CI=true) that skip is a failure unless
# PIPECAST_CI_ALLOW_SKIPS names it (see conftest.py).
$(ASL_VALIDATOR):
	@if command -v npm >/dev/null 2>&1; then \
	  npm install --no-audit --no-fund --loglevel=error --prefix .tools asl-validator@3 >/dev/null \
	    || echo "note: asl-validator not installed (npm failed, see above)" >&2; \
	else \
	  echo "note: npm not found, so asl-validator is not installed (apt-get install npm; make setup)" >&2; \
	fi

setup: $(STAMP) $(ASL_VALIDATOR)

## the main job: compile the flagship for every target, show what a run costs, then run it here on a
## generated sample video
demo: $(STAMP)
	$(BIN)/pipecast validate examples/video_analysis.py
	$(BIN)/pipecast compile examples/video_analysis.py --target all -o build/video_analysis
	@echo "compiled documents are in build/video_analysis/"
	$(BIN)/pipecast cost examples/video_analysis.py --target sagemaker
	@test -f build/sample/ground_truth.json || $(BIN)/python -m pipecast.components.synthetic --out build/sample
	@# --engine process: the example images live in a private registry; the code is installed here
	$(BIN)/pipecast run examples/video_analysis.py --local --engine process -p video_uri=build/sample/videos --workdir build/runs

## the tests (what CI runs): mypy --strict first (it catches a class of bugs no test needs to, and
## scripts/mutation.sh counts the mutants it rejects as caught), then pytest
test: $(STAMP) $(ASL_VALIDATOR)
	MYPY=$(BIN)/mypy bash scripts/typecheck.sh
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	MYPY=$(BIN)/mypy bash scripts/typecheck.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/compile_scale.py

## mutation testing, one area per call (not part of CI; times in docs/mutation.md): make mutation AREAS=pipecast/runner/
mutation: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/mutation.sh $(AREAS)

clean:
	rm -rf $(VENV) .tools build .pytest_cache
