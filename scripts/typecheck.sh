#!/usr/bin/env bash
# mypy --strict on the package as it is installed (pipecast.dsl lives in dsl/, etc.): mypy cannot
# follow setuptools' editable finder, so check a symlinked tree with the installed layout.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=build/typecheck
rm -rf "$stage" && mkdir -p "$stage/pipecast"
for f in pipecast/*.py pipecast/py.typed; do ln -s "$PWD/$f" "$stage/pipecast/"; done
for d in deploy runner; do ln -s "$PWD/pipecast/$d" "$stage/pipecast/$d"; done
for d in dsl compilers components schemas; do ln -s "$PWD/$d" "$stage/pipecast/$d"; done
mypy="${MYPY:-mypy}"
case "$mypy" in /*) ;; */*) mypy="$PWD/$mypy" ;; esac  # a relative path still works after the cd
cd "$stage" && "$mypy" --config-file ../../pyproject.toml -p pipecast
