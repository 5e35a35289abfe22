"""Quantize and dequantize GGUF block formats, via the gguf package's reference code.

Quantization is deterministic (same floats -> same bytes), and matches llama.cpp's
reference quantizers, so `--quant q4_0` on a HF model gives the blocks llama-quantize would.
edgec's own ternary format tq2 (docs/ternary.md) is encoded here, BitNet b1.58 style, and its
own 2- and 3-bit group formats q2 / q3 (docs/formats.md) with a least-squares fitted scale and offset.
"""
from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import quants

# Storage formats the pipeline understands (GGUF block layouts; see docs/formats.md).
# name -> (elements per block, bytes per block)
FORMATS = {
    "f32": (1, 4),
    "f16": (1, 2),
    "bf16": (1, 2),
    "q8_0": (32, 34),   # fp16 d, int8 qs[32]
    "q4_0": (32, 18),   # fp16 d, uint8 qs[16]  (w = d * (nibble - 8))
    "q4_1": (32, 20),   # fp16 d, fp16 m, uint8 qs[16] (w = d * nibble + m)
    # Ternary (docs/ternary.md): w = d * (code - 1), 2-bit or base-3 codes in {0, 1, 2}.
    "tq2": (64, 18),    # edgec's own: fp16 d, uint8 qs[16]; code j = qs[j & 15] >> 2*(j >> 4) & 3
    "tq2_0": (256, 66),  # GGUF TQ2_0: uint8 qs[64], fp16 d
    "tq1_0": (256, 54),  # GGUF TQ1_0: uint8 qs[48] (5 codes/byte), uint8 qh[4] (4 codes/byte), fp16 d
    # edgec's own low-bit group formats (docs/formats.md): w = d * q + m, q unsigned.
    "q2": (32, 12),     # fp16 d, fp16 m, uint8 qs[8]; q j = qs[j & 7] >> 2*(j >> 3) & 3
    "q3": (32, 16),     # as q2, plus uint8 qh[4]: bit 2 of q j = bit (j & 7) of qh[j >> 3]
}


def row_bytes(fmt: str, n_cols: int) -> int:
    """Bytes of one row of n_cols elements in format fmt."""
    per_block, block_bytes = FORMATS[fmt]
    if n_cols % per_block:
        raise ValueError(f"row of {n_cols} is not a multiple of the {fmt} block size {per_block}")
    return n_cols // per_block * block_bytes


# Formats the runtime has T-MAC-style table-lookup kernels for (32-row bit-plane tiles, docs/lut.md).
LUT_FORMATS = ("q2", "q3", "tq2", "q4_0", "q4_1")

GGML_TYPE = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_1": QT.Q4_1,
             "tq2_0": QT.TQ2_0, "tq1_0": QT.TQ1_0}
FORMAT_OF_GGML = {v: k for k, v in GGML_TYPE.items()}
TERNARY_FORMATS = ("tq2", "tq2_0", "tq1_0")   # w = d * (code - 1), code in {0, 1, 2}
LOWBIT_LEVELS = {"q2": 3, "q3": 7}             # w = d * q + m, q in 0..levels


def quantize(x: np.ndarray, fmt: str) -> bytes:
    """Encode a float array (last axis contiguous) into fmt's raw bytes."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if fmt == "f32":
        return x.tobytes()
    if fmt == "f16":
        return x.astype(np.float16).tobytes()
    per_block = FORMATS[fmt][0]
    if x.shape[-1] % per_block:
        raise ValueError(f"rows of {x.shape[-1]} values cannot be stored as {fmt} (blocks of {per_block})")
    if fmt == "tq2":
        return quantize_tq2(x)
    if fmt in LOWBIT_LEVELS:
        return quantize_lowbit(x, fmt)
    return np.ascontiguousarray(quants.quantize(x, GGML_TYPE[fmt])).tobytes()


def dequantize(data: bytes, fmt: str, shape: tuple) -> np.ndarray:
    """Decode fmt's raw bytes into a float32 array of the given shape."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if fmt == "f32":
        return raw.view(np.float32).reshape(shape).copy()
    if fmt == "f16":
        return raw.view(np.float16).astype(np.float32).reshape(shape)
    n_cols = shape[-1]
    per_block, block_bytes = FORMATS[fmt]
    if fmt == "tq2":
        codes, d = ternary_codes(data, fmt, shape)
        w = d.reshape(-1, n_cols // per_block, 1) * (codes.reshape(-1, n_cols // per_block, per_block)
                                                     .astype(np.float32) - np.float32(1))
        return w.astype(np.float32).reshape(shape)
    if fmt in LOWBIT_LEVELS:
        codes, d, m = lowbit_codes(data, fmt, shape)
        w = d[..., None] * codes.reshape(d.shape + (per_block,)).astype(np.float32) + m[..., None]
        return w.astype(np.float32).reshape(shape)
    byte_shape = tuple(shape[:-1]) + (n_cols // per_block * block_bytes,)
    out = quants.dequantize(raw.reshape(byte_shape), GGML_TYPE[fmt])
    return np.asarray(out, dtype=np.float32).reshape(shape)


# ---- ternary formats --------------------------------------------------------------------

def round_half_away(v: np.ndarray) -> np.ndarray:
    """C's roundf (halves away from zero), in float64."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_tq2(x: np.ndarray) -> bytes:
    """tq2 with one scale per row: d = mean|x| over the row (float64 mean, rounded to float32, stored
    fp16), code = clip(round_half_away(x / d), -1, 1) + 1, the same d written into every 64-block of
    the row (BitNet b1.58's absmean, per row instead of per tensor).

    The last axis is the row (a 1-D array is one row).  The codes are computed against the float32 d,
    not its fp16 rounding (as the per-block quantizer did).  An all-zero row gets d = 0 and every code
    1 (weight 0).  Byte k of a block's qs holds codes k, k+16, k+32, k+48 at bit offsets 0, 2, 4, 6.
    Every block of a row carrying the same d is what lets ternary_layout.relayout() keep one scale per
    row in its 64-row tiles; the block format itself is unchanged.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows = x.reshape(-1, x.shape[-1])
    d = np.abs(rows).astype(np.float64).mean(axis=1).astype(np.float32)   # [rows]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[:, None] > 0, rows.astype(np.float64) / d[:, None].astype(np.float64), 0.0)
    codes = (np.clip(round_half_away(ratio), -1, 1) + 1).astype(np.uint8)   # [rows, n]
    quarters = codes.reshape(-1, 4, 16)                                      # [block, j >> 4, j & 15]
    qs = quarters[:, 0] | (quarters[:, 1] << 2) | (quarters[:, 2] << 4) | (quarters[:, 3] << 6)
    d_blocks = np.repeat(d.astype(np.float16), rows.shape[1] // 64)         # the row's d in each of its blocks
    out = np.concatenate([d_blocks.view(np.uint8).reshape(-1, 2), qs], axis=1)
    return np.ascontiguousarray(out).tobytes()


# TQ1_0 packs 5 codes per byte as the fraction q/256 ~ (base-3 number)/243; digit n of a byte q is
# ((q * 3^n) mod 256) * 3 >> 8.  Byte i of qs[0:32] holds codes i + 32n (n = 0..4), byte i of
# qs[32:48] holds codes 160 + i + 16n, byte i of qh[4] holds codes 240 + i + 4n (n = 0..3).
_POW3 = np.array([1, 3, 9, 27, 81], dtype=np.uint16)


def _base3_digits(q: np.ndarray, n_digits: int) -> np.ndarray:
    """Digits [..., n_digits, bytes] of TQ1_0 bytes q [..., bytes]."""
    prod = (q[..., None, :].astype(np.uint16) * _POW3[:n_digits, None]) & 0xFF
    return ((prod * 3) >> 8).astype(np.uint8)


def ternary_codes(data: bytes, fmt: str, shape: tuple) -> tuple:
    """(codes uint8 [rows, cols] in {0,1,2}, d float32 [rows, cols / block]) of a ternary tensor."""
    per_block, block_bytes = FORMATS[fmt]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    nb = shape[-1] // per_block
    raw = np.frombuffer(data, dtype=np.uint8).reshape(rows, nb, block_bytes)
    if fmt == "tq2":
        d, qs = raw[..., 0:2], raw[..., 2:18]
        codes = np.stack([(qs >> (2 * s)) & 3 for s in range(4)], axis=-2)          # [r, b, j >> 4, j & 15]
    elif fmt == "tq2_0":
        qs, d = raw[..., 0:64].reshape(rows, nb, 2, 1, 32), raw[..., 64:66]
        codes = (qs >> (2 * np.arange(4, dtype=np.uint8)[:, None])) & 3             # [r, b, half, shift, 32]
    elif fmt == "tq1_0":
        d = raw[..., 52:54]
        codes = np.concatenate([_base3_digits(raw[..., 0:32], 5).reshape(rows, nb, 160),
                                _base3_digits(raw[..., 32:48], 5).reshape(rows, nb, 80),
                                _base3_digits(raw[..., 48:52], 4).reshape(rows, nb, 16)], axis=-1)
    else:
        raise ValueError(f"{fmt} is not a ternary format")
    scales = np.ascontiguousarray(d).view(np.float16).reshape(rows, nb).astype(np.float32)
    return np.ascontiguousarray(codes.reshape(rows, nb * per_block)), scales


# ---- q2 / q3: edgec's own low-bit group formats ----------------------------------------
# A block of 32 weights: fp16 d, fp16 m, qs[8] (low 2 bits of q j at bits 2*(j >> 3) of byte
# j & 7), and for q3 qh[4] (bit 2 of q j at bit j & 7 of byte j >> 3); w j = d * q j + m.

# Candidate ranges: fractions of [min, max] cut from the bottom and the top of each block.
# Fewer levels want a narrower range than min..max (the outliers lose less than the bulk gains).
LOWBIT_SHRINKS = {3: (0.0, 0.1, 0.2), 7: (0.0, 0.06)}   # 8 levels: a finer grid gained < 0.5% error
LOWBIT_REFITS = 2          # least-squares rounds on the best candidate
LOWBIT_CHUNK = 8192        # blocks fitted at once: the working arrays (1 MiB each) stay near L2


def _fp16(v: np.ndarray) -> np.ndarray:
    """float32 values rounded to fp16 and back: what the stored d and m decode to."""
    return np.asarray(v, dtype=np.float32).astype(np.float16).astype(np.float32)


class _LowbitFit:
    """Fits (d, m) per block for the blocks of xt [32, B] (one column per block, so per-block
    values broadcast along rows and sums run over rows: numpy's fast layouts)."""

    def __init__(self, xt: np.ndarray, levels: int):
        self.x, self.levels = xt, levels
        self.sx = xt.sum(axis=0, dtype=np.float64)
        self.q, self.tmp = np.empty_like(xt), np.empty_like(xt)

    def codes(self, d: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Nearest code of each weight for fp16 d, m (into self.q): clip(round((x - m) / d), 0, levels)."""
        inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d > 0)
        np.subtract(self.x, m, out=self.q)
        np.multiply(self.q, inv, out=self.q)
        np.rint(self.q, out=self.q)
        return np.clip(self.q, 0, self.levels, out=self.q)

    def error(self, d: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Squared error per block of the decoded weights d * q + m (float32, as the decoder) for self.q."""
        np.multiply(self.q, d, out=self.tmp)
        np.add(self.tmp, m, out=self.tmp)
        np.subtract(self.x, self.tmp, out=self.tmp)
        np.multiply(self.tmp, self.tmp, out=self.tmp)
        return self.tmp.sum(axis=0)

    def least_squares(self, d_keep: np.ndarray) -> tuple:
        """(d, m) minimising the squared error for the codes in self.q, rounded to fp16: d first, then
        m fitted to the rounded d.  Blocks whose codes are all equal keep d_keep (m = their mean)."""
        n = self.x.shape[0]
        sq = self.q.sum(axis=0, dtype=np.float64)
        np.multiply(self.q, self.q, out=self.tmp)
        sqq = self.tmp.sum(axis=0, dtype=np.float64)
        np.multiply(self.q, self.x, out=self.tmp)
        sqx = self.tmp.sum(axis=0, dtype=np.float64)
        den = n * sqq - sq * sq
        spread = den > 0
        d = np.where(spread, (n * sqx - sq * self.sx) / np.where(spread, den, 1.0), d_keep)
        d = _fp16(np.maximum(d, 0.0))
        return d, _fp16((self.sx - d.astype(np.float64) * sq) / n)


def fit_lowbit_blocks(xt: np.ndarray, levels: int) -> tuple:
    """(d, m, codes) for the blocks of xt [32, B] float32: d, m fp16-exact float32 [B], codes uint8 [32, B].

    Tries min..max and the shrunk ranges of LOWBIT_SHRINKS (codes always against the fp16-rounded d
    and m), keeps each block's best, then refits it by least squares LOWBIT_REFITS times, keeping a
    refit only where it lowers the error.  The first candidate is plain min/max, so the result is
    never worse than it.  A constant block gets d = 0, m = its value (exact when that is an fp16).
    """
    fit = _LowbitFit(xt, levels)
    lo, hi = xt.min(axis=0), xt.max(axis=0)
    span = hi - lo
    best_d = best_m = best_e = None
    for cut_lo in LOWBIT_SHRINKS[levels]:
        for cut_hi in LOWBIT_SHRINKS[levels]:
            m = _fp16(lo + np.float32(cut_lo) * span)
            d = _fp16((hi - np.float32(cut_hi) * span - (lo + np.float32(cut_lo) * span)) / np.float32(levels))
            fit.codes(d, m)
            e = fit.error(d, m)
            if best_e is None:
                best_d, best_m, best_e = d, m, e
                continue
            better = e < best_e
            best_d, best_m, best_e = np.where(better, d, best_d), np.where(better, m, best_m), np.where(better, e, best_e)
    for _ in range(LOWBIT_REFITS):
        fit.codes(best_d, best_m)
        d, m = fit.least_squares(best_d)
        fit.codes(d, m)
        e = fit.error(d, m)
        better = e < best_e
        best_d, best_m, best_e = np.where(better, d, best_d), np.where(better, m, best_m), np.where(better, e, best_e)
    return best_d, best_m, fit.codes(best_d, best_m).astype(np.uint8)


def _pack_lowbit(d: np.ndarray, m: np.ndarray, codes: np.ndarray, fmt: str) -> np.ndarray:
    """Blocks [B, bytes] from d, m [B] and codes [32, B] (row j = weight j of every block)."""
    q = codes.reshape(4, 8, -1)                                   # [j >> 3, j & 7, block]
    low = q & 3
    qs = low[0] | (low[1] << 2) | (low[2] << 4) | (low[3] << 6)  # [8, B]: byte k holds weights k, k+8, k+16, k+24
    out = np.empty((q.shape[2], FORMATS[fmt][1]), dtype=np.uint8)
    out[:, 0:2] = d.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 2:4] = m.astype(np.float16).view(np.uint8).reshape(-1, 2)
    out[:, 4:12] = qs.T
    if fmt == "q3":
        bit2 = q >> 2                                             # 0 or 1
        qh = bit2[:, 0]
        for i in range(1, 8):
            qh = qh | (bit2[:, i] << i)                           # [4, B]: bit i of qh[s] is weight 8s + i
        out[:, 12:16] = qh.T
    return out


def quantize_lowbit(x: np.ndarray, fmt: str) -> bytes:
    """q2 / q3 blocks of x (rows a multiple of 32 values), fitted per block by fit_lowbit_blocks.
    Deterministic: every block is fitted on its own, a chunk of blocks at a time."""
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 32)
    if not np.isfinite(blocks).all():
        raise ValueError(f"cannot store non-finite weights (NaN or inf) as {fmt}")
    if blocks.size and np.abs(blocks).max() > 65504:
        raise ValueError(f"weights beyond the fp16 range (|w| > 65504) cannot be stored as {fmt}")
    levels = LOWBIT_LEVELS[fmt]

    out = np.empty((len(blocks), FORMATS[fmt][1]), dtype=np.uint8)
    for start in range(0, len(blocks), LOWBIT_CHUNK):
        xt = np.ascontiguousarray(blocks[start:start + LOWBIT_CHUNK].T)
        out[start:start + LOWBIT_CHUNK] = _pack_lowbit(*fit_lowbit_blocks(xt, levels), fmt)
    return out.tobytes()


def lowbit_codes(data: bytes, fmt: str, shape: tuple) -> tuple:
    """(codes uint8 [rows, cols] in 0..levels, d float32 [rows, cols/32], m float32 [rows, cols/32])
    of a q2 / q3 tensor, read by the layout's definition."""
    per_block, block_bytes = FORMATS[fmt]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    nb = shape[-1] // per_block
    raw = np.frombuffer(data, dtype=np.uint8).reshape(rows, nb, block_bytes)
    qs = raw[..., 4:12]
    codes = np.stack([(qs >> (2 * s)) & 3 for s in range(4)], axis=-2)            # [r, b, j >> 3, j & 7]
    if fmt == "q3":
        qh = raw[..., 12:16]
        codes = codes | (np.unpackbits(qh[..., None], axis=-1, bitorder="little") << 2)
    elif fmt != "q2":
        raise ValueError(f"{fmt} is not a low-bit group format")
    d = np.ascontiguousarray(raw[..., 0:2]).view(np.float16).reshape(rows, nb).astype(np.float32)
    m = np.ascontiguousarray(raw[..., 2:4]).view(np.float16).reshape(rows, nb).astype(np.float32)
    return np.ascontiguousarray(codes.reshape(rows, nb * per_block)), d, m
