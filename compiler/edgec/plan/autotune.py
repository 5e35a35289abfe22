"""Compile-time autotune for the host: which weight layout, prefetch distance and, per weight
format, LUT or dot-product kernels decode fastest.

It times one decode step's matrix set of the model being compiled (same shapes, formats and
total bytes, so it streams from DRAM or stays in L3 exactly like the real model) with each
candidate kernel, and keeps the fastest.  First the layout and prefetch distance
(autotune_bench.c.j2, one program per candidate); then, for every format with LUT kernels
(AUTOTUNE_LUT_FORMATS: q2, q3, tq2), that format's matrices in forward order on the LUT kernels (tables
built once per activation vector, as the model does) against the dot-product kernels the target
would give them otherwise (autotune_lut_bench.c.j2, one program, both candidates in every rep).
Results are cached per CPU, compiler, kernel and bench sources and matrix set, so recompiling
the same model costs nothing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path

from edgec import __version__
from edgec.errors import EdgecError
from edgec.ir.block_formats import LUT_FORMATS
from edgec.ir.model_ir import ModelIR
from edgec.paths import kernels_dir, runtime_dir, templates_dir
from edgec.plan.kernel_choice import I16_FORMATS, TERNARY_I16_FORMATS, plan_matrix
from edgec.render import render
from edgec.targets import Target, cpuinfo_field, load_target

# The formats whose LUT-or-dot choice is measured.  q4_0/q4_1 are not candidates: their LUT kernels
# ran 0.45-0.6x the i16 tiles cache-resident and 0.72x in a whole SmolLM2 decode, but this
# one-format, decode-only bench ties them from DRAM, and under noise picked LUT for a Q4_1 model
# that then decoded 1.75x slower (6.3 against 3.6 ms per token).
AUTOTUNE_LUT_FORMATS = ("q2", "q3", "tq2")
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
    name = cpuinfo_field("model name")
    return "unknown" if name is None else name.strip()


# Matrices of a layer in forward order, and which activation vector each reads: matrices that
# share one get one set of LUT tables (Q/K/V the normed input, gate/up the normed residual).
FORWARD = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
ACTIVATION = {"attn_q": "qkv", "attn_k": "qkv", "attn_v": "qkv", "attn_output": "out",
              "ffn_gate": "gate_up", "ffn_up": "gate_up", "ffn_down": "down"}
LUT_IDS = {"q2": "EDGEC_LUT_Q2", "q3": "EDGEC_LUT_Q3", "tq2": "EDGEC_LUT_TQ2",
           "q4_0": "EDGEC_LUT_Q4_0", "q4_1": "EDGEC_LUT_Q4_1"}
# The bench's id of each dot-product kernel kernel_choice can give a LUT-capable format.
DOT_IDS = {"edgec_matmul_q2": "DOT_Q2", "edgec_matmul_q3": "DOT_Q3", "edgec_matmul_q4_0": "DOT_Q4_0",
           "edgec_matmul_q4_1": "DOT_Q4_1", "edgec_matmul_tq2": "DOT_TQ2", "edgec_matmul_i16_q4_0": "DOT_I16_Q4_0",
           "edgec_matmul_i16_q4_1": "DOT_I16_Q4_1", "edgec_matmul_i16_tq2": "DOT_I16_TQ2"}


def _forward_names(ir: ModelIR) -> list:
    """Every 2-D blk.* tensor, layer by layer in the order the forward pass reads them, then the classifier."""
    by_layer = {}
    for n, t in ir.tensors.items():
        if n.startswith("blk.") and len(t.shape) == 2:
            by_layer.setdefault(int(n.split(".")[1]), []).append(n)
    rank = {k: i for i, k in enumerate(FORWARD)}
    names = []
    for layer in sorted(by_layer):
        names += sorted(by_layer[layer], key=lambda n: (rank.get(n.split(".")[2], len(FORWARD)), n))
    return names + ["token_embd.weight" if ir.config.tied_embeddings else "output.weight"]


def lut_matrices(ir: ModelIR, target: Target, layout: str | None = None) -> list:
    """The decode matrices whose format has LUT kernels, in forward order: dicts of fmt, rows, n,
    bytes (row-major), act (which activation vector it reads) and dot (the dot-product kernel the
    target gives it when its formats are not in lut_formats, under weight layout `layout`)."""
    dot_target = dataclasses.replace(target, lut_formats=[], weight_layout=layout or target.weight_layout)
    mats = []
    for n in _forward_names(ir):
        t = ir.tensors.get(n)
        if t is None or t.fmt not in AUTOTUNE_LUT_FORMATS or len(t.shape) != 2:
            continue
        kind = n.split(".")[2] if n.startswith("blk.") else None
        act = f"{n.split('.')[1]}.{ACTIVATION[kind]}" if kind in ACTIVATION else n
        mats.append({"fmt": t.fmt, "rows": t.shape[0], "n": t.shape[1], "bytes": t.n_bytes, "act": act,
                     "dot": plan_matrix(ir, n, dot_target).kernel})
    return mats


def lut_sets(mats: list) -> list:
    """lut_matrices() grouped per format (sorted) as the LUT bench takes them: a format's matrices
    keep their order, and each marks whether it reads a new activation vector (tables: 1), as the
    model builds tables once per group of same-format matrices that read one activation."""
    sets, first = [], 0
    for fmt in sorted({m["fmt"] for m in mats}):
        own, seen = [], set()
        for m in mats:
            if m["fmt"] != fmt:
                continue
            if m["dot"] not in DOT_IDS:
                raise EdgecError(f"no dot-product kernel {m['dot']} in the LUT autotune bench; "
                                 f"add it to autotune_lut_bench.c.j2 and DOT_IDS")
            own.append({**m, "dot": DOT_IDS[m["dot"]], "tables": int(m["act"] not in seen)})
            seen.add(m["act"])
        sets.append({"fmt": fmt, "lut_id": LUT_IDS[fmt], "first": first, "mats": own,
                     "total_bytes": sum(m["bytes"] for m in own),
                     "total_mib": f"{sum(m['bytes'] for m in own) / 2**20:.1f}"})
        first += len(own)
    return sets


def build_lut_bench(sets: list, cc: str, cflags: list, prefetch_bytes: int, workdir: Path,
                    name: str = "model") -> Path:
    """Generate and compile the LUT-vs-dot timing program for lut_sets(); returns the executable."""
    mats = [m for s in sets for m in s["mats"]]
    if not mats:
        raise EdgecError("no LUT-capable matrices to time: give build_lut_bench() a non-empty lut_sets()")
    src = render("autotune_lut_bench.c.j2", {
        "version": __version__, "name": name, "sets": sets, "prefetch_bytes": int(prefetch_bytes),
        "dots": sorted({m["dot"] for m in mats}),
        "max_n": max(m["n"] for m in mats), "max_rows": max(m["rows"] for m in mats)})
    workdir = Path(workdir)
    (workdir / "lut_bench.c").write_text(src)
    exe = workdir / "lut_bench"
    flags = [f for f in cflags if not f.startswith("-W")]
    r = subprocess.run([cc, "-std=c11", *flags, f"-I{runtime_dir() / 'core'}", str(workdir / "lut_bench.c"), "-o", str(exe), "-lm"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        first = (r.stderr.strip().splitlines() or ["no message"])[0]
        raise EdgecError(f"the LUT autotune bench did not compile with {cc}: {first}")
    return exe


def run_lut_bench(exe: Path, reps: int, weights_dir: Path | None = None) -> dict:
    """Runs the bench: {fmt: {"lut" | "dot": {"seconds", "sum", "sumabs"}}}, seconds the best pass
    (tables included for lut), sums over one pass's outputs.  weights_dir holds lut.bin and dot.bin."""
    args = [str(exe), str(reps)] + ([str(weights_dir)] if weights_dir is not None else [])
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        raise EdgecError(f"the LUT autotune bench failed ({out.returncode}): {out.stderr.strip()[:200]}")
    res = {}
    for line in out.stdout.splitlines():
        fmt, cand, sec, total, total_abs = line.split()
        res.setdefault(fmt, {})[cand] = {"seconds": float(sec), "sum": float(total), "sumabs": float(total_abs)}
    return res


# LUT must beat the dot kernels by this fraction of their decode time: closer timings are noise, and
# only decode is timed, while prompt batches favour the dot kernels (docs/lut.md), so a near-tie keeps them.
LUT_MARGIN = 0.10


def choose_lut(sets: list, timings: dict, margin: float = LUT_MARGIN) -> tuple:
    """(sorted formats where LUT was faster by margin, {"lut:FMT" | "dot:FMT": GB/s of the format's
    row-major bytes, table building included for lut})."""
    chosen, gbs = [], {}
    for s in sets:
        t = timings.get(s["fmt"], {})
        secs = {c: t[c]["seconds"] for c in ("lut", "dot") if c in t}
        if len(secs) != 2 or not all(math.isfinite(v) and 0 < v < 1e29 for v in secs.values()):
            continue
        for c, v in secs.items():
            gbs[f"{c}:{s['fmt']}"] = round(s["total_bytes"] / v / 1e9, 2)
        if secs["lut"] < secs["dot"] * (1 - margin):
            chosen.append(s["fmt"])
    return sorted(chosen), gbs


def _cache_key(mats: list, lut_mats: list, cc: str, cflags: list) -> str:
    h = hashlib.sha256()
    for p in sorted(kernels_dir().rglob("*.h")):
        h.update(p.read_bytes())
    for t in ("autotune_bench.c.j2", "autotune_lut_bench.c.j2"):
        h.update((templates_dir() / t).read_bytes())
    h.update(json.dumps([mats, lut_mats, cc, cflags, _cpu_name(), __version__]).encode())
    return h.hexdigest()[:24]


def _cache_file() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "edgec" / "autotune.json"


def _tune_layout(ir: ModelIR, mats: list, cc: str, cflags: list, reps: int, d: str) -> dict:
    """{"layout:prefetch": GB/s} for each candidate that built and ran."""
    total = sum(m["bytes"] for m in mats)
    src = render("autotune_bench.c.j2", {
        "version": __version__, "name": ir.config.name, "mats": mats, "total_mib": f"{total / 2**20:.1f}",
        "max_n": max(m["n"] for m in mats), "max_rows": max(m["rows"] for m in mats)})
    gbs = {}
    (Path(d) / "bench.c").write_text(src)
    for layout, dist in CANDIDATES:
        exe = Path(d) / f"bench_{layout}_{dist}"
        flags = [f for f in cflags if not f.startswith("-W")]
        r = subprocess.run([cc, "-std=c11", *flags, f"-I{runtime_dir() / 'core'}", f"-DLAYOUT_I16={int(layout == 'i16')}",
                            f"-DEDGEC_I16_PREFETCH={dist}", str(Path(d) / "bench.c"), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            continue
        out = subprocess.run([str(exe), str(reps)], capture_output=True, text=True, timeout=300)
        if out.returncode == 0 and out.stdout.split():
            gbs[f"{layout}:{dist}"] = round(total / float(out.stdout.split()[0]) / 1e9, 2)
    return gbs


def autotune(ir: ModelIR, cc: str, cflags: list, reps: int = 15, target: Target | None = None) -> dict | None:
    """{"layout", "prefetch_bytes", "lut_formats", "gbs": {candidate: GB/s}, "weight_bytes", "cached"},
    or None if nothing to tune.  layout / prefetch_bytes are None when the model has no matrix they
    apply to; lut_formats (sorted) are the LUT-capable formats whose matrices ran faster on the LUT
    kernels (by LUT_MARGIN), None when the model has none or their bench failed.  target: the profile compiled for (default: host)."""
    target = target or load_target("host")
    mats = _matrices(ir)
    lut_mats = lut_matrices(ir, target, "i16")
    if not mats and not lut_mats:
        return None
    key = _cache_key(mats, lut_mats, cc, cflags)
    cache = _cache_file()
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return {**known[key], "cached": True}
    gbs, layout, dist = {}, None, None
    with tempfile.TemporaryDirectory() as d:
        if mats:
            gbs = _tune_layout(ir, mats, cc, cflags, reps, d)
            if not gbs:
                return None
            layout, dist = max(gbs, key=gbs.get).split(":")
            dist = int(dist)
        lut_formats = None
        if lut_mats:
            sets = lut_sets(lut_matrices(ir, target, layout))
            try:
                exe = build_lut_bench(sets, cc, cflags, target.prefetch_bytes if dist is None else dist, Path(d),
                                      ir.config.name)
                lut_formats, lut_gbs = choose_lut(sets, run_lut_bench(exe, reps))
                timed = {k.split(":", 1)[1] for k in lut_gbs}   # a format with no usable time keeps the profile's choice
                lut_formats = sorted(set(lut_formats) | {s["fmt"] for s in sets
                                                         if s["fmt"] not in timed and s["fmt"] in target.lut_formats})
                gbs.update(lut_gbs)
            except (EdgecError, subprocess.SubprocessError, ValueError):
                lut_formats = None   # the profile's lut_formats stay
    if layout is None and lut_formats is None:
        return None
    total = sum(m["bytes"] for m in mats) or sum(m["bytes"] for m in lut_mats)
    result = {"layout": layout, "prefetch_bytes": dist, "lut_formats": lut_formats, "gbs": gbs, "weight_bytes": total}
    known[key] = result
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        os.replace(tmp, cache)
    except OSError:
        pass
    return {**result, "cached": False}


def tuned_summary(tuned) -> str:
    """The autotune stage's one-line result."""
    if not tuned:
        return "no candidate built; profile defaults"
    parts = []
    if tuned["layout"] is not None:
        parts.append(f"{tuned['layout']} layout, prefetch {tuned['prefetch_bytes']} B")
    if tuned.get("lut_formats") is not None:
        parts.append(f"LUT for {', '.join(tuned['lut_formats'])}" if tuned["lut_formats"] else "no LUT")
    return ", ".join(parts) + (" (cached)" if tuned["cached"] else "")


AUTOTUNE_MIN_BYTES = 1 << 20   # below this the weights sit in L1/L2 and any choice is as good


def quantized_bytes(ir) -> int:
    """Bytes of the matrices whose layout and prefetch distance autotune measures."""
    tunable = I16_FORMATS | TERNARY_I16_FORMATS | set(LUT_FORMATS)
    return sum(t.n_bytes for t in ir.tensors.values() if t.fmt in tunable and len(t.shape) == 2)
