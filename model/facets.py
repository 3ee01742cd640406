"""The full-space layout shared by the model, the indexes and the service (DESIGN.md).

An embedding z of dimension D = K * d is split into K facet slices. Each slice is
L2-normalised on its own and scaled by 1/sqrt(K); their concatenation (the *full-space
vector*) has unit norm, and the inner product of two full-space vectors is the mean of their
per-facet cosines. A weighted query scales slice c by w_c * sqrt(K), so that its inner
product with a catalogue vector is sum_c w_c * cos_c. One full-space index therefore serves
every facet mix.

All functions take float32 arrays of shape (N, D) (or (D,)) and never modify their input.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from model.schema import ConceptSchema

EPS = 1e-12


class FacetWeightError(ValueError):
    """Facet weights that name an unknown facet, are negative, or sum to zero."""


def _as_2d(x: np.ndarray, dim: int) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=np.float32)
    squeeze = x.ndim == 1
    x2 = x[None, :] if squeeze else x
    if x2.ndim != 2 or x2.shape[1] != dim:
        raise ValueError(f"expected shape (N, {dim}) or ({dim},), got {x.shape}")
    return x2, squeeze


def to_full_space(z: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Raw embeddings (N, D) -> full-space vectors (N, D) of unit norm.

    A facet slice that is all zeros stays zero (it has no direction); every other slice is
    normalised and scaled by 1/sqrt(K).
    """
    x, squeeze = _as_2d(z, schema.dim)
    out = np.empty_like(x)
    k = len(schema.facets)
    for f in schema.facets:
        part = x[:, f.slice]
        norm = np.linalg.norm(part, axis=1, keepdims=True)
        out[:, f.slice] = part / np.maximum(norm, EPS) / np.sqrt(k)
    return out[0] if squeeze else out


def facet_cosines(a: np.ndarray, b: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Per-facet cosines between full-space vectors.

    Args:
        a: (D,) or (N, D) full-space vectors.
        b: (M, D) full-space vectors.

    Returns:
        (M, K) if ``a`` is one vector (broadcast against every row of ``b``), else (N, K)
        for row-wise pairs (N == M).
    """
    a2, single = _as_2d(a, schema.dim)
    b2, _ = _as_2d(b, schema.dim)
    k = len(schema.facets)
    if not single and a2.shape[0] != b2.shape[0]:
        raise ValueError(f"row-wise cosines need equal rows, got {a2.shape[0]} and {b2.shape[0]}")
    cols = [(a2[:, f.slice] * b2[:, f.slice]).sum(axis=1) * k for f in schema.facets]
    return np.stack(cols, axis=1).astype(np.float32)


def parse_weights(spec: str | None, schema: ConceptSchema) -> dict[str, float]:
    """Parse ``"mood"`` or ``"mood:0.7,genre:0.3"`` into normalised facet weights.

    ``None`` or ``""`` means every facet with equal weight (the full space). Weights are
    normalised to sum to 1 so that scores stay cosine-like in [-1, 1].

    Raises:
        FacetWeightError: unknown facet, malformed or negative weight, or all weights zero.
    """
    names = schema.facet_names
    if spec is None or not spec.strip():
        return {n: 1.0 / len(names) for n in names}
    weights: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition(":")
        name = name.strip()
        if name not in names:
            raise FacetWeightError(f"unknown facet '{name}'; valid facets: {', '.join(names)}")
        if name in weights:
            raise FacetWeightError(f"facet '{name}' is given twice")
        try:
            w = float(value) if sep else 1.0
        except ValueError:
            raise FacetWeightError(
                f"weight for facet '{name}' is not a number: '{value}'"
            ) from None
        if not np.isfinite(w) or w < 0:
            raise FacetWeightError(f"weight for facet '{name}' must be finite and >= 0, got {w}")
        weights[name] = w
    total = sum(weights.values())
    if total <= 0:
        raise FacetWeightError("facet weights sum to zero")
    return {n: w / total for n, w in weights.items()}


def weighted_query(
    q: np.ndarray, weights: Mapping[str, float], schema: ConceptSchema
) -> np.ndarray:
    """Scale the slices of full-space queries so that <q_w, x> = sum_c w_c * cos_c(q, x).

    Facets missing from ``weights`` get weight 0.
    """
    x, squeeze = _as_2d(q, schema.dim)
    out = np.zeros_like(x)
    k = len(schema.facets)
    for f in schema.facets:
        w = float(weights.get(f.name, 0.0))
        if w:
            out[:, f.slice] = x[:, f.slice] * (w * k)
    return out[0] if squeeze else out


def mean_full_space(windows: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Average window vectors facet by facet, then renormalise: the track vector (D,)."""
    x, _ = _as_2d(windows, schema.dim)
    if x.shape[0] == 0:
        raise ValueError("cannot average zero windows")
    return to_full_space(x.mean(axis=0), schema)
