"""The LUT weight layout: row-major q2 / q3 / tq2 / q4_0 / q4_1 blocks re-laid into bit-plane tiles.

The C kernels in runtime/core/kernels/kernels_lut*.h read it; docs/lut.md gives the byte formula.
Every format is "w = d*q + m" with q unsigned and P bit planes (q2 2, q3 3, tq2 2, q4 4).
Rows go 32 at a time into row groups (the last padded with zero weights: all-zero bytes);
columns go U at a time into units (U = 64 for tq2, whose d covers 64 columns, else 32).
Group g, unit u is one tile at byte (g*nu + u) * TILE_BYTES[fmt], nu = n/U.  In a tile
(r = row in the group, 0..31):
  fp16 d of row r at 2r; fp16 m of row r at 64 + 2r (q2, q3, q4_1; header H = 128, else 64);
  uint16 index word at H + s*P*128 + p*128 + c*64 + 2r (sub-block s of 32 columns, plane p,
  quad c): bit 4k+i = bit p of q[32s + 16c + 4k + i]  (nibble k indexes column group 4c+k).
d and m keep their fp16 bits; q's bits only change places.  Pure numpy, vectorised.
"""
from __future__ import annotations

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.block_formats import FORMATS, LUT_FORMATS, ternary_codes

GROUP_ROWS = 32
PLANES = {"q2": 2, "q3": 3, "tq2": 2, "q4_0": 4, "q4_1": 4}
UNIT_COLS = {"q2": 32, "q3": 32, "tq2": 64, "q4_0": 32, "q4_1": 32}
HEADER_BYTES = {"q2": 128, "q3": 128, "tq2": 64, "q4_0": 64, "q4_1": 128}   # d[32] (+ m[32])
assert tuple(PLANES) == LUT_FORMATS
TILE_BYTES = {f: HEADER_BYTES[f] + UNIT_COLS[f] // 32 * PLANES[f] * 128 for f in LUT_FORMATS}
# Row-major block of each format: (weights, bytes); model_ir.FORMATS may not list q2 / q3 yet.
BLOCKS = {"q2": (32, 12), "q3": (32, 16), "tq2": FORMATS["tq2"], "q4_0": FORMATS["q4_0"], "q4_1": FORMATS["q4_1"]}


# Bytes of one activation vector's tables per activation value, the most any C path needs
# (AVX-512: 20; AVX2, NEON, scalar: 8) = EDGEC_LUT_TABLE_BYTES_MAX(n) / n in kernels/lut.h.
TABLE_BYTES_PER_VALUE_MAX = 20


def lut_table_bytes(n: int, n_tok: int = 1) -> int:
    """Arena bytes for the LUT tables of n_tok activation vectors of n values, on any path."""
    return TABLE_BYTES_PER_VALUE_MAX * n * n_tok


def _check(fmt: str, rows: int, n: int) -> None:
    if fmt not in PLANES:
        raise EdgecError(f"the LUT layout takes {', '.join(LUT_FORMATS)} weights, not {fmt}: "
                         f"keep {fmt} matrices in their own layout")
    if rows <= 0 or n <= 0 or n % UNIT_COLS[fmt]:
        raise EdgecError(f"a {rows} x {n} {fmt} matrix cannot be tiled: rows must be positive and n a "
                         f"positive multiple of {UNIT_COLS[fmt]}")


def _groups(rows: int) -> int:
    return (rows + GROUP_ROWS - 1) // GROUP_ROWS


def lut_bytes(fmt: str, rows: int, n: int) -> int:
    """Bytes of a rows x n matrix of fmt in the LUT layout (the last row group padded to 32 rows)."""
    _check(fmt, rows, n)
    return _groups(rows) * (n // UNIT_COLS[fmt]) * TILE_BYTES[fmt]


def _blocks(data, fmt: str, rows: int, n: int) -> np.ndarray:
    """The row-major bytes as [rows, blocks, block_bytes]."""
    per, size = BLOCKS[fmt]
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != rows * (n // per) * size:
        raise EdgecError(f"{fmt} data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({rows * (n // per) * size} bytes): pass the tensor's raw bytes and its shape")
    return raw.reshape(rows, n // per, size)


def _codes_and_scales(data, fmt: str, rows: int, n: int):
    """(q uint8 [rows, n], d fp16 bits uint16 [rows, n/U], m fp16 bits uint16 [rows, n/U] or None)."""
    blk = _blocks(data, fmt, rows, n)
    d = np.ascontiguousarray(blk[..., 0:2]).view(np.uint16)[..., 0]
    m = np.ascontiguousarray(blk[..., 2:4]).view(np.uint16)[..., 0] if HEADER_BYTES[fmt] == 128 else None
    if fmt == "tq2":
        return ternary_codes(data, "tq2", (rows, n))[0], d, None
    if fmt in ("q4_0", "q4_1"):
        qs = blk[..., -16:]
        return np.concatenate([qs & 0x0F, qs >> 4], axis=2).reshape(rows, n), d, m    # column j < 16: low nibble
    qs = blk[..., 4:12]                                                                  # q2 / q3
    q = np.stack([(qs >> (2 * h)) & 3 for h in range(4)], axis=2)                        # [r, b, j >> 3, j & 7]
    if fmt == "q3":
        qh = blk[..., 12:16]                                                             # [r, b, j >> 3]
        q = q | (((qh[..., None] >> np.arange(8, dtype=np.uint8)) & 1) << 2)
    return q.reshape(rows, n).astype(np.uint8), d, m


def to_lut_layout(data: bytes, fmt: str, rows: int, n: int) -> bytes:
    """Row-major blocks of a rows x n fmt matrix -> LUT tiles (lut_bytes(fmt, rows, n) bytes)."""
    _check(fmt, rows, n)
    q, d, m = _codes_and_scales(data, fmt, rows, n)
    groups, U, P, H = _groups(rows), UNIT_COLS[fmt], PLANES[fmt], HEADER_BYTES[fmt]
    nu, S, pad = n // U, U // 32, _groups(rows) * GROUP_ROWS
    qp = np.zeros((pad, n), dtype=np.uint16)
    qp[:rows] = q
    # index word of (row, unit, sub-block s, plane p, quad c): bit 4k+i = bit p of column 32s+16c+4k+i
    bits = (qp.reshape(pad, nu, S, 1, 2, 16) >> np.arange(P, dtype=np.uint16)[:, None, None]) & 1
    words = (bits << np.arange(16, dtype=np.uint16)).sum(axis=-1, dtype=np.uint16)       # [row, u, s, p, c]
    words = words.reshape(groups, GROUP_ROWS, nu, S * P * 2).transpose(0, 2, 3, 1)         # [g, u, (s p c), r]
    tiles = np.zeros((groups, nu, TILE_BYTES[fmt]), dtype=np.uint8)
    tiles[:, :, H:] = np.ascontiguousarray(words).astype("<u2").view(np.uint8).reshape(groups, nu, -1)
    for at, scale in ((0, d), (64, m)):
        if scale is not None:
            sp = np.zeros((pad, nu), dtype=np.uint16)
            sp[:rows] = scale
            tiles[:, :, at:at + 64] = (np.ascontiguousarray(sp.reshape(groups, GROUP_ROWS, nu).transpose(0, 2, 1))
                                       .astype("<u2").view(np.uint8).reshape(groups, nu, 64))
    return tiles.tobytes()


def lut_get_row(data, fmt: str, rows: int, n: int, r: int) -> np.ndarray:
    """Row r of a LUT-layout matrix, dequantized to float32 exactly as the row-major decoders do."""
    _check(fmt, rows, n)
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size != lut_bytes(fmt, rows, n):
        raise EdgecError(f"LUT {fmt} data of {raw.size} bytes does not hold a {rows} x {n} matrix "
                         f"({lut_bytes(fmt, rows, n)} bytes): pass the bytes to_lut_layout() returned and the same shape")
    if not 0 <= r < rows:
        raise EdgecError(f"row {r} is outside a matrix of {rows} rows: pass 0 <= r < rows")
    U, P, H = UNIT_COLS[fmt], PLANES[fmt], HEADER_BYTES[fmt]
    nu, S, g, lane = n // U, U // 32, r // GROUP_ROWS, r % GROUP_ROWS
    tiles = raw.reshape(_groups(rows), nu, TILE_BYTES[fmt])[g]                                # [u, bytes]
    d = tiles[:, 2 * lane:2 * lane + 2].copy().view("<f2").astype(np.float32)                # [u, 1]
    words = tiles[:, H:].reshape(nu, S, P, 2, GROUP_ROWS, 2)[..., lane, :].copy().view("<u2")  # [u, s, p, c, 1]
    bits = (words >> np.arange(16, dtype=np.uint16)) & 1                                     # [u, s, p, c, 16]
    q = (bits.astype(np.int32) << np.arange(P, dtype=np.int32)[:, None, None]).sum(axis=2)   # [u, s, c, 16]
    q = q.reshape(nu, U).astype(np.float32)
    if fmt == "tq2":
        return (d * (q - np.float32(1))).reshape(n)
    if fmt == "q4_0":
        return (d * (q - np.float32(8))).reshape(n)
    m = tiles[:, 64 + 2 * lane:66 + 2 * lane].copy().view("<f2").astype(np.float32)
    return (d * q + m).astype(np.float32).reshape(n)
