"""Typed errors of the index layer. Each carries the offending value(s) as attributes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class IndexLayerError(Exception):
    """Base class of every error raised by ``index/``."""


class IndexNotReady(IndexLayerError):
    """No index snapshot exists at ``path`` yet (build one, or rebuild from the store)."""

    def __init__(self, path: Path | str, reason: str = "no snapshot has been written") -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"index not ready at {self.path}: {reason}")


class SnapshotCorrupt(IndexLayerError):
    """A snapshot on disk contradicts its own metadata (missing file, wrong ids, ...)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"index snapshot {self.path} is corrupt: {reason}")


class DimensionMismatch(IndexLayerError, ValueError):
    """Vectors or an index whose dimension is not the one the schema asks for."""

    def __init__(self, what: str, expected: int, actual: int) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: expected dimension {expected}, got {actual}")


class IndexSchemaMismatch(IndexLayerError, ValueError):
    """A snapshot built for another concept schema than the one of the loaded model."""

    def __init__(self, expected: dict[str, Any], actual: dict[str, Any]) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            "index snapshot was built for another concept schema: "
            f"expected {_summary(expected)}, got {_summary(actual)}"
        )


class FactoryError(IndexLayerError, ValueError):
    """A FAISS factory string that FAISS refuses for this dimension."""

    def __init__(self, factory: str, dim: int, reason: str) -> None:
        self.factory = factory
        self.dim = dim
        self.reason = reason
        super().__init__(f"cannot build FAISS index '{factory}' for dimension {dim}: {reason}")


class UnknownIds(IndexLayerError, KeyError):
    """Ids asked for that the index does not hold."""

    def __init__(self, ids: list[int]) -> None:
        self.ids = ids
        shown = ", ".join(str(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
        super().__init__(f"ids not in the index: {shown}")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IndexReadOnly(IndexLayerError):
    """A write to an index set loaded read-only (memory-mapped snapshot)."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        super().__init__(
            f"cannot {operation}: this index set is a read-only memory-mapped snapshot; "
            "load it with mmap=False to modify it"
        )


def _summary(schema: dict[str, Any]) -> str:
    concepts = schema.get("concepts", {})
    facets = ", ".join(str(c) for c in concepts) if schema.get("disentangled") else "all"
    tags = sum(len(t) for t in concepts.values())
    return f"facets ({facets}) of {schema.get('facet_dim')} dims with {tags} tags"
