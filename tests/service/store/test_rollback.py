"""A write that fails part-way leaves nothing behind, and the session stays usable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from service import store
from service.errors import ExternalIdConflict, TagConceptConflict
from service.models import Embedding, Track
from tests.utils.db import STORE_TABLES, count_rows, create_track, model_version, track_fields


class Injected(RuntimeError):
    pass


@pytest.fixture
def inserted_tracks() -> Iterator[list[int]]:
    """Ids of track rows INSERTed (even if later rolled back) while the test runs."""
    seen: list[int] = []

    def record(_mapper: object, _conn: object, target: Track) -> None:
        seen.append(target.id)

    event.listen(Track, "after_insert", record)
    yield seen
    event.remove(Track, "after_insert", record)


@pytest.fixture
def failing_embedding_insert() -> Iterator[None]:
    def boom(_mapper: object, _conn: object, _target: Embedding) -> None:
        raise Injected("embedding insert failed")

    event.listen(Embedding, "before_insert", boom)
    yield
    event.remove(Embedding, "before_insert", boom)


def _counts(session: Session) -> dict[str, int]:
    return {t: count_rows(session, t) for t in sorted(STORE_TABLES - {"store_state"})}


def test_failure_after_the_track_insert_rolls_everything_back(
    session: Session, inserted_tracks: list[int], failing_embedding_insert: None
) -> None:
    mv = model_version(session)
    before = _counts(session)
    with pytest.raises(Injected):
        create_track(session, **track_fields(1, mv.id))
    assert len(inserted_tracks) == 1  # the track row did reach the database
    assert _counts(session) == before
    assert store.latest_seq(session) == 0
    assert (
        store.find_track_by_hash(session, content_hash=track_fields(1, mv.id)["content_hash"])
        is None
    )


def test_session_is_usable_after_a_failed_create(
    session: Session, inserted_tracks: list[int]
) -> None:
    mv = model_version(session)
    create_track(session, **track_fields(1, mv.id))
    clash = track_fields(2, mv.id) | {
        "tag_concepts": {"rock": "mood", "jazz": "genre", "calm": "mood"}
    }
    with pytest.raises(TagConceptConflict):  # raised after track and vectors were added
        create_track(session, **clash)
    assert len(inserted_tracks) == 2
    assert store.count_tracks(session) == 1
    assert count_rows(session, "embeddings") == 1
    assert count_rows(session, "track_tags") == 3
    assert store.latest_seq(session) == 1
    track, created = create_track(session, **track_fields(3, mv.id))
    assert created
    assert [e.seq for e in store.events_since(session, after_seq=0)] == [1, 2]
    assert store.get_embedding(session, track_id=track.id, model_version_id=mv.id).seq == 2


def test_conflict_under_the_lock_gives_back_the_sequence_number(session: Session) -> None:
    mv = model_version(session)
    create_track(session, **track_fields(1, mv.id) | {"external_id": "x"})
    with pytest.raises(ExternalIdConflict):
        create_track(session, **track_fields(2, mv.id) | {"external_id": "x"})
    assert store.latest_seq(session) == 1
    _, created = create_track(session, **track_fields(2, mv.id))
    assert created and store.latest_seq(session) == 2


def test_failure_at_commit_keeps_the_deleted_track(session: Session) -> None:
    mv = model_version(session)
    track_id = create_track(session, **track_fields(1, mv.id))[0].id

    def boom(_session: Session) -> None:
        raise Injected("commit failed")

    event.listen(session, "before_commit", boom)
    try:
        with pytest.raises(Injected):
            store.delete_track(session, track_id=track_id)
    finally:
        event.remove(session, "before_commit", boom)
    session.expunge_all()
    assert store.get_track(session, track_id=track_id).id == track_id
    assert count_rows(session, "embeddings", track_id=track_id) == 1
    assert count_rows(session, "track_tags", track_id=track_id) == 3
    assert store.latest_seq(session) == 1
    assert [e.op for e in store.events_since(session, after_seq=0)] == ["add"]
