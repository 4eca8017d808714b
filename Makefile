# Two commands on a fresh machine:  `make demo` (the main job) and `make test` (the tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup lint bench mutation clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,kubeflow,aws,components]"
	@if command -v npm >/dev/null 2>&1; then npm install --silent --no-audit --no-fund --prefix .tools asl-validator@3 >/dev/null 2>&1 || echo "note: asl-validator not installed (npm failed)"; fi
	touch $(STAMP)

setup: $(STAMP)

## the main job: compile the flagship for every target, then run it here on a generated sample video
demo: $(STAMP)
	$(BIN)/pipecast validate examples/video_analysis.py
	$(BIN)/pipecast compile examples/video_analysis.py --target all -o build/video_analysis
	@echo "compiled documents are in build/video_analysis/"
	@test -f build/sample/ground_truth.json || $(BIN)/python -m pipecast.components.synthetic --out build/sample
	@# --engine process: the example images live in a private registry; the code is installed here
	$(BIN)/pipecast run examples/video_analysis.py --local --engine process -p video_uri=build/sample/videos --workdir build/runs

## the tests (what CI runs)
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	MYPY=$(BIN)/mypy bash scripts/typecheck.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/compile_scale.py

## mutation testing (about an hour on 2 cores; not part of CI): make mutation AREAS="compilers/ dsl/"
mutation: $(STAMP)
	PYTHON=$(BIN)/python bash scripts/mutation.sh $(AREAS)

clean:
	rm -rf $(VENV) .tools build .pytest_cache
