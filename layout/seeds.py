"""One query from several seeds: positives to be like, negatives to be unlike.

The strategy is the *average vector* (as in Qdrant's recommendation API), applied facet by
facet so that the result is again a full-space vector (``layout.facets``): for every facet c,

    q_c = mean_p u_c(p) - lambda * mean_n u_c(n),    then    q_c <- q_c / ||q_c||

where u_c(x) is the unit vector of seed x in facet c. The query's facets are then scaled by
1/sqrt(K) as any full-space vector's, so one index search answers it, in any facet mix
(negative facet weights included), with the usual per-facet explanation: cos_c(q, x) is the
cosine between a track's facet and the seeds' combined direction in that facet.

A facet in which the positives and the (weighted) negatives cancel out (q_c = 0, e.g. the
same track given as both) has no direction: it stays zero, and every track's cosine in it
is 0.
"""

from __future__ import annotations

import math

import numpy as np

from layout.facets import to_full_space
from layout.schema import ConceptSchema

#: A facet of the combined query shorter than this (in unit-facet terms) counts as zero.
CANCELLED = 1e-6


def average_query(
    positive: np.ndarray,
    negative: np.ndarray | None,
    schema: ConceptSchema,
    *,
    negative_weight: float = 1.0,
) -> np.ndarray:
    """The full-space query (D,) of ``positive`` (P, D) and ``negative`` (N, D) full-space
    seed vectors (see the module docstring).

    Raises:
        ValueError: no positive seed, a negative weight that is not a finite number >= 0, or
            seeds not of shape (n, D).
    """
    pos = _rows(positive, schema.dim, "positive")
    if pos.shape[0] == 0:
        raise ValueError("at least one positive seed is needed")
    if not (math.isfinite(negative_weight) and negative_weight >= 0):
        raise ValueError(f"negative_weight must be a finite number >= 0, got {negative_weight}")
    k = len(schema.facets)
    # Means of full-space vectors are means of unit facets scaled by 1/sqrt(K): the scale
    # is the same on both sides, so it is removed once below.
    q = pos.astype(np.float64).mean(axis=0)
    if negative is not None:
        neg = _rows(negative, schema.dim, "negative")
        if neg.shape[0]:
            q = q - negative_weight * neg.astype(np.float64).mean(axis=0)
    q *= math.sqrt(k)
    for f in schema.facets:
        if np.linalg.norm(q[f.slice]) < CANCELLED:
            q[f.slice] = 0.0
    return np.asarray(to_full_space(q.astype(np.float32), schema), dtype=np.float32)


def _rows(x: np.ndarray, dim: int, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2 or a.shape[1] != dim:
        raise ValueError(f"{what} seeds must have shape (n, {dim}), got {a.shape}")
    return a
