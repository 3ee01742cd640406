"""Atomic snapshots: a directory of files that readers see whole or not at all.

Layout under a root directory::

    root/
      CURRENT            one line naming the live snapshot, e.g. "snap-000007"
      snap-000006/       the previous snapshot, kept for readers that read CURRENT just before
                         the swap; older ones are deleted
      snap-000007/       meta.json plus the files of one snapshot
      .tmp-<hex>/        a snapshot being written (a crash leaves it; the next write removes it)
      .write.lock        ``flock`` serialising writers
      .compact.lock      ``flock`` electing the one worker that writes the next snapshot

A write puts every file into a fresh ``.tmp-*`` directory and fsyncs each, writes
``meta.json`` last, fsyncs the directory and renames it to ``snap-N`` (``os.replace``). Only
then is ``CURRENT`` swapped: written to ``CURRENT.tmp``, fsynced, ``os.replace``d over
``CURRENT`` and the root fsynced. Readers follow ``CURRENT`` alone, so a crash at any point
leaves the previous snapshot live and intact. Snapshot directories are never modified after
the rename, so memory-mapped readers of an old one are safe (POSIX keeps unlinked files).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from index.errors import IndexNotReady, SnapshotCorrupt

logger = logging.getLogger(__name__)

CURRENT = "CURRENT"
META = "meta.json"
_SNAP = re.compile(r"^snap-(\d{6,})$")


def write_snapshot(
    root: Path, files: Mapping[str, Callable[[Path], None]], meta: Mapping[str, Any]
) -> Path:
    """Write a new snapshot and make it the live one.

    Args:
        root: the snapshot root (created if missing).
        files: file name -> a function writing that file at the path it is given.
        meta: JSON-serialisable metadata, written to ``meta.json``.

    Returns:
        The new snapshot directory.
    """
    text = json.dumps(dict(meta), indent=2, sort_keys=True)  # fail before touching the disk
    if META in files or any("/" in name or name.startswith(".") for name in files):
        raise ValueError(f"invalid snapshot file names: {sorted(files)}")
    root.mkdir(parents=True, exist_ok=True)
    with _write_lock(root):
        for stale in root.glob(".tmp-*"):
            logger.warning("removing an unfinished snapshot left by a crash: %s", stale)
            shutil.rmtree(stale)
        previous = _read_current_name(root)
        tmp = root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        for name, writer in files.items():
            writer(tmp / name)
            _fsync(tmp / name)
        (tmp / META).write_text(text)
        _fsync(tmp / META)
        _fsync(tmp)
        final = root / f"snap-{_next_number(root):06d}"
        os.replace(tmp, final)
        _fsync(root)
        _swap_current(root, final.name)
        _remove_old(root, keep={final.name, previous})
    logger.info("index snapshot written: %s", final)
    return final


def current_snapshot(root: Path) -> Path:
    """The live snapshot directory under ``root``.

    Raises:
        IndexNotReady: no snapshot has been written under ``root``.
        SnapshotCorrupt: ``CURRENT`` names a snapshot that is not there.
    """
    name = _read_current_name(root)
    if name is None:
        raise IndexNotReady(root)
    path = root / name
    if not (path / META).is_file():
        raise SnapshotCorrupt(path, f"{CURRENT} names it but it has no {META}")
    return path


def read_meta(snapshot: Path) -> dict[str, Any]:
    """The metadata of a snapshot directory."""
    try:
        meta = json.loads((snapshot / META).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SnapshotCorrupt(snapshot, f"unreadable {META}: {e}") from None
    if not isinstance(meta, dict):
        raise SnapshotCorrupt(snapshot, f"{META} is not a JSON object")
    return meta


def _read_current_name(root: Path) -> str | None:
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    if not _SNAP.match(name):
        raise SnapshotCorrupt(root / CURRENT, f"does not name a snapshot: {name!r}")
    return name


def _swap_current(root: Path, name: str) -> None:
    tmp = root / f"{CURRENT}.tmp"
    with open(tmp, "w") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / CURRENT)
    _fsync(root)


def _next_number(root: Path) -> int:
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := _SNAP.match(p.name))]
    return max(numbers, default=0) + 1


def _remove_old(root: Path, keep: set[str | None]) -> None:
    for path in root.iterdir():
        if _SNAP.match(path.name) and path.name not in keep:
            shutil.rmtree(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def compaction_lock(root: Path) -> Iterator[bool]:
    """Try to become the one process that writes the next snapshot under ``root``.

    Yields True while holding an exclusive ``flock`` on ``root/.compact.lock``, False
    (without waiting) when another process or thread holds it. The lock goes with the
    process, so a crashed holder never blocks the others.
    """
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".compact.lock", "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@contextmanager
def _write_lock(root: Path) -> Iterator[None]:
    with open(root / ".write.lock", "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
