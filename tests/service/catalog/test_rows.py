"""service/catalog/rows.py: the hits' track rows and tag scores come from memory once answered,
and stay current with writes from this process and from others (SQLite and PostgreSQL).

Each ``Catalog`` plays one serving process on a shared store, as in test_lifecycle.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from layout.facets import to_full_space
from model.checkpoint import load_checkpoint
from service import store
from service.catalog import Catalog, CatalogConfig
from service.catalog.rows import RowCache, TrackRow
from tests.utils.db import create_track, put_embedding
from tests.utils.models import tiny_checkpoint


class Site:
    def __init__(self, tmp_path: Path, sessions: sessionmaker[Session]) -> None:
        self.model = load_checkpoint(tiny_checkpoint(tmp_path / "model.pt"))
        self.sessions = sessions
        self.index_dir = tmp_path / "indexes"
        self.rng = np.random.default_rng(0)
        self.opened: list[Catalog] = []
        self.n = 0

    def host(self) -> Catalog:
        """A host that follows the store when told to (``indexes.sync(force=True)``)."""
        config = CatalogConfig(index_dir=self.index_dir, sync_interval=3600.0)
        catalog = Catalog(self.model, self.sessions, config)
        catalog.open()
        self.opened.append(catalog)
        return catalog

    def fields(self, model_version_id: int) -> dict[str, Any]:
        schema = self.model.schema
        v = to_full_space(self.rng.standard_normal((1, schema.dim)), schema)[0]
        return dict(model_version_id=model_version_id, vector=v, windows=v[None, :],
                    window_seconds=3.0,
                    tag_scores={t: float(self.rng.random()) for t in schema.tags},
                    tag_concepts={t: schema.concept_of_tag(t) for t in schema.tags})

    def add(self, model_version_id: int, **meta: Any) -> int:
        """Store a track as another process would (only the change log tells the hosts)."""
        self.n += 1
        with self.sessions() as session:
            track, _ = create_track(session, content_hash=f"{self.n:064x}",
                                    source=f"{self.n}.flac", duration_seconds=3.0,
                                    title=f"t{self.n}", **meta, **self.fields(model_version_id))
            return int(track.id)


@pytest.fixture
def site(tmp_path: Path, session_factory: sessionmaker[Session]) -> Iterator[Site]:
    s = Site(tmp_path, session_factory)
    yield s
    for catalog in s.opened:
        catalog.close()


class StatementCounter:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.engine = sessions.kw["bind"]
        self.count = 0

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        self.count += 1


def stored_scores(site: Site, catalog: Catalog, track_id: int) -> dict[str, float]:
    with site.sessions() as session:
        return store.tag_scores_for(session, track_ids=[track_id],
                                    tags=list(site.model.schema.tags),
                                    model_version_id=catalog.binding.model_version_id)[track_id]


def test_answered_hits_need_no_sql_and_match_the_store(site: Site) -> None:
    a = site.host()
    mv = a.binding.model_version_id
    ids = [site.add(mv, artist=f"Artist {i}") for i in range(6)]
    a.indexes.sync(force=True)
    query = a.queries.vector_of(ids[0])
    _, first = a.queries.similar(query, k=4)
    with StatementCounter(site.sessions) as sql:
        _, again = a.queries.similar(query, k=4)
        tags = a.queries.tag_scores([h.track.id for h in again], ["rock", "calm"])
        tags = a.queries.tag_scores([h.track.id for h in again], ["rock", "calm"])
    assert [h.track for h in again] == [h.track for h in first]
    assert sql.count == 1  # the scores' first read; the rows, and the scores again: memory
    with site.sessions() as session:
        stored = {t.id: TrackRow.of(t) for t in store.tracks_by_ids(
            session, track_ids=[h.track.id for h in again])}
    assert [h.track for h in again] == [stored[h.track.id] for h in again]
    for h in again:
        every = stored_scores(site, a, h.track.id)
        assert tags[h.track.id] == {"rock": every["rock"], "calm": every["calm"]}
        assert list(tags[h.track.id]) == ["rock", "calm"]  # in the order asked


def test_another_process_re_embedding_or_deleting_is_followed(site: Site) -> None:
    a = site.host()
    mv = a.binding.model_version_id
    ids = [site.add(mv) for _ in range(4)]
    a.indexes.sync(force=True)
    before = a.queries.tag_scores(ids, list(site.model.schema.tags))
    with site.sessions() as session:  # another process re-embeds one and deletes another
        put_embedding(session, track_id=ids[0], **site.fields(mv))
        store.delete_track(session, track_id=ids[1])
    a.indexes.sync(force=True)
    after = a.queries.tag_scores(ids, list(site.model.schema.tags))
    assert after[ids[0]] == stored_scores(site, a, ids[0]) != before[ids[0]]
    assert ids[1] not in after
    assert after[ids[2]] == before[ids[2]]
    _, hits = a.queries.similar(a.queries.vector_of(ids[2]), k=10)
    assert ids[1] not in [h.track.id for h in hits]


def test_this_process_writes_are_seen_at_once(site: Site) -> None:
    a = site.host()
    mv = a.binding.model_version_id
    ids = [site.add(mv) for _ in range(3)]
    a.indexes.sync(force=True)
    a.queries.tag_scores(ids, ["rock"])
    a.recordings.delete(ids[0])
    assert a.indexes.rows.rows(ids).keys() == {ids[1], ids[2]}
    assert ids[0] not in a.queries.tag_scores(ids, ["rock"])


def test_a_read_overlapping_a_write_keeps_nothing(site: Site, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    a = site.host()
    mv = a.binding.model_version_id
    track_id = site.add(mv)
    cache: RowCache = a.indexes.rows

    real = store.tracks_by_ids

    def racing(session: Session, *, track_ids: list[int]) -> list[Any]:
        rows = real(session, track_ids=track_ids)  # read before the write below is seen...
        cache.forget([track_id])  # ...which another thread applies meanwhile
        return rows

    monkeypatch.setattr(store, "tracks_by_ids", racing)
    assert cache.rows([track_id]).keys() == {track_id}  # answered from what was read
    assert len(cache) == 0  # but not kept


def test_least_recently_used_rows_go_first(site: Site) -> None:
    a = site.host()
    mv = a.binding.model_version_id
    ids = [site.add(mv) for _ in range(4)]
    cache = RowCache(a.binding, site.model.schema.tags, max_tracks=2)
    cache.rows(ids[:2])
    cache.rows([ids[0]])  # used again: ids[1] is now the oldest
    cache.rows([ids[2]])
    with StatementCounter(site.sessions) as sql:
        assert cache.rows([ids[0], ids[2]]).keys() == {ids[0], ids[2]}
    assert sql.count == 0
    assert len(cache) == 2
