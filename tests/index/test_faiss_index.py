"""FaissIndex: exact search, filters, writes, training fallback, against numpy brute force."""

# ruff: noqa: E741  (D, I are FAISS's names for distances and ids, STYLE.md rule 9)

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index import FactoryError, FaissIndex, UnknownIds, set_threads
from index.factory import build_index
from tests.index.helpers import assert_knn

DIM = 16


def unit_rows(n: int, seed: int, dim: int = DIM, clusters: int = 8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    x = centres[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xb, xq = unit_rows(600, 0), unit_rows(20, 1)
    ids = np.random.default_rng(2).choice(100_000, size=600, replace=False).astype(np.int64)
    return ids, xb, xq


def test_flat_search_equals_brute_force(data):
    ids, xb, xq = data
    index = FaissIndex(DIM)
    index.add(ids, xb)
    D, I = index.search(xq, 10)
    assert_knn(D, I, xq @ xb.T, ids, 10)
    assert index.stats()["mode"] == "exact"


def test_ties_are_accepted_by_score(data):
    ids, xb, _ = data
    twins = np.vstack([xb[:5], xb[:5]])  # every vector twice: every score is a tie
    index = FaissIndex(DIM)
    index.add(np.arange(10), twins)
    D, I = index.search(xb[:5], 2)
    assert_knn(D, I, xb[:5] @ twins.T, np.arange(10), 2)
    assert sorted(I[0].tolist()) == [0, 5]


@pytest.mark.parametrize("factory", ["IDMap2,Flat", "IVF8,Flat", "HNSW16,Flat"])
@pytest.mark.parametrize("mode", ["allow", "exclude", "both"])
def test_filters_return_k_allowed_results(data, factory, mode):
    ids, xb, xq = data
    index = FaissIndex(DIM, factory, nprobe=1, ef_search=8)
    index.add(ids, xb)
    rng = np.random.default_rng(3)
    allow = rng.choice(ids, 12, replace=False) if mode != "exclude" else None
    others = ids if allow is None else np.setdiff1d(ids, allow)
    exclude = rng.choice(others, 300, replace=False) if mode != "allow" else None
    if allow is not None and exclude is not None:
        exclude = np.concatenate([allow[:4], exclude])
    mask = np.ones(ids.size, bool) if allow is None else np.isin(ids, allow)
    if exclude is not None:
        mask &= ~np.isin(ids, exclude)
    D, I = index.search(xq, 10, allow_ids=allow, exclude_ids=exclude)
    # approximate indexes (nprobe=1, efSearch=8) must still fill k slots with allowed ids
    assert_knn(D, I, xq @ xb.T, ids, 10, allowed=mask, exact=factory == "IDMap2,Flat")
    if mode == "both":  # 12 allowed minus 4 excluded: 8 results, then -1
        assert ((I >= 0).sum(axis=1) == 8).all()


def test_allow_list_of_unknown_or_no_ids_gives_no_results(data):
    ids, xb, xq = data
    index = FaissIndex(DIM)
    index.add(ids, xb)
    for allow in ([], [10**9]):
        D, I = index.search(xq[:2], 3, allow_ids=allow)
        assert (I == -1).all() and np.isneginf(D).all()


def test_add_existing_id_replaces_it(data):
    ids, xb, xq = data
    index = FaissIndex(DIM)
    index.add(ids, xb)
    index.add(ids[:3], xb[10:13])
    assert len(index) == 600
    np.testing.assert_array_equal(index.reconstruct(ids[:3]), xb[10:13])
    expected = xb.copy()
    expected[:3] = xb[10:13]
    assert_knn(*index.search(xq, 10), xq @ expected.T, ids, 10)


@pytest.mark.parametrize("factory", ["IDMap2,Flat", "IVF8,Flat", "HNSW16,Flat"])
def test_remove(data, factory):
    ids, xb, xq = data
    index = FaissIndex(DIM, factory, nprobe=8, ef_search=600)
    index.add(ids, xb)
    assert index.trained
    assert index.remove(np.concatenate([ids[:100], [10**9]])) == 100
    assert len(index) == 500 and ids[0] not in index and ids[100] in index
    np.testing.assert_array_equal(index.ids(), np.sort(ids[100:]))
    with pytest.raises(UnknownIds, match=str(ids[0])):
        index.reconstruct(ids[:1])
    np.testing.assert_array_equal(index.reconstruct(ids[100:103]), xb[100:103])
    assert_knn(*index.search(xq, 10), xq @ xb[100:].T, ids[100:], 10)


def test_untrained_factory_falls_back_to_exact_until_enough_vectors(data):
    ids, xb, xq = data
    index = FaissIndex(DIM, "IVF8,Flat", nprobe=2)
    assert index.min_train == 39 * 8
    index.add(ids[:300], xb[:300])
    stats = index.stats()
    assert not index.trained and stats["mode"] == "exact-fallback"
    assert "312 vectors" in stats["note"] and "has 300" in stats["note"]
    assert_knn(*index.search(xq, 10), xq @ xb[:300].T, ids[:300], 10)
    index.add(ids[300:], xb[300:])
    assert index.trained and index.stats()["mode"] == "approximate"
    assert faiss.extract_index_ivf(index._index).ntotal == 600
    np.testing.assert_array_equal(index.reconstruct(ids[::50]), xb[::50])


def test_reset_trains_or_falls_back(data):
    ids, xb, _ = data
    index = FaissIndex(DIM, "IVF8,Flat")
    index.reset(ids, xb)
    assert index.trained and len(index) == 600
    index.reset(ids[:10], xb[:10])
    assert not index.trained and len(index) == 10


def test_empty_index_and_k_beyond_ntotal_pad_with_minus_one(data):
    ids, xb, xq = data
    index = FaissIndex(DIM)
    D, I = index.search(xq, 5)
    assert I.shape == (20, 5) and (I == -1).all() and np.isneginf(D).all()
    index.add(ids[:3], xb[:3])
    D, I = index.search(xq, 5)
    assert_knn(D, I, xq @ xb[:3].T, ids[:3], 5)
    assert (I[:, 3:] == -1).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"xq": np.zeros((2, DIM), np.float64)}, TypeError, "dtype float32, got float64"),
        ({"xq": np.zeros((2, DIM + 1), np.float32)}, ValueError, "expected dimension 16, got 17"),
        ({"xq": np.zeros(DIM, np.float32)}, ValueError, r"shape \(N, 16\), got \(16,\)"),
        ({"xq": np.full((2, DIM), np.nan, np.float32)}, ValueError, r"NaN or inf in rows \[0, 1\]"),
        ({"xq": np.zeros((DIM, 4), np.float32).T}, ValueError, "C-contiguous"),
        ({"xq": [[0.0] * DIM]}, TypeError, "numpy.ndarray of float32, got list"),
        ({"k": 0}, ValueError, "k must be >= 1, got 0"),
        ({"k": 2.0}, TypeError, "k must be an int, got float"),
        ({"allow_ids": [1.5]}, TypeError, "allow_ids must be integers"),
        ({"exclude_ids": [-3]}, ValueError, r"exclude_ids must be >= 0, got \[-3\]"),
    ],
)
def test_search_rejects_bad_input(kwargs, error, message):
    index = FaissIndex(DIM)
    args = {"xq": np.zeros((2, DIM), np.float32), "k": 3} | kwargs
    xq, k = args.pop("xq"), args.pop("k")
    with pytest.raises(error, match=message):
        index.search(xq, k, **args)


@pytest.mark.parametrize(
    ("ids", "xb", "error", "message"),
    [
        ([1, 2], np.zeros((3, DIM), np.float32), ValueError, "expected 3, got 2"),
        ([1, 1, 2], np.zeros((3, DIM), np.float32), ValueError, r"repeats ids \[1\]"),
        (["a", "b"], np.zeros((2, DIM), np.float32), TypeError, "must be integers"),
        ([1, -1], np.zeros((2, DIM), np.float32), ValueError, r">= 0, got \[-1\]"),
        ([1], np.zeros((1, DIM), np.float16), TypeError, "got float16"),
    ],
)
def test_add_rejects_bad_input(ids, xb, error, message):
    index = FaissIndex(DIM)
    with pytest.raises(error, match=message):
        index.add(ids, xb)
    assert len(index) == 0


def test_factory_errors_are_typed():
    with pytest.raises(FactoryError, match="IVF8,PQ32.*dimension 16"):
        FaissIndex(DIM, "IVF8,PQ32")
    with pytest.raises(FactoryError, match="nonsense"):
        FaissIndex(DIM, "nonsense")


def test_pq_skips_polysemous_training():
    # polysemous codes serve Hamming pre-filtering, never used here, and make training ~8x slower
    index = FaissIndex(DIM, "IVF8,PQ4")
    assert index.min_train == 39 * 256
    assert build_index(DIM, "IVF8,PQ4").do_polysemous_training is False
    assert faiss.downcast_index(build_index(DIM, "PQ4").index).do_polysemous_training is False


def test_idmap_prefix_is_dropped_for_ivf(data):
    ids, xb, _ = data
    index = FaissIndex(DIM, "IDMap2,IVF8,Flat")
    index.add(ids, xb)
    assert isinstance(index._index, faiss.IndexIVFFlat)
    assert index.remove(ids[:5]) == 5 and len(index) == 595


def test_search_params_are_validated():
    index = FaissIndex(DIM, "IVF8,Flat", nprobe=4)
    index.set_search_params(nprobe=8, ef_search=32)
    assert (index.nprobe, index.ef_search) == (8, 32)
    with pytest.raises(ValueError, match="nprobe must be an int >= 1, got 0"):
        index.set_search_params(nprobe=0)


def test_set_threads():
    before = faiss.omp_get_max_threads()
    assert set_threads(1) == before
    assert faiss.omp_get_max_threads() == 1
    set_threads(before)
    with pytest.raises(ValueError, match="got 0"):
        set_threads(0)
