"""HTTP byte ranges (RFC 9110 section 14): which parts of a stored file a request asks for.

Pure functions over the header text and the file size; service/api/routes/audio.py turns
their answer into a 200, 206 or 416 response. What a server may do and this one does:

- a Range header it cannot parse, in a unit other than ``bytes``, or with more than
  :data:`MAX_RANGES` ranges is ignored: the whole file is sent (200);
- ranges past the end are dropped; when none is left the answer is 416;
- overlapping or adjacent ranges are merged, so a request never costs more than the file.
"""

from __future__ import annotations

import re

#: More ranges than this in one request are answered with the whole file.
MAX_RANGES = 16

_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)


class RangeNotSatisfiable(ValueError):
    """Every range of the header starts at or past the end of the file."""

    def __init__(self, header: str, size: int) -> None:
        self.header = header
        self.size = size
        super().__init__(f"range {header!r} is not satisfiable: the audio is {size} bytes")


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """The byte ranges ``[start, end)`` a Range header asks of a file of ``size`` bytes.

    Returns:
        None when the whole file should be sent (no header, or one to ignore); else the
        satisfiable ranges, sorted and merged, at least one.

    Raises:
        RangeNotSatisfiable: the header is valid but no range overlaps the file.
    """
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    parts = [p.strip() for p in spec.split(",") if p.strip()]  # empty elements are allowed
    if not parts or len(parts) > MAX_RANGES:
        return None
    try:
        parsed = [_one(part, size) for part in parts]
    except _Malformed:
        return None  # a syntax error anywhere invalidates the whole header
    ranges = [r for r in parsed if r is not None]
    if not ranges:
        raise RangeNotSatisfiable(header, size)
    return merge(ranges)


class _Malformed(ValueError):
    pass


def _one(part: str, size: int) -> tuple[int, int] | None:
    """One range-spec: ``(start, end)``, None when it lies past the end; raises _Malformed."""
    m = _SPEC.fullmatch(part)
    if m is None or m.group(0) == "-":
        raise _Malformed(part)
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = int(last)
        return (max(size - n, 0), size) if n > 0 and size > 0 else None
    start = int(first)
    if last and int(last) < start:
        raise _Malformed(part)
    if start >= size:
        return None
    end = min(int(last) + 1, size) if last else size
    return start, end


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted ranges with overlapping or adjacent ones joined."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def content_range(start: int, end: int, size: int) -> str:
    """The Content-Range value of ``[start, end)`` of a ``size``-byte file."""
    return f"bytes {start}-{end - 1}/{size}"
