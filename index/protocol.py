"""What the service may ask of an index: one declared interface that both index classes keep.

:class:`~index.facet_set.FacetIndexSet` (in memory, or one memory-mapped snapshot) and
:class:`~index.layered.LayeredIndex` (a mapped snapshot plus a private delta) both satisfy
:class:`VectorIndex`; mypy checks it (``index/__init__.py``) and one conformance suite runs the
same tests against both (tests/index/test_conformance.py). The service types against this
protocol only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from index.faiss_index import IdsLike
from layout.schema import ConceptSchema


class VectorIndex(Protocol):
    """Full-space vectors by track id, searched by any facet mix, with id filters.

    Vectors are full-space (``layout.facets.to_full_space``): float32, (N, D) C-contiguous.
    Ids are int64. Scores are ``sum_c w_c * cos_c`` for facet weights ``w`` (the full-space
    inner product, the mean facet cosine, when no weights are given).
    """

    schema: ConceptSchema
    factory: str

    @property
    def snapshot(self) -> Path | None:
        """The snapshot folder the index was loaded from or saved to, if any."""

    @property
    def state(self) -> Mapping[str, Any]:
        """The state recorded with that snapshot (``index.snapshots.SnapshotState``)."""

    def __len__(self) -> int: ...

    def __contains__(self, track_id: object) -> bool: ...

    def ids(self) -> np.ndarray:
        """(N,) int64 track ids held, sorted."""

    def facet_size(self, name: str) -> int:
        """Vectors held for facet ``name`` (raises FacetWeightError on an unknown facet)."""

    def stats(self) -> dict[str, Any]:
        """Factory, count, mode and per-index details (for /readyz and benchmarks)."""

    def add(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Add full-space vectors; an id already held is replaced."""

    def remove(self, ids: IdsLike) -> int:
        """Remove ids (those not held are ignored); returns how many were removed."""

    def get(self, track_id: int) -> np.ndarray:
        """(D,) full-space vector of a held track (raises UnknownIds, a KeyError, for an id
        not held; ValueError for a negative one)."""

    def get_many(self, track_ids: IdsLike) -> np.ndarray:
        """(M, D) full-space vectors of held tracks, row m for ``track_ids[m]``, in one call
        (raises as :meth:`get` does, naming every id not held)."""

    def search(
        self,
        xq: np.ndarray,
        k: int,
        *,
        weights: Mapping[str, float] | None = None,
        allow_ids: IdsLike | None = None,
        exclude_ids: IdsLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """k best tracks per query: D (nq, k) float32 scores best first, I (nq, k) int64 ids
        (-1 and -inf where fewer than k qualify). Filters run inside FAISS."""

    def facet_cosines(self, query: int | np.ndarray, ids: Iterable[int]) -> np.ndarray:
        """(M, K) per-facet cosines between a track (id) or a (D,) vector and ``ids``."""
