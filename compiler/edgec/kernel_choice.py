"""Which weight layout and kernel each matrix gets, decided per target.

Quantized matrices (q4_0, q4_1, q8_0) go into 16-row interleaved tiles ("i16") on targets
whose SIMD kernels read them, so one broadcast activation feeds 16 rows at once; float
matrices and the generic target keep GGUF row order.  The token embedding keeps row order
unless it doubles as the classifier (tied), since a lookup reads one row per token.
"""
from __future__ import annotations

from dataclasses import dataclass

from .model_ir import ModelIR
from .targets import Target

I16_FORMATS = {"q4_0", "q4_1", "q8_0"}


@dataclass(frozen=True)
class MatrixPlan:
    layout: str   # "rowmajor" or "i16"
    kernel: str   # C function the generated code calls


def plan_matrix(ir: ModelIR, name: str, target: Target) -> MatrixPlan:
    t = ir.tensors[name]
    lookup_only = name == "token_embd.weight" and not ir.config.tied_embeddings
    if target.weight_layout == "i16" and t.fmt in I16_FORMATS and len(t.shape) == 2 and not lookup_only:
        return MatrixPlan("i16", f"edgec_matmul_i16_{t.fmt}")
    return MatrixPlan("rowmajor", f"edgec_matmul_{t.fmt}")


def plan_all(ir: ModelIR, target: Target) -> dict:
    """name -> MatrixPlan for every 2-D tensor."""
    return {n: plan_matrix(ir, n, target) for n, t in ir.tensors.items() if len(t.shape) == 2}
