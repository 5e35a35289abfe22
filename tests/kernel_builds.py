"""The C kernel test builds, in one place: every (name, compiler, flags, qemu CPU) the kernel tests build
a C program with, which kernel path a build's flags select (from the compiler's predefined macros, as the
headers decide), whether this machine can run it (a build it cannot run is skipped with the reason, never
passed), and compiling and running a C test program under a build: directly, or for AArch64 as a static
binary under qemu-aarch64 with the build's CPU model.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import platform
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

from edgec.ir.model_ir import FORMATS
from edgec.targets import cpuinfo_field

ROOT = Path(__file__).resolve().parents[1]
C_TESTS = ROOT / "tests" / "c"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'runtime' / 'core'}", f"-I{C_TESTS}"]
SANITIZE = ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
ASAN = ["-O1", "-g", "-fsanitize=address", "-fno-sanitize-recover=all"]
AVX2_FLAGS = ["-mavx2", "-mfma", "-mf16c"]   # the x86-avx2 target's feature level
NATIVE = ["-O2", "-march=native"]

CROSS_GCC, QEMU, OBJDUMP = "aarch64-linux-gnu-gcc", "qemu-aarch64", "aarch64-linux-gnu-objdump"
QEMU_SYSROOT = "/usr/aarch64-linux-gnu"   # the cross toolchain's libraries: a dynamic binary's loader (static ones need none)
SETUP_HINT = "run examples/setup.sh (it apt-installs the cross compilers (gcc-aarch64-linux-gnu, ...), clang-19 and qemu-user)"


@dataclass(frozen=True)
class Cross:
    """An emulated architecture: its cross gcc (clang links against that gcc's sysroot), qemu-user
    binary, objdump, and clang's --target triple."""
    gcc: str
    qemu: str
    objdump: str
    sysroot: str
    triple: str


AARCH64 = Cross(CROSS_GCC, QEMU, OBJDUMP, QEMU_SYSROOT, "aarch64-linux-gnu")
ARMHF = Cross("arm-linux-gnueabihf-gcc", "qemu-arm", "arm-linux-gnueabihf-objdump", "/usr/arm-linux-gnueabihf", "arm-linux-gnueabihf")
RISCV64 = Cross("riscv64-linux-gnu-gcc", "qemu-riscv64", "riscv64-linux-gnu-objdump", "/usr/riscv64-linux-gnu", "riscv64-linux-gnu")
X86_64 = Cross("gcc", "qemu-x86_64", "objdump", "/", "x86_64-linux-gnu")   # an older x86 CPU model (-cpu Nehalem)

X86 = "x86"                                    # a `needs` entry: the host must be x86-64
HAS_AVX2 = frozenset({X86, "avx2", "fma", "f16c"})
HAS_AVX512 = frozenset({X86, "avx512f", "avx512bw"})


def is_x86_host() -> bool:
    return platform.machine() in ("x86_64", "AMD64")


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """This machine's CPU feature flags (/proc/cpuinfo), empty where there is none."""
    return frozenset((cpuinfo_field("flags") or "").split())


def cpu_lacks(needs: frozenset[str], what: str) -> str | None:
    """Why this machine cannot run what needs these CPU flags (and X86), None where it can."""
    if X86 in needs and not is_x86_host():
        return f"{what} is for x86-64, this machine is {platform.machine()}"
    missing = sorted(needs - {X86} - cpu_flags())
    return f"this CPU lacks {', '.join(missing)}, which {what} needs" if missing else None


@functools.lru_cache(maxsize=None)
def predefined_macros(compiler: str, flags: tuple[str, ...]) -> frozenset[str]:
    out = subprocess.run([compiler, *flags, "-dM", "-E", "-x", "c", "/dev/null"],
                         capture_output=True, text=True, check=True).stdout
    return frozenset(re.findall(r"#define (\w+)", out))


def kernel_isa(compiler: str, flags, vnni: bool = True, dotprod: bool = True) -> str:
    """The path a kernel header picks: "scalar", "avx512vnni"/"avx512", "avx2", "neon-dotprod"/"neon".
    vnni / dotprod False: the header does not tell those variants apart."""
    macros = predefined_macros(compiler, tuple(flags))
    if "EDGEC_SCALAR" in macros:
        return "scalar"
    if {"__AVX512F__", "__AVX512BW__"} <= macros:
        return "avx512vnni" if vnni and "__AVX512VNNI__" in macros else "avx512"
    if {"__AVX2__", "__FMA__", "__F16C__"} <= macros:
        return "avx2"
    if {"__ARM_NEON", "__aarch64__"} <= macros:
        return "neon-dotprod" if dotprod and "__ARM_FEATURE_DOTPROD" in macros else "neon"
    if {"__ARM_NEON", "__arm__"} <= macros:   # 32-bit ARM NEON (ARMv7+); the LUT header calls it "neon"
        return "neon-armv7" if dotprod else "neon"
    if {"__SSSE3__", "__SSE4_2__"} <= macros:
        return "ssse3"
    if {"__riscv_v", "__riscv_v_intrinsic"} <= macros:
        return "rvv"
    return "scalar"


# ---- the builds ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Build:
    """One way to build and run a C test program."""
    name: str
    compiler: str
    flags: tuple[str, ...]
    isa: str | None = None          # the path the flags are for; None where it depends on this CPU (-march=native)
    qemu_cpu: str | None = None     # runs under the cross architecture's qemu -cpu this; None: runs on this machine
    needs: frozenset[str] = field(default_factory=frozenset)   # CPU flags (and X86) the binary needs here
    args: tuple[str, ...] = ()      # what a test program built so runs with
    cross: Cross = AARCH64          # the emulated architecture (where qemu_cpu is set)

    def __str__(self) -> str:
        return self.name

    def running(self, suffix: str, *args: str) -> Build:
        """This build, its test program run with args (named name-suffix)."""
        return dataclasses.replace(self, name=f"{self.name}-{suffix}", args=args)

    @property
    def tools(self) -> list[str]:
        """What building and checking it takes (clang links AArch64 against the cross gcc's sysroot)."""
        c = self.cross
        return [self.compiler, c.gcc, c.qemu, c.objdump] if self.qemu_cpu else [self.compiler]

    def skip_reason(self) -> str | None:
        """Why this machine cannot run the build, None where it can (qemu runs the AArch64 ones anywhere)."""
        return None if self.qemu_cpu else cpu_lacks(self.needs, self.name)

    def missing_tools(self) -> list[str]:
        return [t for t in dict.fromkeys(self.tools) if shutil.which(t) is None]

    def runs_here(self) -> bool:
        return self.skip_reason() is None and not self.missing_tools()

    def require(self) -> None:
        """Skips the calling test where this CPU cannot run the build; fails it where a tool is missing."""
        reason = self.skip_reason()
        if reason:
            pytest.skip(reason)
        missing = self.missing_tools()
        if missing:
            pytest.fail(f"{', '.join(missing)} not found" + (f": {SETUP_HINT}" if self.qemu_cpu else ""))

    def expected_isa(self, vnni: bool = True, dotprod: bool = True) -> str:
        """The path a header must pick under these flags (vnni / dotprod False: one that does not tell
        those variants apart); first checks the flags still define the macros of the build's own isa."""
        if self.isa is not None:
            full = kernel_isa(self.compiler, self.flags)
            assert full == self.isa, f"{self.compiler} {' '.join(self.flags)} no longer defines the macros of {self.isa} ({full})"
        return kernel_isa(self.compiler, self.flags, vnni, dotprod)

    def compile(self, source: Path, exe: Path) -> subprocess.CompletedProcess:
        static = ["-static"] if self.qemu_cpu else []
        return subprocess.run([self.compiler, *COMMON, *static, *self.flags, str(source), "-o", str(exe), "-lm"],
                              capture_output=True, text=True)

    def command(self, exe: Path, *args) -> list[str]:
        prefix = [self.cross.qemu, "-L", self.cross.sysroot, "-cpu", self.qemu_cpu] if self.qemu_cpu else []
        return [*prefix, str(exe), *map(str, args)]

    def run(self, exe: Path, *args, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(exe, *args), capture_output=True, text=True, timeout=timeout)


def _here(name, compiler, flags, isa=None, needs=frozenset()) -> Build:
    return Build(name, compiler, tuple(flags), isa, None, frozenset(needs))


def _arm(name, compiler, flags, isa, cpu) -> Build:
    return _emulated(AARCH64, name, compiler, flags, isa, cpu)


def _emulated(cross: Cross, name, compiler, flags, isa, cpu) -> Build:
    """A build for another architecture (or an older x86 CPU model), run under qemu-user -cpu cpu."""
    target = [f"--target={cross.triple}"] if compiler.startswith("clang") and cross is not X86_64 else []
    return Build(name, compiler, tuple(target + ["-O2", *flags]), isa, cpu, cross=cross)


A53 = ["-march=armv8-a", "-mtune=cortex-a53"]
DOTPROD = ["-march=armv8.2-a+dotprod"]
NOVNNI = ["-mno-avx512vnni"]   # AVX-512 without VNNI: the vpmaddubsw path
# VLEN-agnostic RVV 1.0, as the riscv64-rvv target builds: no auto-vectorized loops, whose vfcvt.rtz
# conversions qemu 7.2 aborts on (QEMU issue 1441); vext_spec below only quiets qemu 7's warning
RVV = ["-march=rv64gcv", "-mabi=lp64d", "-fno-vectorize", "-fno-slp-vectorize"]
RV64GC = ["-march=rv64gc", "-mabi=lp64d"]   # no vector unit (the riscv64 target)
ARMV7 = ["-march=armv7-a", "-mfpu=neon-vfpv4", "-mfloat-abi=hard", "-mtune=cortex-a7"]   # the armv7 target's ISA flags

_ALL = [
    _here("gcc-native", "gcc", NATIVE),
    _here("clang-native", "clang", NATIVE),
    _here("gcc-avx2", "gcc", ["-O2", *AVX2_FLAGS], "avx2", HAS_AVX2),
    _here("clang-avx2", "clang", ["-O2", *AVX2_FLAGS], "avx2", HAS_AVX2),
    _here("gcc-scalar", "gcc", ["-O2", "-DEDGEC_SCALAR"], "scalar"),
    _here("clang-scalar", "clang", ["-O2", "-DEDGEC_SCALAR"], "scalar"),
    # no fused multiply-add: gcc and clang do the same float operations
    _here("gcc-scalar-nocontract", "gcc", ["-O2", "-DEDGEC_SCALAR", "-ffp-contract=off"], "scalar"),
    _here("clang-scalar-nocontract", "clang", ["-O2", "-DEDGEC_SCALAR", "-ffp-contract=off"], "scalar"),
    # gcc 12 auto-vectorises scalar int8 dots for this CPU (it once got vpdpbusd's signedness wrong)
    _here("gcc-scalar-native", "gcc", [*NATIVE, "-DEDGEC_SCALAR"], "scalar", {X86}),
    _here("gcc-native-novnni", "gcc", [*NATIVE, *NOVNNI], "avx512", HAS_AVX512),
    _here("clang-native-novnni", "clang", [*NATIVE, *NOVNNI], "avx512", HAS_AVX512),
    # and without GFNI too (shift + mask unpacking of ternary codes)
    _here("gcc-native-novnni-nogfni", "gcc", [*NATIVE, *NOVNNI, "-mno-gfni"], "avx512", HAS_AVX512),
    _here("clang-asan-ubsan-native", "clang", [*SANITIZE, "-march=native"]),
    _here("clang-asan-ubsan-avx2", "clang", [*SANITIZE, *AVX2_FLAGS], "avx2", HAS_AVX2),
    _here("clang-asan-ubsan-scalar", "clang", [*SANITIZE, "-DEDGEC_SCALAR"], "scalar"),
    # ASan alone: UBSan with the SIMD headers makes clang 14 take a minute per build
    _here("clang-asan-native", "clang", [*ASAN, "-march=native"]),
    _here("clang-asan-avx2", "clang", [*ASAN, *AVX2_FLAGS], "avx2", HAS_AVX2),
    # -O0: -O1 compiles the LUT test 10x slower
    _here("clang-asan-ubsan-O0-native", "clang", ["-O0", *SANITIZE[1:], "-march=native"]),
    _arm("gcc-neon-a53", CROSS_GCC, A53, "neon", "cortex-a53"),
    _arm("gcc-neon-dotprod", CROSS_GCC, DOTPROD, "neon-dotprod", "max"),
    _arm("clang-neon-a53", "clang", A53, "neon", "cortex-a53"),
    _arm("clang-neon-dotprod", "clang", DOTPROD, "neon-dotprod", "max"),
    _arm("gcc-aarch64-scalar", CROSS_GCC, ["-DEDGEC_SCALAR"], "scalar", "cortex-a53"),
    # x86-64-v2 (SSE4.2 + SSSE3, no AVX): static, under qemu-x86_64 as a Nehalem, which has no AVX (SIGILL)
    _emulated(X86_64, "gcc-x86-64-v2", "gcc", ["-march=x86-64-v2"], "ssse3", "Nehalem"),
    _emulated(X86_64, "clang-x86-64-v2", "clang", ["-march=x86-64-v2"], "ssse3", "Nehalem"),
    # RISC-V: RVV 1.0 kernels (clang 17+ intrinsics; gcc 12 has none) run at two vector lengths, and rv64gc scalar
    _emulated(RISCV64, "clang19-rvv-128", "clang-19", RVV, "rvv", "rv64,v=true,vlen=128,vext_spec=v1.0"),
    _emulated(RISCV64, "clang19-rvv-256", "clang-19", RVV, "rvv", "rv64,v=true,vlen=256,vext_spec=v1.0"),
    _emulated(RISCV64, "gcc-riscv64-scalar", RISCV64.gcc, RV64GC, "scalar", "rv64,v=false"),
    # 32-bit ARM (armhf): the NEON kernels over kernels/arm/neon/a32.h under qemu-arm as a Cortex-A7 (ARMv7 only;
    # fp16 by vcvt: inline asm with gcc, __fp16 with clang); plain -mfpu=neon (VFPv3, Cortex-A8) takes a32.h's
    # fallbacks: vmla for vfma, fp16 in C
    _emulated(ARMHF, "gcc-armv7", ARMHF.gcc, ARMV7, "neon-armv7", "cortex-a7"),
    _emulated(ARMHF, "clang-armv7", "clang", ARMV7, "neon-armv7", "cortex-a7"),
    _emulated(ARMHF, "gcc-armv7-vfpv3", ARMHF.gcc, ["-march=armv7-a", "-mfpu=neon", "-mfloat-abi=hard"], "neon-armv7", "cortex-a8"),
]
BUILDS = {b.name: b for b in _ALL}
NEON = ["gcc-neon-a53", "gcc-neon-dotprod", "clang-neon-a53", "clang-neon-dotprod"]
CLANG_NEON = frozenset({"clang-neon-a53", "clang-neon-dotprod"})
ARMV7_NEON = ["gcc-armv7", "clang-armv7"]   # the armv7 target's kernels, gcc (its compiler) and clang


def builds(*names: str) -> list[Build]:
    return [BUILDS[n] for n in names]


# ---- building, running and reading a C test program ----------------------------------------------

@dataclass
class Outcome:
    """One C program built under a build and run once per argument list (no runs when the build failed
    or was not asked to run)."""
    build: Build
    exe: Path
    compiled: subprocess.CompletedProcess
    runs: list[subprocess.CompletedProcess]

    def assert_compiled_clean(self) -> None:
        assert self.compiled.returncode == 0, f"{self.build} failed to build:\n{self.compiled.stderr[-3000:]}"
        assert self.compiled.stderr == "", f"unexpected compiler output ({self.build}):\n{self.compiled.stderr[-3000:]}"

    def passed(self, isa_macro: str, run: int = 0, vnni: bool = True, dotprod: bool = True) -> int:
        """Checks a clean build and that run printed `isa_macro=` the path the flags select and, as its
        last line, "N passed, 0 failed" (with exit status 0); returns N."""
        self.assert_compiled_clean()
        r = self.runs[run]
        out = r.stdout + r.stderr
        isa = re.search(rf"^{isa_macro}=([\w-]+)$", r.stdout, re.M)
        assert isa, f"no ISA line in the output:\n{out[-3000:]}"
        want = self.build.expected_isa(vnni, dotprod)
        assert isa.group(1) == want, f"{self.build} built the {isa.group(1)} path, its flags select {want}"
        lines = r.stdout.strip().splitlines()
        summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
        assert summary, f"no summary as the last line (crash, sanitizer report, guard page or illegal instruction?):\n{out[-3000:]}"
        passed, failed = map(int, summary.groups())
        assert failed == 0 and r.returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
        return passed

    def disassembly(self) -> str:
        objdump = self.build.cross.objdump if self.build.qemu_cpu else "objdump"
        return subprocess.run([objdump, "-d", str(self.exe)], capture_output=True, text=True, check=True).stdout

    def assert_sdot_matches(self) -> None:
        """The AArch64 binary contains sdot (ARMv8.2 dot product) exactly when its flags select neon-dotprod."""
        want = self.build.expected_isa() == "neon-dotprod"
        assert (re.search(r"\bsdot\b", self.disassembly()) is not None) == want, f"sdot use does not match {self.build}"


def build_and_run(build: Build, source: Path, exe: Path, arg_lists=((),), timeout: int = 600) -> Outcome:
    """Compiles source under build into exe and runs it once per argument list (none if it did not build)."""
    compiled = build.compile(source, exe)
    runs = [build.run(exe, *args, timeout=timeout) for args in arg_lists] if compiled.returncode == 0 else []
    return Outcome(build, exe, compiled, runs)


def built(build: Build, source: Path, exe: Path) -> Path:
    """exe, compiled from source under build without a warning (for a test that runs it itself)."""
    build.require()
    Outcome(build, exe, build.compile(source, exe), []).assert_compiled_clean()
    return exe


# ---- many builds at once --------------------------------------------------------------------------

class Runs:
    """Jobs keyed by a test parameter, run in threads: all of a module's selected ones at once where one
    process runs the whole module (qemu is slow; no xdist, or --dist loadfile), else each when its
    test first asks (xdist's load balancing would run every job in every worker)."""

    def __init__(self, pool: ThreadPoolExecutor, job: Callable[[Any], Any]):
        self.pool, self.job, self.futures = pool, job, {}

    def start(self, key) -> Future:
        if key not in self.futures:
            self.futures[key] = self.pool.submit(self.job, key)
        return self.futures[key]

    def __getitem__(self, key):
        return self.start(key).result()


def _one_process_runs_each_module(config) -> bool:
    """Whether one process runs all of a module's tests: without xdist, or its --dist loadfile / loadscope
    (an xdist worker sees --dist only in the main process's argv)."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return True
    return any(arg.endswith(("loadfile", "loadscope")) for arg in workerinput.get("mainargv", []))


@contextmanager
def module_runs(request, job: Callable[[Build], Any]) -> Iterator[Runs]:
    """A Runs for a module-scoped fixture: job(build) for the `build` parameters of the session's selected
    tests in the fixture's module that use the fixture, where this machine runs the build."""
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    runs = Runs(pool, job)
    if _one_process_runs_each_module(request.config):
        for item in request.session.items:
            build = getattr(item, "callspec", None) and item.callspec.params.get("build")
            if build is not None and getattr(item, "module", None) is request.module \
                    and request.fixturename in item.fixturenames and build.runs_here():
                runs.start(build)
    try:
        yield runs
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class CTest:
    """A test program of tests/c, built and run under each build of the tests that use its fixture."""
    source: str
    isa_macro: str                      # the line it prints the kernel path on
    vnni: bool = True                   # False: its header does not tell avx512vnni from avx512
    dotprod: bool = True                # False: nor neon-dotprod from neon
    build_only: frozenset[str] = frozenset()   # builds only compiled, warning-free (qemu is slow)

    def fixture(self):
        """The module-scoped fixture `runs`: every selected build started at once."""
        @pytest.fixture(scope="module", name="runs")
        def runs(request, tmp_path_factory):
            folder = tmp_path_factory.mktemp(Path(self.source).stem)
            def job(build: Build) -> Outcome:
                arg_lists = () if build.name in self.build_only else (build.args,)
                return build_and_run(build, C_TESTS / self.source, folder / f"{Path(self.source).stem}_{build}", arg_lists)
            with module_runs(request, job) as r:
                yield r
        return runs

    def passed(self, runs: Runs, build: Build) -> int | None:
        """Skips where this machine cannot run the build; checks a clean build, that it passed every check
        on the path its flags select (not for a build-only one), and an AArch64 binary's use of sdot.
        Returns the number of checks (None: built only)."""
        build.require()
        outcome = runs[build]
        outcome.assert_compiled_clean()
        passed = None if build.name in self.build_only else outcome.passed(self.isa_macro, vnni=self.vnni, dotprod=self.dotprod)
        if build.qemu_cpu and build.cross is AARCH64:
            outcome.assert_sdot_matches()
        return passed


# ---- one matrix of a model's shape through a kernel (tests/c/test_kernels_shapes.c) ----------------

SHAPES_SOURCE = C_TESTS / "test_kernels_shapes.c"
SCALES_AT = {"q4_0": (0,), "q4_1": (0, 2), "q8_0": (0,), "tq2": (0,), "tq2_0": (64,), "tq1_0": (52,)}   # fp16 d (, m)


def random_blocks(fmt: str, rows: int, n: int, seed: int) -> bytes:
    """Row-major fmt blocks of random bytes (every code pattern; GGUF TQ2_0's code 3 too) with sane fp16
    scales: +-(0.25..1) * 2^(-10..-3)."""
    per, size = FORMATS[fmt]
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (rows * n // per, size), dtype=np.uint8)
    for at in SCALES_AT[fmt]:
        scale = rng.uniform(0.25, 1, len(blocks)) * rng.choice([-1.0, 1.0], len(blocks)) * np.exp2(rng.integers(-10, -2, len(blocks)))
        blocks[:, at:at + 2] = scale.astype(np.float16).view(np.uint8).reshape(-1, 2)
    return blocks.tobytes()


def shape_runs(folder: Path, shapes: list, tiles: Callable[[str, bytes, int, int], bytes] | None = None) -> Callable[[Build], Outcome]:
    """The job for Runs: tests/c/test_kernels_shapes.c built under a build and run on each (fmt, rows, n,
    token counts) of shapes, with random_blocks weights (and their tiles(fmt, weights, rows, n): i16)."""
    arg_lists = []
    for k, (fmt, rows, n, toks) in enumerate(shapes):
        weights = random_blocks(fmt, rows, n, seed=100 + k)
        files = [folder / f"w{k}.bin"] + ([folder / f"w{k}.tiles"] if tiles else [])
        files[0].write_bytes(weights)
        if tiles:
            files[1].write_bytes(tiles(fmt, weights, rows, n))
        arg_lists.append([fmt, rows, n, ",".join(map(str, toks)), *files])
    return lambda build: build_and_run(build, SHAPES_SOURCE, folder / f"shapes_{build}", arg_lists)


def assert_shapes_pass(outcome: Outcome, shapes: list, isa_macro: str) -> None:
    """Every shape's run checked each of its rows x tokens outputs on the path the flags select."""
    outcome.assert_compiled_clean()
    assert len(outcome.runs) == len(shapes)
    for k, (fmt, rows, n, toks) in enumerate(shapes):
        passed = outcome.passed(isa_macro, run=k)
        assert passed == rows * sum(toks), f"{fmt} {rows}x{n}: {passed} outputs checked, want {rows * sum(toks)}"
