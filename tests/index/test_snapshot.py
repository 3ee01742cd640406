"""Snapshots: round trips (plain and memory-mapped), crashes mid-save, schema checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from index import (
    DimensionMismatch,
    FacetIndexSet,
    FaissIndex,
    IndexNotReady,
    IndexSchemaMismatch,
    SnapshotCorrupt,
    build_index_set,
)
from index.faiss_index import FaissIndex as _FaissIndex
from layout.facets import to_full_space
from layout.schema import ConceptSchema
from tests.index.helpers import FOUR, ONE, catalogue, raw_embeddings

WEIGHTS = [None, {"mood": 1.0}, {"genre": 0.25, "era": 0.75}]


def results(index_set: FacetIndexSet, xq: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    return [index_set.search(xq, 10, weights=w, exclude_ids=[0]) for w in WEIGHTS]


def assert_same(a: FacetIndexSet, b: FacetIndexSet, xq: np.ndarray) -> None:
    for (da, ia), (db, ib) in zip(results(a, xq), results(b, xq), strict=True):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(da, db)
    np.testing.assert_array_equal(a.ids(), b.ids())


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


@pytest.mark.parametrize("factory", ["IDMap2,Flat", "IVF8,Flat", "IVF8,SQ8", "HNSW16,Flat"])
@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_gives_identical_results(tmp_path, factory, mmap):
    cat = catalogue(FOUR, 400, seed=60)
    xq = to_full_space(raw_embeddings(FOUR, 10, seed=61), FOUR)
    saved = build_index_set(FOUR, cat.ids, cat.x, factory, nprobe=2, ef_search=20)
    state = {"store_change": 1234, "model_version": "enc-7"}
    snap = saved.save(tmp_path, state)
    loaded = FacetIndexSet.load(tmp_path, FOUR, mmap=mmap)
    assert loaded.state == state and loaded.snapshot == snap and loaded.factory == factory
    full_stats = loaded.stats()["indexes"]["full"]
    assert loaded.read_only is mmap and full_stats["mmap"] is mmap
    assert full_stats.get("nprobe", 2) == 2 and full_stats.get("ef_search", 20) == 20
    assert_same(saved, loaded, xq)
    np.testing.assert_array_equal(loaded.get(int(cat.ids[5])), saved.get(int(cat.ids[5])))
    if mmap and Path("/proc/self/maps").exists():
        assert str(snap / "full.faiss") in mapped_files()
    meta = json.loads((snap / "meta.json").read_text())
    assert meta["factory"] == factory and meta["count"] == 400 and meta["state"] == state
    assert meta["schema"] == FOUR.to_dict()


def test_fallback_state_survives_a_round_trip(tmp_path):
    cat = catalogue(FOUR, 400, seed=62)
    saved = FacetIndexSet(FOUR, "IVF8,Flat")
    saved.add(cat.ids[:100], cat.x[:100])
    saved.save(tmp_path, {})
    loaded = FacetIndexSet.load(tmp_path, FOUR)
    assert loaded.stats()["exact_fallback"]
    loaded.add(cat.ids[100:], cat.x[100:])  # now enough to train
    assert loaded.stats()["mode"] == "approximate" and len(loaded) == 400


def test_one_facet_round_trip(tmp_path):
    cat = catalogue(ONE, 100, seed=63)
    xq = to_full_space(raw_embeddings(ONE, 4, seed=64), ONE)
    saved = build_index_set(ONE, cat.ids, cat.x)
    snap = saved.save(tmp_path, {})
    assert sorted(p.name for p in snap.iterdir()) == ["full.faiss", "meta.json"]
    loaded = FacetIndexSet.load(tmp_path, ONE)
    assert loaded.facet_index("all") is loaded._full
    for w in (None, {"all": 1.0}):
        np.testing.assert_array_equal(
            saved.search(xq, 5, weights=w)[1], loaded.search(xq, 5, weights=w)[1]
        )


def _two_sets() -> tuple[FacetIndexSet, FacetIndexSet, np.ndarray]:
    a, b = catalogue(FOUR, 120, seed=70), catalogue(FOUR, 150, seed=71)
    xq = to_full_space(raw_embeddings(FOUR, 5, seed=72), FOUR)
    return build_index_set(FOUR, a.ids, a.x), build_index_set(FOUR, b.ids, b.x), xq


@pytest.mark.parametrize("fail_at", [1, 2])  # 1: renaming the new directory, 2: swapping CURRENT
def test_crash_in_os_replace_keeps_previous_snapshot(tmp_path, monkeypatch, fail_at):
    first, second, xq = _two_sets()
    first.save(tmp_path, {"v": 1})
    real_replace, calls = os.replace, []

    def crashing_replace(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    with pytest.raises(OSError, match="simulated crash"):
        second.save(tmp_path, {"v": 2})
    monkeypatch.undo()
    loaded = FacetIndexSet.load(tmp_path, FOUR)
    assert loaded.state == {"v": 1}
    assert_same(first, loaded, xq)
    second.save(tmp_path, {"v": 2})  # the next save cleans up and succeeds
    assert not list(tmp_path.glob(".tmp-*")) and not (tmp_path / "CURRENT.tmp").exists()
    assert_same(second, FacetIndexSet.load(tmp_path, FOUR), xq)


def test_crash_while_writing_index_files_keeps_previous_snapshot(tmp_path, monkeypatch):
    first, second, xq = _two_sets()
    first.save(tmp_path, {"v": 1})
    real_write, written = _FaissIndex.write, []

    def write_then_crash(self, path):
        if written:
            Path(path).write_bytes(b"half")  # a torn file, then the process dies
            raise OSError("simulated crash")
        written.append(path)
        real_write(self, path)

    monkeypatch.setattr(_FaissIndex, "write", write_then_crash)
    with pytest.raises(OSError, match="simulated crash"):
        second.save(tmp_path, {"v": 2})
    monkeypatch.undo()
    assert len(list(tmp_path.glob(".tmp-*"))) == 1
    assert_same(first, FacetIndexSet.load(tmp_path, FOUR), xq)


def test_unserialisable_state_writes_nothing(tmp_path):
    first, _, _ = _two_sets()
    with pytest.raises(TypeError):
        first.save(tmp_path, {"when": object()})
    with pytest.raises(IndexNotReady):
        FacetIndexSet.load(tmp_path, FOUR)


def test_old_snapshots_are_pruned_to_current_and_previous(tmp_path):
    first, second, xq = _two_sets()
    snaps = [s.save(tmp_path, {"n": i}) for i, s in enumerate([first, second, first, second])]
    assert sorted(p.name for p in tmp_path.glob("snap-*")) == [snaps[2].name, snaps[3].name]
    assert (tmp_path / "CURRENT").read_text().strip() == snaps[3].name
    assert FacetIndexSet.load(tmp_path, FOUR).state == {"n": 3}


def test_load_errors(tmp_path):
    with pytest.raises(IndexNotReady, match="no snapshot has been written"):
        FacetIndexSet.load(tmp_path / "nothing", FOUR)
    first, _, _ = _two_sets()
    snap = first.save(tmp_path, {})
    other = ConceptSchema(FOUR.concepts, facet_dim=8)
    with pytest.raises(IndexSchemaMismatch, match="of 8 dims.*of 16 dims") as err:
        FacetIndexSet.load(tmp_path, other)
    assert err.value.expected == other.to_dict() and err.value.actual == FOUR.to_dict()
    meta = json.loads((snap / "meta.json").read_text())
    (snap / "meta.json").write_text(json.dumps(meta | {"ids_sha256": "0" * 64}))
    with pytest.raises(SnapshotCorrupt, match="ids of full.faiss do not match"):
        FacetIndexSet.load(tmp_path, FOUR)
    (snap / "facet-1.faiss").unlink()
    (snap / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(SnapshotCorrupt, match="missing index file facet-1.faiss"):
        FacetIndexSet.load(tmp_path, FOUR)
    with pytest.raises(DimensionMismatch, match="expected dimension 32, got 64"):
        FaissIndex.read(snap / "full.faiss", dim=32, factory="IDMap2,Flat", trained=True)
