"""The i16 weight layout (edgec.plan.interleave_layout): round trips, the documented byte formula, sizes.

The tiled bytes are decoded here by docs/layout_i16.md's formula, element by element through
index arrays, and compared with edgec.ir.block_formats.dequantize of the GGUF original.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from edgec.ir.block_formats import dequantize, quantize
from edgec.errors import EdgecError
from edgec.plan.interleave_layout import GROUP_ROWS, i16_bytes, relayout, undo_relayout

FMTS = ["q4_0", "q4_1", "q8_0"]
ROWS = [1, 15, 16, 17, 192, 576, 1000]
NS = [32, 576, 1536]
TILE = {"q4_0": 288, "q4_1": 320, "q8_0": 544}
BLOCK = {"q4_0": 18, "q4_1": 20, "q8_0": 34}


def random_gguf(fmt: str, rows: int, n: int, seed: int) -> bytes:
    """Real quantized blocks of random weights whose scale varies per row."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, n)).astype(np.float32) * rng.uniform(0.01, 2.0, (rows, 1)).astype(np.float32)
    return quantize(w, fmt)


def decode_tiles(fmt: str, data: bytes, rows: int, n: int) -> np.ndarray:
    """Float weights of an i16 matrix, read by the documented byte formula."""
    groups, nb = -(-rows // 16), n // 32
    t = np.frombuffer(data, dtype=np.uint8).reshape(groups, nb, TILE[fmt])
    r = np.arange(16)[:, None]   # row within the group
    j = np.arange(32)[None, :]   # column within the block

    def fp16(offset):            # [groups, nb, 16] halves at offset + 2r
        lo, hi = t[:, :, offset + 2 * r[:, 0]], t[:, :, offset + 2 * r[:, 0] + 1]
        return (lo.astype(np.uint16) | (hi.astype(np.uint16) << 8)).view(np.float16).astype(np.float32)[..., None]

    d = fp16(0)
    if fmt == "q8_0":
        q = t[:, :, 32 + 64 * (j // 4) + 4 * r + j % 4].astype(np.int32) - 128
        w = d * q.astype(np.float32)
    else:
        s = 64 if fmt == "q4_1" else 32
        byte = t[:, :, s + 64 * (j // 8) + 4 * r + j % 4]
        nib = np.where(j % 8 < 4, byte & 15, byte >> 4).astype(np.float32)
        w = d * nib + fp16(32) if fmt == "q4_1" else d * (nib - 8)
    return w.transpose(0, 2, 1, 3).reshape(groups * 16, n)[:rows]


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("n", NS)
def test_round_trip_and_decode(fmt, n):
    for k, rows in enumerate(ROWS):
        gguf = random_gguf(fmt, rows, n, seed=1000 * k + n)
        tiled = relayout(fmt, gguf, rows, n)
        assert len(tiled) == i16_bytes(fmt, rows, n) == -(-rows // 16) * (n // 32) * TILE[fmt]
        assert undo_relayout(fmt, tiled, rows, n) == gguf, f"{fmt} {rows}x{n}: round trip changed bytes"
        want = dequantize(gguf, fmt, (rows, n))
        got = decode_tiles(fmt, tiled, rows, n)
        np.testing.assert_array_equal(got, want, err_msg=f"{fmt} {rows}x{n}: tiles decode to other weights")


@pytest.mark.parametrize("fmt", FMTS)
def test_round_trip_arbitrary_bytes(fmt):
    """Any bytes (NaN scales, every nibble) move without change, and padding is zero blocks."""
    rows, n = 37, 96
    raw = np.random.default_rng(7).integers(0, 256, rows * n // 32 * BLOCK[fmt], dtype=np.uint8).tobytes()
    tiled = relayout(fmt, raw, rows, n)
    assert undo_relayout(fmt, tiled, rows, n) == raw
    assert undo_relayout(fmt, tiled, 48, n)[len(raw):] == bytes(11 * n // 32 * BLOCK[fmt]), "padding rows are not zero blocks"
    # relayout is deterministic and also takes numpy arrays (a GGUF memmap)
    assert relayout(fmt, np.frombuffer(raw, dtype=np.uint8), rows, n) == tiled


def test_hand_placed_bytes():
    """Single values land where docs/layout_i16.md says."""
    rows, n = 20, 64                       # two row groups, two blocks
    q41 = bytearray(rows * 2 * 20)
    row, blk = 18, 1                       # group 1, row 2 in the group
    base = (row * 2 + blk) * 20
    q41[base:base + 2] = np.float16(3.0).tobytes()
    q41[base + 2:base + 4] = np.float16(-1.0).tobytes()
    q41[base + 4 + 13] = 0xA0              # column 13 -> nibble 0, column 29 -> nibble 10
    q41[base + 4 + 5] = 0x07               # column 5 -> 7
    t = relayout("q4_1", bytes(q41), rows, n)
    tile = (1 * 2 + blk) * 320
    assert t[tile + 4:tile + 6] == np.float16(3.0).tobytes() and t[tile + 36:tile + 38] == np.float16(-1.0).tobytes()
    # column 29 = 8*3 + 4 + 1 -> chunk 3, k 1, high nibble; column 5 = 8*0 + 4 + 1 -> chunk 0, k 1, high
    assert t[tile + 64 + 64 * 3 + 4 * 2 + 1] == 0xA0
    assert t[tile + 64 + 64 * 0 + 4 * 2 + 1] == 0x70

    q80 = bytearray(17 * 34)
    q80[16 * 34 + 2 + 30] = 0xFF           # row 16 (group 1, row 0), column 30 = -1
    t = relayout("q8_0", bytes(q80), 17, 32)
    assert t[544 + 32 + 64 * 7 + 4 * 0 + 2] == 0x7F  # -1 + 128
    assert t[544 + 32 + 64 * 7 + 4 * 1 + 2] == 0x80  # padding row: weight 0 stored as 128
    assert t[0 + 32] == 0x80 and t[544:576] == bytes(32)


def test_sizes():
    assert GROUP_ROWS == 16
    assert i16_bytes("q4_1", 576, 576) == 576 * 576 // 32 * 20
    assert i16_bytes("q8_0", 49152, 576) == 49152 * 576 // 32 * 34
    assert i16_bytes("q4_0", 1, 32) == 288
    assert i16_bytes("q4_0", 17, 64) == 2 * 2 * 288


@pytest.mark.parametrize("call", [
    lambda: relayout("f16", b"", 1, 32),
    lambda: relayout("q4_1", bytes(20), 1, 33),
    lambda: relayout("q4_1", bytes(19), 1, 32),
    lambda: relayout("q4_0", b"", 0, 32),
    lambda: undo_relayout("q8_0", bytes(543), 1, 32),
    lambda: i16_bytes("bf16", 4, 32),
])
def test_bad_input_raises_edgec_error(call):
    with pytest.raises(EdgecError) as e:
        call()
    assert "\n" not in str(e.value)


def test_smollm2_sized_conversion_is_fast():
    """SmolLM2-135M's matrices (30 layers x 7 q4_1 + the 49152x576 q8_0 classifier) in a few seconds."""
    rng = np.random.default_rng(3)
    shapes = [(576, 576), (192, 576), (192, 576), (576, 576), (1536, 576), (1536, 576), (576, 1536)]
    layer = {s: rng.integers(0, 256, s[0] * s[1] // 32 * 20, dtype=np.uint8).tobytes() for s in set(shapes)}
    classifier = rng.integers(0, 256, 49152 * 576 // 32 * 34, dtype=np.uint8).tobytes()
    t0 = time.perf_counter()
    total = len(relayout("q8_0", classifier, 49152, 576))
    for _ in range(30):
        for s in shapes:
            total += len(relayout("q4_1", layer[s], *s))
    elapsed = time.perf_counter() - t0
    assert total == 30 * sum(a * b // 32 * 20 for a, b in shapes) + 49152 * 576 // 32 * 34
    assert elapsed < 15, f"relayout of SmolLM2's 96 MB took {elapsed:.1f} s"
