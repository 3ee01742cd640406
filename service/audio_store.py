"""A content-addressed copy of every ingested track's audio, for ``GET /tracks/{id}/audio``.

Files live at ``<root>/<hash[:2]>/<sha256>.<ext>``: the name is the sha256 of the bytes the
catalogue owner gave (the track's ``content_hash``), the extension is the container sniffed
from those bytes (:func:`sniff_format`). A copy is written to a temporary file in the same
folder, flushed to disk and renamed into place, so a reader never sees half a file (a crash
before the rename leaves a ``.*.part`` file beside it, which nothing reads); the same audio
twice is one file. Nothing from a request is ever part of a path: the route maps a
track id to the hash the store holds, and the hash is checked to be 64 hex digits here.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from service.errors import MusicprismError
from service.store.codec import check_sha256

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20

#: extension -> Content-Type for the containers :func:`sniff_format` recognises.
MEDIA_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
    "aiff": "audio/aiff",
    "au": "audio/basic",
    "caf": "audio/x-caf",
    "bin": "application/octet-stream",
}


def sniff_format(head: bytes) -> str:
    """The container of audio bytes from their first bytes (64 are enough): a key of
    MEDIA_TYPES, ``"bin"`` when not recognised."""
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "opus" if b"OpusHead" in head[:64] else "ogg"
    if head[:3] == b"ID3":
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] == b".snd":
        return "au"
    if head[:4] == b"caff":
        return "caf"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "aac" if (head[1] >> 1) & 0x3 == 0 else "mp3"  # layer bits 00: ADTS
    return "bin"


@dataclass(frozen=True)
class StoredAudio:
    """A stored copy: its file, size in bytes, container and Content-Type."""

    path: Path
    size: int
    format: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]


class AudioStore:
    """Copies of ingested audio under ``root`` (``<data_dir>/audio``), by content hash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _folder(self, content_hash: str) -> Path:
        digest = check_sha256("content_hash", content_hash)
        return self.root / digest[:2]

    def find(self, content_hash: str) -> StoredAudio | None:
        """The stored copy of the audio with this sha256, or None."""
        digest = check_sha256("content_hash", content_hash)
        for ext in MEDIA_TYPES:
            path = self._folder(digest) / f"{digest}.{ext}"
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            return StoredAudio(path=path, size=size, format=ext)
        return None

    def put(self, source: bytes | Path, content_hash: str) -> StoredAudio | None:
        """Store ``source`` (bytes or a file) as the copy of ``content_hash``; a copy already
        there is kept. Returns None, and stores nothing, when the bytes do not hash to
        ``content_hash`` (the file changed since it was hashed). Raises OSError."""
        found = self.find(content_hash)
        if found is not None:
            return found
        folder = self._folder(content_hash)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                digest, head = _copy(source, out)
                out.flush()
                os.fsync(out.fileno())
            if digest != content_hash.lower():
                log.warning("audio changed while ingested (sha256 %s, now %s): no copy kept",
                            content_hash, digest)
                os.unlink(tmp)
                return None
            fmt = sniff_format(head)
            path = folder / f"{content_hash.lower()}.{fmt}"
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(folder)
        return StoredAudio(path=path, size=path.stat().st_size, format=fmt)

    def remove(self, content_hash: str) -> bool:
        """Delete the copy of ``content_hash``; False when there was none."""
        found = self.find(content_hash)
        if found is None:
            return False
        found.path.unlink(missing_ok=True)
        try:
            found.path.parent.rmdir()  # the last copy in its folder
        except OSError:
            pass  # not empty, or already gone
        return True


def _copy(source: bytes | Path, out: BinaryIO) -> tuple[str, bytes]:
    """Write ``source`` to the binary file ``out``; (sha256 hex of what was written, its
    first 64 bytes)."""
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        digest.update(data)
        out.write(data)
        return digest.hexdigest(), data[:64]
    head = b""
    with open(source, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            if not head:
                head = chunk[:64]
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), head


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AudioNotStored(MusicprismError, LookupError):
    """The track exists but no copy of its audio is kept."""

    def __init__(self, track_id: int) -> None:
        self.track_id = track_id
        super().__init__(
            f"track {track_id} has no stored audio: it was ingested before audio copies were "
            "kept, or with MUSICPRISM_KEEP_AUDIO=false; ingest its file again to add one"
        )
