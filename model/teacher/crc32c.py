"""CRC-32C (Castagnoli), as TensorFlow checkpoints store it, in numpy.

TensorFlow's tensor bundles checksum every tensor and every table block with CRC-32C, stored
"masked" (:func:`mask`). The standard library has only the IEEE CRC-32 (``zlib.crc32``),
so this module computes CRC-32C itself. A byte-at-a-time Python loop costs about a second
per few MB; instead the data is cut into equal chunks whose CRCs are computed side by side
(one numpy step per byte position), then chained: the CRC update is linear over GF(2), so
``raw(s, A + B) = raw(raw(s, A), B)`` and ``raw(s, B) = raw(s, zeros(len B)) ^ raw(0, B)``,
and shifting a state over ``len B`` zero bytes is a fixed 32x32 bit matrix, applied here
through four 256-entry tables.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["crc32c", "mask", "unmask"]

_POLY = 0x82F63B78  # CRC-32C, reflected
_MASK_DELTA = 0xA282EAD8
_SCALAR_BELOW = 1 << 12  # bytes: under this a plain loop is faster than the lanes


def _table() -> np.ndarray:
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
    return t


_TABLE = _table()
_TABLE_LIST: list[int] = _TABLE.tolist()


def _raw_scalar(state: int, data: bytes | memoryview) -> int:
    table = _TABLE_LIST
    for b in bytes(data):
        state = table[(state ^ b) & 0xFF] ^ (state >> 8)
    return state


def _raw_lanes(states: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """Raw CRC update of N states over N byte rows at once.

    Args:
        states: (N,) uint32 start states.
        columns: (N, L) uint8, row i is fed to state i.

    Returns:
        (N,) uint32 end states.
    """
    s = states.astype(np.uint32)
    for j in range(columns.shape[1]):
        s = _TABLE[(s ^ columns[:, j]) & 0xFF] ^ (s >> 8)
    return s


def _zero_shift_tables(length: int) -> list[list[int]]:
    """Tables Z[k][v] = raw(v << 8k, zeros(length)); shifting s is the xor over its 4 bytes."""
    seeds = (np.arange(256, dtype=np.uint32)[None, :] << (8 * np.arange(4, dtype=np.uint32))[
        :, None]).ravel()  # (1024,)
    s = seeds
    for _ in range(length):
        s = _TABLE[s & 0xFF] ^ (s >> 8)
    return s.reshape(4, 256).tolist()


def _raw(state: int, data: bytes | memoryview) -> int:
    n = len(data)
    if n < _SCALAR_BELOW:
        return _raw_scalar(state, data)
    length = max(64, math.isqrt(n))  # chunk length; about as many chunks as bytes per chunk
    lanes = n // length
    body = np.frombuffer(data, dtype=np.uint8, count=lanes * length).reshape(lanes, length)
    parts = _raw_lanes(np.zeros(lanes, dtype=np.uint32), body).tolist()
    z0, z1, z2, z3 = _zero_shift_tables(length)
    for part in parts:
        state = (z0[state & 0xFF] ^ z1[(state >> 8) & 0xFF] ^ z2[(state >> 16) & 0xFF]
                 ^ z3[state >> 24] ^ part)
    return _raw_scalar(state, memoryview(data)[lanes * length:])


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C of ``data`` (initial value and final xor 0xFFFFFFFF), e.g. 0xE3069283 for
    ``b"123456789"``."""
    return _raw(0xFFFFFFFF, memoryview(data).cast("B")) ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """LevelDB/TensorFlow's masked form of a CRC (rotate right by 15, add a constant)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    """Inverse of :func:`mask`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
