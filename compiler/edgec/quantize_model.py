"""--quant: re-encode a model's matrices into one storage format (vectors stay f32)."""
from __future__ import annotations

import dataclasses

from .block_formats import quantize
from .errors import EdgecError
from .model_ir import FORMATS, ModelIR, Tensor, tensor_to_f32

QUANT_CHOICES = ("f32", "f16", "q8_0", "q4_0", "q4_1", "tq2", "q2", "q3")
TERNARY_WARNING = ("--quant tq2: ternary quantization of a model not trained for it (BitNet b1.58 style) destroys "
                   "its quality; run `edgec eval` to measure by how much")
LOWBIT_WARNING = ("--quant {quant}: {bits}-bit group quantization of a model not trained for it costs quality; "
                  "run `edgec eval` to measure how much")


def quantize_ir(ir: ModelIR, quant: str) -> ModelIR:
    """A copy of ir whose matrices are stored as quant (deterministic); norms and biases become f32.

    tq2 (ternary), q2 and q3 (2- and 3-bit groups) re-encode every matrix, token_embd and output
    included, like the other formats, and add a quality warning.
    A matrix already stored as quant keeps its bytes.  A matrix whose rows do not split into
    whole blocks of quant is stored as f16 instead, with a line in metadata["warnings"].
    """
    if quant not in QUANT_CHOICES:
        raise EdgecError(f"unknown --quant {quant!r}; choose one of {', '.join(QUANT_CHOICES)}")
    warnings = list(ir.metadata.get("warnings", []))
    if quant == "tq2":
        warnings.append(TERNARY_WARNING)
    if quant in ("q2", "q3"):
        warnings.append(LOWBIT_WARNING.format(quant=quant, bits=quant[1]))
    tensors = {}
    for name, t in ir.tensors.items():
        fmt = quant if len(t.shape) == 2 else "f32"
        per_block = FORMATS[fmt][0]
        if t.shape[-1] % per_block:
            warnings.append(f"{name}: rows of {t.shape[-1]} values do not split into {quant} blocks of "
                            f"{per_block}; stored as f16")
            fmt = "f16"
        tensors[name] = t if t.fmt == fmt else Tensor(name=name, shape=t.shape, fmt=fmt,
                                                      data=quantize(tensor_to_f32(t), fmt))
    metadata = dict(ir.metadata, warnings=warnings, quant=quant)
    return dataclasses.replace(ir, tensors=tensors, metadata=metadata)
