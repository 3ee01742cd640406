"""The snapshot life cycle of one model's indexes, behind one object.

A snapshot (``index.snapshot``: files written aside, then the ``CURRENT`` pointer swapped)
records which store change it reflects (:class:`SnapshotState`). The service asks
:class:`SnapshotStore` to open the live snapshot for serving (memory-mapped and layered when
several workers share it), to save a new one, to say which one is live, and to let one
process at a time compact; it never touches files, locks or the state mapping itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.errors import IndexNotReady, IndexReadOnly
from index.facet_set import FacetIndexSet
from index.layered import LayeredIndex
from index.protocol import VectorIndex
from index.snapshot import compaction_lock, current_snapshot
from layout.schema import ConceptSchema


@dataclass(frozen=True)
class SnapshotState:
    """What a snapshot reflects: the model version whose vectors it holds, and the last store
    change (sequence number) applied to it."""

    model_version: str
    seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"model_version": self.model_version, "seq": self.seq}

    @classmethod
    def from_mapping(cls, state: Mapping[str, Any]) -> SnapshotState | None:
        """The state recorded with a snapshot; None when it records none (an empty index)."""
        if "model_version" not in state or "seq" not in state:
            return None
        return cls(model_version=str(state["model_version"]), seq=int(state["seq"]))


class SnapshotStore:
    """The snapshots of one model version's indexes under ``root``. Creating one does no I/O.

    Args:
        root: the folder of this model version's snapshots (``<index_dir>/<model version>``).
        schema: the facet layout of the model.
        factory: FAISS factory string of every index built here.
        model_version: the model version the vectors belong to.
    """

    def __init__(self, root: Path, schema: ConceptSchema, factory: str, model_version: str):
        self.root = Path(root)
        self.schema = schema
        self.factory = factory
        self.model_version = model_version

    def new_index(self) -> FacetIndexSet:
        """An empty, writable in-memory index set with this store's factory."""
        return FacetIndexSet(self.schema, self.factory)

    def open(self, *, mmap: bool = False) -> VectorIndex | None:
        """The live snapshot, ready to serve: memory-mapped under a private delta
        (:class:`LayeredIndex`) when ``mmap``, else an in-memory copy.

        Returns:
            None when no snapshot was written yet or the live one holds another model
            version's vectors.

        Raises:
            IndexSchemaMismatch, SnapshotCorrupt, DimensionMismatch: an unusable snapshot.
        """
        loaded = self._load(mmap=mmap)
        if loaded is None:
            return None
        return LayeredIndex(loaded) if mmap else loaded

    def open_writable(self) -> FacetIndexSet | None:
        """The live snapshot as a writable in-memory copy (for compaction), or None (as
        :meth:`open`)."""
        return self._load(mmap=False)

    def _load(self, *, mmap: bool) -> FacetIndexSet | None:
        try:
            loaded = FacetIndexSet.load(self.root, self.schema, mmap=mmap)
        except IndexNotReady:
            return None
        return loaded if self.state_of(loaded) is not None else None

    def state_of(self, index: VectorIndex) -> SnapshotState | None:
        """The state of the snapshot ``index`` came from; None when it has none or it is
        another model version's."""
        state = SnapshotState.from_mapping(index.state)
        return state if state is not None and state.model_version == self.model_version else None

    def seq_of(self, index: VectorIndex) -> int:
        """The store change ``index``'s snapshot reflects (0: none)."""
        state = self.state_of(index)
        return 0 if state is None else state.seq

    def save(self, index: VectorIndex, seq: int) -> Path:
        """Write ``index`` as the new live snapshot, recording that it reflects store change
        ``seq``.

        Raises:
            IndexReadOnly: ``index`` is a mapped or layered index (save its writable copy).
        """
        if not isinstance(index, FacetIndexSet):
            raise IndexReadOnly("save")
        state = SnapshotState(self.model_version, int(seq))
        return index.save(self.root, state=state.to_dict())

    def live(self) -> Path | None:
        """The folder of the live snapshot, or None when none was written yet."""
        try:
            return current_snapshot(self.root)
        except IndexNotReady:
            return None

    @contextmanager
    def exclusive(self) -> Iterator[bool]:
        """One compaction at a time across processes: yields True to the process that holds
        the lock, False (at once) to any other."""
        with compaction_lock(self.root) as acquired:
            yield acquired
