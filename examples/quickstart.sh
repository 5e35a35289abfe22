#!/usr/bin/env bash
# The main job on a fresh machine: install, compile SmolLM2-135M for this machine, generate text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
edgec compile smollm2-135m --target host
out/smollm2-135m-host/bin/smollm2-135m -p "The capital of France is" -n 48 -t 0
