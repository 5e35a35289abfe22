"""BitNet b1.58 checkpoints (Hugging Face BitNetForCausalLM, safetensors) -> ternary tq2 tensors.

A BitNet linear layer stores ternary weights {-1, 0, 1} as codes {0, 1, 2}, four per uint8, packed
along the output dimension: a [rows/4, cols] uint8 tensor whose byte [p, c] holds the codes of rows
p, p + rows/4, p + rows/2, p + 3*rows/4 at bits 0, 2, 4, 6.  One scale per tensor (`weight_scale`)
multiplies the weights ("autobitlinear", what microsoft/bitnet-b1.58-2B-4T uses) or divides them
(the older "bitlinear" class).  Checkpoints with float master weights (the -bf16 variant) are
ternarized here exactly as BitNet's WeightQuant does: scale = mean|W|, code = clip(round(W/scale)) + 1.

Each matrix becomes edgec's tq2 (docs/ternary.md): 64-weight blocks, every block's fp16 d = the
tensor scale, so the codes are kept exactly.  Embedding, lm_head and norms stay float.
BitNet quantizes activations to int8 per token; edgec's kernels quantize them per 32 values, which
is at least as accurate.
"""
from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.model_ir import Tensor

# The BitLinear matrices of a layer (HF suffixes); every other tensor is float.
BITLINEAR_SUFFIXES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                      "gate_proj.weight", "up_proj.weight", "down_proj.weight")
FLOAT_DTYPES = {"F32": np.float32, "F16": np.float16}


def is_bitnet(hf_config: dict) -> bool:
    archs = hf_config.get("architectures")
    return hf_config.get("model_type") == "bitnet" or (isinstance(archs, list) and "BitNetForCausalLM" in archs)


LINEAR_CLASSES = {"autobitlinear": True, "bitlinear": False}   # quantization_config.linear_class -> multiplies


def scale_multiplies(hf_config: dict, where: str = "config.json") -> bool:
    """True when weight_scale multiplies the ternary weights (autobitlinear), False when it divides."""
    qc = hf_config.get("quantization_config") or {}
    linear_class = qc.get("linear_class", "autobitlinear") if isinstance(qc, dict) else None
    if not isinstance(linear_class, str) or linear_class not in LINEAR_CLASSES:
        raise EdgecError(f"{where}: quantization_config.linear_class must be autobitlinear or bitlinear; "
                         "fix the file")
    return LINEAR_CLASSES[linear_class]


def unpack_codes(packed: np.ndarray) -> np.ndarray:
    """uint8 [rows/4, cols] -> codes uint8 [rows, cols]: row i*rows/4 + p is at bits 2i of byte row p."""
    return np.concatenate([(packed >> (2 * i)) & 3 for i in range(4)], axis=0)


def ternarize(w: np.ndarray) -> tuple:
    """BitNet's WeightQuant on float master weights: (codes uint8, scale) with W ~ (code - 1) * scale."""
    w = w.astype(np.float32)
    scale = max(float(np.abs(w).astype(np.float64).mean()), 1e-5)
    codes = np.clip(np.round(w / np.float32(scale)), -1, 1) + 1
    return codes.astype(np.uint8), scale


def tq2_from_codes(codes: np.ndarray, scale: float) -> bytes:
    """tq2 blocks of a [rows, cols] code matrix, d = scale (fp16) in every block."""
    rows, cols = codes.shape
    quarters = codes.reshape(rows * cols // 64, 4, 16)          # [block, j >> 4, j & 15]
    qs = quarters[:, 0] | (quarters[:, 1] << 2) | (quarters[:, 2] << 4) | (quarters[:, 3] << 6)
    d = np.full((qs.shape[0], 1), scale, dtype=np.float16).view(np.uint8)
    return np.ascontiguousarray(np.concatenate([d, qs.astype(np.uint8)], axis=1)).tobytes()


def bitlinear_tensor(gguf_name: str, hf_name: str, weight: tuple, scale: tuple, multiplies: bool) -> tuple:
    """(tq2 Tensor, relative change of the scale by fp16 rounding) from a BitLinear weight
    (dtype, shape, raw bytes, byte count already checked against dtype x shape) and its weight_scale
    entry (or None)."""
    dtype, shape, data = weight
    if len(shape) != 2:
        raise EdgecError(f"{hf_name}: BitNet weight has shape {tuple(shape)}, expected a matrix; "
                         "the checkpoint is corrupt or not a BitNet b1.58 checkpoint")
    if dtype == "U8":
        codes = unpack_codes(np.frombuffer(data, np.uint8).reshape(shape))
        if codes.max(initial=0) > 2:
            raise EdgecError(f"{hf_name}: packed BitNet weight holds code 3, which is not ternary; "
                             "the file is corrupt or not a BitNet b1.58 checkpoint")
        s = _weight_scale(hf_name, scale, multiplies)
    elif dtype in FLOAT_DTYPES or dtype == "BF16":
        master = _float_array(hf_name, weight).reshape(shape)
        if not np.isfinite(master).all():
            raise EdgecError(f"{hf_name}: BitNet weight holds NaN or infinite values; the checkpoint is corrupt")
        codes, s = ternarize(master)
    else:
        raise EdgecError(f"{hf_name}: BitNet weight has dtype {dtype}; expected packed U8 or F32/F16/BF16")
    rows, cols = codes.shape
    if cols % 64:
        raise EdgecError(f"{hf_name}: {cols} columns is not a multiple of 64, which edgec's ternary format "
                         "tq2 needs; this checkpoint's shape is not supported")
    if not np.isfinite(s) or abs(s) >= 65504:
        raise EdgecError(f"{hf_name}: weight scale {s} does not fit fp16; the checkpoint is not usable")
    rounding = abs(float(np.float16(s)) - s) / abs(s) if s else 0.0
    return Tensor(name=gguf_name, shape=(rows, cols), fmt="tq2", data=tq2_from_codes(codes, s)), rounding


def _weight_scale(hf_name: str, scale: tuple, multiplies: bool) -> float:
    """The factor the ternary codes are multiplied by, from the (dtype, shape, bytes) weight_scale entry."""
    if scale is None:
        raise EdgecError(f"{hf_name}: packed BitNet weight has no {hf_name}_scale tensor; "
                         "re-download the checkpoint (all of its safetensors files)")
    values = _float_array(f"{hf_name}_scale", scale).reshape(-1)
    if values.size != 1 or not np.isfinite(values[0]) or (values[0] == 0 and not multiplies):
        raise EdgecError(f"{hf_name}_scale must be one finite number (non-zero for bitlinear, which divides "
                         "by it); the checkpoint is corrupt")
    s = float(values[0])
    return s if multiplies else 1.0 / s


def _float_array(hf_name: str, entry: tuple) -> np.ndarray:
    """float32 values of a (dtype, shape, raw bytes) float tensor."""
    dtype, _, data = entry
    if dtype == "BF16":
        return (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)
    if dtype not in FLOAT_DTYPES:
        raise EdgecError(f"{hf_name} has dtype {dtype}; expected F32, F16 or BF16")
    return np.frombuffer(data, FLOAT_DTYPES[dtype]).astype(np.float32)
