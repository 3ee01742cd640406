"""Checks on the arrays the index layer is given, in FAISS terms (``xb``, ``xq``, ``ids``, ``k``).

Every check raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong shape or
values), stating what was expected and what was given.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from index.errors import DimensionMismatch


def check_vectors(x: object, dim: int, name: str = "xb") -> np.ndarray:
    """Validate a float32, C-contiguous, finite (N, dim) array and return it unchanged.

    Raises:
        TypeError: ``x`` is not a numpy array of dtype float32.
        DimensionMismatch: the second axis is not ``dim`` (a ``ValueError``).
        ValueError: not 2-D, not C-contiguous, or holds NaN/inf.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray of float32, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{name} must have dtype float32, got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (N, {dim}), got {x.shape}")
    if x.shape[1] != dim:
        raise DimensionMismatch(f"{name} of shape {x.shape}", dim, x.shape[1])
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    if not np.isfinite(x).all():
        rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ValueError(f"{name} holds NaN or inf in rows {rows[:10].tolist()}")
    return x


def check_ids(ids: object, n: int | None = None, name: str = "ids") -> np.ndarray:
    """Validate track ids and return them as a 1-D int64 array.

    Args:
        ids: any 1-D array-like of integers >= 0.
        n: the number of ids expected (the rows of the matching ``xb``), if known.

    Raises:
        TypeError: the values are not integers.
        ValueError: not 1-D, wrong length, or negative (-1 is FAISS's "no result").
    """
    arr = np.asarray(ids if not isinstance(ids, (set, frozenset)) else sorted(ids))
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if n is not None and arr.shape[0] != n:
        raise ValueError(f"{name} must hold one id per vector: expected {n}, got {arr.shape[0]}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {arr[arr < 0][:10].tolist()}")
    return arr


def check_unique(ids: np.ndarray, name: str = "ids") -> None:
    """Refuse one batch naming the same id twice (which vector would win is undefined)."""
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} repeats ids {uniq[counts > 1][:10].tolist()} in one batch")


def check_k(k: object) -> int:
    """Validate the number of neighbours asked for: an int >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    if k <= 0:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(k)


def optional_ids(ids: Iterable[int] | np.ndarray | None, name: str) -> np.ndarray | None:
    """``check_ids`` for filters, keeping ``None`` (no filter) apart from an empty list."""
    return None if ids is None else np.unique(check_ids(ids, name=name))
