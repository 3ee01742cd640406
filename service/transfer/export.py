"""Write the catalogue (tracks, tag scores, vectors, fingerprints) to a Parquet file.

The store is read a page at a time (``store.iter_embedded_tracks``) and each page becomes
one row group, so memory holds one page whatever the catalogue's size. The file is written
under a temporary name beside the target and renamed when complete: a failed or interrupted
export leaves no partial file, and never an existing one half overwritten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from service import store
from service.catalog import Catalog
from service.models import Track
from service.store import StoredEmbedding
from service.transfer.fileformat import Header, TransferError, arrow_schema

log = logging.getLogger(__name__)
PAGE = 256  # tracks per store read and per row group


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote.

    Attributes:
        tracks: rows written (tracks with vectors from the serving model).
        left_out: tracks in the store without such vectors (stored by an earlier model and
            not re-embedded): they are not in the file.
        fingerprinted: rows that carry a fingerprint.
        size_bytes: the file's size.
    """

    path: Path
    tracks: int
    left_out: int
    fingerprinted: int
    size_bytes: int

    def summary(self) -> str:
        text = (f"exported {self.tracks} tracks ({self.fingerprinted} with fingerprints) to "
                f"{self.path}, {self.size_bytes / 2**20:.1f} MiB")
        if self.left_out:
            text += (f"; {self.left_out} tracks left out: they have no vectors from the serving "
                     "model (run musicprism ingest on their audio to embed them)")
        return text


def _fixed(x: np.ndarray, size: int, dtype: pa.DataType) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1), type=dtype), size)


def _page_batch(page: list[tuple[Track, StoredEmbedding]], tags: dict[int, dict[str, float]],
                fps: dict[int, Any], schema: pa.Schema, header: Header) -> pa.RecordBatch:
    """One page of tracks as a record batch of ``schema``."""
    dim, names = header.dim, [t["name"] for t in header.tags]
    tracks = [t for t, _ in page]
    embs = [e for _, e in page]
    scores = [tags.get(t.id, {}).get(n) for t in tracks for n in names]
    fp = [fps.get(t.id) for t in tracks]
    columns: dict[str, Any] = {
        "source_id": pa.array([t.id for t in tracks], pa.int64()),
        "content_hash": pa.array([t.content_hash for t in tracks], pa.string()),
        **{n: pa.array([getattr(t, n) for t in tracks], pa.string())
           for n in ("title", "artist", "album", "external_id", "isrc")},
        "year": pa.array([t.year for t in tracks], pa.int32()),
        "source": pa.array([t.source for t in tracks], pa.string()),
        "duration_seconds": pa.array([t.duration_seconds for t in tracks], pa.float64()),
        "created": pa.array([t.created for t in tracks], pa.timestamp("us", tz="UTC")),
        "window_seconds": pa.array([e.window_seconds for e in embs], pa.float64()),
        "hop_seconds": pa.array([e.hop_seconds for e in embs], pa.float64()),
        "vector": _fixed(np.stack([e.vector for e in embs]), dim, pa.float32()),
        "tag_scores": pa.FixedSizeListArray.from_arrays(pa.array(scores, pa.float64()),
                                                        len(names)),
        "fingerprint_version": pa.array([f.version if f else None for f in fp], pa.int16()),
        "fingerprint_hashes": pa.array([f.hashes if f else None for f in fp],
                                       pa.list_(pa.int32())),
        "fingerprint_times": pa.array([f.times if f else None for f in fp],
                                      pa.list_(pa.int32())),
    }
    if header.windows:
        counts = np.array([len(e.windows) for e in embs], dtype=np.int32)
        offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
        flat = _fixed(np.concatenate([e.windows for e in embs]), dim, pa.float32())
        columns["windows"] = pa.ListArray.from_arrays(offsets, flat)
    return pa.RecordBatch.from_arrays([columns[n] for n in schema.names], schema=schema)


def export_catalog(
    catalog: Catalog,
    path: Path,
    *,
    windows: bool = True,
    overwrite: bool = False,
    page: int = PAGE,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write every track that has vectors from the serving model to ``path``.

    ``catalog`` must be registered (``catalog.binding.register()``); its indexes are not used.

    Args:
        windows: include window vectors (needed to import the file into another instance).
        overwrite: replace an existing ``path`` (otherwise refused).
        page: tracks per store read and per row group.
        progress: called with the number of tracks written after each page.

    Raises:
        TransferError: ``path`` exists and ``overwrite`` is False.
        OSError: ``path``'s folder is missing or not writable.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise TransferError(f"{path} exists; pass --force to replace it")
    embedder = catalog.recordings.embedder
    header = Header.of_model(catalog.model, window_seconds=embedder.window_seconds,
                             hop_seconds=embedder.hop_seconds, windows=windows)
    schema = arrow_schema(header)
    names = [t["name"] for t in header.tags]
    version_id = catalog.binding.model_version_id
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    written = fingerprinted = 0
    try:
        with os.fdopen(fd, "wb") as f, pq.ParquetWriter(f, schema, compression="zstd") as w, \
                catalog.binding.session() as session:
            total = store.count_tracks(session)
            for tracks in store.iter_embedded_tracks(session, model_version_id=version_id,
                                                     batch=page):
                ids = [t.id for t, _ in tracks]
                tags = store.tag_scores_for(session, track_ids=ids, tags=names,
                                            model_version_id=version_id)
                fps = store.fingerprints_of(session, track_ids=ids)
                w.write_batch(_page_batch(tracks, tags, fps, schema, header))
                written += len(tracks)
                fingerprinted += len(fps)
                if progress is not None:
                    progress(written)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    report = ExportReport(path, written, max(total - written, 0), fingerprinted,
                          path.stat().st_size)
    log.info("%s", report.summary())
    return report
