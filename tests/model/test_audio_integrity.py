"""model.audio_integrity: cut WAV and Ogg files are recognised; whole ones, streamed WAVs and
other formats pass."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from model.audio import AudioDecodeError, decode
from model.audio_integrity import truncation
from support.audio import encode, synth_music

SR = 16000
MUSIC = synth_music(4.0, SR, seed=1)


def wav_declaring(seconds: float, holding: float, subtype: str = "PCM_16") -> bytes:
    """A WAV whose data chunk declares ``seconds`` but holds ``holding`` seconds."""
    data = bytearray(encode(MUSIC, SR, "wav", subtype))
    i = data.find(b"data")
    width = {"PCM_16": 2, "FLOAT": 4}[subtype]
    declared = round(seconds * SR) * width
    data[i + 4 : i + 8] = struct.pack("<I", min(declared, 0xFFFFFFFE))
    data[4:8] = struct.pack("<I", min(declared + i, 0xFFFFFFFE))
    return bytes(data[: i + 8 + round(holding * SR) * width])


def check(data: bytes) -> str | None:
    fh = io.BytesIO(data)
    fh.seek(7)
    why = truncation(fh, tolerance_seconds=0.25)
    assert fh.tell() == 7  # left where it was
    return why


@pytest.mark.parametrize("declared_s", [3600.0, 6.7 * 3600, 4.0])
def test_a_wav_holding_less_than_its_data_chunk_declares_is_cut(declared_s: float) -> None:
    why = check(wav_declaring(declared_s, 2.0))
    assert why is not None and why.startswith("its data chunk declares")


def test_a_wav_short_by_less_than_the_tolerance_passes() -> None:
    assert check(wav_declaring(4.0, 3.9)) is None  # 0.1 s short: codec padding territory
    assert check(wav_declaring(4.0, 3.7)) is not None  # 0.3 s short


@pytest.mark.parametrize("size", [0, 0xFFFFFFFF])
def test_streamed_wav_sizes_mean_unknown(size: int) -> None:
    data = bytearray(encode(MUSIC, SR, "wav"))
    i = data.find(b"data")
    data[i + 4 : i + 8] = struct.pack("<I", size)
    assert check(bytes(data)) is None


def test_chunks_before_data_are_walked_with_their_padding() -> None:
    whole = encode(MUSIC, SR, "wav")
    i = whole.find(b"data")
    odd = b"LIST" + struct.pack("<I", 3) + b"abc" + b"\0"  # odd size, one pad byte
    data = whole[:i] + odd + whole[i:]
    data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    assert check(data) is None
    assert check(data[: len(data) // 2]) is not None


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_ogg_cut_anywhere_is_cut(fmt: str) -> None:
    whole = encode(MUSIC, SR, fmt)
    assert check(whole) is None
    for cut in (len(whole) // 2, len(whole) - 1, len(whole) - 30):
        assert check(whole[:cut]) is not None, cut


def test_a_complete_ogg_page_without_end_of_stream_is_cut() -> None:
    whole = bytearray(encode(MUSIC, SR, "ogg"))
    last = whole.rfind(b"OggS")
    assert whole[last + 5] & 0x04
    whole[last + 5] &= ~0x04
    assert check(bytes(whole)) == "its last Ogg page does not end the stream"


@pytest.mark.parametrize("fmt", ["flac", "mp3", "m4a"])
def test_other_formats_are_left_to_their_declared_lengths(fmt: str) -> None:
    assert check(encode(MUSIC, SR, fmt)) is None


@pytest.mark.parametrize("data", [wav_declaring(3600.0, 2.0), encode(MUSIC, SR, "ogg")[:9000]])
def test_decode_refuses_cut_files(data: bytes) -> None:
    with pytest.raises(AudioDecodeError, match="the data is truncated"):
        decode(data, sample_rate=SR, max_seconds=7200)


def test_decode_still_reads_whole_files() -> None:
    for fmt in ("wav", "ogg", "opus"):
        d = decode(encode(MUSIC, SR, fmt), sample_rate=SR)
        assert abs(d.duration - 4.0) < 0.05 and np.isfinite(d.samples).all()
