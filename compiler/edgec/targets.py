"""Device profiles: one TOML file per target in targets/, resolved against this machine for `host`."""
from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field

from .errors import EdgecError
from .lut_layout import LUT_FORMATS
from .paths import targets_dir


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
    notes: list = field(default_factory=list)

    def find_cc(self) -> str:
        """The first C compiler of the profile's list that is installed."""
        for cc in self.cc:
            if shutil.which(cc.split()[0]):
                return cc
        raise EdgecError(f"no C compiler for target {self.name}: none of {', '.join(self.cc)} is on PATH; "
                         "install one (e.g. apt-get install gcc)")


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
    path = targets_dir() / f"{name}.toml"
    if not path.is_file():
        raise EdgecError(f"unknown target '{name}'; choose one of: {', '.join(target_names())} (see `edgec targets`)")
    with open(path, "rb") as f:
        t = Target(**tomllib.load(f))
    if t.name != name:
        raise EdgecError(f"target file {path} names itself '{t.name}'; rename the file or fix its name field")
    if t.cores == 0:
        t.cores = os.cpu_count() or 1
    if t.ram_bytes == 0:
        t.ram_bytes = _host_ram_bytes()
    if t.l2_bytes == 0:
        t.l2_bytes = _host_cache_bytes(2)
    if t.l3_bytes == 0:
        t.l3_bytes = _host_cache_bytes(3)
    if t.weight_layout == "auto":
        t.weight_layout = "i16" if "avx2" in _host_cpu_flags() else "rowmajor"
    if t.weight_layout not in ("rowmajor", "i16"):
        raise EdgecError(f"target {name}: weight_layout '{t.weight_layout}' is unknown; use rowmajor, i16 or auto")
    bad = sorted(set(t.lut_formats) - set(LUT_FORMATS))
    if bad:
        raise EdgecError(f"target {name}: lut_formats {bad} have no LUT kernel; use some of {', '.join(LUT_FORMATS)}")
    return t


def _host_cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
