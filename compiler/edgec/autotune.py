"""Compile-time autotune for the host: which weight layout and prefetch distance decode fastest.

It times one decode step's matrix set of the model being compiled (same shapes, formats and
total bytes, so it streams from DRAM or stays in L3 exactly like the real model) with each
candidate kernel, and keeps the fastest.  Results are cached per CPU, compiler, kernel sources
and matrix set, so recompiling the same model costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

from . import __version__
from .codegen import render
from .kernel_choice import I16_FORMATS, TERNARY_I16_FORMATS
from .model_ir import ModelIR
from .paths import runtime_dir

FMT_CODE = {"q4_0": 0, "q4_1": 1, "q8_0": 2, "tq2": 3}
CANDIDATES = [("rowmajor", 0), ("i16", 0), ("i16", 256), ("i16", 512), ("i16", 1024)]


def _matrices(ir: ModelIR) -> list:
    """The quantized matrices one decode step reads, in forward order (the classifier last)."""
    names = [n for n in ir.tensors if n.startswith("blk.") and len(ir.tensors[n].shape) == 2]
    names.append("token_embd.weight" if ir.config.tied_embeddings else "output.weight")
    mats = []
    for n in names:
        t = ir.tensors[n]
        if t.fmt in I16_FORMATS or t.fmt in TERNARY_I16_FORMATS:
            mats.append({"fmt": FMT_CODE[t.fmt], "fmt_name": t.fmt, "rows": t.shape[0], "n": t.shape[1],
                         "bytes": t.n_bytes})
    return mats


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _cache_key(mats: list, cc: str, cflags: list) -> str:
    h = hashlib.sha256()
    for p in sorted((runtime_dir() / "kernels").glob("*.h")):
        h.update(p.read_bytes())
    h.update(json.dumps([mats, cc, cflags, _cpu_name(), __version__]).encode())
    return h.hexdigest()[:24]


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edgec" / "autotune.json"


def autotune(ir: ModelIR, cc: str, cflags: list, reps: int = 15) -> dict | None:
    """{"layout", "prefetch_bytes", "gbs": {candidate: GB/s}, "cached"} or None if nothing to tune."""
    mats = _matrices(ir)
    if not mats:
        return None
    key = _cache_key(mats, cc, cflags)
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return {**known[key], "cached": True}
    total = sum(m["bytes"] for m in mats)
    src = render("autotune_bench.c.j2", {
        "version": __version__, "name": ir.config.name, "mats": mats, "total_mib": f"{total / 2**20:.1f}",
        "max_n": max(m["n"] for m in mats), "max_rows": max(m["rows"] for m in mats)})
    gbs = {}
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "bench.c").write_text(src)
        for layout, dist in CANDIDATES:
            exe = Path(d) / f"bench_{layout}_{dist}"
            flags = [f for f in cflags if not f.startswith("-W")]
            r = subprocess.run([cc, "-std=c11", *flags, f"-I{runtime_dir()}", f"-DLAYOUT_I16={int(layout == 'i16')}",
                                f"-DEDGEC_I16_PREFETCH={dist}", str(Path(d) / "bench.c"), "-o", str(exe), "-lm"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                continue
            out = subprocess.run([str(exe), str(reps)], capture_output=True, text=True, timeout=300)
            if out.returncode == 0 and out.stdout.split():
                gbs[f"{layout}:{dist}"] = round(total / float(out.stdout.split()[0]) / 1e9, 2)
    if not gbs:
        return None
    best = max(gbs, key=gbs.get)
    layout, dist = best.split(":")
    result = {"layout": layout, "prefetch_bytes": int(dist), "gbs": gbs, "weight_bytes": total}
    known[key] = result
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        os.replace(tmp, cache)
    except OSError:
        pass
    return {**result, "cached": False}
