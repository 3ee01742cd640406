"""Fingerprints in the store: written with the track, looked up by hash, replaced, versioned,
deleted with the track, and refused when malformed; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from model.fingerprint import HASH_BITS, VERSION, Fingerprint
from service import store
from service.db import downgrade, upgrade
from service.errors import InvalidValue, TrackNotFound
from tests.utils.db import count_rows, create_track, model_version, table_names, track_fields


def fingerprint_of(seed: int, n: int = 500, version: int = VERSION) -> Fingerprint:
    rng = np.random.default_rng(seed)
    return Fingerprint(hashes=rng.integers(0, 1 << HASH_BITS, n).astype(np.int32),
                       times=np.sort(rng.integers(0, 10_000, n)).astype(np.int32), version=version)


def rows(found: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    return set(zip(*(a.tolist() for a in found), strict=True))


def expected_rows(track_id: int, fp: Fingerprint, wanted: set[int]) -> set[tuple[int, int, int]]:
    return {(h, track_id, t) for h, t in zip(fp.hashes.tolist(), fp.times.tolist(), strict=True)
            if h in wanted}


def test_a_track_is_stored_with_its_fingerprint_and_found_by_hash(session: Session) -> None:
    mv = model_version(session)
    fps = {n: fingerprint_of(n) for n in (1, 2)}
    ids = {n: create_track(session, **track_fields(n, mv.id), fingerprint=fps[n])[0].id
           for n in fps}
    assert count_rows(session, "fingerprint_hashes") == 1000
    assert store.fingerprint_version(session, track_id=ids[1]) == VERSION
    wanted = set(fps[1].hashes[:50].tolist()) | set(fps[2].hashes[-7:].tolist()) | {12345}
    found = store.lookup_hashes(session, hashes=np.array(sorted(wanted)), version=VERSION)
    assert rows(found) == expected_rows(ids[1], fps[1], wanted) | expected_rows(ids[2], fps[2],
                                                                                 wanted)
    assert all(a.dtype == np.int64 for a in found)
    assert count_rows(session, "track_fingerprints", version=VERSION) == 2


def test_lookup_of_nothing_and_of_many_hashes(session: Session) -> None:
    mv = model_version(session)
    fp = fingerprint_of(3, n=3000)
    tid = create_track(session, **track_fields(1, mv.id), fingerprint=fp)[0].id
    nothing = store.lookup_hashes(session, hashes=np.zeros(0, np.int64), version=VERSION)
    assert rows(nothing) == set()
    # More hashes than one IN list holds: looked up in chunks.
    found = store.lookup_hashes(session, hashes=fp.hashes, version=VERSION)
    assert rows(found) == expected_rows(tid, fp, set(fp.hashes.tolist()))


def test_other_versions_are_never_returned(session: Session) -> None:
    mv = model_version(session)
    old = fingerprint_of(4, version=VERSION + 1)
    tid = create_track(session, **track_fields(1, mv.id), fingerprint=old)[0].id
    assert rows(store.lookup_hashes(session, hashes=old.hashes, version=VERSION)) == set()
    assert store.fingerprint_version(session, track_id=tid) == VERSION + 1
    assert count_rows(session, "track_fingerprints", version=VERSION) == 0


def test_put_fingerprint_adds_or_replaces(session: Session) -> None:
    mv = model_version(session)
    tid = create_track(session, **track_fields(1, mv.id))[0].id
    assert store.fingerprint_version(session, track_id=tid) is None
    first, second = fingerprint_of(5), fingerprint_of(6, n=20)
    store.put_fingerprint(session, track_id=tid, fingerprint=first)
    assert count_rows(session, "fingerprint_hashes", track_id=tid) == 500
    store.put_fingerprint(session, track_id=tid, fingerprint=second)
    assert count_rows(session, "fingerprint_hashes", track_id=tid) == 20
    assert rows(store.lookup_hashes(session, hashes=first.hashes, version=VERSION)) <= \
        expected_rows(tid, second, set(first.hashes.tolist()))


def test_a_deleted_track_takes_its_fingerprint_with_it(session: Session) -> None:
    mv = model_version(session)
    keep = create_track(session, **track_fields(1, mv.id), fingerprint=fingerprint_of(7))
    gone = create_track(session, **track_fields(2, mv.id), fingerprint=fingerprint_of(8))
    store.delete_track(session, track_id=gone[0].id)
    assert count_rows(session, "track_fingerprints") == 1
    assert count_rows(session, "fingerprint_hashes") == 500
    assert count_rows(session, "fingerprint_hashes", track_id=keep[0].id) == 500


def test_put_fingerprint_of_a_missing_track(session: Session) -> None:
    with pytest.raises(TrackNotFound):
        store.put_fingerprint(session, track_id=999, fingerprint=fingerprint_of(9))
    assert count_rows(session, "track_fingerprints") == 0


@pytest.mark.parametrize(
    ("hashes", "times", "what"),
    [
        ([1, 2], [0], "one time per hash"),
        ([-1], [0], "must be in"),
        ([1 << HASH_BITS], [0], "must be in"),
        ([1], [-5], "32-bit frame index"),
        ([1], [1 << 40], "32-bit frame index"),
    ],
)
def test_malformed_fingerprints_are_refused_and_nothing_is_written(
    session: Session, hashes: list[int], times: list[int], what: str
) -> None:
    mv = model_version(session)
    bad = Fingerprint(hashes=np.array(hashes, np.int64), times=np.array(times, np.int64))
    with pytest.raises(InvalidValue, match=what):
        create_track(session, **track_fields(1, mv.id), fingerprint=bad)
    assert count_rows(session, "tracks") == 0
    assert count_rows(session, "track_fingerprints") == 0


def test_downgrade_to_0002_and_back_keeps_the_tracks(empty_database_url: str) -> None:
    from service.db import make_engine, make_session_factory

    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with make_session_factory(engine)() as session:
            mv = model_version(session)
            create_track(session, **track_fields(1, mv.id), fingerprint=fingerprint_of(1))
        downgrade(empty_database_url, "0002")
        assert {"track_fingerprints", "fingerprint_hashes"}.isdisjoint(
            table_names(empty_database_url))
        upgrade(empty_database_url)
        with make_session_factory(engine)() as session:
            assert store.count_tracks(session) == 1
            assert count_rows(session, "track_fingerprints") == 0
            tid = store.list_tracks(session)[0].id
            store.put_fingerprint(session, track_id=tid, fingerprint=fingerprint_of(2))
            assert store.fingerprint_version(session, track_id=tid) == VERSION
    finally:
        engine.dispose()


def test_refresh_statistics_analyzes_the_fingerprint_tables(session: Session) -> None:
    mv = model_version(session)
    fp = fingerprint_of(10)
    tid = create_track(session, **track_fields(1, mv.id), fingerprint=fp)[0].id
    store.refresh_statistics(session)
    if session.get_bind().dialect.name == "postgresql":
        analyzed = session.execute(text(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'fingerprint_hashes' "
            "AND schemaname = current_schema() AND last_analyze IS NOT NULL "
            "AND last_vacuum IS NOT NULL")).scalar_one()
        assert analyzed == 1  # vacuumed too: the pages are all-visible, index-only scans work
    # Lookups are unchanged (one array parameter on PostgreSQL, IN lists on SQLite).
    found = store.lookup_hashes(session, hashes=fp.hashes[:10], version=VERSION)
    assert rows(found) == expected_rows(tid, fp, set(fp.hashes[:10].tolist()))


def test_fingerprint_extent_counts_the_tracks_and_seconds_of_one_version(
    session: Session,
) -> None:
    mv = model_version(session)
    assert store.fingerprint_extent(session, version=VERSION) == (0, 0.0)
    create_track(session, **track_fields(1, mv.id, n_windows=4), fingerprint=fingerprint_of(1))
    create_track(session, **track_fields(2, mv.id, n_windows=10), fingerprint=fingerprint_of(2))
    create_track(session, **track_fields(3, mv.id, n_windows=7))  # no fingerprint
    create_track(session, **track_fields(4, mv.id, n_windows=5),
                 fingerprint=fingerprint_of(4, version=VERSION + 1))
    assert store.fingerprint_extent(session, version=VERSION) == (2, pytest.approx(42.0))
    assert store.fingerprint_extent(session, version=VERSION + 1) == (1, pytest.approx(15.0))


def test_count_hashes_between_counts_one_tracks_anchors_in_a_range(session: Session) -> None:
    mv = model_version(session)
    fps = {n: fingerprint_of(n) for n in (1, 2)}
    ids = {n: create_track(session, **track_fields(n, mv.id), fingerprint=fps[n])[0].id
           for n in fps}
    for n, (start, stop) in itertools.product(fps, [(0, 10_000), (1234, 5678), (70, 70)]):
        expected = int(((fps[n].times >= start) & (fps[n].times < stop)).sum())
        assert store.count_hashes_between(session, track_id=ids[n], start=start,
                                          stop=stop) == expected
    assert store.count_hashes_between(session, track_id=999, start=0, stop=10_000) == 0


def test_sqlite_looks_hashes_up_in_the_covering_index_alone(session: Session) -> None:
    """Migration 0005: the look-up's rows come from ix_fingerprint_hashes_lookup, never
    from the table (one random read per row before)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's query plan; PostgreSQL's depends on its statistics")
    plan = " ".join(str(row[-1]) for row in session.execute(text(
        "EXPLAIN QUERY PLAN SELECT hash, track_id, time FROM fingerprint_hashes "
        "WHERE hash IN (1, 2, 3)")).all())
    assert "COVERING INDEX ix_fingerprint_hashes_lookup" in plan, plan
