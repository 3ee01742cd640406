"""Rows of a catalogue file, decoded and checked as the store would check them.

Every refusal names the row (0-based, in file order) and its ``source_id``; the checks are
the store's own (``service.store.codec``), so a row that passes here is one that
``store.create_track`` takes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.fingerprint import HASH_BITS, Fingerprint
from service.errors import DimensionMismatch, InvalidValue
from service.store.codec import (
    MAX_SOURCE_CHARS,
    check_isrc,
    check_positive,
    check_sha256,
    check_text,
    check_year,
)
from service.transfer.fileformat import TransferError

TEXT = ("title", "artist", "album", "external_id")


@dataclass(frozen=True)
class ImportRow:
    """One track of the file, checked.

    Attributes:
        row: its position in the file (0-based).
        vector: (D,) float32; windows: (W, D) float32, W >= 1.
        tag_scores: tag -> score, for the tags the row scores (null entries left out).
    """

    row: int
    source_id: int
    content_hash: str
    meta: dict[str, Any]
    duration_seconds: float
    window_seconds: float
    hop_seconds: float
    vector: np.ndarray
    windows: np.ndarray
    tag_scores: dict[str, float]
    fingerprint: Fingerprint | None


Where = Callable[[int], str]  # index within a batch -> "row N (source track X)"


def _rows(ids: list[Any], first: int) -> Where:
    return lambda i: f"row {first + i} (source track {ids[i]})"


def _list_parts(col: pa.Array, what: str, where: Where) -> tuple[np.ndarray, pa.Array]:
    """(offsets (n + 1,), flat values) of a list column; refuses a null list."""
    if col.null_count:
        i = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise TransferError(f"{where(i)}: {what} is missing")
    lengths = pc.list_value_length(col).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.concatenate([[0], np.cumsum(lengths)]), col.flatten()


def _floats(values: pa.Array, offsets: np.ndarray, what: str, where: Where) -> np.ndarray:
    """The flat values as float32; refuses a null, NaN or infinite value, naming its row."""
    x = values.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.searchsorted(offsets, int(np.flatnonzero(bad)[0]), side="right") - 1)
        raise TransferError(f"{where(i)}: {what} holds a missing, NaN or infinite value")
    return x


def _check_lengths(offsets: np.ndarray, want: int, what: str, where: Where) -> None:
    lengths = np.diff(offsets)
    wrong = np.flatnonzero(lengths != want)
    if len(wrong):
        j = int(wrong[0])
        raise TransferError(f"{where(j)}: {what} has {int(lengths[j])} values; the model's "
                            f"vectors have {want}")


def _vectors(batch: pa.RecordBatch, dim: int, where: Where) -> np.ndarray:
    offsets, values = _list_parts(batch.column("vector"), "vector", where)
    _check_lengths(offsets, dim, "vector", where)
    return _floats(values, offsets, "vector", where).reshape(-1, dim)


def _windows(batch: pa.RecordBatch, dim: int, where: Where) -> list[np.ndarray]:
    outer, inner = _list_parts(batch.column("windows"), "windows", where)
    empty = np.flatnonzero(np.diff(outer) == 0)
    if len(empty):
        raise TransferError(f"{where(int(empty[0]))}: windows is empty (W >= 1)")
    rows_of = np.repeat(np.arange(len(outer) - 1), np.diff(outer))

    def window_row(j: int) -> str:
        return where(int(rows_of[j]))

    offsets, values = _list_parts(inner, "a window vector", window_row)
    _check_lengths(offsets, dim, "a window vector", window_row)
    flat = _floats(values, outer * dim, "windows", where).reshape(-1, dim)
    return [flat[a:b] for a, b in zip(outer[:-1], outer[1:], strict=True)]


def _scores(batch: pa.RecordBatch, tags: list[str], where: Where) -> list[dict[str, float]]:
    offsets, values = _list_parts(batch.column("tag_scores"), "tag_scores", where)
    _check_lengths(offsets, len(tags), "tag_scores", where)
    given = ~values.is_null().to_numpy(zero_copy_only=False)
    x = values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    bad = given & ~np.isfinite(np.where(given, x, 0.0))
    t = len(tags)
    if bad.any():
        raise TransferError(f"{where(int(np.flatnonzero(bad)[0]) // t)}: tag_scores holds a "
                            "NaN or infinite score")
    return [{tags[j]: float(x[r * t + j]) for j in range(t) if given[r * t + j]}
            for r in range(len(offsets) - 1)]


def _fingerprint(v: Any, h: Any, t: Any, where: str) -> Fingerprint | None:
    if v is None:
        return None
    if h is None or t is None or len(h) != len(t) or None in h or None in t:
        raise TransferError(f"{where}: fingerprint_hashes and fingerprint_times must be "
                            "lists of integers of the same length")
    ha, ta = np.asarray(h, dtype=np.int64), np.asarray(t, dtype=np.int64)
    if len(ha) and (ha.min() < 0 or ha.max() >= 1 << HASH_BITS):
        raise TransferError(f"{where}: a fingerprint hash is outside [0, 2**{HASH_BITS})")
    if len(ta) and (ta.min() < 0 or ta.max() > np.iinfo(np.int32).max):
        raise TransferError(f"{where}: a fingerprint time is not a 32-bit frame index >= 0")
    if not -(1 << 15) <= v < 1 << 15:
        raise TransferError(f"{where}: fingerprint_version {v} is not a 16-bit integer")
    return Fingerprint(hashes=ha.astype(np.int32), times=ta.astype(np.int32), version=int(v))


def _fingerprints(batch: pa.RecordBatch, where: Where) -> list[Fingerprint | None]:
    if "fingerprint_version" not in batch.schema.names:
        return [None] * batch.num_rows
    columns = (batch.column(n).to_pylist() for n in
               ("fingerprint_version", "fingerprint_hashes", "fingerprint_times"))
    return [_fingerprint(v, h, t, where(r))
            for r, (v, h, t) in enumerate(zip(*columns, strict=True))]


def _meta(d: dict[str, Any], where: str) -> tuple[str, dict[str, Any], float, float, float]:
    try:
        meta: dict[str, Any] = {k: check_text(k.replace("_", " "), d[k]) for k in TEXT}
        meta["isrc"] = check_isrc(d["isrc"])
        meta["year"] = check_year(d["year"])
        source = d["source"] if d["source"] is not None else "import"
        meta["source"] = check_text("source", source, MAX_SOURCE_CHARS)
        numbers = [check_positive(k, d[k] if d[k] is not None else float("nan"),
                                  allow_zero=k == "duration_seconds")
                   for k in ("duration_seconds", "window_seconds", "hop_seconds")]
        content_hash = check_sha256("content hash", d["content_hash"] or "")
    except (InvalidValue, DimensionMismatch) as exc:
        raise TransferError(f"{where}: {exc}") from exc
    return content_hash, meta, numbers[0], numbers[1], numbers[2]


def decode(batch: pa.RecordBatch, first: int, dim: int, tags: list[str]) -> list[ImportRow]:
    """The checked rows of ``batch``, whose first row is row ``first`` of the file."""
    ids = batch.column("source_id").to_pylist()
    if None in ids:
        raise TransferError(f"row {first + ids.index(None)}: source_id is missing")
    where = _rows(ids, first)
    vectors = _vectors(batch, dim, where)
    windows = _windows(batch, dim, where)
    scores = _scores(batch, tags, where)
    fps = _fingerprints(batch, where)
    plain = batch.select([*TEXT, "isrc", "year", "source", "content_hash", "duration_seconds",
                          "window_seconds", "hop_seconds"]).to_pylist()
    rows = []
    for r, d in enumerate(plain):
        content_hash, meta, duration, window, hop = _meta(d, where(r))
        rows.append(ImportRow(
            row=first + r, source_id=int(ids[r]), content_hash=content_hash, meta=meta,
            duration_seconds=duration, window_seconds=window, hop_seconds=hop,
            vector=vectors[r], windows=windows[r], tag_scores=scores[r], fingerprint=fps[r]))
    return rows


def iter_rows(pf: pq.ParquetFile, columns: list[str], dim: int, tags: list[str],
              batch: int) -> Iterator[list[ImportRow]]:
    """The file's rows, checked, ``batch`` at a time (one record batch in memory)."""
    first = 0
    try:
        for rb in pf.iter_batches(batch_size=batch, columns=columns):
            yield decode(rb, first, dim, tags)
            first += rb.num_rows
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise TransferError(f"unreadable data at or after row {first}: {exc}") from exc
