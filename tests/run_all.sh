#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, build the runtime and C tests, run ctest (pytest included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure --timeout 3000 "$@"
