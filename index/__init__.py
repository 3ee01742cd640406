"""FAISS indexes over track ids: the full space and one per facet (DESIGN.md, "The indexes")."""

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
from index.recall import recall_at_k

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
    "SnapshotCorrupt",
    "UnknownIds",
    "build_index_set",
    "recall_at_k",
    "set_threads",
]
