"""Reads: similar tracks (by vector, in any facet mix, with filters), tag search, track rows.

Every query first catches up with store events written by other processes (throttled by
``IndexLifecycle.sync``). Filters run inside FAISS (id selectors), so k results come back
whenever k tracks qualify; every result is explained facet by facet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from layout.facets import facet_cosines, parse_weights, weighted_query
from layout.regions import best_region
from layout.tags import tag_probabilities, weighted_tag_query
from model import fingerprint as fingerprints
from model.checkpoint import LoadedModel
from service import store
from service.audio_store import AudioNotStored, AudioStore, StoredAudio
from service.catalog.binding import StoreBinding
from service.catalog.filters import NO_FILTER, TrackFilter
from service.catalog.lifecycle import IndexLifecycle
from service.catalog.rows import TrackRow
from service.errors import TrackNotFound, UnknownTag
from service.models import Track


@dataclass(frozen=True)
class Span:
    """Seconds of a track: where a region starts and how long it lasts."""

    start: float
    duration: float


@dataclass(frozen=True)
class MatchedRegion:
    """The stretch of a result (``result``) that best matches a stretch of the query
    (``query``), and their mean weighted facet cosine (layout.regions)."""

    result: Span
    query: Span
    score: float


@dataclass
class Hit:
    track: Track | TrackRow
    score: float
    facets: dict[str, float]
    match: fingerprints.RecordingMatch | None = None  # the query was cut from this track
    region: MatchedRegion | None = None


@dataclass(frozen=True)
class TagTimeline:
    """probabilities: (windows, tags); window i covers [i * hop, i * hop + window) seconds."""

    window_seconds: float
    hop_seconds: float
    tags: list[str]
    probabilities: np.ndarray


class Queries:
    """Answers about the catalogue.

    Args:
        model: the loaded checkpoint (its schema and tag proxies).
        binding: the store and the model version row.
        indexes: the served index.
        audio: where copies of ingested audio are found (None: nowhere).
    """

    def __init__(self, model: LoadedModel, binding: StoreBinding, indexes: IndexLifecycle,
                 audio: AudioStore | None = None) -> None:
        self.model = model
        self.audio = audio
        self.schema = model.schema
        self.binding = binding
        self.indexes = indexes

    def tag_timeline(self, track_id: int) -> TagTimeline:
        """A track's tag probabilities window by window, from its stored window vectors
        (the same head that scored the whole track: their mean is its stored tag scores).

        Raises:
            TrackNotFound: no such track (or no embedding by this model).
        """
        emb = self.windows_of(track_id)
        scale, bias = self.model.tag_calibration
        probs = tag_probabilities(emb.windows, self.model.tag_proxies, scale, bias, self.schema)
        return TagTimeline(window_seconds=emb.window_seconds, hop_seconds=emb.hop_seconds,
                           tags=list(self.schema.tags), probabilities=probs)

    def windows_of(self, track_id: int) -> store.StoredEmbedding:
        """A track's stored window vectors and their timing (raises TrackNotFound)."""
        with self.binding.session() as session:
            store.get_track(session, track_id=track_id)
            return store.get_embedding(session, track_id=track_id,
                                       model_version_id=self.binding.model_version_id)

    def add_regions(self, hits: list[Hit], query_windows: np.ndarray, *,
                    query_hop: float, query_window: float, weights: dict[str, float],
                    query_offset: float = 0.0) -> None:
        """Set each hit's :class:`MatchedRegion` against ``query_windows`` (full-space,
        window i at ``query_offset + i * query_hop`` seconds), under ``weights``."""
        with self.binding.session() as session:
            for hit in hits:
                emb = store.get_embedding(session, track_id=hit.track.id,
                                          model_version_id=self.binding.model_version_id)
                r = best_region(query_windows, emb.windows, weights, self.schema)
                hit.region = MatchedRegion(
                    result=Span(r.result_start * emb.hop_seconds,
                                (r.length - 1) * emb.hop_seconds + emb.window_seconds),
                    query=Span(query_offset + r.query_start * query_hop,
                               (r.length - 1) * query_hop + query_window),
                    score=r.score)

    def count(self) -> int:
        return len(self.indexes)

    def get_track(self, track_id: int) -> tuple[Track, dict[str, dict[str, float]]]:
        """A track and its tag scores by concept (raises TrackNotFound)."""
        with self.binding.session() as session:
            track = store.get_track(session, track_id=track_id)
            return track, store.tag_scores_by_concept(
                session, track_id=track_id, model_version_id=self.binding.model_version_id
            )

    def list_tracks(
        self, *, offset: int, limit: int, isrc: str | None = None, q: str | None = None
    ) -> tuple[int, list[Track]]:
        """(how many tracks match, the page ``offset:offset+limit`` of them in id order);
        ``q``: a case-insensitive substring of the title or artist."""
        with self.binding.session() as session:
            total = store.count_tracks(session, isrc=isrc, q=q)
            return total, store.list_tracks(session, offset=offset, limit=limit, isrc=isrc, q=q)

    def audio_of(self, track_id: int) -> tuple[StoredAudio, str]:
        """The kept copy of a track's audio and its content hash; raises TrackNotFound or
        AudioNotStored. The file is found by the hash the store holds, never by request
        input."""
        with self.binding.session() as session:
            content_hash = store.get_track(session, track_id=track_id).content_hash
        found = self.audio.find(content_hash) if self.audio is not None else None
        if found is None:
            raise AudioNotStored(track_id)
        return found, content_hash

    def tag_scores(self, track_ids: list[int], tags: list[str]) -> dict[int, dict[str, float]]:
        """{id: {tag: score}} of ``tags`` for those of ``track_ids`` that have scores (from
        the row cache, see service/catalog/rows.py)."""
        return self.indexes.rows.tag_scores(track_ids, tags)

    def vector_of(self, track_id: int) -> np.ndarray:
        """A track's full-space vector (raises TrackNotFound)."""
        indexes = self.indexes
        indexes.sync()
        # Check and read under the lock: a delete in between would make the read fail, and
        # FAISS indexes are not safe to read while another thread changes them.
        for attempt in range(2):
            with indexes.lock:
                if track_id in indexes.index:
                    return indexes.index.get(track_id)
            with self.binding.session() as session:
                store.get_track(session, track_id=track_id)  # raises TrackNotFound
            if attempt == 0:
                indexes.sync(force=True)  # stored by another process since the last sync
        raise TrackNotFound(track_id)

    def similar(
        self,
        query: np.ndarray,
        *,
        k: int,
        facet: str | None = None,
        filters: TrackFilter = NO_FILTER,
        matches: Sequence[fingerprints.RecordingMatch] = (),
    ) -> tuple[dict[str, float], list[Hit]]:
        """Tracks nearest to a full-space query vector under a facet mix, with explanations,
        among those ``filters`` let through.

        ``matches`` (from ``Recordings.identify``): recordings the query was cut from. Those
        that pass the filters come first, in their order, whatever their score: the same
        recording is the most similar track in every facet.
        """
        weights = parse_weights(facet, self.schema)
        indexes = self.indexes
        indexes.sync()
        allow, exclude = self.allowed(filters)
        with indexes.lock:
            if allow is not None and not allow:
                return weights, []
            D, I = indexes.index.search(
                query[None, :].astype(np.float32), k, weights=weights, allow_ids=allow,
                exclude_ids=exclude,
            )
            found = {int(i): float(d) for i, d in zip(I[0], D[0], strict=True) if i >= 0}
            pinned = {
                m.track_id: m
                for m in matches
                if m.track_id not in exclude
                and (allow is None or m.track_id in allow)
                and m.track_id in indexes.index
            }
            ids = [*pinned, *(i for i in found if i not in pinned)][:k]
            vectors = indexes.index.get_many(ids) if ids else None
        scores = self._scores(ids, found, query, vectors, weights)
        hits = self._hits(ids, scores, query, vectors)
        for hit in hits:
            hit.match = pinned.get(hit.track.id)
        return weights, hits

    def search_tags(
        self, tags: list[str], *, k: int, filters: TrackFilter = NO_FILTER
    ) -> list[Hit]:
        """Tracks ranked by the mean cosine between their facets and the tags' proxies,
        among those ``filters`` let through."""
        return self.search_weighted(dict.fromkeys(tags, 1.0), k=k, filters=filters)

    def search_weighted(
        self, weights: dict[str, float], *, k: int, filters: TrackFilter = NO_FILTER
    ) -> list[Hit]:
        """Tracks ranked by the signed weighted mean of their tag cosines
        (``layout.tags.weighted_tag_query``): a negative weight ranks the tag's tracks
        lower. Among those ``filters`` let through."""
        unknown = [t for t in weights if t not in self.schema.tags]
        if unknown:
            raise UnknownTag(unknown[0], self.schema.tags)
        query, facet_weights = weighted_tag_query(weights, self.model.tag_proxies, self.schema)
        indexes = self.indexes
        indexes.sync()
        allow, exclude = self.allowed(filters)
        if allow is not None and not allow:
            return []
        with indexes.lock:
            D, I = indexes.index.search(query[None, :], k, weights=facet_weights,
                                        allow_ids=allow, exclude_ids=exclude)
            ids = [int(i) for i in I[0] if i >= 0]
            vectors = indexes.index.get_many(ids) if ids else None
        return self._hits(ids, D[0][: len(ids)], query, vectors)

    # --- helpers --------------------------------------------------------------------------
    def allowed(self, filters: TrackFilter) -> tuple[set[int] | None, set[int]]:
        """:meth:`filter_ids` in a session of its own, opened only when a filter reads the
        store (exclusions by id alone need none)."""
        if not (filters.exclude_artist or filters.on_metadata or filters.tags):
            return None, {int(i) for i in filters.exclude_ids}
        with self.binding.session() as session:
            return self.filter_ids(session, filters)

    def filter_ids(
        self, session: Session, filters: TrackFilter
    ) -> tuple[set[int] | None, set[int]]:
        """(the ids a search may return, None for any; the ids it may not)."""
        exclude = {int(i) for i in filters.exclude_ids}
        if filters.exclude_artist:
            exclude |= set(
                store.track_ids_by_artist(session, artist=filters.exclude_artist).tolist()
            )
        allow: set[int] | None = None
        if filters.on_metadata:
            allow = set(store.track_ids_matching(
                session, artists=filters.artists, albums=filters.albums, isrcs=filters.isrcs,
                year_min=filters.year_min, year_max=filters.year_max,
                duration_min=filters.duration_min, duration_max=filters.duration_max,
            ).tolist())
        if filters.tags:
            tagged = self._tagged(session, filters)
            allow = tagged if allow is None else allow & tagged
        if allow is not None:
            allow -= exclude
        return allow, exclude

    def _tagged(self, session: Session, filters: TrackFilter) -> set[int]:
        """Ids of the tracks scored above the threshold for all (or any) of the tags."""
        unknown = [t for t in filters.tags if t not in self.schema.tags]
        if unknown:
            raise UnknownTag(unknown[0], self.schema.tags)
        sets = [
            set(store.track_ids_with_tag(
                session, tag=tag, min_score=filters.tag_threshold,
                model_version_id=self.binding.model_version_id,
            ).tolist())
            for tag in dict.fromkeys(filters.tags)
        ]
        return set.intersection(*sets) if filters.tag_mode == "all" else set.union(*sets)

    def _scores(
        self,
        ids: list[int],
        found: dict[int, float],
        query: np.ndarray,
        vectors: np.ndarray | None,
        weights: dict[str, float],
    ) -> np.ndarray:
        """The ranking score of each id: the index's, or for a track added from a match
        (not among the index's k), the same weighted sum of facet cosines."""
        if vectors is None:
            return np.zeros(0, dtype=np.float32)
        missing = [row for row, i in enumerate(ids) if i not in found]
        scores = np.array([found.get(i, 0.0) for i in ids], dtype=np.float32)
        if missing:
            scores[missing] = vectors[missing] @ weighted_query(query, weights, self.schema)
        return scores

    def _hits(
        self,
        ids: list[int],
        scores: np.ndarray,
        query: np.ndarray,
        vectors: np.ndarray | None,
    ) -> list[Hit]:
        if not ids or vectors is None:
            return []
        tracks = self.indexes.rows.rows(ids)
        cos = facet_cosines(query, vectors, self.schema)
        names = self.schema.facet_names
        hits = []
        for row, (tid, score) in enumerate(zip(ids, scores, strict=True)):
            track = tracks.get(tid)
            if track is None:  # deleted by another process since the index last synced
                continue
            facets = {n: round(float(c), 6) for n, c in zip(names, cos[row], strict=True)}
            hits.append(Hit(track=track, score=round(float(score), 6), facets=facets))
        return hits
