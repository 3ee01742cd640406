"""The full-space index and one index per facet, over the same track ids.

Vectors given to the set are *full-space vectors* (``layout.facets.to_full_space``): each
facet slice L2-normalised and scaled by 1/sqrt(K). The full-space index stores them as they
are; facet ``c``'s index stores the slice times sqrt(K) (unit norm), so its inner product is
that facet's cosine. A model with one facet (``all``) has a single index serving both roles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.arrays import check_ids, check_unique, check_vectors
from index.errors import IndexReadOnly, IndexSchemaMismatch, SnapshotCorrupt
from index.factory import DEFAULT_FACTORY
from index.faiss_index import FaissIndex, IdsLike
from index.snapshot import current_snapshot, read_meta, write_snapshot
from layout import facets as layout
from layout.facets import FacetWeightError
from layout.schema import ConceptSchema

logger = logging.getLogger(__name__)

FULL = "full"
FORMAT = 1
NORM_TOLERANCE = 1e-3


class FacetIndexSet:
    """A full-space index plus one per facet, searched by facet mix, with id filters.

    Args:
        schema: the concept schema of the model whose vectors are indexed.
        factory: FAISS factory string used for every index (see ``FaissIndex``).
        nprobe, ef_search, min_train: passed to every ``FaissIndex``.
    """

    def __init__(
        self,
        schema: ConceptSchema,
        factory: str = DEFAULT_FACTORY,
        *,
        nprobe: int = 16,
        ef_search: int = 64,
        min_train: int | None = None,
    ) -> None:
        self.schema = schema
        self.factory = factory
        self.min_train = min_train
        self.state: dict[str, Any] = {}
        self.snapshot: Path | None = None
        opts: dict[str, Any] = dict(nprobe=nprobe, ef_search=ef_search, min_train=min_train)
        self._full = FaissIndex(schema.dim, factory, name=FULL, **opts)
        self._facets = {
            f.name: self._full
            if self._k == 1
            else FaissIndex(f.dim, factory, name=f"facet:{f.name}", **opts)
            for f in schema.facets
        }

    @property
    def _k(self) -> int:
        return len(self.schema.facets)

    def _indexes(self) -> dict[str, FaissIndex]:
        """Each distinct index by key: ``full`` then the facets (none apart when K = 1)."""
        out = {FULL: self._full}
        if self._k > 1:
            out.update(self._facets)
        return out

    def facet_index(self, name: str) -> FaissIndex:
        """The index of facet ``name`` (the full-space index itself when K = 1)."""
        if name not in self._facets:
            raise FacetWeightError(
                f"unknown facet '{name}'; valid facets: {', '.join(self.schema.facet_names)}"
            )
        return self._facets[name]

    # --- state -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._full)

    def facet_size(self, name: str) -> int:
        """Vectors held by facet ``name``'s index."""
        return len(self.facet_index(name))

    def __contains__(self, track_id: object) -> bool:
        return track_id in self._full

    def ids(self) -> np.ndarray:
        """The track ids held, sorted: (N,) int64."""
        return self._full.ids()

    def held(self, ids: IdsLike) -> np.ndarray:
        """Which of ``ids`` are held: (M,) bool."""
        return self._full.held(ids)

    @property
    def read_only(self) -> bool:
        return self._full.read_only

    def set_search_params(self, *, nprobe: int | None = None, ef_search: int | None = None) -> None:
        """Set IVF ``nprobe`` / HNSW ``efSearch`` on every index."""
        for index in self._indexes().values():
            index.set_search_params(nprobe=nprobe, ef_search=ef_search)

    def stats(self) -> dict[str, Any]:
        """Factory, count, overall mode and each index's ``FaissIndex.stats()``."""
        per = {key: index.stats() for key, index in self._indexes().items()}
        modes = {s["mode"] for s in per.values()}
        return {
            "factory": self.factory,
            "count": len(self),
            "mode": modes.pop() if len(modes) == 1 else "mixed",
            "exact_fallback": "exact-fallback" in {s["mode"] for s in per.values()},
            "indexes": per,
            "snapshot": str(self.snapshot) if self.snapshot else None,
            "state": self.state,
        }

    # --- writes ----------------------------------------------------------------------------
    def add(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Add full-space vectors; an id already held is replaced.

        Args:
            ids: (N,) unique int track ids >= 0.
            xb: (N, D) float32 C-contiguous full-space vectors.

        Raises:
            TypeError, ValueError, DimensionMismatch: bad ids or vectors (see ``arrays``).
            IndexReadOnly: the set is a memory-mapped snapshot.
        """
        ids, xb = self._check_batch(ids, xb)
        for key, part in self._split(xb).items():
            self._indexes()[key].add(ids, part)

    def remove(self, ids: IdsLike) -> int:
        """Remove track ids (those not held are ignored); returns how many were removed."""
        ids = check_ids(ids)
        removed = self._full.remove(ids)
        for key, index in self._indexes().items():
            if key != FULL:
                index.remove(ids)
        return removed

    def rebuild(self, ids: IdsLike, xb: np.ndarray) -> None:
        """Replace every index's content by ``(ids, xb)``, training on it when enough.

        This is how the service rebuilds from the SQL store, the source of truth.
        """
        ids, xb = self._check_batch(ids, xb)
        for key, part in self._split(xb).items():
            self._indexes()[key].reset(ids, part)

    def _check_batch(self, ids: IdsLike, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xb = check_vectors(xb, self.schema.dim, "xb")
        ids = check_ids(ids, xb.shape[0])
        check_unique(ids)
        self._check_layout(xb)
        return ids, xb

    def _check_layout(self, xb: np.ndarray) -> None:
        """Each facet slice of a full-space vector has norm 1/sqrt(K), or 0."""
        expected = 1.0 / np.sqrt(self._k)
        for f in self.schema.facets:
            norms = np.linalg.norm(xb[:, f.slice], axis=1)
            bad = np.flatnonzero((np.abs(norms - expected) > NORM_TOLERANCE) & (norms > 1e-6))
            if bad.size:
                raise ValueError(
                    f"xb rows must be full-space vectors (layout.facets.to_full_space): row "
                    f"{bad[0]} has facet '{f.name}' of norm {norms[bad[0]]:.4f}, expected "
                    f"{expected:.4f} or 0"
                )

    def _split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Full-space rows -> what each index stores: itself, and each facet slice * sqrt(K)."""
        parts = {FULL: x}
        if self._k > 1:
            scale = np.float32(np.sqrt(self._k))
            for f in self.schema.facets:
                parts[f.name] = np.ascontiguousarray(x[:, f.slice] * scale)
        return parts

    # --- reads -----------------------------------------------------------------------------
    def get(self, track_id: int) -> np.ndarray:
        """The full-space vector (D,) of a track, reconstructed (lossy for PQ/SQ factories).

        Raises:
            UnknownIds: the id is not held (a ``KeyError``).
            ValueError: a negative id.
        """
        vector: np.ndarray = self._full.reconstruct([track_id])[0]
        return vector

    def get_many(self, track_ids: IdsLike) -> np.ndarray:
        """The full-space vectors (M, D) of tracks, row m for ``track_ids[m]``.

        Raises:
            UnknownIds: some ids are not held (all of them are named).
            ValueError: a negative id.
        """
        vectors: np.ndarray = self._full.reconstruct(track_ids)
        return vectors

    def search(
        self,
        xq: np.ndarray,
        k: int,
        *,
        weights: Mapping[str, float] | None = None,
        allow_ids: IdsLike | None = None,
        exclude_ids: IdsLike | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """k nearest tracks to full-space queries by ``sum_c w_c * cos_c``.

        With ``weights=None`` the score is the full-space inner product (the mean facet
        cosine). With exactly one facet weighted, that facet's index is searched; otherwise
        the full-space index is searched with ``layout.facets.weighted_query``. Filters run
        inside FAISS (see ``FaissIndex.search``).

        Args:
            xq: (nq, D) float32 full-space queries.
            k: neighbours per query, >= 1.
            weights: facet name -> weight (normally their absolute values sum to 1); unlisted
                facets get 0; a negative weight ranks by dissimilarity in its facet.
            allow_ids: only these track ids may be returned.
            exclude_ids: these track ids may not be returned.

        Returns:
            D (nq, k) float32 scores, best first; I (nq, k) int64 track ids, -1 (and D = -inf)
            where fewer than k tracks qualify.

        Raises:
            FacetWeightError: unknown facet, non-finite weight, all zero.
        """
        xq = check_vectors(xq, self.schema.dim, "xq")
        filters: dict[str, Any] = dict(allow_ids=allow_ids, exclude_ids=exclude_ids)
        if weights is None:
            return self._full.search(xq, k, **filters)
        w = layout.check_weights(weights, self.schema)
        active = [name for name, value in w.items() if value != 0]
        if len(active) == 1 and w[active[0]] > 0 and self._k > 1:
            (name,) = active
            part = self._split(xq)[name]
            distances, labels = self._facets[name].search(part, k, **filters)
            return distances * np.float32(w[name]), labels
        return self._full.search(layout.weighted_query(xq, w, self.schema), k, **filters)

    def facet_cosines(self, query: int | np.ndarray, ids: Iterable[int]) -> np.ndarray:
        """Per-facet cosines between a track (id) or full-space vector (D,) and tracks.

        Returns:
            (M, K) float32, row m for ``ids[m]``, columns in ``schema.facet_names`` order.
        """
        a = query_vector(query, self.get, self.schema.dim)
        b = self._full.reconstruct(list(ids))
        return layout.facet_cosines(a, b, self.schema)

    # --- persistence -----------------------------------------------------------------------
    def save(self, directory: Path | str, state: Mapping[str, Any]) -> Path:
        """Write every index and ``meta.json`` as a new atomic snapshot (``index.snapshot``).

        Args:
            directory: the snapshot root, e.g. ``settings.index_dir``.
            state: JSON-serialisable caller state (store change marker, model version ...),
                handed back by ``load`` as ``.state``.

        Returns:
            The new snapshot directory.

        Raises:
            IndexReadOnly: the set is memory-mapped (its IVF lists would be written as
                references to the mapped file, which a later save may delete).
        """
        if self.read_only:
            raise IndexReadOnly("save")
        files, entries = {}, {}
        for i, (key, index) in enumerate(self._indexes().items()):
            name = "full.faiss" if key == FULL else f"facet-{i - 1}.faiss"
            files[name] = index.write
            entries[key] = {
                "file": name,
                "dim": index.dim,
                "trained": index.trained,
                "ntotal": len(index),
            }
        meta = {
            "format": FORMAT,
            "factory": self.factory,
            "schema": self.schema.to_dict(),
            "count": len(self),
            "ids_sha256": ids_checksum(self.ids()),
            "state": dict(state),
            "search": {"nprobe": self._full.nprobe, "ef_search": self._full.ef_search},
            "min_train": self.min_train,
            "indexes": entries,
            "faiss_version": faiss.__version__,
            "created": dt.datetime.now(dt.UTC).isoformat(),
        }
        self.snapshot = write_snapshot(Path(directory), files, meta)
        self.state = dict(state)
        return self.snapshot

    @classmethod
    def load(
        cls, directory: Path | str, schema: ConceptSchema, *, mmap: bool = False
    ) -> FacetIndexSet:
        """Load the live snapshot under ``directory``.

        Args:
            directory: the snapshot root given to ``save``.
            schema: the schema of the loaded model; the snapshot must have been built for it.
            mmap: memory-map the index files read-only (shared between processes); the
                set is then read-only.

        Raises:
            IndexNotReady: no snapshot was ever written there.
            IndexSchemaMismatch: the snapshot was built for another schema.
            DimensionMismatch: an index file has the wrong dimension.
            SnapshotCorrupt: files missing or ids not matching the metadata.
        """
        snap = current_snapshot(Path(directory))
        meta = read_meta(snap)
        if meta.get("format") != FORMAT:
            raise SnapshotCorrupt(snap, f"format {meta.get('format')} is not {FORMAT}")
        if meta["schema"] != schema.to_dict():
            raise IndexSchemaMismatch(expected=schema.to_dict(), actual=meta["schema"])
        out = cls(schema, meta["factory"], min_train=meta["min_train"], **meta["search"])
        expected_keys = set(out._indexes())
        if set(meta["indexes"]) != expected_keys:
            raise SnapshotCorrupt(
                snap, f"indexes {sorted(meta['indexes'])}, expected {sorted(expected_keys)}"
            )
        loaded = {
            key: out._read_one(snap, key, meta["indexes"][key], meta, mmap)
            for key in out._indexes()
        }
        out._full = loaded[FULL]
        out._facets = {f.name: loaded[FULL if out._k == 1 else f.name] for f in schema.facets}
        out.state, out.snapshot = dict(meta["state"]), snap
        logger.info("loaded index snapshot %s (%d tracks, mmap=%s)", snap, len(out), mmap)
        return out

    def _read_one(
        self, snap: Path, key: str, entry: dict[str, Any], meta: dict[str, Any], mmap: bool
    ) -> FaissIndex:
        path = snap / entry["file"]
        if not path.is_file():
            raise SnapshotCorrupt(snap, f"missing index file {entry['file']}")
        template = self._indexes()[key]
        index = FaissIndex.read(
            path,
            dim=template.dim,
            factory=self.factory,
            trained=bool(entry["trained"]),
            mmap=mmap,
            name=template.name,
            nprobe=template.nprobe,
            ef_search=template.ef_search,
            min_train=self.min_train,
        )
        if len(index) != meta["count"] or ids_checksum(index.ids()) != meta["ids_sha256"]:
            raise SnapshotCorrupt(snap, f"ids of {entry['file']} do not match the metadata")
        return index


def query_vector(query: int | np.ndarray, get: Callable[[int], np.ndarray], dim: int
                 ) -> np.ndarray:
    """The (D,) vector of a query given as a track id (``get`` looks it up) or as a vector."""
    if isinstance(query, int | np.integer):
        return get(int(query))
    return check_vectors(np.asarray(query).reshape(1, -1), dim, "query")[0]


def build_index_set(
    schema: ConceptSchema,
    ids: IdsLike,
    xb: np.ndarray,
    factory: str = DEFAULT_FACTORY,
    **options: Any,
) -> FacetIndexSet:
    """A ``FacetIndexSet`` holding ``(ids, xb)``: (N,) ids, (N, D) full-space float32."""
    index_set = FacetIndexSet(schema, factory, **options)
    index_set.rebuild(ids, xb)
    return index_set


def ids_checksum(ids: np.ndarray) -> str:
    """sha256 of the sorted ids as little-endian int64."""
    return hashlib.sha256(np.sort(ids).astype("<i8").tobytes()).hexdigest()
