"""Corrupted and adversarial audio through ``POST /tracks`` and ``POST /similar`` of a real
server: lying headers (absurd rates and channel counts, billions of declared frames, chunks
claiming gigabytes), decompression bombs, and seeded random byte flips of valid wav, flac,
mp3 and ogg files. Never a 5xx; every refusal is a JSON ``{"detail": ...}`` giving nothing
away and leaves the store and the indexes as they were; whatever is accepted is a consistent
track (SQLite and PostgreSQL)."""

from __future__ import annotations

import struct
from functools import cache

import numpy as np
import pytest

from support.audio import (
    encode,
    flac_set_rate,
    flac_set_total_samples,
    sparse_wav,
    tone,
    wav_header,
)
from tests.reliability.conftest import Served
from tests.reliability.helpers import assert_clean_error
from tests.service.conftest import SR, song

SEED = 5
MUTANTS = 8  # per format
FORMATS = ("wav", "flac", "mp3", "ogg")


@cache
def valid(fmt: str) -> bytes:
    return encode(song(f"hostile-{fmt}", 1.5), SR, fmt)


@cache
def bomb(fmt: str) -> bytes:
    """Two minutes (twice the limit) of one constant level: a few kB that decode to 2 min."""
    return encode(np.full(8000 * 120, 0.25, np.float32), 8000, fmt)


def pcm(seconds: float = 1.0, rate: int = SR) -> bytes:
    return (tone(440, seconds, rate) * 32767).astype("<i2").tobytes()


def chunk(tag: bytes, size: int, payload: bytes = b"") -> bytes:
    return tag + struct.pack("<I", size % 2**32) + payload


def syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def wav_with_chunks(*chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 2**32 - 1) + b"WAVE" + b"".join(chunks)


FMT16 = struct.pack("<HHIIHH", 1, 1, SR, SR * 2, 2, 16)  # PCM, mono, 16 kHz, 16 bits
PCM = pcm()
# A decoder with no codec for the data gives PyAV a stream without a codec context, which
# model/audio_backends.open_pyav dereferences (AttributeError, a 500). model/ is outside
# this branch: reported to the lead with the fix; strict, so the fix turns these red.

# name -> (build(tmp_path) -> bytes, statuses that may answer it). Decoders are lenient with
# some lies (a rate or size field they can do without): accepting such a file is fine as long
# as what is stored is consistent, which send() checks.
CRAFTED = {
    "wav rate 0 Hz": (lambda _: wav_header(0, 1, 16, len(PCM)) + PCM, {415}),
    "wav rate 1 Hz": (lambda _: wav_header(1, 1, 16, len(PCM)) + PCM, {415}),
    "wav rate 4 GHz": (lambda _: wav_header(2**32 - 1, 1, 16, len(PCM)) + PCM, {415}),
    "wav 0 channels": (lambda _: wav_header(SR, 0, 16, len(PCM)) + PCM, {415}),
    "wav 65535 channels": (lambda _: wav_header(SR, 65535, 8, len(PCM)) + PCM, {415}),
    "wav 0 bits": (lambda _: wav_header(SR, 1, 0, len(PCM)) + PCM, {415}),
    "wav 7 bits": (lambda _: wav_header(SR, 1, 7, len(PCM)) + PCM, {415, 201}),
    "wav unknown format tag": (lambda _: wav_header(SR, 1, 16, len(PCM), 0x1234) + PCM, {415}),
    # 0xFFFFFFFF is also how streamed wavs say "unknown size": read to the end of the data
    "wav 4 G declared frames": (lambda _: wav_header(SR, 1, 8, 2**32 - 1) + PCM, {413, 201}),
    "wav fmt chunk of 4 GB": (lambda _: wav_with_chunks(chunk(b"fmt ", 2**32 - 1, FMT16),
                                                        chunk(b"data", len(PCM), PCM)), {415}),
    "wav LIST chunk of 4 GB": (lambda _: wav_with_chunks(chunk(b"fmt ", 16, FMT16),
                                                         chunk(b"LIST", 2**32 - 16),
                                                         chunk(b"data", len(PCM), PCM)), {415}),
    "wav, honest, 4 min (sparse)": (lambda d: sparse_wav(d / "long.wav", 8000, 240).read_bytes(),
                                    {413}),
    "flac 2**36 - 1 declared samples": (
        lambda _: flac_set_total_samples(valid("flac"), 2**36 - 1), {413}),
    # the rate of every frame header still says 16 kHz
    "flac rate 0 Hz": (lambda _: flac_set_rate(valid("flac"), 0), {415, 201}),
    "flac rate 1 Hz": (lambda _: flac_set_rate(valid("flac"), 1), {415}),
    "flac rate 1 MHz": (lambda _: flac_set_rate(valid("flac"), 2**20 - 1), {415}),
    "flac bomb, length hidden": (lambda _: flac_set_total_samples(bomb("flac"), 0), {413}),
    "ogg bomb": (lambda _: bomb("ogg"), {413}),
    "mp3 bomb": (lambda _: bomb("mp3"), {413}),
    "mp3 behind an ID3 tag claiming 256 MB": (
        lambda _: b"ID3\x04\x00\x00" + syncsafe(2**28 - 1) + valid("mp3"), {415}),
    "ogg cut after its headers": (lambda _: valid("ogg")[:300], {415}),
}
XFAIL: dict[str, pytest.MarkDecorator] = {}


def flipped(data: bytes, rng: np.random.Generator) -> bytes:
    """``data`` with 1 to 64 bytes XORed with non-zero values; half of the time only in
    the first 64 bytes, where the headers are."""
    out = bytearray(data)
    n = int(rng.choice([1, 4, 16, 64]))
    span = 64 if rng.random() < 0.5 else len(out)
    for pos in rng.integers(0, span, size=n):
        out[pos] ^= int(rng.integers(1, 256))
    return bytes(out)


def send(served: Served, name: str, data: bytes) -> tuple[int, int]:
    """POST the file to both routes; returns their statuses after checking the answers."""
    before = served.state()
    with served.client(key=True) as client:
        r = client.post("/tracks", files={"file": ("upload.bin", data)}, data={"title": name})
        ingested = r.status_code
        if ingested >= 400:
            assert_clean_error(ingested, r.headers["content-type"], r.text, served.private)
            assert served.state() == before, f"{name}: refused ({ingested}) but stored"
        else:
            assert ingested in (200, 201), f"{name}: {ingested} {r.text[:300]}"
            tid = r.json()["track"]["id"]
            assert client.get(f"/similar/{tid}").status_code == 200, name  # indexed too
            assert client.delete(f"/tracks/{tid}").status_code == 204
        r = client.post("/similar", files={"file": ("query.bin", data)}, data={"k": "3"})
        if r.status_code >= 400:
            assert_clean_error(r.status_code, r.headers["content-type"], r.text, served.private)
        else:
            assert r.status_code == 200 and len(r.json()["results"]) <= 3, f"{name}: {r.text}"
    assert served.state() == before, name
    return ingested, r.status_code


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=XFAIL.get(n, ())) for n in CRAFTED]
)
def test_crafted_file_is_refused_cleanly(served: Served, name: str, tmp_path):
    build, allowed = CRAFTED[name]
    ingested, queried = send(served, name, build(tmp_path))
    assert ingested in allowed, f"{name}: {ingested}"
    # A query clip is decoded as an upload is: the same refusal, or 200 for accepted audio.
    assert queried == (200 if ingested in (200, 201) else ingested), name


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_byte_flipped_files_never_break_the_service(served: Served, fmt: str):
    served.ensure_tracks(3)
    rng = np.random.default_rng([SEED, FORMATS.index(fmt)])
    outcomes = [send(served, f"{fmt} mutant {m}", flipped(valid(fmt), rng)) for m in range(MUTANTS)]
    assert served.server.alive(), served.server.log()
    assert all(s < 500 for pair in outcomes for s in pair)
