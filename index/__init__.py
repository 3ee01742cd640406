"""FAISS indexes over track ids: the full space and one per facet (DESIGN.md, "The indexes").

The service uses this package's public face only (import-linter checks it): the
:class:`VectorIndex` protocol that both index classes keep, and :class:`SnapshotStore` for
the snapshot life cycle.
"""

from typing import TYPE_CHECKING

from index.errors import (
    DimensionMismatch,
    FactoryError,
    IndexLayerError,
    IndexNotReady,
    IndexReadOnly,
    IndexSchemaMismatch,
    SnapshotCorrupt,
    UnknownIds,
)
from index.facet_set import FacetIndexSet, build_index_set
from index.factory import DEFAULT_FACTORY
from index.faiss_index import FaissIndex, set_threads
from index.layered import LayeredIndex
from index.protocol import VectorIndex
from index.recall import recall_at_k
from index.snapshots import SnapshotState, SnapshotStore

if TYPE_CHECKING:  # mypy checks that both index classes keep the protocol

    def _conforms(a: FacetIndexSet, b: LayeredIndex) -> tuple[VectorIndex, VectorIndex]:
        return a, b


__all__ = [
    "DEFAULT_FACTORY",
    "DimensionMismatch",
    "FacetIndexSet",
    "FactoryError",
    "FaissIndex",
    "IndexLayerError",
    "IndexNotReady",
    "IndexReadOnly",
    "IndexSchemaMismatch",
    "LayeredIndex",
    "SnapshotCorrupt",
    "SnapshotState",
    "SnapshotStore",
    "UnknownIds",
    "VectorIndex",
    "build_index_set",
    "recall_at_k",
    "set_threads",
]
