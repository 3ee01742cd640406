"""Validation and encoding of what goes into the store.

Vectors are stored as float32 little-endian bytes; text is checked for what one backend
would refuse and the other accept (NUL characters, lone surrogates, over-long values for
an indexed column), so both behave the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from service.errors import DimensionMismatch, InvalidValue
from service.models import MAX_YEAR, MIN_YEAR

VECTOR_DTYPE = np.dtype("<f4")
MAX_TEXT_CHARS = 500  # indexed text (external id, artist) must stay under btree limits
MAX_SOURCE_CHARS = 4096
_SHA256 = re.compile(r"[0-9a-f]{64}")
# ISO 3901: country (2 letters), registrant (3 alphanumerics), year (2 digits), number (5).
_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
ISRC_FORMAT = (
    "must be an ISRC: 12 characters, 2-letter country, 3-character registrant, 2-digit year, "
    "5-digit number, e.g. USRC17607839 (hyphens allowed)"
)
# Ids per IN (...) list; SQLite allows 32766 bound parameters per statement.
IN_CHUNK = 1000


def check_text(field: str, value: str | None, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """``value`` unchanged if both backends can store it as is; raises InvalidValue."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue(field, value, "must be a string")
    if "\x00" in value:
        raise InvalidValue(field, value, "contains a NUL character")
    if len(value) > max_chars:
        raise InvalidValue(field, value[:40] + "...", f"longer than {max_chars} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidValue(field, value, "is not valid Unicode text") from e
    return value


def check_sha256(field: str, value: str) -> str:
    """A sha256 hex digest, lower-cased; raises InvalidValue."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value.lower()):
        raise InvalidValue(field, value, "must be 64 hexadecimal digits (sha256)")
    return value.lower()


def check_isrc(value: str | None) -> str | None:
    """An ISRC in its stored form (upper case, hyphens removed), or None; raises InvalidValue.

    ``us-rc1-76-07839`` and ``USRC17607839`` are the same code. Only ASCII letters and digits
    qualify (no look-alike Unicode characters).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidValue("ISRC", value, "must be a string")
    code = value.strip().replace("-", "").upper()
    if not code.isascii() or not _ISRC.fullmatch(code):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InvalidValue("ISRC", shown, ISRC_FORMAT)
    return code


def check_year(value: int | None) -> int | None:
    """A release year in ``[MIN_YEAR, MAX_YEAR]``, or None; raises InvalidValue."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidValue("year", value, "must be an integer")
    if not MIN_YEAR <= int(value) <= MAX_YEAR:
        raise InvalidValue("year", value, f"must be between {MIN_YEAR} and {MAX_YEAR}")
    return int(value)


def check_positive(field: str, value: float, *, allow_zero: bool = False) -> float:
    """``value`` as a float, if finite and > 0 (>= 0 with ``allow_zero``)."""
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InvalidValue(field, value, f"must be a finite number {'>=' if allow_zero else '>'} 0")
    return v


def artist_key(artist: str | None) -> str | None:
    """How artists are matched: NFKC-normalised, case-folded, outer whitespace stripped."""
    if artist is None:
        return None
    return unicodedata.normalize("NFKC", artist).casefold().strip()


def encode_vectors(what: str, x: Any, shape: tuple[int, ...]) -> bytes:
    """Check ``x`` against ``shape`` (-1: any length) and return float32 little-endian bytes."""
    a = np.asarray(x)
    if a.ndim != len(shape) or any(s not in (-1, n) for s, n in zip(shape, a.shape, strict=True)):
        raise DimensionMismatch(what, shape, a.shape)
    if not np.issubdtype(a.dtype, np.floating):
        raise InvalidValue(what, a.dtype, "must be a floating-point array")
    a = a.astype(VECTOR_DTYPE, copy=False)
    if not np.isfinite(a).all():
        raise InvalidValue(what, f"array of shape {a.shape}", "contains NaN or infinity")
    return np.ascontiguousarray(a).tobytes()


def decode_vectors(what: str, blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """Float32 bytes back to an array of ``shape``; raises DimensionMismatch on a size error."""
    n = int(np.prod(shape))
    if len(blob) != n * VECTOR_DTYPE.itemsize:
        raise DimensionMismatch(what, shape, f"{len(blob)} bytes")
    return np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32).reshape(shape)


def as_ids(values: Iterable[int]) -> np.ndarray:
    """Ids as a (N,) int64 array, the index layer's id type."""
    return np.asarray(list(values), dtype=np.int64).reshape(-1)


def in_chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """``ids`` as lists of at most IN_CHUNK ints, for ``IN (...)`` clauses."""
    for i in range(0, len(ids), IN_CHUNK):
        yield [int(x) for x in ids[i : i + IN_CHUNK]]
