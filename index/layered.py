"""A read-only base snapshot plus a small private delta: what each worker process serves.

Several worker processes memory-map the same snapshot files read-only, so the page cache
holds one copy of the vectors whatever the number of workers. A mapped index cannot change,
so each worker keeps, beside it:

- a *delta*: an exact in-memory ``FacetIndexSet`` of the tracks added (or re-embedded)
  since the snapshot;
- *tombstones*: the base ids removed or replaced since, excluded from every base search by
  a FAISS id selector (never by post-filtering, which could return fewer than k).

A query searches both layers with the same scoring and merges the two top-k lists, which
gives the same tracks and scores as one index holding everything (for exact factories; an
approximate base is searched as it would be alone). When the delta grows, a new snapshot is
written (service/catalog/lifecycle.py) and every worker swaps to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from index.arrays import check_ids, check_vectors
from index.errors import UnknownIds
from index.facet_set import FacetIndexSet, query_vector
from index.faiss_index import IdsLike
from layout import facets as layout

DELTA_FACTORY = "IDMap2,Flat"


class LayeredIndex:
    """``base`` (read-only, usually mapped) + an in-memory delta + tombstones.

    It answers the same calls as ``FacetIndexSet`` that the catalog makes (add, remove,
    search, get, ``in``, ``len``), so the catalog serves either.

    Args:
        base: the loaded snapshot; it is never modified.
    """

    def __init__(self, base: FacetIndexSet) -> None:
        self.base = base
        self.schema = base.schema
        self.factory = base.factory
        self.delta = FacetIndexSet(base.schema, DELTA_FACTORY)
        self._tombstones = np.empty(0, dtype=np.int64)  # sorted base ids hidden

    # --- state -----------------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        """The base snapshot's recorded state (``model_version``, ``seq``)."""
        return self.base.state

    @property
    def snapshot(self) -> Path | None:
        """The base snapshot's directory."""
        return self.base.snapshot

    @property
    def pending(self) -> int:
        """Changes held beside the snapshot: delta tracks plus tombstones."""
        return len(self.delta) + int(self._tombstones.size)

    def __len__(self) -> int:
        return len(self.base) - int(self._tombstones.size) + len(self.delta)

    def __contains__(self, track_id: object) -> bool:
        if not isinstance(track_id, int | np.integer):
            return False
        return track_id in self.delta or self._visible_in_base(np.array([track_id]))[0]

    def _visible_in_base(self, ids: np.ndarray) -> np.ndarray:
        held = self.base.held(ids)
        if not self._tombstones.size:
            return held
        return held & ~np.isin(ids, self._tombstones)

    def ids(self) -> np.ndarray:
        """The track ids held, sorted: (N,) int64."""
        base = np.setdiff1d(self.base.ids(), self._tombstones, assume_unique=True)
        return np.union1d(base, self.delta.ids())

    def facet_size(self, name: str) -> int:
        """Vectors held for facet ``name`` (every facet holds every track)."""
        self.base.facet_index(name)  # raises FacetWeightError on an unknown facet
        return len(self)

    def stats(self) -> dict[str, Any]:
        """The base's ``FacetIndexSet.stats()`` plus the delta's size and the tombstones."""
        out = self.base.stats()
        out.update(count=len(self), delta=len(self.delta), tombstones=int(self._tombstones.size))
        return out

    # --- writes ----------------------------------------------------------------------------
    def add(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Add full-space vectors (into the delta); an id already held is replaced."""
        self.delta.add(ids, xb)  # checks ids and vectors first
        self._hide(check_ids(ids))

    def remove(self, ids: IdsLike) -> int:
        """Remove track ids (those not held are ignored); returns how many were removed."""
        ids = np.unique(check_ids(ids))
        visible = self._visible_in_base(ids)
        in_delta = self.delta.held(ids)
        self.delta.remove(ids)
        self._hide(ids[visible])
        return int((visible | in_delta).sum())

    def _hide(self, ids: np.ndarray) -> None:
        """Tombstone the ids that the base holds."""
        in_base = ids[self.base.held(ids)]
        if in_base.size:
            self._tombstones = np.union1d(self._tombstones, in_base)

    # --- reads -----------------------------------------------------------------------------
    def get(self, track_id: int) -> np.ndarray:
        """The full-space vector (D,) of a track.

        Raises:
            UnknownIds: the id is not held (a ``KeyError``).
            ValueError: a negative id (as ``FacetIndexSet.get``).
        """
        check_ids([track_id])
        if track_id in self.delta:
            return self.delta.get(track_id)
        if self._visible_in_base(np.array([track_id]))[0]:
            return self.base.get(track_id)
        raise UnknownIds([int(track_id)])

    def get_many(self, track_ids: IdsLike) -> np.ndarray:
        """The full-space vectors (M, D) of tracks, row m for ``track_ids[m]``: those in the
        delta from it, the others from the base (raises as ``FacetIndexSet.get_many``)."""
        ids = check_ids(track_ids)
        in_delta = self.delta.held(ids)
        in_base = ~in_delta & self._visible_in_base(ids)
        missing = ids[~(in_delta | in_base)]
        if missing.size:
            raise UnknownIds(missing.tolist())
        out = np.empty((ids.size, self.schema.dim), dtype=np.float32)
        if in_delta.any():
            out[in_delta] = self.delta.get_many(ids[in_delta])
        if in_base.any():
            out[in_base] = self.base.get_many(ids[in_base])
        return out

    def search(
        self,
        xq: np.ndarray,
        k: int,
        *,
        weights: Mapping[str, float] | None = None,
        allow_ids: IdsLike | None = None,
        exclude_ids: IdsLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As ``FacetIndexSet.search``: both layers searched, their top-k merged.

        Returns:
            D (nq, k) float32 scores, best first; I (nq, k) int64 ids (-1 and -inf: none).
        """
        xq = check_vectors(xq, self.schema.dim, "xq")
        exclude = np.empty(0, np.int64) if exclude_ids is None else check_ids(exclude_ids)
        hidden = np.union1d(exclude, self._tombstones)
        d_base, i_base = self.base.search(
            xq, k, weights=weights, allow_ids=allow_ids, exclude_ids=hidden if hidden.size else None
        )
        if not len(self.delta):
            return d_base, i_base
        d_delta, i_delta = self.delta.search(
            xq, k, weights=weights, allow_ids=allow_ids, exclude_ids=exclude_ids
        )
        return merge_top_k(d_base, i_base, d_delta, i_delta, k)

    def facet_cosines(self, query: int | np.ndarray, ids: Iterable[int]) -> np.ndarray:
        """Per-facet cosines (M, K) between a track (id) or full-space vector and tracks."""
        a = query_vector(query, self.get, self.schema.dim)
        rows = [self.get(int(i)) for i in ids]
        b = np.stack(rows) if rows else np.empty((0, self.schema.dim), np.float32)
        return layout.facet_cosines(a, b, self.schema)


def merge_top_k(
    d_a: np.ndarray, i_a: np.ndarray, d_b: np.ndarray, i_b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The k best of two (nq, k) result lists over disjoint ids, best first.

    Ties keep ``a`` before ``b``; empty slots (id -1, score -inf) sort last.
    """
    d = np.concatenate([d_a, d_b], axis=1)
    i = np.concatenate([i_a, i_b], axis=1)
    order = np.argsort(-d, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(d, order, axis=1), np.take_along_axis(i, order, axis=1)
