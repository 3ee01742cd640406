"""Workers serving one memory-mapped snapshot plus private deltas (SQLite and PostgreSQL).

Each ``Catalog`` here plays one worker process: the same store, the same index folder, the
same checkpoint, as ``musicprism serve --workers N`` gives every worker. Tracks are written
straight into the store (as another worker or the CLI would) and reach the workers through
the store's change log.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from index.layered import LayeredIndex
from index.snapshot import compaction_lock, current_snapshot
from layout.facets import to_full_space
from model.checkpoint import load_checkpoint
from service import store
from service.app import create_app
from service.catalog import Catalog, CatalogConfig, TrackFilter
from tests.service.conftest import API_KEY, make_settings
from tests.utils.db import create_track, put_embedding
from tests.utils.models import tiny_checkpoint

QUERIES = [
    {"facet": None},
    {"facet": "mood"},
    {"facet": "genre:0.7,mood:0.3"},
    {"facet": None, "filters": TrackFilter(exclude_artist="Artist 1")},
    {"facet": "genre", "filters": TrackFilter(tags=("rock",))},
    {"facet": None, "filters": TrackFilter(exclude_ids=(3, 4, 5))},
]


class Site:
    """A store, an index folder and a model, and workers opened on them."""

    def __init__(self, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
        self.model = load_checkpoint(tiny_checkpoint(tmp_path / "model.pt"))
        self.sessions = sessions
        self.index_dir = tmp_path / "indexes"
        self.opened: list[Catalog] = []
        self.rng = np.random.default_rng(0)
        self.n = 0

    def worker(self, *, mmap: bool = True, delta_max: int = 10_000) -> Catalog:
        config = CatalogConfig(index_dir=self.index_dir, sync_interval=0.0, mmap=mmap,
                               delta_max=delta_max)
        catalog = Catalog(self.model, self.sessions, config)
        catalog.open()
        self.opened.append(catalog)
        return catalog

    def vector(self) -> np.ndarray:
        schema = self.model.schema
        return to_full_space(self.rng.standard_normal((1, schema.dim)), schema)[0]

    def add_tracks(self, n: int, model_version_id: int) -> list[int]:
        """Store ``n`` tracks with random vectors and tag scores, as another process would."""
        schema, ids = self.model.schema, []
        with self.sessions() as session:
            for _ in range(n):
                self.n += 1
                v = self.vector()
                track, _ = create_track(
                    session,
                    content_hash=f"{self.n:064x}",
                    source=f"{self.n}.flac",
                    duration_seconds=3.0,
                    model_version_id=model_version_id,
                    vector=v,
                    windows=v[None, :],
                    window_seconds=3.0,
                    artist=f"Artist {self.n % 3}",
                    tag_scores={t: float(self.rng.random()) for t in schema.tags},
                    tag_concepts={t: schema.concept_of_tag(t) for t in schema.tags},
                )
                ids.append(track.id)
        return ids


@pytest.fixture
def site(tmp_path: Path, session_factory: sessionmaker[Session]) -> Iterator[Site]:
    yield Site(tmp_path, session_factory)


def answers(catalog: Catalog, query: np.ndarray, k: int = 8) -> list[list[tuple[int, float]]]:
    """(track id, score) lists for every query in QUERIES."""
    out = []
    for kw in QUERIES:
        _, hits = catalog.queries.similar(query, k=k, **kw)  # type: ignore[arg-type]
        out.append([(h.track.id, h.score) for h in hits])
    return out


def assert_same_answers(a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]]) -> None:
    assert [[i for i, _ in r] for r in a] == [[i for i, _ in r] for r in b]
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_allclose([s for _, s in ra], [s for _, s in rb], atol=2e-6)


def test_mapped_workers_answer_as_an_in_memory_catalog(site: Site) -> None:
    first = site.worker(mmap=False)  # writes the first snapshot (rebuilt from an empty store)
    mv = first.binding.model_version_id
    site.add_tracks(40, mv)
    first.indexes.save_snapshot()
    a, b = site.worker(), site.worker()
    assert isinstance(a.indexes.index, LayeredIndex) and a.indexes.index.base.read_only
    assert len(a.indexes.index.delta) == 0 and a.queries.count() == 40
    new = site.add_tracks(15, mv)  # after the snapshot: into each worker's delta
    with site.sessions() as session:
        store.delete_track(session, track_id=2)  # a base track
        store.delete_track(session, track_id=new[0])  # a delta track
        put_embedding(
            session,
            track_id=5,
            model_version_id=mv,
            vector=site.vector(),
            windows=site.vector()[None, :],
            window_seconds=3.0,
        )  # a base track replaced
    reference = site.worker(mmap=False)  # everything in one private index
    for w in (a, b):
        w.indexes.sync(force=True)
        assert w.queries.count() == reference.queries.count() == 40 + 15 - 2
        assert isinstance(w.indexes.index, LayeredIndex)
        assert (len(w.indexes.index.delta), w.indexes.index.pending) == (15 - 1 + 1, 15 - 1 + 1 + 2)
    for _ in range(3):
        q = site.vector()
        expected = answers(reference, q)
        assert all(expected) and expected[0][0][1] > 0
        assert_same_answers(answers(a, q), expected)
        assert_same_answers(answers(b, q), expected)
    np.testing.assert_array_equal(a.queries.vector_of(5), reference.queries.vector_of(5))


def test_delta_past_the_threshold_writes_a_snapshot_all_workers_map(site: Site) -> None:
    site.worker(mmap=False)
    a, b = site.worker(delta_max=10), site.worker(delta_max=10_000)
    first = current_snapshot(site.index_dir / site.model.version)
    site.add_tracks(12, a.binding.model_version_id)
    a.indexes.sync(force=True)  # 12 > 10: a writes a snapshot in the background, then serves it
    assert a.indexes._compacting is not None
    a.indexes._compacting.join(timeout=60)
    live = current_snapshot(site.index_dir / site.model.version)
    assert live != first
    served = a.indexes.index
    assert served.snapshot == live and served.pending == 0 and a.queries.count() == 12
    b.indexes.sync(force=True)  # b notices the new CURRENT and swaps
    served = b.indexes.index
    assert isinstance(served, LayeredIndex)
    assert served.snapshot == live and served.pending == 0 and b.queries.count() == 12
    q = site.vector()
    assert_same_answers(answers(a, q), answers(b, q))


def test_only_one_process_writes_a_snapshot_at_a_time(site: Site) -> None:
    site.worker(mmap=False)
    a = site.worker()
    site.add_tracks(3, a.binding.model_version_id)
    root = site.index_dir / site.model.version
    before = current_snapshot(root)
    with compaction_lock(root) as held:
        assert held
        assert a.indexes.compact() is None  # another holder: a leaves the work to it
    assert current_snapshot(root) == before
    written = a.indexes.compact()
    assert written == current_snapshot(root) != before
    assert a.indexes.index.snapshot == written and a.queries.count() == 3


def test_queries_never_fail_while_snapshots_are_replaced(site: Site) -> None:
    """A thread hammers one worker while another worker replaces the snapshot 6 times."""
    site.worker(mmap=False)
    site.add_tracks(60, site.opened[0].binding.model_version_id)
    reader, writer = site.worker(), site.worker()
    q = site.vector()
    expected = answers(reader, q)
    errors: list[BaseException] = []
    wrong: list[object] = []
    seen: set[Path | None] = set()
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            try:
                got = answers(reader, q)
                if [[i for i, _ in r] for r in got] != [[i for i, _ in r] for r in expected]:
                    wrong.append(got)
                seen.add(reader.indexes.index.snapshot)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    thread = threading.Thread(target=hammer)
    thread.start()
    written = []
    try:
        for _ in range(6):
            with site.sessions() as session:  # a change that leaves the content as it is
                track_id, schema, mv = 7, site.model.schema, writer.binding.model_version_id
                v = writer.queries.vector_of(track_id)
                scores = store.tag_scores_for(
                    session, track_ids=[track_id], tags=schema.tags, model_version_id=mv
                )[track_id]
                put_embedding(
                    session,
                    track_id=track_id,
                    model_version_id=mv,
                    vector=v,
                    windows=v[None, :],
                    window_seconds=3.0,
                    tag_scores=scores,
                    tag_concepts={t: schema.concept_of_tag(t) for t in schema.tags},
                )
            path = writer.indexes.compact()
            assert path is not None
            written.append(path)
            deadline = time.monotonic() + 30
            while path not in seen:  # the hammering thread's syncs swap it, then it queries it
                assert time.monotonic() < deadline, "reader never swapped"
                assert thread.is_alive(), errors
                time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == [] and wrong == []
    assert len(set(written)) == 6 and set(written) <= seen


def test_admin_snapshot_needs_the_api_key(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(tmp_path, database_url, index_mmap=True, index_delta_max=100)
    with TestClient(create_app(settings)) as client:
        assert client.post("/admin/snapshot").status_code == 401
        r = client.post("/admin/snapshot", headers={"X-API-Key": "wrong"})
        assert r.status_code == 403
        r = client.post("/admin/snapshot", headers={"X-API-Key": API_KEY})
        assert r.status_code == 200, r.text
        body = r.json()
        catalog = client.app.state.catalog
        assert body == {
            "written": True,
            "snapshot": catalog.indexes.index.snapshot.name,
            "tracks": 0,
            "mmap": True,
        }
        assert isinstance(catalog.indexes.index, LayeredIndex)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a backup is a file copy
@pytest.mark.parametrize("mmap", [False, True])
def test_a_store_restored_from_an_older_backup_rebuilds_the_indexes(
    tmp_path: Path, database_url: str, engine: Engine, session_factory: sessionmaker[Session],
    mmap: bool,
) -> None:
    """The documented restore: the database comes back from a dump older than the index
    snapshot. Starting on it must serve the store's tracks, not the snapshot's."""
    site = Site(tmp_path, session_factory)
    worker = site.worker(mmap=mmap)
    kept = site.add_tracks(10, worker.binding.model_version_id)
    worker.indexes.save_snapshot()
    db = Path(engine.url.database or "")
    engine.dispose()
    shutil.copyfile(db, tmp_path / "backup.db")
    site.add_tracks(5, worker.binding.model_version_id)  # written after the backup
    worker.indexes.save_snapshot()
    assert worker.queries.count() == 15
    engine.dispose()
    for companion in db.parent.glob(db.name + "-*"):  # SQLite's -wal / -shm, if any
        companion.unlink()
    shutil.copyfile(tmp_path / "backup.db", db)  # the restore
    restarted = site.worker(mmap=mmap)
    assert restarted.queries.count() == 10
    assert restarted.indexes.index.ids().tolist() == sorted(kept)
    q = site.vector()
    _, hits = restarted.queries.similar(q, k=15)
    assert {h.track.id for h in hits} == set(kept)
