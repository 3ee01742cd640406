"""The index life cycle: open, rebuild, sync (catch up), reload, compact.

The store is the source of truth; the indexes are derived. On start-up they are loaded from a
snapshot that records the store change it reflects, then caught up by replaying later events
(or rebuilt from the store). Before queries, events written by other processes (other
workers, the command line) are applied. With ``mmap``, every worker serves the same mapped
snapshot plus a private delta, and swaps to each newer snapshot that one of them writes.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from index import (
    IndexNotReady,
    IndexSchemaMismatch,
    LayeredIndex,
    SnapshotCorrupt,
    SnapshotStore,
    VectorIndex,
)
from service import store
from service.catalog.binding import StoreBinding
from service.catalog.config import CatalogConfig
from service.catalog.rows import RowCache

log = logging.getLogger(__name__)


class IndexLifecycle:
    """The served index and how it follows the store. Safe to call from several threads.

    ``index`` is the index served now (any :class:`~index.VectorIndex`); ``lock`` guards it:
    hold it to read or change the index (FAISS indexes are not safe to read while another
    thread changes them). ``rows`` holds the track rows and tag scores of answered tracks;
    the events that change the index also make it forget the tracks they touch (a write
    made by this process calls ``rows.forget`` itself).

    Args:
        binding: the store and the model version row.
        snapshots: the model version's snapshot folder.
        config: ``sync_interval``, ``mmap`` and ``delta_max`` are read here.
    """

    def __init__(self, binding: StoreBinding, snapshots: SnapshotStore,
                 config: CatalogConfig) -> None:
        self.binding = binding
        self.snapshots = snapshots
        self.sync_interval = config.sync_interval
        self.mmap = config.mmap
        self.delta_max = config.delta_max
        self.index: VectorIndex = snapshots.new_index()
        self.rows = RowCache(binding, binding.model.schema.tags)
        self.lock = threading.RLock()
        self._swap_lock = threading.Lock()  # one reload or compaction at a time
        self._compacting: threading.Thread | None = None
        self._applied_seq = 0
        self._last_sync = 0.0

    def __len__(self) -> int:
        return len(self.index)

    # --- opening and rebuilding -------------------------------------------------------------
    def open(self, *, mmap: bool | None = None) -> str:
        """Load the snapshot and catch up, or rebuild from the store. Returns what was done.

        ``mmap`` (default: the config's) maps the snapshot and layers a delta on it.
        """
        if mmap is not None:
            self.mmap = mmap
        with self.lock:
            loaded = self._usable_snapshot()
            if loaded is None:
                self.rebuild()
                how = "rebuilt"
            else:
                self.index, self._applied_seq = loaded, self.snapshots.seq_of(loaded)
                how = f"loaded, {self.sync(force=True)} events replayed"
            log.info("indexes %s: %d tracks", how, len(self.index))
            return how

    def _usable_snapshot(self) -> VectorIndex | None:
        """The live snapshot if it can be served: it exists, holds this model's vectors, is
        readable, and is not ahead of the store."""
        try:
            loaded = self.snapshots.open(mmap=self.mmap)
        except (IndexSchemaMismatch, SnapshotCorrupt) as exc:
            log.warning("index snapshot unusable (%s): rebuilding", exc)
            return None
        if loaded is None or self._ahead_of_store(self.snapshots.seq_of(loaded)):
            return None
        return loaded

    def _ahead_of_store(self, seq: int) -> bool:
        """Whether a snapshot at ``seq`` reflects changes the store does not have: the store
        was restored from a backup older than the snapshot (or replaced). Catching up cannot
        undo those changes; the indexes must be rebuilt from the store."""
        with self.binding.session() as session:
            latest = store.latest_seq(session)
        if seq > latest:
            log.warning(
                "index snapshot reflects store change %d but the store is at %d (restored from "
                "a backup?): rebuilding the indexes from the store",
                seq,
                latest,
            )
            return True
        return False

    def rebuild(self) -> int:
        """Rebuild every index from the vectors in the store; save a snapshot."""
        with self.lock:
            index, seq = self._build_from_store()
            self.snapshots.save(index, seq)
            self.index, self._applied_seq = index, seq
            self.rows.clear()
        self.reload()  # mmap: serve the mapped snapshot, dropping the private copy
        return len(index)

    def _build_from_store(self) -> tuple[VectorIndex, int]:
        """A fresh in-memory index of every vector in the store, and the seq it reflects."""
        with self.binding.session() as session:
            seq = store.latest_seq(session)
            ids, vectors = store.load_embeddings(
                session, model_version_id=self.binding.model_version_id, max_seq=seq
            )
        index = self.snapshots.new_index()
        if len(ids):
            index.add(ids, vectors)
        return index, seq

    # --- following the store ------------------------------------------------------------------
    def sync(self, *, force: bool = False) -> int:
        """Apply store events newer than the indexes (written by other processes); returns
        how many ids were removed.

        With ``mmap``, first swap to a newer snapshot if another process wrote one, and
        start writing one in the background when the delta has grown past ``delta_max``.
        """
        now = time.monotonic()
        if not force and now - self._last_sync < self.sync_interval:
            return 0
        self._last_sync = now
        if self.mmap:
            self.reload()
        with self.lock:
            self._applied_seq, removed = self._catch_up(self.index, self._applied_seq)
        if isinstance(self.index, LayeredIndex) and self.index.pending > self.delta_max:
            self._compact_in_background()
        return removed

    def _catch_up(self, index: VectorIndex, seq: int) -> tuple[int, int]:
        """Apply to ``index`` the store events after ``seq``: (new seq, ids removed)."""
        with self.binding.session() as session:
            changes = store.changes_since(
                session, after_seq=seq, model_version_id=self.binding.model_version_id
            )
        if changes.to_seq == seq:
            return seq, 0
        self.rows.forget(changes.remove_ids.tolist())
        index.remove(changes.remove_ids)
        if len(changes.add_ids):
            index.add(changes.add_ids, changes.add_vectors)
        return changes.to_seq, len(changes.remove_ids)

    def save_snapshot(self) -> Path | None:
        """Save the indexes with the store state they reflect. Local writes do not advance
        that state, so catch up first: otherwise the snapshot would name an older state and
        every later open would replay (re-read) everything written since.

        With ``mmap`` this is :meth:`compact`. Returns the snapshot written (or served).
        """
        if self.mmap:
            return self.compact()
        with self.lock:
            self.sync(force=True)
            return self.snapshots.save(self.index, self._applied_seq)

    # --- shared snapshots (mmap) ------------------------------------------------------------
    def reload(self) -> bool:
        """Swap to the live snapshot if it is newer than the one served; True if swapped.

        The new snapshot is mapped and caught up off to the side; only the last events and
        the reference swap happen under the lock, so queries wait for milliseconds at most.
        A snapshot that cannot be read yet (being replaced) is tried again at the next sync.
        """
        if not self.mmap or not self._swap_lock.acquire(blocking=False):
            return False
        try:
            try:
                # A private in-memory copy (just rebuilt) is never the mapped snapshot.
                served = self.index.snapshot if isinstance(self.index, LayeredIndex) else None
                if served is not None and self.snapshots.live() == served:
                    return False
                fresh = self.snapshots.open(mmap=True)
            except (IndexNotReady, SnapshotCorrupt, OSError) as exc:
                log.warning("index snapshot not loadable yet (%s): keeping the one served", exc)
                return False
            if fresh is None:
                return False
            seq, _ = self._catch_up(fresh, self.snapshots.seq_of(fresh))
            with self.lock:
                self._applied_seq, _ = self._catch_up(fresh, seq)
                self.index = fresh
            log.info("serving index snapshot %s (%d tracks)", fresh.snapshot, len(fresh))
            return True
        finally:
            self._swap_lock.release()

    def compact(self) -> Path | None:
        """Write a snapshot of the whole store (live snapshot + later events) and serve it.

        One process at a time (``SnapshotStore.exclusive``); a process that finds another
        compacting leaves the work to it and returns None. Memory: the writer holds one
        private copy of the indexes while it writes.
        """
        with self.snapshots.exclusive() as acquired:
            if not acquired:
                return None
            path = self._write_fresh_snapshot()
        self.reload()
        return path

    def _write_fresh_snapshot(self) -> Path:
        """Under the compaction lock: the live snapshot caught up with the store, saved."""
        try:
            index = self.snapshots.open_writable()
        except (IndexSchemaMismatch, SnapshotCorrupt) as exc:
            log.warning("rebuilding the index snapshot from the store (%s)", exc)
            index = None
        if index is None:
            fresh, seq = self._build_from_store()
            return self.snapshots.save(fresh, seq)
        seq = self.snapshots.seq_of(index)
        new_seq, _ = self._catch_up(index, seq)
        if new_seq == seq and index.snapshot is not None:
            return index.snapshot  # already up to date
        return self.snapshots.save(index, new_seq)

    def _compact_in_background(self) -> None:
        if self._compacting is not None and self._compacting.is_alive():
            return
        self._compacting = threading.Thread(target=self.compact, name="compact", daemon=True)
        self._compacting.start()
