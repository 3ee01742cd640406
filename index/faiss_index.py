"""One FAISS index over int64 track ids, built from a factory string (inner product).

An index whose factory needs training (IVF, PQ, SQ) answers by exact flat search until it
holds enough vectors to train (``min_train``), then trains on everything it holds and
switches over; ``stats()`` says which mode it is in.

Thread safety: concurrent ``search`` calls are safe (FAISS releases the GIL); writes
(``add``/``remove``/``reset``) must not run concurrently with anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.arrays import check_ids, check_k, check_unique, check_vectors, optional_ids
from index.errors import DimensionMismatch, IndexReadOnly, SnapshotCorrupt, UnknownIds
from index.factory import (
    DEFAULT_FACTORY,
    build_index,
    core_of,
    exact_index,
    ivf_of,
    kind_of,
    min_train_size,
    mmap_flags,
    params_for_kind,
    stored_ids,
    supports_remove,
)

logger = logging.getLogger(__name__)

IdsLike = Iterable[int] | np.ndarray


def set_threads(n: int) -> int:
    """Set the OpenMP threads FAISS uses in this process; return the previous number."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"FAISS threads must be an int >= 1, got {n!r}")
    previous = int(faiss.omp_get_max_threads())
    faiss.omp_set_num_threads(n)
    return previous


class FaissIndex:
    """A FAISS index over int64 ids: add/replace, remove, reconstruct, filtered k-NN search.

    Args:
        dim: vector dimension d.
        factory: FAISS factory string, e.g. ``"IDMap2,Flat"``, ``"IVF256,Flat"``,
            ``"IVF1024,PQ32"``, ``"HNSW32,Flat"``, ``"IVF256,SQ8"``.
        nprobe: IVF lists visited per query.
        ef_search: HNSW candidate list size.
        min_train: vectors to wait for before training (default: 39 per k-means centroid,
            at least 256); ignored for factories that need no training.
        name: how messages and stats name this index.
    """

    def __init__(
        self,
        dim: int,
        factory: str = DEFAULT_FACTORY,
        *,
        nprobe: int = 16,
        ef_search: int = 64,
        min_train: int | None = None,
        name: str = "index",
    ) -> None:
        self.dim = dim
        self.factory = factory
        self.name = name
        target = build_index(dim, factory)
        self.kind = kind_of(target)
        needs_training = not target.is_trained
        self.min_train = 0 if not needs_training else max(1, min_train or min_train_size(target))
        self._index: Any = exact_index(dim) if needs_training else target
        self._trained = not needs_training  # whether _index is the factory's own index
        self._ids = np.empty(0, dtype=np.int64)  # sorted
        self.read_only = False
        self.mmapped = False
        self.nprobe = self.ef_search = 1
        self.set_search_params(nprobe=nprobe, ef_search=ef_search)

    # --- state -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._ids.size)

    def __contains__(self, track_id: object) -> bool:
        if isinstance(track_id, bool) or not isinstance(track_id, (int, np.integer)):
            return False
        return bool(self._has(np.array([track_id], dtype=np.int64))[0])

    def ids(self) -> np.ndarray:
        """The ids held, sorted: (N,) int64."""
        return self._ids.copy()

    def held(self, ids: IdsLike) -> np.ndarray:
        """Which of ``ids`` are held: (M,) bool, False for ids that cannot be held (negative);
        a binary search each."""
        return self._has(np.asarray(ids, dtype=np.int64).reshape(-1))

    @property
    def active_kind(self) -> str:
        """The :func:`~index.factory.kind_of` the index searched now: the factory's once
        trained, the exact fallback's (``"flat"``) before."""
        return self.kind if self._trained else "flat"

    @property
    def trained(self) -> bool:
        """Whether the factory's own index is in use (always so for factories needing no
        training; before that, searches run on the exact fallback)."""
        return self._trained

    @property
    def exact(self) -> bool:
        """Whether searches are exact (flat search, or the fallback before training)."""
        return isinstance(core_of(self._index), faiss.IndexFlat)

    def set_search_params(self, *, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Set IVF ``nprobe`` and/or HNSW ``efSearch`` for later searches."""
        for key, value in (("nprobe", nprobe), ("ef_search", ef_search)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
            setattr(self, key, value)

    def stats(self) -> dict[str, Any]:
        """Factory, mode (exact / approximate / exact-fallback), size and search settings."""
        out: dict[str, Any] = {"name": self.name, "factory": self.factory, "dim": self.dim}
        out["ntotal"] = len(self)
        if not self._trained:
            out["mode"] = "exact-fallback"
            out["note"] = (
                f"exact flat search until {self.min_train} vectors are there to train "
                f"'{self.factory}' (has {len(self)})"
            )
        else:
            out["mode"] = "exact" if self.exact else "approximate"
        out["min_train"] = self.min_train
        if self.kind == "ivf":
            out["nprobe"] = self.nprobe
        if self.kind == "hnsw":
            out["ef_search"] = self.ef_search
        out.update(read_only=self.read_only, mmap=self.mmapped)
        return out

    # --- writes ----------------------------------------------------------------------------
    def add(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Add vectors; an id already held is replaced.

        Args:
            ids: (N,) int ids >= 0, unique within the call.
            xb: (N, d) float32, C-contiguous, finite.
        """
        self._writable("add")
        xb = check_vectors(xb, self.dim, f"xb for {self.name}")
        ids = check_ids(ids, xb.shape[0])
        check_unique(ids)
        if not ids.size:
            return
        self.remove(ids)
        self._index.add_with_ids(xb, ids)
        self._ids = np.union1d(self._ids, ids)
        if not self._trained and len(self) >= self.min_train:
            held = stored_ids(self._index)
            self._switch_to_trained(held, self._index.index.reconstruct_n(0, len(held)))

    def remove(self, ids: IdsLike) -> int:
        """Remove the given ids; ids not held are ignored. Returns how many were removed."""
        self._writable("remove")
        ids = np.unique(check_ids(ids))
        present = ids[self._has(ids)]
        if not present.size:
            return 0
        if supports_remove(self._index):
            # IVF's hash-table direct map only removes through an IDSelectorArray
            by_array = ivf_of(self._index) is not None
            selector = (faiss.IDSelectorArray if by_array else faiss.IDSelectorBatch)(present)
            removed = int(self._index.remove_ids(selector))
        else:  # graph indexes cannot delete: re-add the survivors to the emptied (trained) index
            held = stored_ids(self._index)
            xb = self._index.index.reconstruct_n(0, len(held))
            keep = ~np.isin(held, present)
            self._index.reset()
            self._index.add_with_ids(np.ascontiguousarray(xb[keep]), held[keep])
            removed = int((~keep).sum())
        if removed != present.size:
            raise RuntimeError(f"{self.name}: removed {removed} of {present.size} ids")
        self._ids = np.setdiff1d(self._ids, present, assume_unique=True)
        return removed

    def reset(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Replace the whole content by ``(ids, xb)``, training on ``xb`` when it is enough."""
        self._writable("reset")
        xb = check_vectors(xb, self.dim, f"xb for {self.name}")
        ids = check_ids(ids, xb.shape[0])
        check_unique(ids)
        target = build_index(self.dim, self.factory)
        if target.is_trained or ids.size >= self.min_train:
            self._switch_to_trained(ids, xb, target)
        else:
            self._index, self._trained = exact_index(self.dim), False
            self._index.add_with_ids(xb, ids)
        self._ids = np.sort(ids)

    def _switch_to_trained(self, ids: np.ndarray, xb: np.ndarray, target: Any = None) -> None:
        target = build_index(self.dim, self.factory) if target is None else target
        if not target.is_trained:
            logger.info("%s: training '%s' on %d vectors", self.name, self.factory, len(ids))
            target.train(xb)
        if ids.size:
            target.add_with_ids(xb, ids)
        self._index, self._trained = target, True

    def _writable(self, operation: str) -> None:
        if self.read_only:
            raise IndexReadOnly(operation)

    # --- reads -----------------------------------------------------------------------------
    def _has(self, ids: np.ndarray) -> np.ndarray:
        if not self._ids.size:
            return np.zeros(ids.shape, dtype=bool)
        pos = np.minimum(np.searchsorted(self._ids, ids), self._ids.size - 1)
        return np.asarray(self._ids[pos] == ids)

    def reconstruct(self, ids: IdsLike) -> np.ndarray:
        """The stored vectors of ``ids``: (M, d) float32 (decoded, so lossy for PQ/SQ).

        Raises:
            UnknownIds: some ids are not held.
        """
        ids = check_ids(ids)
        missing = ids[~self._has(ids)]
        if missing.size:
            raise UnknownIds(missing.tolist())
        if not ids.size:
            return np.empty((0, self.dim), dtype=np.float32)
        out: np.ndarray = self._index.reconstruct_batch(ids)  # one call for every id
        return out

    def search(
        self,
        xq: np.ndarray,
        k: int,
        *,
        allow_ids: IdsLike | None = None,
        exclude_ids: IdsLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """k nearest ids by inner product, optionally among ``allow_ids`` minus ``exclude_ids``.

        Filters run inside FAISS (id selectors). When an approximate search comes back with
        fewer than ``min(k, allowed)`` results, it is repeated with nprobe / efSearch doubled
        until it is full or exhaustive, so filtered searches are not cut short.

        Args:
            xq: (nq, d) float32 queries.
            k: neighbours per query, >= 1.
            allow_ids: only these ids may be returned (None: any).
            exclude_ids: these ids may not be returned.

        Returns:
            D (nq, k) float32 inner products, best first, and I (nq, k) int64 ids; slots
            without a result have I = -1 and D = -inf.
        """
        xq = check_vectors(xq, self.dim, f"xq for {self.name}")
        k = check_k(k)
        allow = optional_ids(allow_ids, "allow_ids")
        exclude = optional_ids(exclude_ids, "exclude_ids")
        distances = np.full((xq.shape[0], k), -np.inf, dtype=np.float32)
        labels = np.full((xq.shape[0], k), -1, dtype=np.int64)
        selector, keep_alive, n_allowed = self._selector(allow, exclude)
        want = min(k, n_allowed)
        if want == 0 or xq.shape[0] == 0:
            return distances, labels
        d, i = self._search_until_full(xq, want, selector)
        del keep_alive
        distances[:, :want], labels[:, :want] = d, i
        distances[labels < 0] = -np.inf
        return distances, labels

    def _selector(
        self, allow: np.ndarray | None, exclude: np.ndarray | None
    ) -> tuple[Any, tuple[Any, ...], int]:
        """(FAISS selector or None, objects to keep alive, number of held ids it lets through)."""
        if allow is not None:
            allowed = allow[self._has(allow)]
            if exclude is not None:
                allowed = np.setdiff1d(allowed, exclude, assume_unique=True)
            batch = faiss.IDSelectorBatch(allowed)
            return batch, (batch,), int(allowed.size)
        if exclude is not None:
            excluded = exclude[self._has(exclude)]
            batch = faiss.IDSelectorBatch(excluded)
            selector = faiss.IDSelectorNot(batch)
            return selector, (batch, selector), len(self) - int(excluded.size)
        return None, (), len(self)

    def _search_until_full(self, xq: np.ndarray, k: int, selector: Any) -> tuple[Any, Any]:
        nprobe, ef_search = self.nprobe, self.ef_search
        while True:
            params = params_for_kind(self.active_kind, selector, nprobe, ef_search)
            d, i = self._index.search(xq, k, params=params)
            if (i >= 0).sum(axis=1).min() >= k or self._exhaustive(nprobe, ef_search):
                return d, i
            nprobe, ef_search = nprobe * 2, ef_search * 2
            logger.debug(
                "%s: short results, retrying with nprobe=%d efSearch=%d",
                self.name,
                nprobe,
                ef_search,
            )

    def _exhaustive(self, nprobe: int, ef_search: int) -> bool:
        if not self._trained or self.kind == "flat":
            return True
        if self.kind == "ivf":
            return nprobe >= int(faiss.extract_index_ivf(self._index).nlist)
        return ef_search >= len(self)

    # --- files -----------------------------------------------------------------------------
    def write(self, path: Path) -> None:
        """Write the active FAISS index to ``path`` (``faiss.write_index``)."""
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(
        cls,
        path: Path,
        *,
        dim: int,
        factory: str,
        trained: bool,
        mmap: bool = False,
        **kwargs: Any,
    ) -> FaissIndex:
        """Read an index written by ``write``; ``mmap=True`` maps it read-only.

        Raises:
            DimensionMismatch: the file's dimension is not ``dim``.
            SnapshotCorrupt: the file is not an inner-product index.
        """
        self = cls(dim, factory, **kwargs)
        flags = mmap_flags(self.kind if trained else "flat") if mmap else 0
        index = faiss.read_index(str(path), flags)
        if index.d != dim:
            raise DimensionMismatch(f"index file {path}", dim, index.d)
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise SnapshotCorrupt(path, f"metric {index.metric_type} is not inner product")
        self._index, self._trained = index, trained
        self._ids = np.sort(stored_ids(index))
        self.read_only = self.mmapped = mmap
        return self
