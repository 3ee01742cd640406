"""Seeded synthetic catalogues and a tie-aware brute-force k-NN check for index tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layout.facets import to_full_space
from layout.schema import ConceptSchema

FOUR = ConceptSchema(
    {"genre": ("rock", "jazz"), "mood": ("calm", "sad"), "instrument": ("piano",), "era": ("80s",)},
    facet_dim=16,
)
ONE = ConceptSchema(
    {"genre": ("rock", "jazz"), "mood": ("calm",)}, facet_dim=32, disentangled=False
)
ATOL = 1e-5


@dataclass
class Catalogue:
    """Raw embeddings ``z``, their full-space vectors ``x`` and track ids (not 0..N-1)."""

    schema: ConceptSchema
    z: np.ndarray
    x: np.ndarray
    ids: np.ndarray


def raw_embeddings(
    schema: ConceptSchema, n: int, seed: int, clusters: int = 8, noise: float = 0.35
) -> np.ndarray:
    """(n, D) float32: each facet slice drawn around one of ``clusters`` facet centres,
    chosen independently per facet, so facet rankings differ from one another."""
    rng = np.random.default_rng(seed)
    z = np.empty((n, schema.dim), dtype=np.float32)
    for f in schema.facets:
        centres = rng.standard_normal((clusters, f.dim))
        pick = rng.integers(0, clusters, size=n)
        z[:, f.slice] = centres[pick] + noise * rng.standard_normal((n, f.dim))
    return z


def catalogue(
    schema: ConceptSchema, n: int, seed: int = 0, clusters: int = 8, noise: float = 0.35
) -> Catalogue:
    z = raw_embeddings(schema, n, seed, clusters, noise)
    ids = np.random.default_rng(seed + 1).choice(10 * n, size=n, replace=False).astype(np.int64)
    return Catalogue(schema, z, to_full_space(z, schema), ids)


def facet_cosine_matrix(schema: ConceptSchema, zq: np.ndarray, zb: np.ndarray) -> np.ndarray:
    """(nq, N, K) cosines per facet, computed from raw embeddings (independent of index/)."""
    out = []
    for f in schema.facets:
        a = zq[:, f.slice] / np.linalg.norm(zq[:, f.slice], axis=1, keepdims=True)
        b = zb[:, f.slice] / np.linalg.norm(zb[:, f.slice], axis=1, keepdims=True)
        out.append(a.astype(np.float64) @ b.T.astype(np.float64))
    return np.stack(out, axis=2)


def weighted_scores(cat: Catalogue, zq: np.ndarray, weights: dict[str, float]) -> np.ndarray:
    """(nq, N) brute-force sum_c w_c cos_c."""
    w = np.array([weights.get(f.name, 0.0) for f in cat.schema.facets])
    return facet_cosine_matrix(cat.schema, zq, cat.z) @ w


def assert_knn(
    D: np.ndarray,
    I: np.ndarray,  # noqa: E741  (FAISS naming)
    scores: np.ndarray,
    ids: np.ndarray,
    k: int,
    allowed: np.ndarray | None = None,
    atol: float = ATOL,
    exact: bool = True,
) -> None:
    """Tie-aware check of a k-NN result against brute-force ``scores`` (nq, N) over ``ids``.

    Every returned id must be allowed, unique and carry its true score, best first; the
    number of results is min(k, allowed). With ``exact``, the scores must also equal the best
    k allowed scores. With ties, any of the tied ids may be returned, which this accepts.
    """
    assert D.dtype == np.float32 and I.dtype == np.int64
    assert D.shape == I.shape == (scores.shape[0], k)
    allowed = np.ones(ids.shape, dtype=bool) if allowed is None else allowed
    col = {int(t): c for c, t in enumerate(ids)}
    for row in range(scores.shape[0]):
        ref = np.sort(scores[row, allowed])[::-1][:k]
        n = ref.size
        assert (I[row, :n] >= 0).all() and (I[row, n:] == -1).all(), I[row]
        assert np.isneginf(D[row, n:]).all()
        if exact:
            np.testing.assert_allclose(D[row, :n], ref, atol=atol)
        assert (np.diff(D[row, :n]) <= atol).all(), "not sorted best first"
        got = [col[int(t)] for t in I[row, :n]]
        assert len(set(got)) == n, "duplicate ids"
        assert allowed[got].all(), "a filtered-out id was returned"
        np.testing.assert_allclose(D[row, :n], scores[row, got], atol=atol)
