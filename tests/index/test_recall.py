"""Recall of approximate indexes against exact search on clustered data, and recall_at_k."""

# ruff: noqa: E741  (D, I are FAISS's names for distances and ids, STYLE.md rule 9)

from __future__ import annotations

import numpy as np
import pytest

from index import FacetIndexSet, FaissIndex, recall_at_k
from layout.facets import to_full_space
from layout.schema import ConceptSchema
from tests.index.helpers import FOUR, assert_knn, catalogue, raw_embeddings


def test_recall_at_k_by_hand():
    approx = np.array([[1, 2, 3], [4, 5, 6]])
    exact = np.array([[1, 2, 9], [7, 8, 6]])
    assert recall_at_k(approx, exact, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert recall_at_k(approx, exact, 1) == pytest.approx(0.5)
    assert recall_at_k(np.array([[1, 5, 6]]), np.array([[1, -1, -1]]), 3) == 1.0
    assert recall_at_k(np.array([[-1, -1]]), np.array([[-1, -1]]), 2) == 1.0
    with pytest.raises(ValueError, match=r"same nq, got \(2, 3\) and \(1, 3\)"):
        recall_at_k(approx, exact[:1], 3)
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\], got 4"):
        recall_at_k(approx, exact, 4)


@pytest.fixture(scope="module")
def clustered():
    cat = catalogue(FOUR, 4000, seed=80)
    xq = to_full_space(raw_embeddings(FOUR, 200, seed=81), FOUR)
    exact = FaissIndex(FOUR.dim)
    exact.add(cat.ids, cat.x)
    return cat, xq, exact.search(xq, 10)[1]


def _recalls(index: FaissIndex, xq, I_exact, knob: str, values) -> list[float]:
    out = []
    for value in values:
        index.set_search_params(**{knob: value})
        out.append(recall_at_k(index.search(xq, 10)[1], I_exact, 10))
    return out


def test_ivf_recall_rises_with_nprobe_to_exact(clustered):
    cat, xq, I_exact = clustered
    index = FaissIndex(FOUR.dim, "IVF32,Flat")
    index.add(cat.ids, cat.x)
    assert index.stats()["mode"] == "approximate"
    recalls = _recalls(index, xq, I_exact, "nprobe", [1, 2, 4, 8, 16, 32])
    assert all(b >= a for a, b in zip(recalls, recalls[1:], strict=False)), recalls
    assert recalls[3] >= 0.85 and recalls[-1] == 1.0, recalls  # nprobe = nlist is exhaustive


def test_ivf_sq8_recall(clustered):
    cat, xq, I_exact = clustered
    index = FaissIndex(FOUR.dim, "IVF32,SQ8", nprobe=32)
    index.add(cat.ids, cat.x)
    assert recall_at_k(index.search(xq, 10)[1], I_exact, 10) >= 0.95


def test_hnsw_recall_rises_with_ef_search(clustered):
    cat, xq, I_exact = clustered
    index = FaissIndex(FOUR.dim, "HNSW32,Flat")
    index.add(cat.ids, cat.x)
    recalls = _recalls(index, xq, I_exact, "ef_search", [16, 32, 64, 128])
    assert all(b >= a for a, b in zip(recalls, recalls[1:], strict=False)), recalls
    assert recalls[2] >= 0.95, recalls


def test_ivf_pq_trains_and_beats_chance(clustered):
    cat, xq, I_exact = clustered
    index = FaissIndex(FOUR.dim, "IVF8,PQ8x4", nprobe=8)
    assert index.min_train == 39 * 16  # 16 centroids per 4-bit sub-quantizer
    index.add(cat.ids[:1000], cat.x[:1000])
    assert index.trained and index.stats()["mode"] == "approximate"
    exact = FaissIndex(FOUR.dim)
    exact.add(cat.ids[:1000], cat.x[:1000])
    recall = recall_at_k(index.search(xq, 10)[1], exact.search(xq, 10)[1], 10)
    assert recall >= 0.3  # chance is 10 / 1000


def test_large_pq_factory_is_accepted_and_exact_until_trained():
    schema = ConceptSchema({c: (c + "-tag",) for c in ("genre", "mood", "instrument", "era")})
    cat = catalogue(schema, 60, seed=82)
    xq = to_full_space(raw_embeddings(schema, 3, seed=83), schema)
    index_set = FacetIndexSet(schema, "IVF1024,PQ32")
    index_set.add(cat.ids, cat.x)
    stats = index_set.stats()
    assert stats["exact_fallback"] and stats["factory"] == "IVF1024,PQ32"
    assert "until 39936 vectors" in stats["indexes"]["mood"]["note"]
    D, I = index_set.search(xq, 5)
    assert_knn(D, I, xq @ cat.x.T, cat.ids, 5)
