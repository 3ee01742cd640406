"""Playlists from track A to track B: k tracks along the way, in a facet mix, each explained.

The path and the choice of tracks are ``layout.playlist``'s (per-facet slerp targets at
t = i / (k + 1); per step, the best-ranked track for its target that is not A, B or an earlier
step and keeps ``spacing`` positions between two tracks of one artist). This module runs it
against the served index with the same filters as ``Queries.similar`` (inside FAISS): one
batched search of :func:`candidates` tracks for all k targets, a longer search only for a
step whose list runs out. When fewer than k tracks pass the filters, the path has as many
steps as pass (``Playlist.asked`` keeps k); a step with no eligible track (every remaining
one by an artist too close) is left out and its position stays empty.

Every step is explained facet by facet: its cosines to its target (``score`` is their
weighted sum, the ranking score), to A and to B, and the weighted score to the track before
and after it (A before the first step, B after the last): how smooth each transition is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from layout.facets import facet_cosines, parse_weights, weighted_query
from layout.playlist import Step, choose_steps, path_targets, positions
from service import store
from service.catalog.filters import NO_FILTER, TrackFilter
from service.catalog.queries import Hit, Queries
from service.errors import InvalidValue
from service.models import Track


def candidates(k: int) -> int:
    """Tracks first searched per target: enough that the k - 1 other steps and a few artist
    conflicts cannot use up the list (a step that runs out is searched again, longer)."""
    return 2 * k + 8


@dataclass(frozen=True)
class PathStep:
    """A track on the path. ``hit.score`` / ``hit.facets``: against its target point."""

    hit: Hit
    t: float
    from_score: float
    from_facets: dict[str, float]
    to_score: float
    to_facets: dict[str, float]
    previous_score: float
    next_score: float


@dataclass(frozen=True)
class Playlist:
    """The steps from ``source`` to ``target`` (in path order), under ``weights``; ``asked``
    steps were asked for; ``score`` / ``facets``: A against B."""

    weights: dict[str, float]
    source: Track
    target: Track
    asked: int
    spacing: int
    score: float
    facets: dict[str, float]
    steps: list[PathStep]


class Playlists:
    """Paths between two catalogue tracks (see the module docstring)."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries
        self.schema = queries.schema

    def path(self, from_id: int, to_id: int, *, k: int, facet: str | None = None,
             spacing: int = 0, filters: TrackFilter = NO_FILTER) -> Playlist:
        """Up to k tracks from ``from_id`` to ``to_id``, among those ``filters`` let through.

        Raises:
            InvalidValue: ``from_id == to_id``.
            TrackNotFound: either track is unknown.
            FacetWeightError: a bad facet mix.
            UnknownTag: a tag filter names an unknown tag.
        """
        if from_id == to_id:
            raise InvalidValue("to", to_id, "is the same track as from; a path needs two "
                                            "different tracks")
        weights = parse_weights(facet, self.schema)
        a, b = self.queries.vector_of(from_id), self.queries.vector_of(to_id)
        indexes = self.queries.indexes
        with self.queries.binding.session() as session:
            ends = store.tracks_by_ids(session, track_ids=[from_id, to_id])
            if len(ends) < 2:  # deleted since the vectors were read
                store.get_track(session, track_id=from_id)
                store.get_track(session, track_id=to_id)
            allow, exclude = self.queries.filter_ids(session, filters.excluding(from_id, to_id))
            with indexes.lock:
                n = len(allow) if allow is not None else len(indexes.index) - sum(
                    1 for i in exclude if i in indexes.index)
            steps: list[Step | None] = []
            if n > 0:
                targets = path_targets(a, b, min(k, n), self.schema)

                def knn(xq: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
                    with indexes.lock:
                        return indexes.index.search(xq, m, weights=weights, allow_ids=allow,
                                                    exclude_ids=exclude)

                def artists(ids: Sequence[int]) -> Mapping[int, str | None]:
                    return store.artist_keys(session, track_ids=ids)

                steps = choose_steps(
                    targets, knn, candidates=candidates(len(targets)), spacing=spacing,
                    artists=artists, ends=(ends[0].artist_key, ends[1].artist_key),
                )
            placed = [s for s in steps if s is not None]
            with indexes.lock:
                vectors = [indexes.index.get(s.track_id) for s in placed]
            tracks = {t.id: t for t in store.tracks_by_ids(
                session, track_ids=[s.track_id for s in placed])}
            kept = [(s, v) for s, v in zip(placed, vectors, strict=True) if s.track_id in tracks]
            path = self._explain(kept, tracks, a, b, weights, len(steps))
        ab = facet_cosines(a, b[None, :], self.schema)[0]
        return Playlist(weights=weights, source=ends[0], target=ends[1], asked=k,
                        spacing=spacing, score=_weighted(ab, weights, self.schema.facet_names),
                        facets=self._named(ab), steps=path)

    def _explain(self, kept: list[tuple[Step, np.ndarray]], tracks: dict[int, Track],
                 a: np.ndarray, b: np.ndarray, weights: dict[str, float],
                 k: int) -> list[PathStep]:
        if not kept:
            return []
        schema, names = self.schema, self.schema.facet_names
        x = np.stack([v for _, v in kept])  # (n, D)
        t = positions(k)[[s.position - 1 for s, _ in kept]]
        targets = path_targets(a, b, k, schema)[[s.position - 1 for s, _ in kept]]
        to_target = facet_cosines(targets, x, schema)
        to_a, to_b = facet_cosines(a, x, schema), facet_cosines(b, x, schema)
        chain = np.vstack([a, x, b])  # A, the steps, B: consecutive pairs are transitions
        hops = (weighted_query(chain[:-1], weights, schema) * chain[1:]).sum(axis=1)
        out = []
        for row, (step, _) in enumerate(kept):
            hit = Hit(track=tracks[step.track_id], score=round(step.score, 6),
                      facets=self._named(to_target[row]))
            out.append(PathStep(
                hit=hit, t=round(float(t[row]), 6),
                from_score=_weighted(to_a[row], weights, names), from_facets=self._named(to_a[row]),
                to_score=_weighted(to_b[row], weights, names), to_facets=self._named(to_b[row]),
                previous_score=round(float(hops[row]), 6),
                next_score=round(float(hops[row + 1]), 6),
            ))
        return out

    def _named(self, cos: np.ndarray) -> dict[str, float]:
        return {n: round(float(c), 6) for n, c in zip(self.schema.facet_names, cos, strict=True)}


def _weighted(cos: np.ndarray, weights: Mapping[str, float], names: Sequence[str]) -> float:
    return round(float(sum(weights.get(n, 0.0) * float(c) for n, c in zip(names, cos,
                                                                           strict=True))), 6)
