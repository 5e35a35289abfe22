"""Quantize and dequantize GGUF block formats, via the gguf package's reference code.

Quantization is deterministic (same floats -> same bytes), and matches llama.cpp's
reference quantizers, so `--quant q4_0` on a HF model gives the blocks llama-quantize would.
"""
from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import quants

from .model_ir import FORMATS

GGML_TYPE = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16, "q8_0": QT.Q8_0, "q4_0": QT.Q4_0, "q4_1": QT.Q4_1}
FORMAT_OF_GGML = {v: k for k, v in GGML_TYPE.items()}


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
    byte_shape = tuple(shape[:-1]) + (n_cols // per_block * block_bytes,)
    out = quants.dequantize(raw.reshape(byte_shape), GGML_TYPE[fmt])
    return np.asarray(out, dtype=np.float32).reshape(shape)
