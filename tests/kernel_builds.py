"""What the C kernel test builds share: sanitizer flags, what this CPU can run, and which kernel
path a compiler selects for a set of flags (from its predefined macros, as the headers decide)."""
from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
AVX2_FLAGS = ["-mavx2", "-mfma", "-mf16c"]   # the x86-avx2 target's feature level


def cpu_flags() -> set[str]:
    """This machine's CPU feature flags (/proc/cpuinfo), empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    return set(match.group(1).split()) if match else set()


def runnable_builds(x86: dict, neon: dict) -> dict:
    """The builds this machine can run, named "...avx2..." / "...avx512..." / "...scalar...": on x86 the
    NEON ones (qemu; the slowest, so first) and the x86 ones its CPU supports; elsewhere NEON and scalar."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return neon | {k: v for k, v in x86.items() if "scalar" in k}
    flags = cpu_flags()
    keep = {k: v for k, v in x86.items()
            if ("avx2" not in k or {"avx2", "fma", "f16c"} <= flags)
            and ("avx512" not in k or {"avx512f", "avx512bw"} <= flags)}
    return neon | keep


def predefined_macros(compiler: str, flags: list[str]) -> set[str]:
    out = subprocess.run([compiler, *flags, "-dM", "-E", "-x", "c", "/dev/null"],
                         capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"#define (\w+)", out))


def kernel_isa(compiler: str, flags: list[str], vnni: bool = True, dotprod: bool = True) -> str:
    """The path a kernel header picks: "scalar", "avx512vnni"/"avx512", "avx2", "neon-dotprod"/"neon".
    vnni / dotprod False: the header does not tell those variants apart."""
    macros = predefined_macros(compiler, flags)
    if "EDGEC_SCALAR" in macros:
        return "scalar"
    if {"__AVX512F__", "__AVX512BW__"} <= macros:
        return "avx512vnni" if vnni and "__AVX512VNNI__" in macros else "avx512"
    if {"__AVX2__", "__FMA__", "__F16C__"} <= macros:
        return "avx2"
    if {"__ARM_NEON", "__aarch64__"} <= macros:
        return "neon-dotprod" if dotprod and "__ARM_FEATURE_DOTPROD" in macros else "neon"
    return "scalar"
