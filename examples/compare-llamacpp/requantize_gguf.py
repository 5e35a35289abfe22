#!/usr/bin/env python3
"""Write a copy of a GGUF with its Q4_1 matrices re-encoded as Q4_0, for the Q4_0 prompt comparison.

llama.cpp and edgec then read the very same Q4_0 file.  The Q4_0 blocks come from the gguf package's
reference quantizer (the same rounding as llama.cpp's quantize_row_q4_0_ref) applied to the dequantized
Q4_1 weights; other tensors (the Q8_0 embedding, norms) and all metadata are copied unchanged.

    python examples/compare-llamacpp/requantize_gguf.py smollm2-135m /tmp/smollm2-q4_0.gguf
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFValueType, GGUFWriter, Keys, LlamaFileType, quants

sys.path.insert(0, __file__.rsplit("/examples/", 1)[0] + "/compiler")
from edgec.frontends.model_registry import resolve_model  # noqa: E402


def requantize(src: str, dst: str, from_type: QT = QT.Q4_1, to_type: QT = QT.Q4_0) -> int:
    """Copy src to dst with every from_type tensor re-encoded as to_type; returns how many were."""
    reader = GGUFReader(src)
    arch = reader.fields[Keys.General.ARCHITECTURE].contents()
    writer = GGUFWriter(dst, arch)
    for field in reader.fields.values():
        if field.name == Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue   # written by GGUFWriter itself
        if field.name == Keys.General.FILE_TYPE:
            writer.add_file_type(LlamaFileType.MOSTLY_Q4_0 if to_type == QT.Q4_0 else field.contents())
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    tensors, changed = [], 0
    for t in reader.tensors:
        if t.tensor_type == from_type:
            floats = quants.dequantize(t.data, from_type)
            data, qtype = quants.quantize(np.asarray(floats, dtype=np.float32), to_type), to_type
            changed += 1
        else:
            data, qtype = t.data, t.tensor_type
        tensors.append((t.name, np.ascontiguousarray(data), qtype))
    for name, data, qtype in tensors:
        writer.add_tensor(name, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a GGUF path or a model alias such as smollm2-135m")
    ap.add_argument("out", help="where to write the Q4_0 GGUF")
    args = ap.parse_args()
    n = requantize(resolve_model(args.model)[0], args.out)
    print(f"{args.out}: {n} Q4_1 tensors re-encoded as Q4_0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
