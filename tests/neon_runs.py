"""What the NEON kernel tests under qemu share: tool checks, the static AArch64 build, reading a
test program's ISA and pass/fail lines, and the sdot-in-the-binary check."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from test_kernels_neon import CROSS_GCC, OBJDUMP, QEMU, SETUP_HINT

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-static", f"-I{ROOT / 'runtime' / 'core'}"]


def tools_present(compiler: str) -> bool:
    return all(shutil.which(t) for t in (compiler, CROSS_GCC, QEMU, OBJDUMP))


def require_tools(compiler: str) -> None:
    missing = [t for t in (compiler, CROSS_GCC, QEMU, OBJDUMP) if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {SETUP_HINT}")


def build_static(compiler: str, flags: list[str], source: Path, exe: Path) -> subprocess.CompletedProcess:
    return subprocess.run([compiler, *COMMON, *flags, str(source), "-o", str(exe), "-lm"], capture_output=True, text=True)


def check_output(stdout: str, stderr: str, returncode: int, isa_macro: str, isa_want: str) -> int:
    """Checks the program printed `isa_macro=isa_want` and "N passed, 0 failed"; returns N."""
    out = stdout + stderr
    isa = re.search(rf"^{isa_macro}=([\w-]+)$", stdout, re.M)
    assert isa, f"no ISA line in the output:\n{out[-3000:]}"
    assert isa.group(1) == isa_want, f"built the {isa.group(1)} path, the flags select {isa_want}"
    summary = re.search(r"^(\d+) passed, (\d+) failed$", stdout, re.M)
    assert summary, f"no summary line (crash, guard page hit or illegal instruction?):\n{out[-3000:]}"
    passed, failed = map(int, summary.groups())
    assert failed == 0 and returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
    return passed


def assert_sdot_matches(built: subprocess.CompletedProcess, isa_want: str) -> None:
    """The binary contains sdot exactly when the ISA is neon-dotprod."""
    exe = Path(built.args[built.args.index("-o") + 1])
    disasm = subprocess.run([OBJDUMP, "-d", str(exe)], capture_output=True, text=True, check=True).stdout
    assert (re.search(r"\bsdot\b", disasm) is not None) == (isa_want == "neon-dotprod"), f"sdot use does not match {isa_want}"
