"""Quantize and dequantize GGUF block formats, via the gguf package's reference code.

Quantization is deterministic (same floats -> same bytes), and matches llama.cpp's
reference quantizers, so `--quant q4_0` on a HF model gives the blocks llama-quantize would.
edgec's own ternary format tq2 (docs/ternary.md) is encoded here, BitNet b1.58 style.
"""
from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import quants

from .model_ir import FORMATS

GGML_TYPE = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_1": QT.Q4_1,
             "tq2_0": QT.TQ2_0, "tq1_0": QT.TQ1_0}
FORMAT_OF_GGML = {v: k for k, v in GGML_TYPE.items()}
TERNARY_FORMATS = ("tq2", "tq2_0", "tq1_0")   # w = d * (code - 1), code in {0, 1, 2}


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
    byte_shape = tuple(shape[:-1]) + (n_cols // per_block * block_bytes,)
    out = quants.dequantize(raw.reshape(byte_shape), GGML_TYPE[fmt])
    return np.asarray(out, dtype=np.float32).reshape(shape)


# ---- ternary formats --------------------------------------------------------------------

def round_half_away(v: np.ndarray) -> np.ndarray:
    """C's roundf (halves away from zero), in float64."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_tq2(x: np.ndarray) -> bytes:
    """tq2 blocks of 64: d = mean|x| (float32, stored fp16), code = clip(round(x/d), -1, 1) + 1.

    An all-zero block gets d = 0 and every code 1 (weight 0).  Byte k of a block's qs holds
    codes k, k+16, k+32, k+48 at bit offsets 0, 2, 4, 6.
    """
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 64)
    d = np.abs(blocks).astype(np.float64).mean(axis=1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[:, None] > 0, blocks.astype(np.float64) / d[:, None].astype(np.float64), 0.0)
    codes = (np.clip(round_half_away(ratio), -1, 1) + 1).astype(np.uint8)   # [n_blocks, 64]
    quarters = codes.reshape(-1, 4, 16)                                      # [block, j >> 4, j & 15]
    qs = quarters[:, 0] | (quarters[:, 1] << 2) | (quarters[:, 2] << 4) | (quarters[:, 3] << 6)
    out = np.concatenate([d.astype(np.float16).view(np.uint8).reshape(-1, 2), qs], axis=1)
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
