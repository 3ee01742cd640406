"""Reads of tracks, tag scores and the id sets that filters are built from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Select, false, func, or_, select
from sqlalchemy.orm import Session

from service.errors import TrackNotFound
from service.models import Tag, Track, TrackTag
from service.store.codec import artist_key, as_ids, check_isrc, in_chunks


def get_track(session: Session, *, track_id: int) -> Track:
    """The track with this id; raises TrackNotFound."""
    track = session.get(Track, track_id)
    if track is None:
        raise TrackNotFound(track_id)
    return track


def find_track_by_hash(session: Session, *, content_hash: str) -> Track | None:
    """The track whose audio has this sha256 hex digest, or None."""
    return session.execute(
        select(Track).where(Track.content_hash == content_hash.lower())
    ).scalar_one_or_none()


def find_track_by_external_id(session: Session, *, external_id: str) -> Track | None:
    """The track with this external id, or None."""
    return session.execute(
        select(Track).where(Track.external_id == external_id)
    ).scalar_one_or_none()


def find_track_by_isrc(session: Session, *, isrc: str) -> Track | None:
    """The track with this ISRC (any accepted spelling), or None; raises InvalidValue."""
    return session.execute(select(Track).where(Track.isrc == check_isrc(isrc))).scalar_one_or_none()


def _filtered(
    stmt: Select[Any], artist: str | None, isrc: str | None, q: str | None = None
) -> Select[Any]:
    if artist is not None:
        stmt = stmt.where(Track.artist_key == artist_key(artist))
    if isrc is not None:
        stmt = stmt.where(Track.isrc == check_isrc(isrc))
    if q is not None and q.strip():
        stmt = stmt.where(_matches_text(q.strip()))
    return stmt


def _matches_text(q: str) -> ColumnElement[bool]:
    """Title or artist contains ``q``, ignoring case (ASCII letters only on SQLite, whose
    lower() folds no others), with LIKE's wildcards taken literally."""
    if _unstorable(q):
        return false()
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return or_(Track.title.ilike(pattern, escape="\\"), Track.artist.ilike(pattern, escape="\\"))


def list_tracks(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 100,
    artist: str | None = None,
    isrc: str | None = None,
    q: str | None = None,
) -> list[Track]:
    """Tracks in id order, optionally only those by ``artist`` (matched as :func:`artist_key`),
    with this ``isrc`` (any accepted spelling; raises InvalidValue when malformed), or whose
    title or artist contains ``q`` (case ignored)."""
    stmt = select(Track).order_by(Track.id).offset(offset).limit(limit)
    return list(session.scalars(_filtered(stmt, artist, isrc, q)))


def count_tracks(
    session: Session, *, artist: str | None = None, isrc: str | None = None, q: str | None = None
) -> int:
    """How many tracks there are (by ``artist``, with ``isrc``, matching ``q``, if given)."""
    stmt = select(func.count()).select_from(Track)
    return int(session.execute(_filtered(stmt, artist, isrc, q)).scalar_one())


def tracks_by_ids(session: Session, *, track_ids: Sequence[int]) -> list[Track]:
    """The tracks with these ids, in the order given; ids not in the store are left out."""
    wanted = [int(i) for i in track_ids]
    found: dict[int, Track] = {}
    for chunk in in_chunks(list(dict.fromkeys(wanted))):
        found.update((t.id, t) for t in session.scalars(select(Track).where(Track.id.in_(chunk))))
    return [found[i] for i in wanted if i in found]


def artist_keys(session: Session, *, track_ids: Sequence[int]) -> dict[int, str | None]:
    """{id: the track's artist key (:func:`artist_key`), None without an artist} for the ids
    in the store; ids not in the store are left out."""
    found: dict[int, str | None] = {}
    for chunk in in_chunks(list(dict.fromkeys(int(i) for i in track_ids))):
        stmt = select(Track.id, Track.artist_key).where(Track.id.in_(chunk))
        found.update((int(tid), key) for tid, key in session.execute(stmt))
    return found


def _unstorable(text: str) -> bool:
    """Text that no row holds (writes refuse it, see ``check_text``) and that PostgreSQL
    cannot even take as a parameter: a NUL character, or a lone surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def track_ids_by_artist(session: Session, *, artist: str) -> np.ndarray:
    """Ids (int64, ascending) of the tracks by ``artist``, matched literally after
    :func:`artist_key` (case and Unicode width ignored; no wildcards)."""
    key = artist_key(artist)
    if key is None or _unstorable(key):
        return as_ids([])
    stmt = select(Track.id).where(Track.artist_key == key).order_by(Track.id)
    return as_ids(session.scalars(stmt).all())


def track_ids_matching(
    session: Session,
    *,
    artists: Sequence[str] = (),
    albums: Sequence[str] = (),
    isrcs: Sequence[str] = (),
    year_min: int | None = None,
    year_max: int | None = None,
    duration_min: float | None = None,
    duration_max: float | None = None,
) -> np.ndarray:
    """Ids (int64, ascending) of the tracks that meet every condition given: by one of
    ``artists`` (matched as :func:`artist_key`), on one of ``albums`` (exact text), with one
    of ``isrcs`` (any accepted spelling; raises InvalidValue when malformed), released in
    ``[year_min, year_max]``, lasting ``[duration_min, duration_max]`` seconds. A track
    without the field fails the condition (SQL's NULL comparisons)."""
    conditions = [*_one_of(Track.artist_key, [artist_key(a) or "" for a in artists]),
                  *_one_of(Track.album, albums),
                  *_one_of(Track.isrc, [check_isrc(i) or "" for i in isrcs])]
    if year_min is not None:
        conditions.append(Track.year >= int(year_min))
    if year_max is not None:
        conditions.append(Track.year <= int(year_max))
    if duration_min is not None:
        conditions.append(Track.duration_seconds >= float(duration_min))
    if duration_max is not None:
        conditions.append(Track.duration_seconds <= float(duration_max))
    stmt = select(Track.id).where(*conditions).order_by(Track.id)
    return as_ids(session.scalars(stmt).all())


def _one_of(column: Any, values: Sequence[str]) -> list[ColumnElement[bool]]:
    """``column IN values`` (no condition for no values); values no row can hold (see
    :func:`_unstorable`) are left out, and when none is left nothing matches."""
    if not values:
        return []
    storable = [v for v in dict.fromkeys(values) if not _unstorable(v)]
    return [column.in_(storable) if storable else false()]


def track_ids_with_tag(
    session: Session, *, tag: str, model_version_id: int, min_score: float
) -> np.ndarray:
    """Ids (int64, ascending) of tracks whose score for ``tag`` from this model version is
    strictly above ``min_score``. A tag no track was ever scored for gives no ids."""
    stmt = (
        select(TrackTag.track_id)
        .join(Tag, Tag.id == TrackTag.tag_id)
        .where(
            Tag.name == tag,
            TrackTag.model_version_id == model_version_id,
            TrackTag.score > float(min_score),
        )
        .order_by(TrackTag.track_id)
    )
    return as_ids(session.scalars(stmt).all())


def tag_scores_by_concept(
    session: Session, *, track_id: int, model_version_id: int
) -> dict[str, dict[str, float]]:
    """A track's tag scores from one model version: concept -> {tag: score}, concepts by
    name, tags by descending score (then name). Raises TrackNotFound."""
    get_track(session, track_id=track_id)
    rows = session.execute(
        select(Tag.concept, Tag.name, TrackTag.score)
        .join(TrackTag, TrackTag.tag_id == Tag.id)
        .where(TrackTag.track_id == track_id, TrackTag.model_version_id == model_version_id)
    ).all()
    # Sorted here, not in SQL: PostgreSQL collations and SQLite's byte order disagree.
    out: dict[str, dict[str, float]] = {}
    for concept, name, score in sorted(rows, key=lambda r: (r[0], -r[2], r[1])):
        out.setdefault(concept, {})[name] = float(score)
    return out


def tag_scores_for(
    session: Session, *, track_ids: Sequence[int], tags: Sequence[str], model_version_id: int
) -> dict[int, dict[str, float]]:
    """Scores of the given tags for the given tracks: track id -> {tag: score}. Tracks or
    tags without a stored score are simply absent."""
    if not track_ids or not tags:
        return {}
    out: dict[int, dict[str, float]] = {}
    for chunk in in_chunks(list(track_ids)):
        rows = session.execute(
            select(TrackTag.track_id, Tag.name, TrackTag.score)
            .join(Tag, TrackTag.tag_id == Tag.id)
            .where(
                TrackTag.track_id.in_(chunk),
                TrackTag.model_version_id == model_version_id,
                Tag.name.in_(list(tags)),
            )
        ).all()
        for track_id, name, score in rows:
            out.setdefault(int(track_id), {})[name] = float(score)
    return out
