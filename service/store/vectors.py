"""Reads of stored vectors, and the change log an index catches up from.

An index snapshot records the ``latest_seq`` it reflects. To build one, read that number
first, then every vector with ``seq <= N`` (:func:`iter_embeddings` with ``max_seq=N``);
later, :func:`changes_since` ``(N)`` says exactly what to remove and re-add. Sequence numbers
are handed out in commit order (service/models.py), so every change with a number at or
below a committed one is itself committed: nothing can slip in behind the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.errors import EmbeddingNotFound, TrackNotFound
from service.models import Embedding, IndexEvent, Track
from service.store.codec import as_ids, decode_vectors, in_chunks
from service.store.versions import get_model_version, latest_seq


@dataclass(frozen=True)
class StoredEmbedding:
    """A track's decoded vectors from one model version.

    Attributes:
        vector: (D,) float32 full-space track vector.
        windows: (W, D) float32 full-space window vectors; window i starts at i * hop_seconds.
    """

    track_id: int
    model_version_id: int
    vector: np.ndarray
    windows: np.ndarray
    window_seconds: float
    hop_seconds: float
    seq: int


@dataclass(frozen=True)
class Changes:
    """What an index must do to go from store state ``after_seq`` to ``to_seq``.

    Apply as: remove ``remove_ids``, then add ``add_ids`` with ``add_vectors`` (N, D). Every
    track touched since ``after_seq`` is removed and, if it still has a vector, re-added, so
    applying the same changes twice gives the same index.
    """

    after_seq: int
    to_seq: int
    remove_ids: np.ndarray
    add_ids: np.ndarray
    add_vectors: np.ndarray


def _missing(session: Session, track_id: int, model_version_id: int) -> Exception:
    if session.get(Track, track_id) is None:
        return TrackNotFound(track_id)
    return EmbeddingNotFound(track_id, model_version_id)


def _embedding_row(session: Session, track_id: int, model_version_id: int) -> Embedding:
    emb = session.get(Embedding, (track_id, model_version_id), populate_existing=True)
    if emb is None:
        raise _missing(session, track_id, model_version_id)
    return emb


def get_vector(session: Session, *, track_id: int, model_version_id: int) -> np.ndarray:
    """A track's full-space vector, shape (D,) float32.

    Raises:
        TrackNotFound, EmbeddingNotFound, ModelVersionNotFound,
        DimensionMismatch: the stored bytes do not hold D float32 values.
    """
    dim = get_model_version(session, model_version_id=model_version_id).dim
    blob = session.execute(
        select(Embedding.vector).where(
            Embedding.track_id == track_id, Embedding.model_version_id == model_version_id
        )
    ).scalar_one_or_none()
    if blob is None:
        raise _missing(session, track_id, model_version_id)
    return decode_vectors(f"vector of track {track_id}", blob, (dim,))


def get_embedding(session: Session, *, track_id: int, model_version_id: int) -> StoredEmbedding:
    """A track's vector (D,) and window vectors (W, D) with their timing.

    Raises:
        TrackNotFound, EmbeddingNotFound, ModelVersionNotFound, DimensionMismatch.
    """
    dim = get_model_version(session, model_version_id=model_version_id).dim
    return _decoded(_embedding_row(session, track_id, model_version_id), dim)


def get_vectors(
    session: Session, *, track_ids: Sequence[int], model_version_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of these tracks, in the order given; tracks without one are left out.

    Returns:
        ``(ids, vectors)``: (N,) int64 and (N, D) float32, N <= len(track_ids).
    """
    dim = get_model_version(session, model_version_id=model_version_id).dim
    found: dict[int, bytes] = {}
    for chunk in in_chunks(list(dict.fromkeys(int(i) for i in track_ids))):
        found.update(
            session.execute(
                select(Embedding.track_id, Embedding.vector).where(
                    Embedding.model_version_id == model_version_id, Embedding.track_id.in_(chunk)
                )
            ).all()
        )
    ids = [int(i) for i in track_ids if int(i) in found]
    return as_ids(ids), _stack(dim, ((i, found[i]) for i in ids))


def _stack(dim: int, rows: Iterator[tuple[int, bytes]] | list[tuple[int, bytes]]) -> np.ndarray:
    vecs = [decode_vectors(f"vector of track {i}", blob, (dim,)) for i, blob in rows]
    if not vecs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.ascontiguousarray(np.stack(vecs), dtype=np.float32)


def iter_embeddings(
    session: Session, *, model_version_id: int, batch: int = 4096, max_seq: int | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every stored vector of a model version, in ascending track id, in batches.

    Args:
        batch: rows per batch (and per query: keyset pagination, no long-held cursor).
        max_seq: only vectors written at or before this sequence number.

    Yields:
        ``(ids, vectors)``: (n,) int64 and (n, D) float32, 1 <= n <= batch.
    """
    if batch <= 0:
        raise ValueError(f"batch must be positive, got {batch}")
    dim = get_model_version(session, model_version_id=model_version_id).dim
    last = -1
    while True:
        stmt = (
            select(Embedding.track_id, Embedding.vector)
            .where(Embedding.model_version_id == model_version_id, Embedding.track_id > last)
            .order_by(Embedding.track_id)
            .limit(batch)
        )
        if max_seq is not None:
            stmt = stmt.where(Embedding.seq <= max_seq)
        rows = [(int(i), bytes(b)) for i, b in session.execute(stmt)]
        if not rows:
            return
        last = rows[-1][0]
        yield as_ids(r[0] for r in rows), _stack(dim, rows)


def iter_embedded_tracks(
    session: Session, *, model_version_id: int, batch: int = 256
) -> Iterator[list[tuple[Track, StoredEmbedding]]]:
    """Every track with an embedding from this model version, with its decoded vectors, in
    ascending track id, a page at a time (keyset pagination: one query per page, no cursor
    held between pages; tracks written meanwhile appear if their id is above the page).

    Yields:
        Lists of 1 to ``batch`` ``(track, embedding)`` pairs.
    """
    if batch <= 0:
        raise ValueError(f"batch must be positive, got {batch}")
    dim = get_model_version(session, model_version_id=model_version_id).dim
    last = -1
    while True:
        rows = session.execute(
            select(Track, Embedding)
            .join(Embedding, Embedding.track_id == Track.id)
            .where(Embedding.model_version_id == model_version_id, Track.id > last)
            .order_by(Track.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        last = rows[-1][0].id
        yield [(track, _decoded(emb, dim)) for track, emb in rows]
        session.expunge_all()  # the page is handed out; keep the identity map small


def _decoded(emb: Embedding, dim: int) -> StoredEmbedding:
    i = emb.track_id
    return StoredEmbedding(
        track_id=i,
        model_version_id=emb.model_version_id,
        vector=decode_vectors(f"vector of track {i}", emb.vector, (dim,)),
        windows=decode_vectors(f"windows of track {i}", emb.windows, (emb.n_windows, dim)),
        window_seconds=emb.window_seconds,
        hop_seconds=emb.hop_seconds,
        seq=emb.seq,
    )


def load_embeddings(
    session: Session, *, model_version_id: int, max_seq: int | None = None, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """All of :func:`iter_embeddings` at once: (N,) int64 ids and (N, D) float32 vectors."""
    dim = get_model_version(session, model_version_id=model_version_id).dim
    parts = list(
        iter_embeddings(session, model_version_id=model_version_id, batch=batch, max_seq=max_seq)
    )
    if not parts:
        return as_ids([]), np.zeros((0, dim), dtype=np.float32)
    ids = np.concatenate([p[0] for p in parts])
    return ids, np.ascontiguousarray(np.concatenate([p[1] for p in parts]))


def events_since(session: Session, *, after_seq: int, limit: int | None = None) -> list[IndexEvent]:
    """Change-log entries with ``seq > after_seq``, in ascending ``seq``."""
    stmt = select(IndexEvent).where(IndexEvent.seq > after_seq).order_by(IndexEvent.seq)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def changes_since(session: Session, *, after_seq: int, model_version_id: int) -> Changes:
    """What an index at store state ``after_seq`` must do to reflect the store now.

    The vectors returned are the current ones, which may be newer than ``to_seq`` if a write
    commits meanwhile; its event is then replayed on the next catch-up, to the same effect.
    """
    to_seq = latest_seq(session)
    stmt = (
        select(IndexEvent.track_id)
        .where(IndexEvent.seq > after_seq, IndexEvent.seq <= to_seq)
        .order_by(IndexEvent.track_id)
        .distinct()
    )
    touched = as_ids(session.scalars(stmt).all())
    add_ids, add_vectors = get_vectors(
        session, track_ids=touched.tolist(), model_version_id=model_version_id
    )
    return Changes(after_seq, to_seq, touched, add_ids, add_vectors)
