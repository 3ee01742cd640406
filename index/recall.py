"""Recall of an approximate search against exact search, for reporting (DESIGN.md)."""

from __future__ import annotations

import numpy as np


def recall_at_k(I_approx: np.ndarray, I_exact: np.ndarray, k: int) -> float:
    """Mean share of each query's exact top-k ids found in its approximate top-k.

    Slots holding -1 (no result) are ignored in the exact lists; a query with no exact
    result counts as fully recalled.

    Args:
        I_approx: (nq, >=k) int64 ids from the approximate index.
        I_exact: (nq, >=k) int64 ids from exact search.
        k: the cut-off.

    Returns:
        Recall in [0, 1].
    """
    if I_approx.ndim != 2 or I_exact.ndim != 2 or I_approx.shape[0] != I_exact.shape[0]:
        raise ValueError(
            f"I_approx and I_exact must be (nq, k) with the same nq, got {I_approx.shape} "
            f"and {I_exact.shape}"
        )
    if k < 1 or k > min(I_approx.shape[1], I_exact.shape[1]):
        raise ValueError(f"k must be in [1, {min(I_approx.shape[1], I_exact.shape[1])}], got {k}")
    if I_exact.shape[0] == 0:
        return 1.0
    hits = []
    for approx, exact in zip(I_approx[:, :k], I_exact[:, :k], strict=True):
        truth = exact[exact >= 0]
        hits.append(1.0 if truth.size == 0 else np.isin(truth, approx).sum() / truth.size)
    return float(np.mean(hits))
