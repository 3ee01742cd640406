"""Tracks, model versions and tag scores: create, read, delete, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from service import store
from service.errors import (
    ExternalIdConflict,
    InvalidValue,
    ModelVersionConflict,
    ModelVersionNotFound,
    TagConceptConflict,
    TrackNotFound,
    UnknownTag,
)
from tests.utils.db import DIM, content_hash, count_rows, create_track, model_version, track_fields


def test_create_then_get(session: Session) -> None:
    mv = model_version(session)
    fields = track_fields(1, mv.id)
    track, created = create_track(session, **fields)
    assert created
    session.expunge_all()  # read back from the database, not the identity map
    got = store.get_track(session, track_id=track.id)
    assert (got.title, got.artist, got.album, got.source) == (
        "Track 1",
        "Artist 1",
        "Album",
        "/music/1.flac",
    )
    assert got.duration_seconds == 9.0
    assert got.content_hash == content_hash(1)
    assert got.external_id is None
    assert got.created.tzinfo is not None
    assert got.created.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.UTC) - got.created).total_seconds()) < 60
    assert store.count_tracks(session) == 1


def test_get_missing_track_raises_with_the_id(session: Session) -> None:
    with pytest.raises(TrackNotFound) as e:
        store.get_track(session, track_id=12345)
    assert e.value.track_id == 12345
    assert str(e.value) == "track 12345 not found"


def test_duplicate_hash_returns_existing_track_and_writes_nothing(session: Session) -> None:
    mv = model_version(session)
    first, created = create_track(session, **track_fields(1, mv.id))
    assert created
    seq = store.latest_seq(session)
    again = track_fields(1, mv.id, seed=99) | {
        "title": "Other title",
        "content_hash": content_hash(1).upper(),  # same digest, other spelling
    }
    second, created = create_track(session, **again)
    assert not created
    assert second.id == first.id
    assert second.title == "Track 1"
    assert store.latest_seq(session) == seq
    assert count_rows(session, "tracks") == 1
    assert count_rows(session, "index_events") == 1
    vec = store.get_vector(session, track_id=first.id, model_version_id=mv.id)
    assert np.array_equal(vec, track_fields(1, mv.id)["vector"])


def test_external_id_conflict(session: Session) -> None:
    mv = model_version(session)
    a, _ = create_track(session, **track_fields(1, mv.id) | {"external_id": "isrc-1"})
    with pytest.raises(ExternalIdConflict) as e:
        create_track(session, **track_fields(2, mv.id) | {"external_id": "isrc-1"})
    assert (e.value.external_id, e.value.track_id) == ("isrc-1", a.id)
    assert store.count_tracks(session) == 1
    assert store.latest_seq(session) == 1
    assert store.find_track_by_external_id(session, external_id="isrc-1").id == a.id


def test_delete_cascades_to_vectors_and_tag_scores(session: Session) -> None:
    mv = model_version(session)
    a, _ = create_track(session, **track_fields(1, mv.id))
    b, _ = create_track(session, **track_fields(2, mv.id))
    assert count_rows(session, "embeddings", track_id=a.id) == 1
    assert count_rows(session, "track_tags", track_id=a.id) == 3
    seq = store.delete_track(session, track_id=a.id)
    assert seq == 3
    assert count_rows(session, "tracks", id=a.id) == 0
    assert count_rows(session, "embeddings", track_id=a.id) == 0
    assert count_rows(session, "track_tags", track_id=a.id) == 0
    # the other track and the shared tags are untouched
    assert count_rows(session, "embeddings", track_id=b.id) == 1
    assert count_rows(session, "track_tags", track_id=b.id) == 3
    assert count_rows(session, "tags") == 3
    with pytest.raises(TrackNotFound):
        store.get_track(session, track_id=a.id)


def test_delete_missing_track_raises_and_allocates_nothing(session: Session) -> None:
    with pytest.raises(TrackNotFound) as e:
        store.delete_track(session, track_id=7)
    assert e.value.track_id == 7
    assert store.latest_seq(session) == 0
    assert count_rows(session, "index_events") == 0


def test_track_ids_are_never_reused(session: Session) -> None:
    """Ids are index ids: deleting the newest track must not free its id."""
    mv = model_version(session)
    a, _ = create_track(session, **track_fields(1, mv.id))
    store.delete_track(session, track_id=a.id)
    b, _ = create_track(session, **track_fields(2, mv.id))
    assert b.id > a.id


def test_reupload_after_delete_is_a_new_track(session: Session) -> None:
    mv = model_version(session)
    a, _ = create_track(session, **track_fields(1, mv.id))
    store.delete_track(session, track_id=a.id)
    b, created = create_track(session, **track_fields(1, mv.id))
    assert created and b.id != a.id


def test_list_count_and_tracks_by_ids(session: Session) -> None:
    mv = model_version(session)
    ids = [create_track(session, **track_fields(n, mv.id))[0].id for n in range(1, 8)]
    assert [t.id for t in store.list_tracks(session)] == ids
    assert [t.id for t in store.list_tracks(session, offset=2, limit=3)] == ids[2:5]
    # "Artist n % 3": n = 1, 4, 7 -> "Artist 1"
    assert [t.id for t in store.list_tracks(session, artist="artist 1")] == [ids[0], ids[3], ids[6]]
    assert store.count_tracks(session, artist="ARTIST 1") == 3
    wanted = [ids[4], 999_999, ids[0], ids[4], ids[2]]
    assert [t.id for t in store.tracks_by_ids(session, track_ids=wanted)] == [
        ids[4],
        ids[0],
        ids[4],
        ids[2],
    ]
    assert store.tracks_by_ids(session, track_ids=[]) == []


def test_track_ids_by_artist_is_case_and_width_insensitive(session: Session) -> None:
    mv = model_version(session)
    a, _ = create_track(session, **track_fields(1, mv.id) | {"artist": "Björk"})
    create_track(session, **track_fields(2, mv.id) | {"artist": "Bjork"})
    c, _ = create_track(session, **track_fields(3, mv.id) | {"artist": "ＢＪÖＲＫ "})
    ids = store.track_ids_by_artist(session, artist="björk")
    assert ids.dtype == np.int64
    assert ids.tolist() == [a.id, c.id]
    assert store.track_ids_by_artist(session, artist="nobody").shape == (0,)


def test_tag_scores_by_concept_and_tag_filter(session: Session) -> None:
    mv = model_version(session)
    scores = [(0.9, 0.2), (0.5, 0.7), (0.1, 0.7)]
    ids = []
    for n, (rock, jazz) in enumerate(scores, start=1):
        fields = track_fields(n, mv.id) | {"tag_scores": {"rock": rock, "jazz": jazz, "calm": 0.3}}
        ids.append(create_track(session, **fields)[0].id)
    assert store.tag_scores_by_concept(session, track_id=ids[1], model_version_id=mv.id) == {
        "genre": {"jazz": 0.7, "rock": 0.5},
        "mood": {"calm": 0.3},
    }
    got = store.tag_scores_by_concept(session, track_id=ids[0], model_version_id=mv.id)
    assert list(got["genre"]) == ["rock", "jazz"]  # by descending score
    hits = store.track_ids_with_tag(session, tag="rock", model_version_id=mv.id, min_score=0.3)
    assert hits.dtype == np.int64 and hits.tolist() == [ids[0], ids[1]]
    # strictly above the threshold
    hits = store.track_ids_with_tag(session, tag="jazz", model_version_id=mv.id, min_score=0.7)
    assert hits.tolist() == []
    hits = store.track_ids_with_tag(session, tag="jazz", model_version_id=mv.id, min_score=0.69)
    assert hits.tolist() == [ids[1], ids[2]]
    assert (
        store.track_ids_with_tag(
            session, tag="polka", model_version_id=mv.id, min_score=0.0
        ).tolist()
        == []
    )
    with pytest.raises(TrackNotFound):
        store.tag_scores_by_concept(session, track_id=999, model_version_id=mv.id)


def test_tag_scores_need_a_concept(session: Session) -> None:
    mv = model_version(session)
    fields = track_fields(1, mv.id) | {"tag_scores": {"rock": 0.5, "polka": 0.1}}
    with pytest.raises(UnknownTag) as e:
        create_track(session, **fields)
    assert e.value.tag == "polka"
    assert str(e.value) == "unknown tag 'polka'; valid tags: calm, jazz, rock"
    assert store.count_tracks(session) == 0


def test_tag_keeps_its_concept(session: Session) -> None:
    mv = model_version(session)
    create_track(session, **track_fields(1, mv.id))
    fields = track_fields(2, mv.id) | {
        "tag_concepts": {"rock": "mood", "jazz": "genre", "calm": "mood"}
    }
    with pytest.raises(TagConceptConflict) as e:
        create_track(session, **fields)
    assert (e.value.tag, e.value.stored, e.value.given) == ("rock", "genre", "mood")


def test_model_version_get_or_create(session: Session) -> None:
    a = model_version(session)
    b = model_version(session)
    assert a.id == b.id
    assert a.concept_schema["concepts"]["genre"] == ["rock", "jazz"]
    assert store.find_model_version(session, name="test-v1").id == a.id
    assert store.find_model_version(session, name="nope") is None
    with pytest.raises(ModelVersionConflict) as e:
        store.get_or_create_model_version(
            session, name="test-v1", sha256="0" * 64, dim=DIM, schema={}
        )
    assert (e.value.name, e.value.field) == ("test-v1", "checkpoint_sha256")
    with pytest.raises(ModelVersionConflict) as e:
        store.get_or_create_model_version(
            session, name="test-v1", sha256=a.checkpoint_sha256, dim=DIM + 1, schema={}
        )
    assert (e.value.field, e.value.stored, e.value.given) == ("dim", DIM, DIM + 1)
    with pytest.raises(ModelVersionNotFound):
        store.get_model_version(session, model_version_id=a.id + 1)
    with pytest.raises(ModelVersionNotFound):
        create_track(session, **track_fields(1, a.id + 1))


def test_model_version_registered_concurrently(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    """Another process registers the same name between our lookup and our insert."""
    digest = hashlib.sha256(b"race").hexdigest()

    pending: list[str] = []

    def register_elsewhere(*_args: object) -> None:
        while pending:  # once per name, before our first flush
            with session_factory() as other:
                store.get_or_create_model_version(
                    other, name=pending.pop(), sha256=digest, dim=DIM, schema={}
                )

    def elsewhere_first(name: str) -> None:
        pending.append(name)

    event.listen(session, "before_flush", register_elsewhere)

    elsewhere_first("race")
    mv = store.get_or_create_model_version(session, name="race", sha256=digest, dim=DIM, schema={})
    assert count_rows(session, "model_versions") == 1
    assert store.find_model_version(session, name="race").id == mv.id
    # theirs differs from ours: an error, not a silent merge
    elsewhere_first("race2")
    with pytest.raises(ModelVersionConflict) as e:
        store.get_or_create_model_version(
            session, name="race2", sha256=digest, dim=DIM + 1, schema={}
        )
    assert (e.value.field, e.value.stored, e.value.given) == ("dim", DIM, DIM + 1)
    event.remove(session, "before_flush", register_elsewhere)
    assert count_rows(session, "model_versions") == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("content_hash", "abc"),
        ("content_hash", "g" * 64),
        ("duration_seconds", -1.0),
        ("duration_seconds", float("nan")),
        ("window_seconds", 0.0),
        ("hop_seconds", float("inf")),
        ("title", "x" * 501),
        ("source", "s" * 5000),
    ],
)
def test_invalid_values_are_refused(session: Session, field: str, value: object) -> None:
    mv = model_version(session)
    with pytest.raises(InvalidValue) as e:
        create_track(session, **track_fields(1, mv.id) | {field: value})
    assert e.value.reason
    assert store.count_tracks(session) == 0
