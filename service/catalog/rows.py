"""Track rows and tag scores of answered tracks, kept in memory so that a query's hits need no
SQL once their tracks have been answered before.

The store stays the source of truth; this is a cache of it, kept current by the same change
log the indexes follow: every write to a track (created, re-embedded, deleted) logs an event
(service/store/writes.py), and whatever applies events to the served index (the catch-up in
:class:`~service.catalog.lifecycle.IndexLifecycle`, or a write made by this process) forgets
the tracks they touch. So a cached row is never older than the served index.

A read that misses fetches the rows in one query and keeps them, unless something was
forgotten while it read: the rows it fetched might then predate that change, and keeping them
could outlive the event that should have removed them. Entries are evicted least recently
used first beyond ``max_tracks``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from service import store
from service.catalog.binding import StoreBinding
from service.models import Track

#: Tracks whose row and tag scores are kept (each some hundreds of bytes plus its scores).
MAX_TRACKS = 200_000

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class TrackRow:
    """What a search result says about a track: the row's metadata (service.models.Track)."""

    id: int
    external_id: str | None
    title: str | None
    artist: str | None
    artist_key: str | None
    album: str | None
    isrc: str | None
    year: int | None
    duration_seconds: float

    @classmethod
    def of(cls, track: Track) -> TrackRow:
        return cls(id=track.id, external_id=track.external_id, title=track.title,
                   artist=track.artist, artist_key=track.artist_key, album=track.album,
                   isrc=track.isrc, year=track.year, duration_seconds=track.duration_seconds)


class _Lru(OrderedDict[int, V]):
    def take(self, ids: Iterable[int]) -> dict[int, V]:
        found = {}
        for i in ids:
            value = self.get(i)
            if value is not None:
                self.move_to_end(i)
                found[i] = value
        return found

    def keep(self, values: dict[int, V], limit: int) -> None:
        self.update(values)
        while len(self) > limit:
            self.popitem(last=False)


class RowCache:
    """Track rows and tag scores by track id, for one model version. Safe to use from
    several threads.

    Args:
        binding: the store and the model version row (the tag scores are that version's).
        tags: every tag of the model; a track's scores are fetched for all of them at once.
        max_tracks: entries kept per kind (rows, tag scores), least recently used evicted.
    """

    def __init__(self, binding: StoreBinding, tags: Sequence[str],
                 max_tracks: int = MAX_TRACKS) -> None:
        self.binding = binding
        self.tags = list(tags)
        self.max_tracks = max_tracks
        self._rows: _Lru[TrackRow] = _Lru()
        self._scores: _Lru[dict[str, float]] = _Lru()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every forget: reads that overlap one keep nothing

    def __len__(self) -> int:
        return len(self._rows)

    def forget(self, track_ids: Iterable[int]) -> None:
        """Drop these tracks (written since they were cached)."""
        with self._lock:
            self._generation += 1
            for i in track_ids:
                self._rows.pop(int(i), None)
                self._scores.pop(int(i), None)

    def clear(self) -> None:
        """Drop everything (the served index was rebuilt from the store)."""
        with self._lock:
            self._generation += 1
            self._rows.clear()
            self._scores.clear()

    def rows(self, track_ids: Sequence[int]) -> dict[int, TrackRow]:
        """{id: row} of the tracks in the store among ``track_ids``."""
        def fetch(session: Session, missing: list[int]) -> dict[int, TrackRow]:
            return {t.id: TrackRow.of(t)
                    for t in store.tracks_by_ids(session, track_ids=missing)}

        return self._read(self._rows, track_ids, fetch)

    def tag_scores(self, track_ids: Sequence[int], tags: Sequence[str]
                   ) -> dict[int, dict[str, float]]:
        """{id: {tag: score}} of ``tags`` (in that order) for the tracks among ``track_ids``
        that have stored scores; tags without a stored score are absent, as in
        ``store.tag_scores_for``."""
        def fetch(session: Session, missing: list[int]) -> dict[int, dict[str, float]]:
            found = store.tag_scores_for(session, track_ids=missing, tags=self.tags,
                                         model_version_id=self.binding.model_version_id)
            return {i: found.get(i, {}) for i in missing}

        every = self._read(self._scores, track_ids, fetch)
        out = {i: {t: scores[t] for t in tags if t in scores} for i, scores in every.items()}
        return {i: s for i, s in out.items() if s}

    def _read(self, table: _Lru[V], track_ids: Sequence[int],
              fetch: Callable[[Session, list[int]], dict[int, V]]) -> dict[int, V]:
        wanted = [int(i) for i in track_ids]
        with self._lock:
            found = table.take(wanted)
            generation = self._generation
        missing = [i for i in dict.fromkeys(wanted) if i not in found]
        if missing:
            with self.binding.session() as session:
                fetched = fetch(session, missing)
            with self._lock:
                if generation == self._generation:
                    table.keep(fetched, self.max_tracks)
            found.update(fetched)
        return found
