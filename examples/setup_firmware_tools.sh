#!/usr/bin/env bash
# Installs the microcontroller toolchain and emulator the cortex-m7 target needs (idempotent):
# arm-none-eabi-gcc with newlib (the firmware image) and qemu-system-arm (runs it on an emulated
# MPS2 board, semihosting for output). docs/firmware.md, "Cortex-M".
set -euo pipefail
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_apt=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need_apt+=(gcc-arm-none-eabi)
# newlib: the C library and libm of the bare-metal target (gcc-arm-none-eabi has none of its own)
[ -f /usr/lib/arm-none-eabi/include/stdlib.h ] || need_apt+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup_firmware_tools: installing ${need_apt[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
arm-none-eabi-gcc --version | head -n 1
qemu-system-arm --version | head -n 1
echo "setup_firmware_tools: done"
