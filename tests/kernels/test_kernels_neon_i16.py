"""NEON i16-layout kernels (runtime/core/kernels/arm/neon/i16.h) on a model's matrix shapes, cross-compiled
for AArch64 and run under qemu-aarch64: `-cpu cortex-a53` for the ARMv8.0 builds (no sdot), `-cpu max` for
ARMv8.2 sdot.  (tests/c/test_kernels_i16.c itself runs under qemu in tests/kernels/test_kernels_i16.py.)

tests/c/test_kernels_shapes.c on SmolLM2-135M's matrix shapes (576x576, 1536x576, 576x1536, the 49152x576
classifier) and on row counts that end in a partial group (8, 11 or 2 real rows of 16), 1 and 5 tokens.
Python writes random GGUF blocks and edgec.plan.interleave_layout.relayout's tiles (the bytes a compiled
model holds); the C side checks every output against the row-major scalar decoder (edgec_get_row_*) times
the q8a activations in double, checks that nothing outside the requested row groups is written, and puts
the tiles and the activations flush against a PROT_NONE page, so a read past either ends the run.
Every build must print the ISA its flags imply (the compiler's own predefined macros).
"""
from __future__ import annotations

import pytest

from edgec.plan.interleave_layout import relayout
from kernel_builds import BUILDS, NEON, assert_shapes_pass, build_and_run, builds, module_runs, shape_runs

# (fmt, rows, n, token counts): SmolLM2-135M's matrices, then rows that end in a partial group
MODEL_SHAPES = [
    ("q4_0", 576, 576, (1, 5)),
    ("q4_1", 1536, 576, (1, 5)),
    ("q4_1", 576, 1536, (1, 5)),
    ("q8_0", 1536, 576, (1, 5)),
    ("q8_0", 49152, 576, (1,)),
    ("q4_0", 1000, 576, (1, 5)),   # last group: 8 rows (one pass of a batch is all padding)
    ("q8_0", 203, 1536, (1, 5)),   # last group: 11 rows (a quad of 3)
    ("q4_1", 50, 576, (1, 2, 5)),  # last group: 2 rows
]


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    job = shape_runs(tmp_path_factory.mktemp("neon_i16"), MODEL_SHAPES, tiles=relayout)
    with module_runs(request, job) as r:
        yield r


@pytest.mark.parametrize("build", builds(*NEON, "gcc-armv7"), ids=str)
def test_i16_model_shapes_under_qemu(runs, build):
    build.require()
    assert_shapes_pass(runs[build], MODEL_SHAPES, "EDGEC_I16_ISA")


OVERREAD_C = r"""
#include "guarded.h"
int main(int argc, char **argv) { (void)argv; volatile uint8_t *p = guarded(64); printf("%d\n", p[63 + argc]); return 0; }
"""


def test_guard_page_catches_an_overread(tmp_path):
    """The guard pages above really fault: reading one byte past a guarded buffer ends the program."""
    a53 = BUILDS["gcc-neon-a53"]
    a53.require()
    (tmp_path / "overread.c").write_text(OVERREAD_C)
    outcome = build_and_run(a53, tmp_path / "overread.c", tmp_path / "overread", timeout=60)
    outcome.assert_compiled_clean()
    assert outcome.runs[0].returncode != 0 and outcome.runs[0].stdout == "", "a read past the guarded buffer did not fault"
