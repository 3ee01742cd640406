"""One conformance suite for every ``index.VectorIndex``: the same behaviour, checked against
brute force, from the in-memory ``FacetIndexSet`` and from a ``LayeredIndex`` (a memory-mapped
snapshot holding part of the catalogue, a delta holding the rest, tombstones for what was
removed or replaced since) -- what the service may rely on whichever it serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index import FacetIndexSet, LayeredIndex, UnknownIds, VectorIndex
from layout.facets import FacetWeightError, facet_cosines
from layout.schema import ConceptSchema
from tests.index.helpers import FOUR, ONE, Catalogue, assert_knn, catalogue, weighted_scores

N = 120


def in_memory(cat: Catalogue, tmp_path: Path) -> VectorIndex:
    index = FacetIndexSet(cat.schema, "IDMap2,Flat")
    index.add(cat.ids, cat.x)
    return index


def layered(cat: Catalogue, tmp_path: Path) -> VectorIndex:
    """Two thirds in a mapped snapshot (plus ten extra tracks removed since, and ten whose
    vectors were replaced since), the rest in the delta."""
    cut = 2 * N // 3
    base = FacetIndexSet(cat.schema, "IDMap2,Flat")
    stale = np.roll(cat.x[:10], 1, axis=0)  # the old vectors of the first ten tracks
    extra = catalogue(cat.schema, 10, seed=99)
    base.add(np.concatenate([cat.ids[:cut], extra.ids + 10**6]),
             np.concatenate([np.concatenate([stale, cat.x[10:cut]]), extra.x]))
    base.save(tmp_path / "snap", state={})
    index = LayeredIndex(FacetIndexSet.load(tmp_path / "snap", cat.schema, mmap=True))
    index.add(cat.ids[cut:], cat.x[cut:])
    index.add(cat.ids[:10], cat.x[:10])  # replaced since the snapshot
    assert index.remove(extra.ids + 10**6) == 10
    return index


Build = Callable[[Catalogue, Path], VectorIndex]


@pytest.fixture(params=[in_memory, layered], ids=["FacetIndexSet", "LayeredIndex"])
def build(request: pytest.FixtureRequest) -> Build:
    return request.param


@pytest.fixture(params=[FOUR, ONE], ids=["four-facets", "one-facet"])
def cat(request: pytest.FixtureRequest) -> Catalogue:
    schema: ConceptSchema = request.param
    return catalogue(schema, N, seed=3)


def test_membership_size_and_ids(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    assert len(index) == N and index.ids().tolist() == sorted(cat.ids.tolist())
    assert all(int(i) in index for i in cat.ids) and -5 not in index and "x" not in index
    for name in cat.schema.facet_names:
        assert index.facet_size(name) == N
    with pytest.raises(FacetWeightError, match="valid facets"):
        index.facet_size("tempo")
    assert index.stats()["count"] == N


def test_get_returns_the_latest_vector(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    for row in (0, 5, N // 2, N - 1):
        np.testing.assert_allclose(index.get(int(cat.ids[row])), cat.x[row], atol=1e-6)
    with pytest.raises(UnknownIds):
        index.get(10**9)
    with pytest.raises(ValueError, match=">= 0"):
        index.get(-1)


def test_get_many_equals_get_row_by_row(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    ids = [int(cat.ids[row]) for row in (N - 1, 0, N // 2, 5, 0)]  # any order, repeats
    np.testing.assert_array_equal(index.get_many(ids), np.stack([index.get(i) for i in ids]))
    assert index.get_many([]).shape == (0, cat.schema.dim)
    with pytest.raises(UnknownIds) as missing:
        index.get_many([ids[0], 10**9, 10**9 + 1])
    assert sorted(missing.value.ids) == [10**9, 10**9 + 1]
    with pytest.raises(ValueError, match=">= 0"):
        index.get_many([-1])


@pytest.mark.parametrize("weights", [None, "first", "mix"])
def test_search_equals_brute_force(build: Build, cat: Catalogue, tmp_path: Path,
                                   weights: str | None) -> None:
    index = build(cat, tmp_path)
    names = cat.schema.facet_names
    w = {None: None, "first": {names[0]: 1.0},
         "mix": {n: (i + 1) / 10 for i, n in enumerate(names)}}[weights]
    queries = catalogue(cat.schema, 5, seed=7)
    D, I = index.search(queries.x, 10, weights=w)
    brute = weighted_scores(cat, queries.z, w or {n: 1 / len(names) for n in names})
    assert_knn(D, I, brute, cat.ids, 10)


def test_filters_run_inside_the_search(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    allowed = cat.ids[::3]
    excluded = allowed[:5]
    queries = catalogue(cat.schema, 3, seed=8)
    D, I = index.search(queries.x, 10, allow_ids=allowed, exclude_ids=excluded)
    ok = np.setdiff1d(allowed, excluded)
    assert np.isin(I, ok).all()  # k results, all qualifying (more than k qualify)
    names = cat.schema.facet_names
    brute = weighted_scores(cat, queries.z, {n: 1 / len(names) for n in names})
    assert_knn(D, I, brute, cat.ids, 10, allowed=np.isin(cat.ids, ok))
    D, I = index.search(queries.x, 10, allow_ids=cat.ids[:4])  # fewer than k qualify
    assert (I[:, 4:] == -1).all() and np.isinf(D[:, 4:]).all()


def test_remove_then_add_again(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    gone = cat.ids[[0, 1, N - 1]]
    assert index.remove(np.concatenate([gone, [10**9]])) == 3  # unknown ids are ignored
    assert len(index) == N - 3 and not any(int(i) in index for i in gone)
    D, I = index.search(cat.x[:2], N)
    assert not np.isin(I, gone).any()
    index.add(gone[:1], cat.x[:1])
    assert int(gone[0]) in index and len(index) == N - 2


def test_facet_cosines_by_id_or_vector(build: Build, cat: Catalogue, tmp_path: Path) -> None:
    index = build(cat, tmp_path)
    ids = [int(i) for i in cat.ids[3:9]]
    want = facet_cosines(cat.x[0], cat.x[3:9], cat.schema)
    np.testing.assert_allclose(index.facet_cosines(int(cat.ids[0]), ids), want, atol=1e-5)
    np.testing.assert_allclose(index.facet_cosines(cat.x[0], ids), want, atol=1e-5)
