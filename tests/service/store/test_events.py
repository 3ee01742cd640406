"""The change log: ordering, exact catch-up of an index snapshot, writers in commit order."""

from __future__ import annotations

import threading

import numpy as np
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from service import store
from tests.utils.db import DIM, create_track, model_version, put_embedding, track_fields


class DictIndex:
    """The smallest index there is: id -> vector. Applies store.Changes as an index would."""

    def __init__(self, ids: np.ndarray, vectors: np.ndarray, seq: int) -> None:
        self.vectors = {int(i): v.copy() for i, v in zip(ids, vectors, strict=True)}
        self.seq = seq

    def apply(self, changes: store.Changes) -> None:
        assert changes.after_seq == self.seq
        for i in changes.remove_ids.tolist():
            self.vectors.pop(i, None)
        for i, v in zip(changes.add_ids.tolist(), changes.add_vectors, strict=True):
            self.vectors[i] = v.copy()
        self.seq = changes.to_seq


def _snapshot(session: Session, model_version_id: int) -> DictIndex:
    seq = store.latest_seq(session)  # read first: the snapshot reflects the store up to here
    ids, vecs = store.load_embeddings(session, model_version_id=model_version_id, max_seq=seq)
    return DictIndex(ids, vecs, seq)


def _assert_same(index: DictIndex, session: Session, model_version_id: int) -> None:
    ids, vecs = store.load_embeddings(session, model_version_id=model_version_id)
    assert sorted(index.vectors) == ids.tolist()
    for i, v in zip(ids.tolist(), vecs, strict=True):
        assert index.vectors[i].tobytes() == v.tobytes()


def test_events_are_numbered_in_order(session: Session) -> None:
    mv = model_version(session)
    assert store.latest_seq(session) == 0
    a, _ = create_track(session, **track_fields(1, mv.id))
    b, _ = create_track(session, **track_fields(2, mv.id))
    store.delete_track(session, track_id=a.id)
    c, _ = create_track(session, **track_fields(3, mv.id))
    events = store.events_since(session, after_seq=0)
    assert [(e.seq, e.track_id, e.op) for e in events] == [
        (1, a.id, "add"),
        (2, b.id, "add"),
        (3, a.id, "remove"),
        (4, c.id, "add"),
    ]
    assert store.latest_seq(session) == 4
    assert [e.seq for e in store.events_since(session, after_seq=2)] == [3, 4]
    assert [e.seq for e in store.events_since(session, after_seq=1, limit=2)] == [2, 3]
    assert store.events_since(session, after_seq=4) == []
    assert all(e.created.tzinfo is not None for e in events)


def test_snapshot_catches_up_exactly(session: Session) -> None:
    mv = model_version(session)
    ids = [create_track(session, **track_fields(n, mv.id))[0].id for n in range(1, 7)]
    index = _snapshot(session, mv.id)
    assert index.seq == 6 and len(index.vectors) == 6
    # after the snapshot: deletes, adds, a re-embedding, an add then delete
    store.delete_track(session, track_id=ids[0])
    store.delete_track(session, track_id=ids[3])
    new = [create_track(session, **track_fields(n, mv.id))[0].id for n in range(7, 10)]
    other = track_fields(50, mv.id)
    put_embedding(
        session,
        track_id=ids[1],
        model_version_id=mv.id,
        vector=other["vector"],
        windows=other["windows"],
        window_seconds=3.0,
    )
    store.delete_track(session, track_id=new[1])
    changes = store.changes_since(session, after_seq=index.seq, model_version_id=mv.id)
    assert changes.to_seq == store.latest_seq(session) == 13
    assert changes.remove_ids.tolist() == sorted([ids[0], ids[3], ids[1], *new])
    assert changes.add_ids.tolist() == sorted([ids[1], new[0], new[2]])
    assert changes.add_vectors.shape == (3, DIM)
    index.apply(changes)
    _assert_same(index, session, mv.id)
    assert index.vectors[ids[1]].tobytes() == other["vector"].tobytes()
    # nothing new: an empty change set
    again = store.changes_since(session, after_seq=index.seq, model_version_id=mv.id)
    assert again.remove_ids.size == again.add_ids.size == 0
    assert again.add_vectors.shape == (0, DIM)


def test_replaying_changes_twice_gives_the_same_index(session: Session) -> None:
    mv = model_version(session)
    create_track(session, **track_fields(1, mv.id))
    index = _snapshot(session, mv.id)
    create_track(session, **track_fields(2, mv.id))
    store.delete_track(session, track_id=1)
    changes = store.changes_since(session, after_seq=index.seq, model_version_id=mv.id)
    index.apply(changes)
    index.seq = changes.after_seq  # a crash before the snapshot's seq was saved
    index.apply(changes)
    _assert_same(index, session, mv.id)


def test_concurrent_writers_get_gapless_sequence_numbers(
    session_factory: sessionmaker[Session],
) -> None:
    """Threads with their own sessions write at once; the log stays exact."""
    with session_factory() as s:
        mv_id = model_version(s).id
    errors: list[BaseException] = []

    def writer(start: int) -> None:
        try:
            with session_factory() as s:
                for n in range(start, start + 5):
                    track, _ = create_track(s, **track_fields(n, mv_id))
                    if n % 2:
                        store.delete_track(s, track_id=track.id)
        except BaseException as e:  # reported by the assert below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(100 * k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with session_factory() as s:
        events = store.events_since(s, after_seq=0)
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert len(events) == 20 + 8  # 20 adds, 8 removes (odd n)
        assert store.latest_seq(s) == len(events)
        adds = {e.track_id: e.seq for e in events if e.op == "add"}
        for track_id in store.load_embeddings(s, model_version_id=mv_id)[0].tolist():
            emb = store.get_embedding(s, track_id=track_id, model_version_id=mv_id)
            assert emb.seq == adds[track_id]


def test_a_writer_waits_for_the_open_one_and_numbers_after_it(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """While another transaction holds the counter, a write blocks, then takes the next seq.

    This is what makes "snapshot reflects seq N" exact: a change numbered N + 1 cannot
    commit before change N does.
    """
    with session_factory() as s:
        mv_id = model_version(s).id
    done = threading.Event()
    result: list[int] = []
    writer_thread: list[int] = []
    asked = threading.Event()  # the writer has sent its counter UPDATE to the database
    released = threading.Event()  # the first transaction has committed
    answered_after_release: list[bool] = []

    def is_writers_counter_update(statement: str) -> bool:
        return threading.get_ident() in writer_thread and "UPDATE store_state" in statement

    def before(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if is_writers_counter_update(statement):
            asked.set()

    def after(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if is_writers_counter_update(statement):
            answered_after_release.append(released.is_set())

    def writer() -> None:
        writer_thread.append(threading.get_ident())
        with session_factory() as s:
            create_track(s, **track_fields(1, mv_id))
            result.append(store.latest_seq(s))
        done.set()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE store_state SET seq = seq + 1 WHERE id = 1"))  # holds it
            thread = threading.Thread(target=writer)
            thread.start()
            assert asked.wait(timeout=30), "the second writer never asked for a number"
            released.set()
            conn.commit()
        thread.join(timeout=30)
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
    assert done.is_set()
    # Its UPDATE was answered only once the first transaction had committed: it waited.
    assert answered_after_release == [True]
    assert result == [2]
    with session_factory() as s:
        assert [(e.seq, e.op) for e in store.events_since(s, after_seq=0)] == [(2, "add")]
