"""Is this file whole? The container checks that the decoders do not make.

libsndfile reports a WAV's length from the bytes present, not from its ``data`` chunk's
declared size, and an Ogg stream's length from its last page, wherever the file was cut; both
then decode what is there without complaint. A cut file is refused instead (``model.audio``):

- WAV (RIFF/RIFX): the ``data`` chunk declares more bytes than the file holds, by more than
  ``tolerance_seconds`` of audio (at the ``fmt`` chunk's byte rate).
  The sizes 0 and 0xFFFFFFFF mean "unknown" (streamed WAVs) and pass;
  RF64/Wave64 pass too (their sizes live elsewhere).
- Ogg (Vorbis, Opus, FLAC in Ogg): the last page is incomplete, or complete but without the
  end-of-stream flag that every finished Ogg stream sets on its last page.

FLAC, MP4/M4A and MP3 with a length tag declare their length in headers that the decoders
read; ``model.audio`` compares that with what decodes.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

#: The largest Ogg page: 27 header bytes + 255 lacing values + 255 * 255 data bytes.
MAX_OGG_PAGE = 27 + 255 + 255 * 255
_OGG_EOS = 0x04
_WAV_UNKNOWN = (0, 0xFFFFFFFF)


def truncation(fh: BinaryIO, *, tolerance_seconds: float = 0.0) -> str | None:
    """Why the data in ``fh`` is a cut file, or None when it looks whole (or the format is
    not one checked here). Reads the head and the tail; leaves ``fh`` where it was."""
    position = fh.tell()
    try:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(0)
        head = fh.read(12)
        if head[:4] in (b"RIFF", b"RIFX") and head[8:12] == b"WAVE":
            return _wav(fh, size, big_endian=head[:4] == b"RIFX", tolerance_s=tolerance_seconds)
        if head[:4] == b"OggS":
            fh.seek(max(0, size - MAX_OGG_PAGE))
            return _ogg_tail(fh.read())
        return None
    finally:
        fh.seek(position)


def _wav(fh: BinaryIO, size: int, *, big_endian: bool, tolerance_s: float) -> str | None:
    """Walks the chunks after the 12-byte RIFF header to the ``data`` chunk."""
    fmt = ">I" if big_endian else "<I"
    byte_rate = 0
    offset = 12
    while offset + 8 <= size:
        fh.seek(offset)
        header = fh.read(8)
        if len(header) < 8:
            return None
        chunk_id, chunk_size = header[:4], struct.unpack(fmt, header[4:])[0]
        if chunk_id == b"fmt " and chunk_size >= 12:
            byte_rate = struct.unpack(fmt, fh.read(12)[8:12])[0]
        if chunk_id == b"data":
            if chunk_size in _WAV_UNKNOWN:
                return None
            present = size - (offset + 8)
            if chunk_size - present > max(1, tolerance_s * byte_rate):
                return (f"its data chunk declares {chunk_size} bytes but the file holds "
                        f"{present}")
            return None
        offset += 8 + chunk_size + (chunk_size & 1)  # chunks are padded to even sizes
    return None  # no data chunk: the decoders say what is wrong


def _ogg_tail(tail: bytes) -> str | None:
    """The last page that starts in ``tail`` must be complete and carry end-of-stream."""
    start = tail.rfind(b"OggS")
    while start >= 0:
        page = tail[start:]
        if len(page) >= 27 and page[4] == 0:  # version 0: a page header, not payload bytes
            lacing = page[26]
            if len(page) < 27 + lacing:
                return "its last Ogg page is cut short"
            body = sum(page[27 : 27 + lacing])
            if len(page) < 27 + lacing + body:
                return "its last Ogg page is cut short"
            if not page[5] & _OGG_EOS:
                return "its last Ogg page does not end the stream"
            return None
        start = tail.rfind(b"OggS", 0, start)
    return None
