"""Which weight layout and kernel each matrix gets, decided per target.

Quantized matrices (q4_0, q4_1, q8_0) go into 16-row interleaved tiles ("i16") on targets
whose SIMD kernels read them, so one broadcast activation feeds 16 rows at once; float
matrices and the generic target keep GGUF row order.  Ternary tq2 matrices get their own
64-row tiles (ternary_layout.py, kernels/ternary_i16.h, also under the layout name "i16") on
x86 targets, whose AVX-512 VNNI / AVX2 kernels read them without shifts, when every row has one
scale (ternary_layout.row_uniform; tq2 bytes with per-block scales stay row-major); other targets
keep them row-major.  The token embedding keeps row order unless it doubles as the classifier
(tied), since a lookup reads one row per token.
"""
from __future__ import annotations

import platform
from dataclasses import dataclass

from edgec.ir.model_ir import ModelIR
from edgec.plan import ternary_layout
from edgec.targets import Target

I16_FORMATS = {"q4_0", "q4_1", "q8_0"}
TERNARY_I16_FORMATS = {"tq2"}


@dataclass(frozen=True)
class MatrixPlan:
    layout: str   # "rowmajor", "i16" or "lut" (32-row bit-plane tiles, lut_layout.py)
    kernel: str   # C function the generated code calls


def is_x86(target: Target) -> bool:
    """The target runs x86-64 code: an x86-* profile, or the host when this machine is x86-64."""
    if target.arch == "native":
        return platform.machine().lower() in ("x86_64", "amd64")
    return target.arch == "x86_64"


def tiled_formats(target: Target) -> set:
    """The weight formats this target stores in interleaved tiles."""
    if target.weight_layout != "i16":
        return set()
    return I16_FORMATS | (TERNARY_I16_FORMATS if is_x86(target) else set())


def _tileable(t) -> bool:
    """The matrix's bytes fit the target's tiles: tq2's 64-row tiles keep one scale per row."""
    if t.fmt in TERNARY_I16_FORMATS:
        return ternary_layout.row_uniform(t.data, t.shape[0], t.shape[1])
    return True


def plan_matrix(ir: ModelIR, name: str, target: Target) -> MatrixPlan:
    t = ir.tensors[name]
    lookup_only = name == "token_embd.weight" and not ir.config.tied_embeddings
    if t.fmt in target.lut_formats and len(t.shape) == 2 and not lookup_only:
        return MatrixPlan("lut", f"edgec_matmul_lut_{t.fmt}")
    if t.fmt in tiled_formats(target) and len(t.shape) == 2 and not lookup_only and _tileable(t):
        return MatrixPlan("i16", f"edgec_matmul_i16_{t.fmt}")
    return MatrixPlan("rowmajor", f"edgec_matmul_{t.fmt}")


def plan_all(ir: ModelIR, target: Target) -> dict:
    """name -> MatrixPlan for every 2-D tensor."""
    return {n: plan_matrix(ir, n, target) for n, t in ir.tensors.items() if len(t.shape) == 2}
