"""Writes of tracks and their vectors. Each commits its own transaction or rolls it back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import delete
from sqlalchemy.orm import Session

from model.fingerprint import Fingerprint
from service.errors import (
    DimensionMismatch,
    ExternalIdConflict,
    InvalidValue,
    IsrcConflict,
    TrackNotFound,
    UnknownTag,
)
from service.models import (
    EVENT_ADD,
    EVENT_REMOVE,
    Embedding,
    IndexEvent,
    ModelVersion,
    Track,
    TrackTag,
    utcnow,
)
from service.store.codec import (
    MAX_SOURCE_CHARS,
    VECTOR_DTYPE,
    artist_key,
    check_isrc,
    check_positive,
    check_sha256,
    check_text,
    check_year,
    encode_vectors,
)
from service.store.fingerprints import write_fingerprint
from service.store.queries import (
    find_track_by_external_id,
    find_track_by_hash,
    find_track_by_isrc,
)
from service.store.versions import get_model_version, next_seq, tag_ids

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingRecord:
    """What the store keeps of one track's embedding by one model version.

    Attributes:
        model_version_id: the model version that produced the vectors and scores.
        vector: (D,) full-space track vector.
        windows: (W, D) full-space window vectors, W >= 1.
        window_seconds: length of one window.
        hop_seconds: start-to-start distance of windows (default: ``window_seconds``).
        tag_scores: tag name -> calibrated probability.
        tag_concepts: tag name -> concept, for every tag in ``tag_scores``.
    """

    model_version_id: int
    vector: Any
    windows: Any
    window_seconds: float
    hop_seconds: float | None = None
    tag_scores: Mapping[str, float] = field(default_factory=dict)
    tag_concepts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Vectors:
    vector: bytes
    windows: bytes
    n_windows: int
    window_seconds: float
    hop_seconds: float


def _checked_vectors(mv: ModelVersion, record: EmbeddingRecord) -> _Vectors:
    vec = encode_vectors("vector", record.vector, (mv.dim,))
    win = encode_vectors("windows", record.windows, (-1, mv.dim))
    n = len(win) // (mv.dim * VECTOR_DTYPE.itemsize)
    if n == 0:
        raise DimensionMismatch("windows", ("W >= 1", mv.dim), (0, mv.dim))
    window_s = check_positive("window_seconds", record.window_seconds)
    hop = record.hop_seconds
    hop_s = window_s if hop is None else check_positive("hop_seconds", hop)
    return _Vectors(vec, win, n, window_s, hop_s)


def _write_vectors(
    session: Session,
    *,
    track_id: int,
    mv: ModelVersion,
    seq: int,
    vectors: _Vectors,
    tag_scores: Mapping[str, float],
    tag_concepts: Mapping[str, str],
    replace: bool,
) -> None:
    """Insert (``replace``: or replace) the track's embedding and tag scores for ``mv``; log
    an ``add`` event."""
    values = {**asdict(vectors), "seq": seq}
    emb = session.get(Embedding, (track_id, mv.id), populate_existing=True) if replace else None
    if emb is None:
        session.add(Embedding(track_id=track_id, model_version_id=mv.id, **values))
    else:
        for key, value in values.items():
            setattr(emb, key, value)
    if replace:
        session.execute(
            delete(TrackTag).where(
                TrackTag.track_id == track_id, TrackTag.model_version_id == mv.id
            )
        )
    ids = tag_ids(session, {t: tag_concepts[t] for t in tag_scores})
    session.add_all(
        TrackTag(track_id=track_id, tag_id=ids[t], model_version_id=mv.id, score=s)
        for t, s in tag_scores.items()
    )
    session.add(IndexEvent(seq=seq, track_id=track_id, op=EVENT_ADD))
    session.flush()


def _checked_scores(record: EmbeddingRecord) -> dict[str, float]:
    scores = {str(t): float(s) for t, s in record.tag_scores.items()}
    concepts = record.tag_concepts
    for tag, score in scores.items():
        if tag not in concepts:
            raise UnknownTag(tag, concepts)
        if not np.isfinite(score):
            raise InvalidValue(f"score of tag '{tag}'", score, "must be finite")
    return scores


def create_track(
    session: Session,
    *,
    content_hash: str,
    source: str,
    duration_seconds: float,
    embedding: EmbeddingRecord,
    title: str | None = None,
    artist: str | None = None,
    album: str | None = None,
    external_id: str | None = None,
    isrc: str | None = None,
    year: int | None = None,
    fingerprint: Fingerprint | None = None,
) -> tuple[Track, bool]:
    """Store a new track with its vectors and tag scores, in one transaction.

    Audio already in the store (same ``content_hash``) is not stored twice: the existing
    track is returned and nothing is written.

    Args:
        content_hash: sha256 hex digest of the audio bytes.
        source: the file path or upload name it came from.
        duration_seconds: length of the decoded audio.
        embedding: the vectors and tag scores of one model version.
        title, artist, album, external_id: optional metadata; ``external_id`` is unique.
        isrc: the recording's ISRC, unique; stored upper case without hyphens.
        year: release year, ``MIN_YEAR`` to ``MAX_YEAR`` (service/models.py).
        fingerprint: the audio's landmark fingerprint, stored with the track.

    Returns:
        ``(track, created)``; ``created`` is False when the audio was already stored.

    Raises:
        DimensionMismatch: a vector whose shape does not match the model version's D.
        InvalidValue: malformed hash, text, duration, timing or non-finite values.
        UnknownTag: a scored tag missing from ``tag_concepts``.
        ModelVersionNotFound, ExternalIdConflict, IsrcConflict, TagConceptConflict.
    """
    content_hash = check_sha256("content hash", content_hash)
    meta = {
        "title": check_text("title", title),
        "artist": check_text("artist", artist),
        "album": check_text("album", album),
        "external_id": check_text("external id", external_id),
        "source": check_text("source", source, MAX_SOURCE_CHARS),
        "isrc": check_isrc(isrc),
    }
    release_year = check_year(year)
    duration = check_positive("duration_seconds", duration_seconds, allow_zero=True)
    scores = _checked_scores(embedding)
    existing = find_track_by_hash(session, content_hash=content_hash)
    if existing is not None:
        return existing, False
    mv = get_model_version(session, model_version_id=embedding.model_version_id)
    vectors = _checked_vectors(mv, embedding)
    try:
        seq = next_seq(session)
        # Checked again under the write lock: another writer may have stored it meanwhile.
        existing = find_track_by_hash(session, content_hash=content_hash)
        if existing is not None:
            session.rollback()  # nothing was written; this releases the write lock
            session.refresh(existing)
            return existing, False
        _check_external_id(session, meta["external_id"])
        _check_isrc_free(session, meta["isrc"])
        track = Track(
            **meta,
            artist_key=artist_key(meta["artist"]),
            year=release_year,
            duration_seconds=duration,
            created=(now := utcnow()),
            updated=now,
            content_hash=content_hash,
        )
        session.add(track)
        session.flush()
        _write_vectors(
            session,
            track_id=track.id,
            mv=mv,
            seq=seq,
            vectors=vectors,
            tag_scores=scores,
            tag_concepts=dict(embedding.tag_concepts),
            replace=False,
        )
        if fingerprint is not None:
            write_fingerprint(session, track_id=track.id, fingerprint=fingerprint)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    logger.debug("stored track %d (seq %d) from %s", track.id, seq, source)
    return track, True


def _check_external_id(session: Session, external_id: str | None) -> None:
    if external_id is None:
        return
    other = find_track_by_external_id(session, external_id=external_id)
    if other is not None:
        raise ExternalIdConflict(external_id, other.id)


def _check_isrc_free(session: Session, isrc: str | None) -> None:
    if isrc is None:
        return
    other = find_track_by_isrc(session, isrc=isrc)
    if other is not None:
        raise IsrcConflict(isrc, other.id)


def put_embedding(
    session: Session,
    *,
    track_id: int,
    embedding: EmbeddingRecord,
) -> int:
    """Store (or replace) an existing track's vectors and tag scores from a model version.

    Used to re-embed the catalogue with a new model. Logs an ``add`` event.

    Args:
        track_id: the track.
        embedding: its vectors and tag scores by one model version.

    Returns:
        The sequence number of the change.

    Raises:
        TrackNotFound, ModelVersionNotFound, DimensionMismatch, InvalidValue, UnknownTag.
    """
    scores = _checked_scores(embedding)
    mv = get_model_version(session, model_version_id=embedding.model_version_id)
    vectors = _checked_vectors(mv, embedding)
    try:
        seq = next_seq(session)
        track = session.get(Track, track_id, populate_existing=True)
        if track is None:
            raise TrackNotFound(track_id)
        track.updated = utcnow()  # its tag scores change with the vectors
        _write_vectors(
            session,
            track_id=track_id,
            mv=mv,
            seq=seq,
            vectors=vectors,
            tag_scores=scores,
            tag_concepts=dict(embedding.tag_concepts),
            replace=True,
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return seq


def delete_track(session: Session, *, track_id: int) -> int:
    """Delete a track, its vectors and tag scores; logs a ``remove`` event.

    Returns:
        The sequence number of the change.

    Raises:
        TrackNotFound: no track has this id.
    """
    try:
        seq = next_seq(session)
        track = session.get(Track, track_id, populate_existing=True)
        if track is None:
            raise TrackNotFound(track_id)
        session.delete(track)  # the database cascades to embeddings and track_tags
        session.add(IndexEvent(seq=seq, track_id=track_id, op=EVENT_REMOVE))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    logger.debug("deleted track %d (seq %d)", track_id, seq)
    return seq
