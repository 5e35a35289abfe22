"""Device profiles: one TOML file per target in targets/, resolved against this machine for `host`."""
from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgec.errors import EdgecError
from edgec.ir.block_formats import LUT_FORMATS
from edgec.paths import targets_dir


@dataclass
class Target:
    name: str
    description: str
    arch: str
    isa: str
    cores: int
    ram_bytes: int
    l2_bytes: int
    l3_bytes: int
    cc: list
    cflags: list
    weights_embed: str = "auto"
    weight_layout: str = "rowmajor"   # "rowmajor" (GGUF blocks as stored), "i16" (16-row tiles), "auto" (host)
    prefetch_bytes: int = 0
    lut_formats: list = field(default_factory=list)   # formats stored as bit-plane tiles for the LUT kernels
    autotune: bool = False            # measure layout and prefetch distance at compile time (host only)
    ldflags: list = field(default_factory=list)
    run_prefix: list = field(default_factory=list)   # runs a cross-compiled program here (qemu-user)
    device_login: str = "user@device"   # the scp/ssh destination `edgec compile` shows for copying the program
    notes: list = field(default_factory=list)
    flash_bytes: int = 0              # a microcontroller's flash, where the weights stay; 0: none (weights in RAM)
    kind: str = "linux"               # what the build makes: "linux" (the program) or "mcu" (a firmware image)
    bandwidth_gbs: float = 0.0        # sustained DRAM read bandwidth, GB/s: the decode estimate's divisor; 0: unknown
    triple: str = ""                  # the toolchain's target triple ("" : this machine's)
    packages: list = field(default_factory=list)   # Debian packages with the profile's compiler and emulator

    def find_cc(self, requested: str | None = None) -> str:
        """The C compiler to build with: requested (--cc) when given, else the first installed one of the
        profile's list; checked to compile a C file with the profile's flags."""
        if requested is not None:
            if shutil.which(cc_program(requested)) is None:
                raise EdgecError(f"C compiler '{requested}' not found on PATH; install it or drop --cc")
            check_cc_builds(requested, self, "--cc")
            return requested
        for cc in self.cc:
            if shutil.which(cc_program(cc)):
                check_cc_builds(cc, self, "")
                return cc
        raise EdgecError(f"no C compiler for target {self.name}: none of {', '.join(self.cc)} is on PATH; "
                         f"install it with apt-get install {' '.join(self.packages or ['gcc'])}")


def cc_program(cc: str) -> str:
    """The executable of a compiler command ("ccache gcc" -> "ccache"); "" when there is none."""
    try:
        words = shlex.split(cc)
    except ValueError:   # unbalanced quotes
        return ""
    return words[0] if words else ""


def check_cc_builds(cc: str, target: Target, flag: str) -> None:
    """Compiles an empty C program with the target's flags, so a compiler that cannot build for the target
    fails here in one line rather than deep in autotune or cmake."""
    with tempfile.TemporaryDirectory(prefix="edgec-cc-") as d:
        src = Path(d) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        cmd = [*shlex.split(cc), *target.cflags, "-c", str(src), "-o", str(Path(d) / "probe.o")]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            # the probe's temporary path means nothing to the user
            ok, why = r.returncode == 0, first_error_line(r.stderr.replace(f"{d}/", "")) or f"exit status {r.returncode}"
        except (OSError, subprocess.SubprocessError) as e:
            ok, why = False, str(e)
    if not ok:
        fix = "fix it or drop --cc" if flag else "install a working C compiler for it or pass one with --cc"
        raise EdgecError(f"C compiler '{cc}' cannot build C for target {target.name} ({why}); {fix}")


def first_error_line(text: str) -> str:
    """The compiler's first "error" line (else its last line), for a one-line message."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return (errors or lines or [""])[0 if errors else -1][:200]


def target_names() -> list:
    return sorted(p.stem for p in targets_dir().glob("*.toml"))


def _host_ram_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _host_cache_bytes(level: int) -> int:
    try:
        for idx in range(8):
            base = f"/sys/devices/system/cpu/cpu0/cache/index{idx}/"
            with open(base + "level") as f:
                if int(f.read()) != level:
                    continue
            with open(base + "size") as f:
                s = f.read().strip()
            return int(s[:-1]) * 1024 if s.endswith("K") else int(s[:-1]) * 1024 * 1024 if s.endswith("M") else int(s)
    except (OSError, ValueError):
        pass
    return 0


def load_target(name: str) -> Target:
    # only a listed profile name: a name with "/" or ".." would point outside targets/
    if name not in target_names():
        raise EdgecError(f"unknown target '{name}'; choose one of: {', '.join(target_names())} (see `edgec targets`)")
    path = targets_dir() / f"{name}.toml"
    with open(path, "rb") as f:
        t = Target(**tomllib.load(f))
    if t.name != name:
        raise EdgecError(f"target file {path} names itself '{t.name}'; rename the file or fix its name field")
    if t.cores == 0:
        t.cores = os.cpu_count() or 1
    if t.ram_bytes == 0:
        t.ram_bytes = _host_ram_bytes()
    if t.arch == "native":   # a device profile's 0 means the board has no such cache
        t.l2_bytes = t.l2_bytes or _host_cache_bytes(2)
        t.l3_bytes = t.l3_bytes or _host_cache_bytes(3)
    if t.weight_layout == "auto":
        t.weight_layout = "i16" if "avx2" in _host_cpu_flags() else "rowmajor"
    if t.weight_layout not in ("rowmajor", "i16"):
        raise EdgecError(f"target {name}: weight_layout '{t.weight_layout}' is unknown; use rowmajor, i16 or auto")
    bad = sorted(set(t.lut_formats) - set(LUT_FORMATS))
    if bad:
        raise EdgecError(f"target {name}: lut_formats {bad} have no LUT kernel; use some of {', '.join(LUT_FORMATS)}")
    return t


def cpuinfo_field(key: str):
    """What follows the ":" of the first /proc/cpuinfo line starting with key; None where there is
    no such line (or no /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1]
    except OSError:
        pass
    return None


def _host_cpu_flags() -> set:
    flags = cpuinfo_field("flags")
    return set() if flags is None else set(flags.split())


# CPU flags (/proc/cpuinfo) an x86-64 profile's program needs to run natively here (kernels/isa.h's macros)
X86_ISA_FLAGS = {"avx2": {"avx2", "fma", "f16c"}, "avx512": {"avx2", "fma", "f16c", "avx512f", "avx512bw"},
                 "avx512vnni": {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"},
                 "ssse3": {"ssse3", "sse4_2"}}


def host_lacks(target: Target) -> str:
    """Why this machine cannot run a program built for an x86-64 profile natively ("" when it can, or
    when the profile runs under an emulator or is not x86-64)."""
    if target.arch != "x86_64" or target.run_prefix or target.isa not in X86_ISA_FLAGS:
        return ""
    if platform.machine() not in ("x86_64", "AMD64"):
        return f"this machine is {platform.machine()}, not x86-64"
    missing = sorted(X86_ISA_FLAGS[target.isa] - _host_cpu_flags())
    return f"this CPU lacks {', '.join(missing)}; run the program on a CPU with them" if missing else ""
