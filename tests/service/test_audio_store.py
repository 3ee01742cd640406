"""service.audio_store: content-addressed copies, written atomically, found by hash only."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from service.audio_store import MEDIA_TYPES, AudioStore, sniff_format
from service.errors import InvalidValue
from support.audio import FORMATS, encode
from tests.service.conftest import SR, song

EXPECTED_FORMAT = {"wav": "wav", "flac": "flac", "ogg": "ogg", "mp3": "mp3", "m4a": "m4a",
                   "adts": "aac", "opus": "opus", "webm": "webm"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("fmt", FORMATS)
def test_sniffs_the_container_of_real_audio(fmt: str) -> None:
    data = encode(song("sniff", 1.0), SR, fmt)
    assert sniff_format(data[:64]) == EXPECTED_FORMAT[fmt]


def test_unknown_bytes_are_octet_stream() -> None:
    assert sniff_format(b"hello world") == "bin"
    assert MEDIA_TYPES["bin"] == "application/octet-stream"


def test_put_find_remove_bytes_and_files(tmp_path: Path) -> None:
    store = AudioStore(tmp_path / "audio")
    data = encode(song("put", 1.0), SR, "flac")
    digest = sha(data)
    assert store.find(digest) is None
    stored = store.put(data, digest)
    assert stored is not None
    assert stored.path == tmp_path / "audio" / digest[:2] / f"{digest}.flac"
    assert (stored.size, stored.format, stored.media_type) == (len(data), "flac", "audio/flac")
    assert stored.path.read_bytes() == data
    assert store.find(digest.upper()) == stored  # hashes are case-insensitive hex
    # a file source is streamed; the same audio again is the same file
    source = tmp_path / "x.flac"
    source.write_bytes(data)
    assert store.put(source, digest) == stored
    assert [p.name for p in stored.path.parent.iterdir()] == [stored.path.name]  # no temp left
    assert store.remove(digest) is True
    assert store.find(digest) is None and not stored.path.parent.exists()
    assert store.remove(digest) is False


def test_a_file_that_changed_since_it_was_hashed_is_not_kept(tmp_path: Path) -> None:
    store = AudioStore(tmp_path / "audio")
    source = tmp_path / "x.wav"
    source.write_bytes(encode(song("a", 1.0), SR, "wav"))
    digest = sha(source.read_bytes())
    source.write_bytes(encode(song("b", 1.0), SR, "wav"))
    assert store.put(source, digest) is None
    assert store.find(digest) is None
    assert os.listdir(tmp_path / "audio" / digest[:2]) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ab" * 31 + "/x", "z" * 64, ""])
def test_only_sha256_hex_names_a_file(tmp_path: Path, bad: str) -> None:
    store = AudioStore(tmp_path / "audio")
    with pytest.raises(InvalidValue):
        store.find(bad)
    with pytest.raises(InvalidValue):
        store.put(b"data", bad)


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch) -> None:
    store = AudioStore(tmp_path / "audio")
    data = b"RIFF" + b"\0" * 100
    digest = sha(data)

    def full_disk(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        store.put(data, digest)
    assert os.listdir(tmp_path / "audio" / digest[:2]) == []
