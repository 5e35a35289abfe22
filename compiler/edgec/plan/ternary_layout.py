"""The "i16" layout of tq2 (ternary) matrices: 64-row tiles that AVX-512 VNNI reads without shifts.

A tq2 matrix is rows x n (n % 64 == 0) of 2-bit codes c (w = d * (c - 1)) with one fp16 d per row
and 64 columns; this layout takes only matrices whose rows carry ONE d each (every block of a row
the same fp16 bits: what quantize_tq2 and the BitNet reader write; see row_uniform), and stores it
once per row.  Rows go 64 at a time into row groups (the last padded with d = 0, code 1); with
nb = n/64, group G is GROUP_SCALE_BYTES + nb * TILE_BYTES = 128 + nb*1024 bytes at G * (128 + nb*1024):
  fp16 d of row j of the group (0..63): bytes 2j, 2j+1 (so the 16 scales of field s are the 32 bytes at 32s)
  then nb tiles of 1024 bytes of codes; tile b (64-column block b) starts at 128 + 1024b, and in it,
  with j = 16s + r (s = j >> 4, r = j & 15):
  code of row 16s + r, column 4i + k (i = 0..15, k = 0..3): bits 2s, 2s+1 of byte 64i + 4r + k
So 64 bytes at 64i of a tile, as 16 int32 lanes, hold rows 16s + r in lane r, bit field s: "& (3 << 2s)"
gives 4**s * code with no shift, and one vpdpbusd with activation dword i (columns 4i..4i+3 of the
block; i < 8: the block's first 32 columns, i >= 8: the second) adds 4 columns to 16 rows.
For rows % 64 == 0 the tiles take rows*n/4 + 2*rows bytes: 2.0 bits per weight plus the row scales.
The codes and the fp16 d keep their tq2 bits; only their places change.  Pure numpy, vectorised.
"""
from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError

TILED_FORMATS = ("tq2",)  # formats this layout takes
GROUP_ROWS = 64          # rows per group: 16 int32 lanes x 4 two-bit fields
BLOCK_COLS = 64          # columns per tile (one tq2 block per row)
GROUP_SCALE_BYTES = 128  # a group's 64 fp16 row scales, before its tiles
TILE_BYTES = GROUP_ROWS * BLOCK_COLS // 4   # 1024: a tile is codes only
TQ2_BLOCK_BYTES = 18     # row-major tq2: fp16 d, qs[16]


def _check(rows: int, n: int) -> None:
    if rows <= 0 or n <= 0 or n % BLOCK_COLS:
        raise EdgecError(f"a {rows} x {n} tq2 matrix cannot be tiled: rows must be positive and n a positive "
                         f"multiple of {BLOCK_COLS}")


def _groups(rows: int) -> int:
    return (rows + GROUP_ROWS - 1) // GROUP_ROWS


def group_bytes(n: int) -> int:
    """Bytes of one 64-row group of a matrix with n columns: its row scales, then n/64 tiles."""
    return GROUP_SCALE_BYTES + n // BLOCK_COLS * TILE_BYTES


def tq2_i16_bytes(rows: int, n: int) -> int:
    """Bytes of a rows x n tq2 matrix in 64-row tiles (the last group padded to 64 rows)."""
    _check(rows, n)
    return _groups(rows) * group_bytes(n)


def _rowmajor_codes(data, rows: int, n: int) -> tuple:
    """(codes uint8 [rows, n], d fp16 bits uint16 [rows, n/64]) of row-major tq2 bytes."""
    nb = n // BLOCK_COLS
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != rows * nb * TQ2_BLOCK_BYTES:
        raise EdgecError(f"tq2 data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({rows * nb * TQ2_BLOCK_BYTES} bytes): pass the tensor's row-major bytes and its shape")
    blocks = raw.reshape(rows, nb, TQ2_BLOCK_BYTES)
    d = blocks[:, :, 0:2].copy().view(np.uint16)[:, :, 0]
    qs = blocks[:, :, 2:]                                                         # [row, b, 16]
    codes = np.stack([(qs >> (2 * q)) & 3 for q in range(4)], axis=2)            # [row, b, j >> 4, j & 15]
    return codes.reshape(rows, n), d


def row_uniform(data, rows: int, n: int) -> bool:
    """True when every block of each row of row-major tq2 bytes has the same fp16 d (bit for bit):
    the matrices relayout() can take.  Others (per-block scales from another producer) stay row-major."""
    _check(rows, n)
    nb = n // BLOCK_COLS
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != rows * nb * TQ2_BLOCK_BYTES:
        raise EdgecError(f"tq2 data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({rows * nb * TQ2_BLOCK_BYTES} bytes): pass the tensor's row-major bytes and its shape")
    d = raw.reshape(rows, nb, TQ2_BLOCK_BYTES)[:, :, 0:2]
    return bool((d == d[:, :1]).all())


def relayout(data, rows: int, n: int) -> bytes:
    """Row-major tq2 blocks of a rows x n matrix -> 64-row tiles (tq2_i16_bytes(rows, n) bytes).
    The matrix must be row_uniform(): the tiles hold one d per row."""
    _check(rows, n)
    codes, d = _rowmajor_codes(data, rows, n)
    if codes.max(initial=0) > 2:
        raise EdgecError("tq2 data holds code 3, which the format never uses: re-quantize the matrix with --quant tq2")
    if not (d == d[:, :1]).all():
        raise EdgecError("tq2 data has different scales within a row; the 64-row tiles hold one scale per row: "
                         "keep the matrix row-major (kernel_choice does when ternary_layout.row_uniform() is False)")
    groups, nb = _groups(rows), n // BLOCK_COLS
    pad_codes = np.ones((groups * GROUP_ROWS, n), dtype=np.uint8)                 # padding rows: code 1, d = 0
    pad_codes[:rows] = codes
    pad_d = np.zeros(groups * GROUP_ROWS, dtype=np.uint16)
    pad_d[:rows] = d[:, 0]
    out = np.empty((groups, group_bytes(n)), dtype=np.uint8)
    out[:, :GROUP_SCALE_BYTES] = pad_d.reshape(groups, GROUP_ROWS).view(np.uint8)
    c = pad_codes.reshape(groups, 4, 16, nb, 16, 4)                               # [g, s, r, b, i, k]
    packed = c[:, 0] | (c[:, 1] << 2) | (c[:, 2] << 4) | (c[:, 3] << 6)           # [g, r, b, i, k]
    out[:, GROUP_SCALE_BYTES:] = packed.transpose(0, 2, 3, 1, 4).reshape(groups, nb * TILE_BYTES)
    return out.tobytes()


def _tile_fields(data, rows: int, n: int) -> tuple:
    """(codes uint8 [rows, n], d fp16 bits uint16 [rows]) read from 64-row tiles, padding dropped."""
    _check(rows, n)
    groups, nb = _groups(rows), n // BLOCK_COLS
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != tq2_i16_bytes(rows, n):
        raise EdgecError(f"tiled tq2 data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({tq2_i16_bytes(rows, n)} bytes): pass the bytes relayout() returned and the same shape")
    grouped = raw.reshape(groups, group_bytes(n))
    d = grouped[:, :GROUP_SCALE_BYTES].copy().view(np.uint16).reshape(groups * GROUP_ROWS)[:rows]
    packed = grouped[:, GROUP_SCALE_BYTES:].reshape(groups, nb, 16, 16, 4)        # [g, b, i, r, k]
    fields = np.stack([(packed >> (2 * s)) & 3 for s in range(4)], axis=1)      # [g, s, b, i, r, k]
    codes = fields.transpose(0, 1, 4, 2, 3, 5).reshape(groups * GROUP_ROWS, n)   # [g, s, r | b, i, k]
    return np.ascontiguousarray(codes[:rows]), np.ascontiguousarray(d)


def decode(data, rows: int, n: int) -> tuple:
    """(codes uint8 [rows, n] in {0, 1, 2}, d float32 [rows, n/64]) of 64-row tiles: w = d * (code - 1).
    d has a column per 64-block, like block_formats.ternary_codes (the row's one scale, repeated)."""
    codes, d = _tile_fields(data, rows, n)
    d = np.repeat(d.view(np.float16).astype(np.float32)[:, None], n // BLOCK_COLS, axis=1)
    return codes, d


def undo_relayout(data, rows: int, n: int) -> bytes:
    """64-row tiles -> the row-major tq2 bytes relayout() was given."""
    codes, d = _tile_fields(data, rows, n)
    nb = n // BLOCK_COLS
    q = codes.reshape(rows, nb, 4, 16)                                            # [row, b, j >> 4, j & 15]
    qs = q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)
    d_blocks = np.repeat(d.view(np.uint8).reshape(rows, 1, 2), nb, axis=1)
    return np.concatenate([d_blocks, qs], axis=2).tobytes()
