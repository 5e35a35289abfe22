#!/usr/bin/env bash
# The whole test suite on a fresh machine: install, build the runtime and C tests, run ctest (pytest included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build build -j2
# The C tests first (quiet unless one fails), then pytest with its progress streamed as it runs.
rc=0
ctest --test-dir build --output-on-failure -E '^pytest$' "$@" || rc=1
ctest --test-dir build --output-on-failure -V -R '^pytest$' "$@" || rc=1
exit $rc
