"""Text with SQL metacharacters and unusual Unicode is stored and matched literally."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from service import store
from service.errors import InvalidValue
from tests.utils.db import (
    STORE_TABLES,
    content_hash,
    count_rows,
    create_track,
    model_version,
    table_names,
    track_fields,
)

NASTY = [
    "O'Brien",
    'say "hi"',
    "'; DROP TABLE tracks; --",
    "Robert'); DELETE FROM embeddings WHERE ('1'='1",
    "back\\slash \\' \\\\",
    "100% _pure_ [brackets] {braces} $1 :name ?",
    "Sigur Rós — Ágætis byrjun",
    "日本語のタイトル",
    "עברית ‏right-to-left‏",
    "emoji 🎸🥁 and a combining e\u0301",
    "tab\tnew\nline\r",
]


@pytest.mark.parametrize("value", NASTY)
def test_metacharacters_round_trip(session: Session, value: str) -> None:
    mv = model_version(session)
    fields = track_fields(1, mv.id) | {
        "title": value,
        "artist": value,
        "album": value,
        "external_id": value,
        "source": value,
    }
    track, _ = create_track(session, **fields)
    session.expunge_all()
    got = store.get_track(session, track_id=track.id)
    assert (got.title, got.artist, got.album, got.external_id, got.source) == (value,) * 5
    assert store.find_track_by_external_id(session, external_id=value).id == track.id
    assert store.track_ids_by_artist(session, artist=value).tolist() == [track.id]
    assert [t.id for t in store.list_tracks(session, artist=value)] == [track.id]
    # nothing was executed as SQL: every table is there, holding exactly this track
    assert table_names(str(session.get_bind().url.render_as_string(hide_password=False))) >= (
        STORE_TABLES
    )
    assert (count_rows(session, "tracks"), count_rows(session, "embeddings")) == (1, 1)


def test_wildcards_in_artist_filter_match_only_themselves(session: Session) -> None:
    mv = model_version(session)
    artists = ["100%_Pure", "100xyPure", "100%Pure", "A_B", "AxB", "%", "_"]
    ids = {}
    for n, artist in enumerate(artists, start=1):
        ids[artist] = create_track(session, **track_fields(n, mv.id) | {"artist": artist})[
            0
        ].id
    for artist in artists:
        assert store.track_ids_by_artist(session, artist=artist).tolist() == [ids[artist]]
        assert store.count_tracks(session, artist=artist) == 1
    assert store.track_ids_by_artist(session, artist="100%").tolist() == []
    assert store.track_ids_by_artist(session, artist="%Pure").tolist() == []
    assert store.track_ids_by_artist(session, artist="A%").tolist() == []


def test_tag_names_with_metacharacters(session: Session) -> None:
    mv = model_version(session)
    tag = "rock'n'roll; DROP TABLE tags; --"
    fields = track_fields(1, mv.id) | {
        "tag_scores": {tag: 0.8, "r%": 0.9},
        "tag_concepts": {tag: "genre", "r%": "genre"},
    }
    track, _ = create_track(session, **fields)
    assert store.track_ids_with_tag(
        session, tag=tag, model_version_id=mv.id, min_score=0.5
    ).tolist() == [track.id]
    assert (
        store.track_ids_with_tag(session, tag="r_", model_version_id=mv.id, min_score=0.0).tolist()
        == []
    )
    assert store.tag_scores_by_concept(session, track_id=track.id, model_version_id=mv.id) == {
        "genre": {"r%": 0.9, tag: 0.8}
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "nul\x00byte"), ("artist", "lone \ud800 surrogate"), ("external_id", "\x00")],
)
def test_text_one_backend_cannot_store_is_refused_on_both(
    session: Session, field: str, value: str
) -> None:
    mv = model_version(session)
    with pytest.raises(InvalidValue) as e:
        create_track(session, **track_fields(1, mv.id) | {field: value})
    assert e.value.value == value
    assert store.count_tracks(session) == 0
    assert store.find_track_by_hash(session, content_hash=content_hash(1)) is None
