"""Lay the weights out into one blob: a small header, then every tensor the forward pass
reads at a 64-byte aligned offset, in forward-pass order, then the RoPE tables.

GGUF blocks are copied as they are (bit-exact); the generated model.c addresses each
tensor by a compile-time offset into this blob.
"""
from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

import numpy as np

from edgec.ir.model_ir import ModelIR, layer_tensor_names
from edgec.plan import interleave_layout, lut_layout, ternary_layout

ALIGN = 64
MAGIC = b"EDGECW01"
HEADER_BYTES = 64


@dataclass
class BlobEntry:
    name: str       # GGUF tensor name, or rope.cos / rope.sin
    offset: int
    n_bytes: int
    fmt: str
    shape: tuple
    layout: str = "rowmajor"   # "i16": interleaved tiles (interleave_layout.py; tq2: ternary_layout.py); "lut": lut_layout.py


@dataclass
class WeightsLayout:
    entries: list        # BlobEntry, in blob order
    total_bytes: int
    signature: int       # 64-bit hash of the layout, checked by edgec_model_init

    def entry(self, name: str) -> BlobEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(name)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def tensor_order(ir: ModelIR) -> list:
    """Tensor names in the order the forward pass reads them."""
    cfg = ir.config
    names = ["token_embd.weight"]
    for i in range(cfg.n_layers):
        names += [f"blk.{i}.{n}" for n in layer_tensor_names(cfg)]
    names.append("output_norm.weight")
    if not cfg.tied_embeddings:
        names.append("output.weight")
    return names


def rope_tables(ir: ModelIR, max_ctx: int) -> tuple:
    """cos/sin [max_ctx][rope_dim/2] float32: angle = pos * theta^(-2i/rope_dim) / factor_i."""
    cfg = ir.config
    half = cfg.rope_dim // 2
    inv_freq = cfg.rope_theta ** (-np.arange(half, dtype=np.float64) * 2.0 / cfg.rope_dim)
    if cfg.rope_freq_factors is not None:
        inv_freq = inv_freq / np.asarray(cfg.rope_freq_factors, dtype=np.float64)
    angles = np.arange(max_ctx, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def tiled_bytes(fmt: str, rows: int, n: int) -> int:
    """Bytes of a matrix in the "i16" layout: 16-row tiles, or for tq2 64-row ternary tiles."""
    if fmt in ternary_layout.TILED_FORMATS:
        return ternary_layout.tq2_i16_bytes(rows, n)
    return interleave_layout.i16_bytes(fmt, rows, n)


def tiled_data(fmt: str, data, rows: int, n: int) -> bytes:
    """A matrix's row-major bytes re-laid out into the "i16" layout (bit-exact, only places change)."""
    if fmt in ternary_layout.TILED_FORMATS:
        return ternary_layout.relayout(data, rows, n)
    return interleave_layout.relayout(fmt, data, rows, n)


def plan_layout(ir: ModelIR, max_ctx: int, layouts: dict | None = None) -> WeightsLayout:
    """layouts: tensor name -> "rowmajor" | "i16" (kernel_choice.plan_all); default all row-major."""
    entries, off = [], HEADER_BYTES
    for name in tensor_order(ir):
        t = ir.tensors[name]
        layout = (layouts or {}).get(name, "rowmajor")
        n_bytes = tiled_bytes(t.fmt, t.shape[0], t.shape[1]) if layout == "i16" else \
            lut_layout.lut_bytes(t.fmt, t.shape[0], t.shape[1]) if layout == "lut" else t.n_bytes
        entries.append(BlobEntry(name, off, n_bytes, t.fmt, tuple(t.shape), layout))
        off = _align(off + n_bytes)
    rope_bytes = max_ctx * (ir.config.rope_dim // 2) * 4
    for name in ("rope.cos", "rope.sin"):
        entries.append(BlobEntry(name, off, rope_bytes, "f32", (max_ctx, ir.config.rope_dim // 2)))
        off = _align(off + rope_bytes)
    desc = ";".join(f"{e.name}:{e.offset}:{e.n_bytes}:{e.fmt}:{e.shape}:{e.layout}" for e in entries)
    signature = int.from_bytes(hashlib.sha256(desc.encode()).digest()[:8], "little")
    return WeightsLayout(entries, off, signature)


def write_blob(ir: ModelIR, layout: WeightsLayout, path, max_ctx: int, progress=None) -> None:
    """Write the blob to path; progress(done_bytes, total_bytes) is called as it goes."""
    cos, sin = rope_tables(ir, max_ctx)
    extra = {"rope.cos": cos.tobytes(), "rope.sin": sin.tobytes()}
    header = MAGIC + struct.pack("<QQ", layout.signature, layout.total_bytes)
    with open(path, "wb") as f:
        f.write(header.ljust(HEADER_BYTES, b"\0"))
        for e in layout.entries:
            if e.name in extra:
                data = extra[e.name]
            elif e.layout == "i16":
                t = ir.tensors[e.name]
                data = tiled_data(t.fmt, t.data, t.shape[0], t.shape[1])
            elif e.layout == "lut":
                t = ir.tensors[e.name]
                data = lut_layout.to_lut_layout(t.data, t.fmt, t.shape[0], t.shape[1])
            else:
                data = ir.tensors[e.name].data
            f.seek(e.offset)
            f.write(data)
            if progress:
                progress(e.offset + e.n_bytes, layout.total_bytes)
        f.truncate(layout.total_bytes)
