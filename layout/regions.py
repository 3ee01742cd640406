"""Where two tracks match: the stretch of one that best matches a stretch of the other.

A similarity result is a whole-track score; a listener wants to hear *where* it sounds like
the query. Both tracks are series of window vectors (full-space, window i at i * hop seconds).
Under facet weights w, two windows score s(a, b) = sum_f w_f cos(a_f, b_f), the score the
ranking uses. A region of L consecutive windows of the query aligned with L consecutive
windows of the result scores the mean of its L window pairs; L is the query's length in
windows, at most ``max_windows``, at most the result's. The best region is the aligned pair of
stretches with the highest mean (first in query order, then result order, on ties).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from layout.facets import unit_facets
from layout.schema import ConceptSchema

MAX_REGION_WINDOWS = 5  # 15 s at the shipped model's 3 s windows


@dataclass(frozen=True)
class Region:
    """Windows ``query_start .. query_start + length`` of the query match windows
    ``result_start .. result_start + length`` of the result, with mean score ``score``."""

    query_start: int
    result_start: int
    length: int
    score: float


def window_scores(query: np.ndarray, result: np.ndarray, weights: Mapping[str, float],
                  schema: ConceptSchema) -> np.ndarray:
    """(M, N) weighted facet cosines between every query window and every result window."""
    q = unit_facets(np.asarray(query, np.float64), schema)
    r = unit_facets(np.asarray(result, np.float64), schema)
    out = np.zeros((len(q), len(r)))
    for name, w in weights.items():
        sl = schema.facet(name).slice
        out += w * (q[:, sl] @ r[:, sl].T)
    return out


def best_region(query: np.ndarray, result: np.ndarray, weights: Mapping[str, float],
                schema: ConceptSchema, max_windows: int = MAX_REGION_WINDOWS) -> Region:
    """The best aligned stretch (see the module docstring) of (M, D) query windows and (N, D)
    result windows.

    Raises:
        ValueError: either track has no window, or ``max_windows`` < 1.
    """
    if len(query) == 0 or len(result) == 0 or max_windows < 1:
        raise ValueError(f"need windows on both sides and max_windows >= 1, got "
                         f"{len(query)}, {len(result)}, {max_windows}")
    s = window_scores(query, result, weights, schema)
    m, n = s.shape
    length = min(m, n, max_windows)
    sums = np.zeros((m - length + 1, n - length + 1))
    for t in range(length):  # diagonal runs: sums[j, i] = sum_t s[j + t, i + t]
        sums += s[t : m - length + 1 + t, t : n - length + 1 + t]
    j, i = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return Region(query_start=int(j), result_start=int(i), length=length,
                  score=float(sums[j, i] / length))
