"""Migration 0002 on a store that already holds data (SQLite and PostgreSQL).

Rows are written at revision 0001 with plain SQL (the ORM describes head, not 0001), then
the chain is walked 0001 -> 0002 -> 0001 -> 0002 and every row is checked at each step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from service.db import current_revision, downgrade, make_engine, make_session_factory, upgrade
from tests.service.store.test_migrations import schema_diff
from tests.utils.db import content_hash, create_track, model_version, track_fields

CREATED = [
    dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 7, 8, 9, 10, tzinfo=dt.UTC),
    dt.datetime(2025, 11, 12, 13, 14, 15, tzinfo=dt.UTC),
]
VECTORS = [np.full(4, i + 1, np.float32).tobytes() for i in range(3)]


def _stamp(engine: Engine, value: dt.datetime) -> Any:
    """How 0001's ``created`` column takes a timestamp on this backend."""
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def seed_0001(engine: Engine) -> None:
    """Three tracks with embeddings, tags, events, as a 0001 store holds them; the last is
    then deleted, so the largest id ever used (3) is no longer in the table."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO model_versions (id, name, checkpoint_sha256, dim, concept_schema, "
                "created) VALUES (1, 'v1', :sha, 4, :schema, :c)"
            ),
            {"sha": "a" * 64, "schema": '{"concepts": {}}', "c": _stamp(engine, CREATED[0])},
        )
        conn.execute(text("INSERT INTO tags (id, name, concept) VALUES (1, 'rock', 'genre')"))
        for i, created in enumerate(CREATED, start=1):
            _seed_track(conn, engine, i, created)
        conn.execute(text("DELETE FROM tracks WHERE id = 3"))
        conn.execute(
            text("INSERT INTO index_events VALUES (4, 3, 'remove', :c)"),
            {"c": _stamp(engine, CREATED[2])},
        )
        conn.execute(text("UPDATE store_state SET seq = 4"))
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for table, last in (("model_versions", 1), ("tags", 1), ("tracks", 3)):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {last})")
                )


def _seed_track(conn: Any, engine: Engine, i: int, created: dt.datetime) -> None:
    c = _stamp(engine, created)
    conn.execute(
        text(
            "INSERT INTO tracks (id, title, artist, artist_key, duration_seconds, source, "
            "content_hash, created) VALUES (:i, :t, 'Ann', 'ann', 3.5, 'x.flac', :h, :c)"
        ),
        {"i": i, "t": f"Track {i}", "h": content_hash(i), "c": c},
    )
    conn.execute(
        text(
            "INSERT INTO embeddings (track_id, model_version_id, vector, windows, n_windows, "
            "window_seconds, hop_seconds, seq, created) VALUES (:i, 1, :v, :v, 1, 3, 3, :i, :c)"
        ),
        {"i": i, "v": VECTORS[i - 1], "c": c},
    )
    conn.execute(text("INSERT INTO track_tags VALUES (:i, 1, 1, :s)"), {"i": i, "s": i / 10})
    conn.execute(text("INSERT INTO index_events VALUES (:i, :i, 'add', :c)"), {"i": i, "c": c})


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the 0001 tables hold (0001's columns only), in a stable order."""
    queries = {
        "tracks": "SELECT id, title, artist, duration_seconds, content_hash FROM tracks",
        "embeddings": "SELECT track_id, vector, seq FROM embeddings ORDER BY track_id",
        "track_tags": "SELECT track_id, tag_id, score FROM track_tags ORDER BY track_id",
        "index_events": "SELECT seq, track_id, op FROM index_events ORDER BY seq",
        "store_state": "SELECT id, seq FROM store_state",
    }
    with engine.connect() as conn:
        return {
            name: [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in conn.execute(text(sql + (" ORDER BY id" if name == "tracks" else "")))
            ]
            for name, sql in queries.items()
        }


def new_columns(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, isrc, year, created, updated FROM tracks ORDER BY id"))
        return [tuple(r) for r in rows]


def _as_utc(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@pytest.fixture
def seeded(empty_database_url: str) -> Iterator[tuple[str, Engine]]:
    """A store at revision 0001 holding the rows of :func:`seed_0001`, and its engine."""
    upgrade(empty_database_url, "0001")
    engine = make_engine(empty_database_url)
    try:
        seed_0001(engine)
        yield empty_database_url, engine
    finally:
        engine.dispose()


def test_upgrade_keeps_data_and_backfills_updated(seeded: tuple[str, Engine]) -> None:
    url, engine = seeded
    before = snapshot(engine)
    upgrade(url, "0002")
    assert current_revision(url) == "0002"
    assert snapshot(engine) == before
    rows = new_columns(engine)
    assert [(r[0], r[1], r[2]) for r in rows] == [(1, None, None), (2, None, None)]
    assert [_as_utc(r[4]) for r in rows] == CREATED[:2]  # backfilled from created
    assert [_as_utc(r[3]) for r in rows] == CREATED[:2]
    upgrade(url)  # on to head: the later migrations (0003, fingerprints) keep the rows too
    assert snapshot(engine) == before
    assert schema_diff(url) == []


def test_downgrade_keeps_rows_and_upgrade_again(seeded: tuple[str, Engine]) -> None:
    url, engine = seeded
    before = snapshot(engine)
    upgrade(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE tracks SET isrc = 'USRC17607839', year = 1976 WHERE id = 1"))
    downgrade(url, "0001")
    assert current_revision(url) == "0001"
    assert snapshot(engine) == before
    with engine.connect() as conn:
        columns = conn.execute(text("SELECT * FROM tracks")).keys()
    assert {"isrc", "year", "updated"}.isdisjoint(columns)
    upgrade(url)
    assert snapshot(engine) == before
    assert [_as_utc(r[4]) for r in new_columns(engine)] == CREATED[:2]
    assert schema_diff(url) == []


def test_ids_of_deleted_tracks_are_not_reused_after_upgrade(seeded: tuple[str, Engine]) -> None:
    """Track ids are index ids: SQLite's table copy must keep the AUTOINCREMENT mark (3)."""
    url, engine = seeded
    upgrade(url)
    with make_session_factory(engine)() as session:
        mv = model_version(session, dim=8)
        track, created = create_track(session, **track_fields(9, mv.id))
    assert created and track.id == 4


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE tracks SET year = 1859 WHERE id = 1",
        "UPDATE tracks SET year = 2101 WHERE id = 1",
        "UPDATE tracks SET isrc = 'USRC1760783' WHERE id = 1",
        "UPDATE tracks SET updated = NULL WHERE id = 1",
        "UPDATE tracks SET isrc = 'USRC17607839'",  # two rows, one ISRC
        "UPDATE tracks SET duration_seconds = -1 WHERE id = 1",  # 0001's check survived
    ],
)
def test_migrated_constraints_hold(seeded: tuple[str, Engine], sql: str) -> None:
    url, engine = seeded
    upgrade(url)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(sql))
    with engine.begin() as conn:  # NULL ISRCs do not collide; in-range years are fine
        conn.execute(text("UPDATE tracks SET isrc = NULL, year = 1860"))
