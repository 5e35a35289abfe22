"""The "i16" weight layout: GGUF row-major q4_0 / q4_1 / q8_0 blocks re-laid into 16-row tiles.

The C kernels in runtime/core/kernels/kernels_i16*.h read it; docs/layout_i16.md gives the byte
formula.  Rows go 16 at a time into row groups (the last padded with all-zero GGUF blocks);
row group g, 32-column block b is one tile at byte (g*nb + b) * TILE_BYTES[fmt], nb = n/32.
Inside a tile (r = row in the group, 0..15; j = column in the block, 0..31):
  fp16 d of row r at 2r; q4_1's fp16 m of row r at 32 + 2r;
  q4_0 / q4_1: byte S + 64c + 4r + k (c, k = 0..3; S = 32 q4_0, 64 q4_1) holds the nibble of
               column 8c+k low and of column 8c+4+k high;
  q8_0:        byte 32 + 64c + 4r + k (c = 0..7, k = 0..3) = qs[4c+k] + 128 (mod 256).
Nibbles, qs and scales keep their GGUF bits; only their places change.  Pure numpy, vectorised.
"""
from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.model_ir import FORMATS

GROUP_ROWS = 16
TILE_BYTES = {"q4_0": 288, "q4_1": 320, "q8_0": 544}
SCALE_BYTES = {"q4_0": 32, "q4_1": 64, "q8_0": 32}   # where a tile's weight bytes start
I16_FORMATS = tuple(TILE_BYTES)


def _check(fmt: str, rows: int, n: int) -> None:
    if fmt not in TILE_BYTES:
        raise EdgecError(f"the i16 layout takes q4_0, q4_1 or q8_0 weights, not {fmt}: keep {fmt} matrices row-major")
    if rows <= 0 or n <= 0 or n % 32:
        raise EdgecError(f"a {rows} x {n} matrix cannot be tiled: rows must be positive and n a positive multiple of 32")


def _groups(rows: int) -> int:
    return (rows + GROUP_ROWS - 1) // GROUP_ROWS


def i16_bytes(fmt: str, rows: int, n: int) -> int:
    """Bytes of a rows x n matrix of fmt in the i16 layout (the last row group padded to 16 rows)."""
    _check(fmt, rows, n)
    return _groups(rows) * (n // 32) * TILE_BYTES[fmt]


def _gguf_blocks(fmt: str, data, rows: int, n: int) -> np.ndarray:
    """GGUF bytes as [groups*16, nb, block_bytes], zero rows appended."""
    block_bytes = FORMATS[fmt][1]
    nb = n // 32
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != rows * nb * block_bytes:
        raise EdgecError(f"{fmt} data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({rows * nb * block_bytes} bytes): pass the tensor's raw GGUF bytes and its shape")
    blocks = np.zeros((_groups(rows) * GROUP_ROWS, nb, block_bytes), dtype=np.uint8)
    blocks[:rows] = raw.reshape(rows, nb, block_bytes)
    return blocks


def _by_tile(x: np.ndarray, groups: int, nb: int) -> np.ndarray:
    """[groups*16, nb, ...] -> [groups, nb, 16, ...]: one tile's 16 rows together."""
    return x.reshape((groups, GROUP_ROWS, nb) + x.shape[2:]).swapaxes(1, 2)


def relayout(fmt: str, data, rows: int, n: int) -> bytes:
    """GGUF row-major blocks of a rows x n fmt matrix -> i16 tiles (i16_bytes(fmt, rows, n) bytes)."""
    _check(fmt, rows, n)
    blocks = _gguf_blocks(fmt, data, rows, n)
    groups, nb = _groups(rows), n // 32
    tiles = np.empty((groups, nb, TILE_BYTES[fmt]), dtype=np.uint8)
    tiles[:, :, 0:32] = _by_tile(blocks[:, :, 0:2], groups, nb).reshape(groups, nb, 32)        # d of rows 0..15
    if fmt == "q8_0":
        q = blocks[:, :, 2:34] ^ np.uint8(0x80)                                                 # w + 128
        q = _by_tile(q.reshape(-1, nb, 8, 4), groups, nb)                                       # [g, b, r, c, k]
        tiles[:, :, 32:] = q.transpose(0, 1, 3, 2, 4).reshape(groups, nb, 512)                  # [g, b, c, r, k]
        return tiles.tobytes()
    if fmt == "q4_1":
        tiles[:, :, 32:64] = _by_tile(blocks[:, :, 2:4], groups, nb).reshape(groups, nb, 32)   # m of rows 0..15
    qs = blocks[:, :, FORMATS[fmt][1] - 16:]
    nib = np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(-1, nb, 4, 2, 4)              # column 8c + 4h + k
    packed = nib[:, :, :, 0, :] | (nib[:, :, :, 1, :] << 4)                                    # [row, b, c, k]
    s = SCALE_BYTES[fmt]
    tiles[:, :, s:] = _by_tile(packed, groups, nb).transpose(0, 1, 3, 2, 4).reshape(groups, nb, 256)
    return tiles.tobytes()


def undo_relayout(fmt: str, data, rows: int, n: int) -> bytes:
    """i16 tiles -> the GGUF row-major bytes relayout() was given (padding rows dropped)."""
    _check(fmt, rows, n)
    groups, nb = _groups(rows), n // 32
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != i16_bytes(fmt, rows, n):
        raise EdgecError(f"i16 {fmt} data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({i16_bytes(fmt, rows, n)} bytes): pass the bytes relayout() returned and the same shape")
    tiles = raw.reshape(groups, nb, TILE_BYTES[fmt])
    blocks = np.empty((groups, nb, GROUP_ROWS, FORMATS[fmt][1]), dtype=np.uint8)               # [g, b, r, bytes]
    blocks[..., 0:2] = tiles[:, :, 0:32].reshape(groups, nb, GROUP_ROWS, 2)
    if fmt == "q8_0":
        q = tiles[:, :, 32:].reshape(groups, nb, 8, GROUP_ROWS, 4).transpose(0, 1, 3, 2, 4)    # [g, b, r, c, k]
        blocks[..., 2:] = q.reshape(groups, nb, GROUP_ROWS, 32) ^ np.uint8(0x80)
    else:
        if fmt == "q4_1":
            blocks[..., 2:4] = tiles[:, :, 32:64].reshape(groups, nb, GROUP_ROWS, 2)
        s = SCALE_BYTES[fmt]
        packed = tiles[:, :, s:].reshape(groups, nb, 4, GROUP_ROWS, 4).transpose(0, 1, 3, 2, 4)  # [g, b, r, c, k]
        nib = np.stack([packed & 0x0F, packed >> 4], axis=4).reshape(groups, nb, GROUP_ROWS, 32)  # column 8c + 4h + k
        blocks[..., FORMATS[fmt][1] - 16:] = nib[..., :16] | (nib[..., 16:] << 4)
    return np.ascontiguousarray(blocks.swapaxes(1, 2)).reshape(groups * GROUP_ROWS, -1)[:rows].tobytes()
