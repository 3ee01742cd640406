"""FacetIndexSet: facet mixes and single facets against brute-force cosines from raw vectors."""

# ruff: noqa: E741  (D, I are FAISS's names for distances and ids, STYLE.md rule 9)

from __future__ import annotations

import numpy as np
import pytest

from index import FacetIndexSet, IndexReadOnly, UnknownIds, build_index_set
from layout.facets import FacetWeightError, parse_weights, to_full_space
from tests.index.helpers import (
    FOUR,
    ONE,
    Catalogue,
    assert_knn,
    catalogue,
    facet_cosine_matrix,
    raw_embeddings,
    weighted_scores,
)

N, NQ, K = 500, 15, 10


@pytest.fixture(scope="module")
def four():
    cat = catalogue(FOUR, N, seed=10)
    zq = raw_embeddings(FOUR, NQ, seed=11)
    return cat, zq, to_full_space(zq, FOUR), build_index_set(FOUR, cat.ids, cat.x)


def test_full_space_search_is_the_mean_facet_cosine(four):
    cat, zq, xq, index_set = four
    D, I = index_set.search(xq, K)
    equal = {f: 0.25 for f in FOUR.facet_names}
    assert_knn(D, I, weighted_scores(cat, zq, equal), cat.ids, K)


@pytest.mark.parametrize(
    "spec", ["mood:0.7,genre:0.3", "genre:0.1,mood:0.2,instrument:0.3,era:0.4", "era:3,mood:1"]
)
def test_weighted_mix_scores_are_sum_of_weighted_cosines(four, spec):
    cat, zq, xq, index_set = four
    weights = parse_weights(spec, FOUR)
    D, I = index_set.search(xq, K, weights=weights)
    assert_knn(D, I, weighted_scores(cat, zq, weights), cat.ids, K)


@pytest.mark.parametrize("facet", FOUR.facet_names)
def test_single_facet_search_ranks_by_that_facet_cosine(four, facet):
    cat, zq, xq, index_set = four
    D, I = index_set.search(xq, K, weights={facet: 1.0, "genre" if facet != "genre" else "era": 0})
    cos = facet_cosine_matrix(FOUR, zq, cat.z)[:, :, FOUR.facet_names.index(facet)]
    assert_knn(D, I, cos, cat.ids, K)


def test_unnormalised_single_weight_scales_scores(four):
    cat, zq, xq, index_set = four
    D, I = index_set.search(xq, K, weights={"mood": 0.5})
    assert_knn(D, I, weighted_scores(cat, zq, {"mood": 0.5}), cat.ids, K)


def test_weighted_search_with_filters(four):
    cat, zq, xq, index_set = four
    allow, exclude = cat.ids[::7], cat.ids[::21]
    mask = np.isin(cat.ids, allow) & ~np.isin(cat.ids, exclude)
    for weights in ({"mood": 1.0}, {"mood": 0.5, "era": 0.5}):
        D, I = index_set.search(xq, K, weights=weights, allow_ids=allow, exclude_ids=exclude)
        assert_knn(D, I, weighted_scores(cat, zq, weights), cat.ids, K, allowed=mask)


@pytest.mark.parametrize(
    "weights", [{"mood": -1.0}, {"genre": 0.5, "mood": -0.5}, {"era": 0.2, "genre": -0.8}]
)
def test_negative_weights_rank_by_dissimilarity(four, weights):
    cat, zq, xq, index_set = four
    D, I = index_set.search(xq, K, weights=weights)
    assert_knn(D, I, weighted_scores(cat, zq, weights), cat.ids, K)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"tempo": 1.0}, "unknown facet 'tempo'; valid facets: genre, mood, instrument, era"),
        ({"mood": float("nan")}, "must be finite"),
        ({"mood": 0.0}, "all zero"),
        ({"mood": 0.0, "genre": -0.0}, "all zero"),
    ],
)
def test_bad_weights_are_refused(four, weights, message):
    *_, xq, index_set = four
    with pytest.raises(FacetWeightError, match=message):
        index_set.search(xq, K, weights=weights)


def test_get_and_facet_cosines(four):
    cat, _, _, index_set = four
    np.testing.assert_array_equal(index_set.get(int(cat.ids[3])), cat.x[3])
    cos = index_set.facet_cosines(int(cat.ids[0]), cat.ids[:5])
    expected = facet_cosine_matrix(FOUR, cat.z[:1], cat.z[:5])[0]
    assert cos.shape == (5, 4)
    np.testing.assert_allclose(cos, expected, atol=1e-5)
    np.testing.assert_allclose(index_set.facet_cosines(cat.x[0], cat.ids[:5]), cos, atol=1e-6)
    with pytest.raises(UnknownIds):
        index_set.get(10**9)


def test_add_replace_remove_keep_every_index_in_step():
    cat = catalogue(FOUR, 200, seed=20)
    zq = raw_embeddings(FOUR, 5, seed=21)
    index_set = FacetIndexSet(FOUR)
    index_set.add(cat.ids[:150], cat.x[:150])
    index_set.add(cat.ids[100:], cat.x[100:])  # 50 replaced by the same, 50 new
    new = catalogue(FOUR, 10, seed=22)
    index_set.add(cat.ids[:10], new.x)  # replaced by other vectors
    assert index_set.remove(cat.ids[190:]) == 10
    assert len(index_set) == 190 and cat.ids[195] not in index_set and cat.ids[0] in index_set
    z = cat.z.copy()
    z[:10] = new.z
    kept = Catalogue(FOUR, z[:190], to_full_space(z[:190], FOUR), cat.ids[:190])
    for weights in ({"genre": 1.0}, {"genre": 0.5, "era": 0.5}):
        D, I = index_set.search(to_full_space(zq, FOUR), K, weights=weights)
        assert_knn(D, I, weighted_scores(kept, zq, weights), kept.ids, K)
    for key, index in index_set._indexes().items():
        np.testing.assert_array_equal(index.ids(), np.sort(kept.ids), err_msg=key)


def test_vectors_must_be_full_space():
    z = raw_embeddings(FOUR, 3, seed=30)
    index_set = FacetIndexSet(FOUR)
    with pytest.raises(ValueError, match="row 0 has facet 'genre' of norm .*expected 0.5000 or 0"):
        index_set.add([1, 2, 3], z)
    x = to_full_space(z, FOUR)
    x[1, FOUR.facet("era").slice] = 0  # a facet without direction is allowed
    index_set.add([1, 2, 3], x)
    assert len(index_set) == 3


def test_one_facet_model_uses_one_index():
    cat = catalogue(ONE, 300, seed=40)
    zq = raw_embeddings(ONE, 8, seed=41)
    index_set = build_index_set(ONE, cat.ids, cat.x)
    assert index_set.facet_index("all") is index_set._full
    assert list(index_set._indexes()) == ["full"]
    xq = to_full_space(zq, ONE)
    for weights in (None, {"all": 1.0}):
        D, I = index_set.search(xq, K, weights=weights)
        assert_knn(D, I, weighted_scores(cat, zq, {"all": 1.0}), cat.ids, K)


def test_rebuild_replaces_content_and_trains():
    cat = catalogue(FOUR, 400, seed=50)
    index_set = FacetIndexSet(FOUR, "IVF8,Flat")
    index_set.add(cat.ids[:50], cat.x[:50])
    assert index_set.stats()["exact_fallback"]
    index_set.rebuild(cat.ids[50:], cat.x[50:])
    stats = index_set.stats()
    assert stats["mode"] == "approximate" and not stats["exact_fallback"]
    assert set(stats["indexes"]) == {"full", *FOUR.facet_names}
    assert all(s["ntotal"] == 350 for s in stats["indexes"].values())
    assert cat.ids[0] not in index_set


def test_read_only_set_refuses_writes(four, tmp_path):
    *_, index_set = four
    index_set.save(tmp_path, {})
    loaded = FacetIndexSet.load(tmp_path, FOUR, mmap=True)
    with pytest.raises(IndexReadOnly, match="cannot add"):
        loaded.add([1], index_set.get(int(index_set.ids()[0]))[None, :])
    with pytest.raises(IndexReadOnly, match="cannot remove"):
        loaded.remove([1])
    with pytest.raises(IndexReadOnly, match="cannot save"):
        loaded.save(tmp_path, {})
    assert len(loaded) == len(index_set)


def test_held_is_membership_of_each_id(four):
    *_, index = four
    ids = index.ids()
    asked = [int(ids[3]), -1, int(ids.max()) + 1, int(ids[0]), int(ids[3])]
    assert index.held(asked).tolist() == [i in index for i in asked] == [
        True, False, False, True, True]
    assert index.held([]).shape == (0,)
