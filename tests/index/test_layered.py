"""A mapped snapshot + delta + tombstones answers exactly as one index holding everything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.errors import IndexReadOnly, UnknownIds
from index.facet_set import FacetIndexSet
from index.layered import LayeredIndex, merge_top_k
from layout.facets import to_full_space
from layout.schema import ConceptSchema
from tests.index.helpers import FOUR, ONE, catalogue, raw_embeddings

K = 10


def layered_and_reference(
    tmp_path: Path, schema: ConceptSchema
) -> tuple[LayeredIndex, FacetIndexSet, np.ndarray]:
    """A mapped base of 300 tracks changed by adds, replacements and removals, the same final
    content in one in-memory index, and queries."""
    cat = catalogue(schema, 300, seed=3)
    base = FacetIndexSet(schema)
    base.add(cat.ids, cat.x)
    base.save(tmp_path, state={"seq": 1})
    mapped = FacetIndexSet.load(tmp_path, schema, mmap=True)
    assert mapped.read_only
    layered = LayeredIndex(mapped)
    ref = FacetIndexSet(schema)
    ref.add(cat.ids, cat.x)
    extra = to_full_space(raw_embeddings(schema, 80, seed=9), schema)
    new_ids = np.arange(10_000, 10_060, dtype=np.int64)  # 60 new tracks
    replaced = cat.ids[:20]  # 20 base tracks re-embedded
    for index in (layered, ref):
        index.add(new_ids, extra[:60])
        index.add(replaced, extra[60:80])
    removed = np.concatenate([cat.ids[10:40], new_ids[:5], [99_999]])  # base, replaced, new
    assert layered.remove(removed) == ref.remove(removed) == 35
    queries = to_full_space(raw_embeddings(schema, 12, seed=21), schema)
    return layered, ref, queries


@pytest.mark.parametrize("schema", [FOUR, ONE], ids=["four-facets", "one-facet"])
def test_content_matches_one_index(tmp_path: Path, schema: ConceptSchema) -> None:
    layered, ref, _ = layered_and_reference(tmp_path, schema)
    assert len(layered) == len(ref) == 300 + 60 - 35
    assert layered.ids().tolist() == ref.ids().tolist()
    # delta: 60 new + 20 replaced - 5 - 10 removed; tombstones: 20 replaced + 20 more removed
    assert (len(layered.delta), layered.pending) == (65, 65 + 40)
    for track_id in ref.ids()[::7]:
        assert int(track_id) in layered
        np.testing.assert_array_equal(layered.get(int(track_id)), ref.get(int(track_id)))
    removed_from_base = int(np.setdiff1d(layered.base.ids(), ref.ids())[0])
    for gone in (removed_from_base, 10_001, 99_999):
        assert gone not in layered
        with pytest.raises(UnknownIds):
            layered.get(gone)
    assert layered.facet_size(schema.facet_names[0]) == len(ref)


SEARCHES = [
    {},
    {"weights": {"mood": 1.0}},
    {"weights": {"genre": 0.7, "mood": 0.3}},
    {"weights": {"genre": 0.2, "mood": 0.3, "instrument": 0.5}},
]


@pytest.mark.parametrize("search", SEARCHES, ids=["full", "facet", "mix", "mix3"])
@pytest.mark.parametrize("filters", ["none", "allow", "exclude", "both"])
def test_search_matches_one_index(tmp_path: Path, search: dict, filters: str) -> None:
    layered, ref, queries = layered_and_reference(tmp_path, FOUR)
    ids = ref.ids()
    rng = np.random.default_rng(5)
    kw = dict(search)
    if filters in ("allow", "both"):  # a mix of base, replaced and delta ids, and unknown ones
        kw["allow_ids"] = np.concatenate([rng.choice(ids, 40, replace=False), [7, 123_456]])
    if filters in ("exclude", "both"):
        kw["exclude_ids"] = np.concatenate([rng.choice(ids, 60, replace=False), [10_059]])
    d_layered, i_layered = layered.search(queries, K, **kw)
    d_ref, i_ref = ref.search(queries, K, **kw)
    np.testing.assert_array_equal(i_layered, i_ref)
    np.testing.assert_allclose(d_layered, d_ref, atol=1e-5)
    assert (i_layered >= 0).all()  # never short: filters run inside both layers


def test_search_matches_brute_force(tmp_path: Path) -> None:
    """Against plain numpy over the final content, not just another index."""
    layered, ref, queries = layered_and_reference(tmp_path, FOUR)
    ids = ref.ids()
    xb = np.stack([ref.get(int(i)) for i in ids])
    scores = queries @ xb.T
    expected = ids[np.argsort(-scores, axis=1, kind="stable")[:, :K]]
    _, got = layered.search(queries, K)
    np.testing.assert_array_equal(got, expected)


def test_fewer_tracks_than_k_leaves_empty_slots(tmp_path: Path) -> None:
    layered, ref, queries = layered_and_reference(tmp_path, FOUR)
    allow = [10_050, int(ref.ids()[100])]  # one delta track, one base track
    d, i = layered.search(queries[:1], 5, allow_ids=allow)
    assert sorted(i[0, :2].tolist()) == sorted(allow) and i[0, 2:].tolist() == [-1, -1, -1]
    assert np.isneginf(d[0, 2:]).all()


def test_base_is_never_written(tmp_path: Path) -> None:
    layered, _, _ = layered_and_reference(tmp_path, FOUR)
    with pytest.raises(IndexReadOnly):
        layered.base.add(np.array([1]), layered.delta.get(10_010)[None, :])


def test_merge_top_k_orders_and_keeps_empty_slots_last() -> None:
    d_a = np.array([[0.9, 0.5, -np.inf]], np.float32)
    i_a = np.array([[1, 2, -1]])
    d_b = np.array([[0.7, 0.5, 0.1]], np.float32)
    i_b = np.array([[3, 4, 5]])
    d, i = merge_top_k(d_a, i_a, d_b, i_b, 4)
    assert i.tolist() == [[1, 3, 2, 4]]
    np.testing.assert_allclose(d, [[0.9, 0.7, 0.5, 0.5]])
