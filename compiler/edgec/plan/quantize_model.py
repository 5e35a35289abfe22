"""--quant / --output-quant: re-encode a model's matrices into storage formats (vectors stay f32)."""
from __future__ import annotations

import dataclasses

from edgec.errors import EdgecError
from edgec.ir.block_formats import quantize
from edgec.ir.model_ir import FORMATS, ModelIR, Tensor, tensor_to_f32

QUANT_CHOICES = ("f32", "f16", "q8_0", "q4_0", "q4_1", "tq2", "q2", "q3")
OUTPUT_QUANT_CHOICES = QUANT_CHOICES + ("same",)
# The embedding and the classifier (tied or not): one matrix whose error reaches every logit.
OUTPUT_MATRICES = ("token_embd.weight", "output.weight")
# --quant formats whose default keeps those matrices at a higher precision (llama.cpp's low-bit types
# do the same); tq2 keeps every matrix ternary on purpose (BitNet models are trained that way).
OUTPUT_QUANT_DEFAULTS = {"q2": "q8_0", "q3": "q8_0"}
TERNARY_WARNING = ("--quant tq2: ternary quantization of a model not trained for it (BitNet b1.58 style) destroys "
                   "its quality; run `edgec eval` to measure by how much")
LOWBIT_WARNING = ("--quant {quant}: {bits}-bit group quantization of a model not trained for it costs quality; "
                  "run `edgec eval` to measure how much")
OUTPUT_KEPT_WARNING = ("--quant {quant}: {names} kept at {fmt} (use --output-quant {quant} to quantize "
                       "{them} too)")


def resolve_output_quant(quant: str | None, output_quant: str | None) -> str | None:
    """The format for token_embd/output: output_quant, quant's for "same", the default for None
    (q8_0 for q2/q3, else quant's); None means they keep their stored format."""
    if quant is not None and quant not in QUANT_CHOICES:
        raise EdgecError(f"unknown --quant {quant!r}; choose one of {', '.join(QUANT_CHOICES)}")
    if output_quant is not None and output_quant not in OUTPUT_QUANT_CHOICES:
        raise EdgecError(f"unknown --output-quant {output_quant!r}; choose one of {', '.join(OUTPUT_QUANT_CHOICES)}")
    if output_quant == "same":
        return quant
    if output_quant is None:
        return OUTPUT_QUANT_DEFAULTS.get(quant, quant)
    return output_quant


def quantize_ir(ir: ModelIR, quant: str | None, output_quant: str | None = None) -> ModelIR:
    """A copy of ir whose matrices are stored as quant and whose embedding/classifier matrices
    (token_embd, output) as output_quant (deterministic); norms and biases become f32.

    quant None keeps the other matrices as stored.  output_quant: a QUANT_CHOICES format, "same"
    (= quant), or None for the default: q8_0 under q2/q3 (with a line in metadata["warnings"]),
    quant otherwise (tq2 quantizes every matrix).  tq2, q2 and q3 add a quality warning.
    A matrix already stored in its format keeps its bytes.  A matrix whose rows do not split into
    whole blocks of its format is stored as f16 instead, with a line in metadata["warnings"].
    """
    out_fmt = resolve_output_quant(quant, output_quant)
    warnings = list(ir.metadata.get("warnings", []))
    if quant == "tq2":
        warnings.append(TERNARY_WARNING)
    if quant in ("q2", "q3"):
        warnings.append(LOWBIT_WARNING.format(quant=quant, bits=quant[1]))
    outputs = [n for n in OUTPUT_MATRICES if n in ir.tensors]
    if output_quant is None and quant is not None and out_fmt != quant and outputs:
        names = " and ".join(n.removesuffix(".weight") for n in outputs)
        warnings.append(OUTPUT_KEPT_WARNING.format(quant=quant, names=names, fmt=out_fmt,
                                                   them="them" if len(outputs) > 1 else "it"))
    tensors = {}
    for name, t in ir.tensors.items():
        fmt = out_fmt if name in OUTPUT_MATRICES else quant
        if len(t.shape) != 2:
            fmt = "f32"
        elif fmt is None:
            fmt = t.fmt   # not asked to change: stored bytes as they are
        per_block = FORMATS[fmt][0]
        if t.shape[-1] % per_block:
            warnings.append(f"{name}: rows of {t.shape[-1]} values do not split into {fmt} blocks of "
                            f"{per_block}; stored as f16")
            fmt = "f16"
        tensors[name] = t if t.fmt == fmt else Tensor(name=name, shape=t.shape, fmt=fmt,
                                                      data=quantize(tensor_to_f32(t), fmt))
    metadata = dict(ir.metadata, warnings=warnings, quant=quant, output_quant=out_fmt)
    return dataclasses.replace(ir, tensors=tensors, metadata=metadata)
