"""NEON ternary kernels (runtime/core/kernels/arm/neon/ternary.h: tq2, tq2_0, tq1_0, row-major) on a model's
matrix shapes, cross-compiled for AArch64 and run under qemu-aarch64: `-cpu cortex-a53` for the ARMv8.0
builds (no sdot), `-cpu max` for ARMv8.2 sdot.  (tests/c/test_kernels_ternary.c itself runs under qemu in
tests/formats/test_ternary.py.)

tests/c/test_kernels_shapes.c on random weight bytes (every code pattern, GGUF's code 3 included) with sane
fp16 scales, on SmolLM2-sized shapes (576x576, 1536x576, 576x1536, the 49152x576 classifier as tq2), odd
row counts, a tq2 row with an odd block count past one 8192-column slab, and 1, 2, 3, 5 tokens.  Every
output is checked against the scalar row decoder (edgec_get_row_*) times the q8a activations in double; a
sub-range of rows must write only its rows, with the same bits; weights and activations end flush against
a PROT_NONE page, so reading past a row's last block or the last token ends the run.
Every build must print the ISA its flags imply (the compiler's own predefined macros).
"""
from __future__ import annotations

import pytest

from kernel_builds import NEON, assert_shapes_pass, builds, module_runs, shape_runs

# (fmt, rows, n, token counts)
MODEL_SHAPES = [
    ("tq2", 576, 576, (1, 5)),      # 9 blocks a row: the last chunk holds one block
    ("tq2", 1536, 576, (1, 5)),
    ("tq2", 576, 1536, (1, 5)),
    ("tq2", 49152, 576, (1,)),
    ("tq2", 203, 576, (1, 2, 5)),
    ("tq2", 5, 8768, (1, 5)),       # 137 blocks: two slabs and an odd tail
    ("tq2_0", 576, 1536, (1, 5)),
    ("tq2_0", 1536, 768, (1, 5)),
    ("tq2_0", 77, 256, (1, 3, 5)),
    ("tq2_0", 3, 8448, (1, 5)),     # 33 blocks = 66 chunks: two slabs
    ("tq1_0", 576, 1536, (1, 5)),
    ("tq1_0", 1536, 768, (1, 5)),
    ("tq1_0", 77, 256, (1, 3, 5)),
    ("tq1_0", 3, 8448, (1, 5)),
]


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    with module_runs(request, shape_runs(tmp_path_factory.mktemp("neon_ternary"), MODEL_SHAPES)) as r:
        yield r


@pytest.mark.parametrize("build", builds(*NEON, "gcc-armv7"), ids=str)
def test_ternary_model_shapes_under_qemu(runs, build):
    build.require()
    assert_shapes_pass(runs[build], MODEL_SHAPES, "EDGEC_TERNARY_ISA")
