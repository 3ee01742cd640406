"""model.audio: formats, bit depths, channels, rates, ranges, hostile input, helpers."""

from __future__ import annotations

import hashlib
import io
import math

import numpy as np
import pytest

from model import audio
from model.audio import (
    AudioDecodeError,
    AudioError,
    AudioTooLong,
    AudioTooShort,
    InvalidRange,
    SilentAudio,
    UnsupportedSampleRate,
    decode,
    sha256_of,
    windows,
)
from model.audio_backends import BLOCK_SAMPLES
from support.audio import (
    FORMATS,
    best_lag_correlation,
    encode,
    flac_set_rate,
    flac_set_total_samples,
    one_shot_resample,
    sparse_wav,
    synth_music,
    tone,
    wav_header,
)

SR = 16000
NOT_AUDIO = "cannot decode audio: not a recognised audio format, or the data is corrupt"


def reference(x: np.ndarray, sr: int) -> np.ndarray:
    """One soxr resample of the whole (T,) signal to SR, at decode's length."""
    return x if sr == SR else one_shot_resample(x, sr, SR)


# (backend that decodes it, tolerated |decoded - original| duration in s)
EXPECTED = {
    "wav": ("soundfile", 0.0),
    "flac": ("soundfile", 0.0),
    "ogg": ("soundfile", 0.0),
    "mp3": ("soundfile", 0.0),  # gapless through the LAME tag
    "opus": ("soundfile", 0.0),
    "m4a": ("pyav", 0.05),  # AAC priming and padding (2 x 1024 samples at most) are kept
    "adts": ("pyav", 0.05),
    "webm": ("pyav", 0.0),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips(fmt: str) -> None:
    x = synth_music(2.0, 44100, seed=1)
    d = decode(encode(x, 44100, fmt), sample_rate=SR)
    backend, tolerance = EXPECTED[fmt]
    assert d.backend == backend
    assert d.samples.dtype == np.float32 and d.samples.ndim == 1
    assert d.sample_rate == SR and d.channels == 1
    assert d.duration == len(d.samples) / SR
    assert abs(d.duration - 2.0) <= tolerance + 1 / SR
    corr, lag = best_lag_correlation(reference(x, 44100), d.samples, max_lag=SR // 10)
    assert corr > 0.9, (fmt, corr, lag)


@pytest.mark.parametrize(
    ("subtype", "bits"), [("PCM_U8", 8), ("PCM_16", 16), ("PCM_24", 24), ("PCM_32", 32)]
)
def test_every_integer_wav_bit_depth_decodes_exactly(subtype: str, bits: int) -> None:
    x = synth_music(1.0, SR, seed=2)
    levels = np.round(x.astype(np.float64) * 2 ** (bits - 1)).astype(np.int64)
    # int32 samples are written without rounding: the file holds exactly `levels`.
    data = encode((levels << (32 - bits)).astype(np.int32), SR, "wav", subtype)
    d = decode(data, sample_rate=SR)
    assert (d.codec, d.source_rate, len(d.samples)) == (subtype.lower(), SR, len(x))
    np.testing.assert_array_equal(d.samples, (levels / 2 ** (bits - 1)).astype(np.float32))


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_float_wav_decodes_exactly(subtype: str) -> None:
    x = synth_music(1.0, SR, seed=2)
    np.testing.assert_array_equal(decode(encode(x, SR, "wav", subtype), sample_rate=SR).samples, x)


def test_flac_24_bit_is_lossless() -> None:
    x = synth_music(1.0, SR, seed=3)
    d = decode(encode(x, SR, "flac", "PCM_24"), sample_rate=SR)
    assert np.max(np.abs(d.samples - x)) <= 2**-24 + 1e-7


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channels_are_averaged_to_mono(channels: int) -> None:
    x = synth_music(1.0, SR, seed=4, channels=channels).reshape(-1, channels)
    x = x + np.linspace(-0.1, 0.1, channels, dtype=np.float32)  # distinct per-channel offsets
    d = decode(encode(x, SR, "wav", "FLOAT"), sample_rate=SR)
    assert d.channels == channels
    np.testing.assert_allclose(d.samples, x.mean(axis=1), atol=1e-6)


def test_stereo_through_pyav_is_averaged() -> None:
    x = np.stack([tone(440, 1.0, 44100, seed=5), tone(1000, 1.0, 44100, seed=6)], axis=1)
    d = decode(encode(x, 44100, "m4a"), sample_rate=SR)
    assert d.backend == "pyav" and d.channels == 2
    corr, _ = best_lag_correlation(reference(x.mean(axis=1), 44100), d.samples, SR // 10)
    assert corr > 0.9


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 96000, 192000])
def test_source_rates_are_resampled_like_one_soxr_call(sr: int) -> None:
    x = synth_music(3.0, sr, seed=7)
    d = decode(encode(x, sr, "wav", "FLOAT"), sample_rate=SR)
    assert d.source_rate == sr
    assert len(d.samples) == math.ceil(len(x) * SR / sr) == 3 * SR
    np.testing.assert_allclose(d.samples, reference(x, sr), atol=2e-6)


def test_range_is_exact_for_wav() -> None:
    x = synth_music(3.0, SR, seed=8)
    data = encode(x, SR, "wav", "FLOAT")
    d = decode(data, sample_rate=SR, start=0.5, duration=1.25)
    np.testing.assert_array_equal(d.samples, x[8000:28000])
    tail = decode(data, sample_rate=SR, start=2.5, duration=10.0)  # clipped at the end
    np.testing.assert_array_equal(tail.samples, x[40000:])
    assert tail.duration == 0.5


@pytest.mark.parametrize("fmt", ["flac", "mp3"])  # flac seeks; mp3 decodes and discards
def test_range_equals_the_slice_of_the_full_decode(fmt: str) -> None:
    data = encode(synth_music(3.0, SR, seed=9), SR, fmt)
    full = decode(data, sample_rate=SR).samples
    part = decode(data, sample_rate=SR, start=1.0, duration=0.5).samples
    np.testing.assert_allclose(part, full[16000:24000], atol=1e-6)


@pytest.mark.parametrize(
    ("start", "duration", "reason"),
    [
        (-1.0, None, "start must be a finite number >= 0"),
        (math.nan, None, "start must be a finite number >= 0"),
        (math.inf, None, "start must be a finite number >= 0"),
        (0.0, 0.0, "duration must be a finite number > 0"),
        (0.0, -2.0, "duration must be a finite number > 0"),
        (0.0, math.nan, "duration must be a finite number > 0"),
    ],
)
def test_bad_ranges_are_refused(start: float, duration: float | None, reason: str) -> None:
    with pytest.raises(InvalidRange) as err:
        decode(b"unused", sample_rate=SR, start=start, duration=duration)
    assert err.value.reason == reason and err.value.length is None
    assert str(err.value) == f"invalid range start={start!r} s, duration={duration!r} s: {reason}"


@pytest.mark.parametrize("fmt", ["wav", "adts"])  # declared length / found at the end
def test_start_past_the_end_is_refused(fmt: str) -> None:
    data = encode(tone(440, 1.0, SR), SR, fmt)
    with pytest.raises(InvalidRange) as err:
        decode(data, sample_rate=SR, start=5.0)
    assert err.value.start == 5.0 and err.value.reason == "start is at or past the end"
    assert err.value.length == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        np.random.default_rng(0).bytes(10_000),
        b"<html>" + b"not audio " * 200,
        b"RIFF" + bytes(40),
    ],
)
def test_non_audio_is_refused(data: bytes) -> None:
    with pytest.raises(AudioDecodeError) as err:
        decode(data, sample_rate=SR)
    assert str(err.value) == NOT_AUDIO


def test_truncated_flac_is_refused_without_leaking_the_path(tmp_path) -> None:
    data = encode(synth_music(4.0, 8000, seed=10), 8000, "flac")
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError) as err:
        decode(path, sample_rate=SR)
    assert str(err.value) == "cannot decode audio: the flac data is corrupt or truncated"
    assert str(tmp_path) not in str(err.value)


def test_truncated_mp3_is_refused() -> None:
    data = encode(synth_music(4.0, 8000, seed=11), 8000, "mp3")
    with pytest.raises(AudioDecodeError) as err:
        decode(data[: len(data) // 2], sample_rate=SR)
    assert err.value.reason.startswith("the data is truncated: the header declares 4.000 s")


def test_mp3_after_an_id3v2_tag_keeps_its_exact_length() -> None:
    data = encode(synth_music(4.0, 8000, seed=11), 8000, "mp3")
    tagged = b"ID3\x04\x00\x00" + bytes([0, 0, 0x0F, 0x76]) + bytes(2038)  # 2038 B of padding
    tagged += data
    assert decode(tagged, sample_rate=SR).duration == 4.0
    with pytest.raises(AudioDecodeError) as err:
        decode(tagged[: 2048 + len(data) // 2], sample_rate=SR)
    assert err.value.reason.startswith("the data is truncated: the header declares 4.000 s")


def test_wav_declaring_2_31_frames_but_holding_one_second_is_truncated() -> None:
    x = synth_music(1.0, 8000, seed=12)
    levels = np.round(x * 32768).astype("<i2")
    data = wav_header(8000, 1, 16, data_bytes=2 * 2**31 - 2) + levels.tobytes()  # 2**31 - 1 frames
    with pytest.raises(AudioDecodeError, match="its data chunk declares 4294967294 bytes but "
                                               "the file holds 16000"):
        decode(data, sample_rate=8000, max_seconds=1800)


@pytest.mark.parametrize("rate", [1, 999, 768_001, 10**9])
def test_wav_with_absurd_sample_rate_is_refused(rate: int) -> None:
    data = wav_header(rate, 1, 16, 16000) + bytes(16000)
    with pytest.raises(UnsupportedSampleRate) as err:
        decode(data, sample_rate=SR)
    assert err.value.rate == rate
    assert str(err.value) == (
        f"cannot decode audio: unsupported sample rate {rate} Hz (supported: 1000 to 768000 Hz)"
    )


@pytest.mark.parametrize("rate", [0, 4_000_000_000])
def test_wav_with_unrepresentable_sample_rate_is_not_audio(rate: int) -> None:
    with pytest.raises(AudioDecodeError) as err:  # both libraries refuse such headers
        decode(wav_header(rate, 1, 16, 16000) + bytes(16000), sample_rate=SR)
    assert str(err.value) == NOT_AUDIO


def test_flac_with_1_hz_rate_is_refused() -> None:
    data = flac_set_rate(encode(tone(440, 1.0, 8000), 8000, "flac"), 1)
    with pytest.raises(UnsupportedSampleRate) as err:
        decode(data, sample_rate=SR)
    assert err.value.rate == 1


def test_two_hour_file_is_refused_from_its_header(tmp_path) -> None:
    path = sparse_wav(tmp_path / "long.wav", 8000, 7200.0)  # 57.6 MB, all a hole
    with pytest.raises(AudioTooLong) as err:
        decode(path, sample_rate=SR, max_seconds=1800)
    assert (err.value.seconds, err.value.limit, err.value.declared) == (7200.0, 1800, True)
    assert str(err.value) == "audio is 7200.000 s long (declared); the limit is 1800.000 s"


def flac_bomb() -> bytes:
    """10 minutes of 8 kHz silence in about 14 kB, with the length field set to unknown."""
    return flac_set_total_samples(encode(np.zeros(8000 * 600, np.float32), 8000, "flac"), 0)


def test_decompression_bomb_stops_at_the_limit() -> None:
    with pytest.raises(AudioTooLong) as err:
        decode(flac_bomb(), sample_rate=SR, max_seconds=30)
    assert err.value.declared is False and err.value.limit == 30
    limit_s = 30 + audio.LENGTH_TOLERANCE_SECONDS
    assert limit_s < err.value.seconds <= limit_s + BLOCK_SAMPLES / 8000
    assert str(err.value).startswith("audio is longer than the limit of 30.000 s")


def test_without_max_seconds_the_ceiling_bounds_decoding(monkeypatch) -> None:
    monkeypatch.setattr(audio, "MAX_SECONDS_CEILING", 20.0)
    with pytest.raises(AudioTooLong) as err:
        decode(flac_bomb(), sample_rate=SR)
    assert err.value.limit == 20.0 and not err.value.declared


def test_pyav_decoding_stops_at_the_limit() -> None:
    one_second = encode(synth_music(1.0, 8000, seed=13), 8000, "adts")
    data = one_second * 60  # raw AAC frames: 60 s, no declared length
    with pytest.raises(AudioTooLong) as err:
        decode(data, sample_rate=SR, max_seconds=10)
    assert not err.value.declared and 10.25 < err.value.seconds < 10.5


def test_too_short_is_refused() -> None:
    with pytest.raises(AudioTooShort) as err:
        decode(encode(tone(440, 0.5, SR), SR, "wav"), sample_rate=SR, min_seconds=1.0)
    assert (err.value.seconds, err.value.limit) == (0.5, 1.0)
    assert str(err.value) == "audio is 0.500 s long; at least 1.000 s is needed"


def test_min_seconds_applies_to_the_returned_range() -> None:
    data = encode(tone(440, 3.0, SR), SR, "wav")
    with pytest.raises(AudioTooShort):
        decode(data, sample_rate=SR, min_seconds=1.0, start=2.5)
    assert decode(data, sample_rate=SR, min_seconds=1.0, start=1.5).duration == 1.5


def test_all_zeros_is_silent() -> None:
    with pytest.raises(SilentAudio) as err:
        decode(encode(np.zeros(SR, np.float32), SR, "wav"), sample_rate=SR)
    assert err.value.rms_dbfs == -math.inf
    assert str(err.value) == "audio is silent: RMS -inf dBFS is below the -80 dBFS threshold"


@pytest.mark.parametrize(("dbfs", "silent"), [(-90.0, True), (-70.0, False)])
def test_silence_threshold_is_rms_dbfs(dbfs: float, silent: bool) -> None:
    noise = np.random.default_rng(14).standard_normal(SR)
    x = (noise / np.sqrt(np.mean(noise**2)) * 10 ** (dbfs / 20)).astype(np.float32)
    data = encode(x, SR, "wav", "FLOAT")
    if silent:
        with pytest.raises(SilentAudio) as err:
            decode(data, sample_rate=SR)
        assert err.value.rms_dbfs == pytest.approx(dbfs, abs=0.01)
    else:
        assert decode(data, sample_rate=SR).samples.shape == (SR,)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_float_wav_is_refused(bad: float) -> None:
    x = tone(440, 1.0, SR)
    x[1234] = bad
    with pytest.raises(AudioDecodeError) as err:
        decode(encode(x, SR, "wav", "FLOAT"), sample_rate=SR)
    assert err.value.reason == "it contains non-finite samples (NaN or infinity)"


def test_wav_without_samples_is_refused() -> None:
    with pytest.raises(AudioDecodeError) as err:
        decode(wav_header(SR, 1, 16, 0), sample_rate=SR)
    assert err.value.reason == "it contains no audio samples"


def test_sources_bytes_path_and_file_objects_agree(tmp_path) -> None:
    data = encode(synth_music(1.0, 22050, seed=15), 22050, "flac")
    path = tmp_path / "a.flac"
    path.write_bytes(data)
    offset = io.BytesIO(b"junk" + data)
    offset.seek(4)

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:  # type: ignore[override]
            return self._inner.readinto(b)

    expected = decode(data, sample_rate=SR).samples
    for source in (path, str(path), bytearray(data), io.BytesIO(data), offset, Unseekable()):
        np.testing.assert_array_equal(decode(source, sample_rate=SR).samples, expected)


def test_missing_path_is_an_os_error_not_an_audio_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        decode(tmp_path / "nope.wav", sample_rate=SR)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0},
        {"sample_rate": 16000.0},
        {"sample_rate": SR, "max_seconds": 0},
        {"sample_rate": SR, "min_seconds": -1},
        {"sample_rate": SR, "min_seconds": 5, "max_seconds": 2},
    ],
)
def test_bad_arguments_are_value_errors_not_audio_errors(kwargs: dict) -> None:
    with pytest.raises(ValueError) as err:
        decode(encode(tone(440, 1.0, SR), SR, "wav"), **kwargs)
    assert not isinstance(err.value, AudioError)


def test_sha256_of_bytes_path_and_file_object(tmp_path) -> None:
    data = np.random.default_rng(16).bytes(3 * 1024 + 7)
    expected = hashlib.sha256(data).hexdigest()
    path = tmp_path / "blob"
    path.write_bytes(data)
    fh = io.BytesIO(b"xx" + data)
    fh.seek(2)
    assert sha256_of(data) == sha256_of(path) == sha256_of(str(path)) == expected
    assert sha256_of(path, chunk_bytes=1000) == expected
    assert sha256_of(fh) == expected and fh.tell() == 2


def test_windows_tile_and_keep_a_long_enough_rest() -> None:
    x = np.arange(10, dtype=np.float32)
    np.testing.assert_array_equal(windows(x, 1, 4), [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]])
    np.testing.assert_array_equal(windows(x[:9], 1, 4), [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(windows(x[:8], 1, 4), [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(windows(x[:4], 1, 4), [[0, 1, 2, 3]])
    np.testing.assert_array_equal(windows(x[:3], 1, 4), [[0, 1, 2, 0]])
    np.testing.assert_array_equal(windows(x[:1], 1, 4), [[0, 0, 0, 0]])


def test_windows_with_hop_and_seconds() -> None:
    x = np.arange(11, dtype=np.float32)
    # starts 0, 2, 4, 6; rest 11 - 10 = 1 < 2: dropped
    assert windows(x, 1, 4, hop_seconds=2)[:, 0].tolist() == [0, 2, 4, 6]
    # starts 0, 3, 6; rest 11 - 10 = 1: dropped; with 12 samples, rest 2 >= 2: start 8 added
    assert windows(x, 1, 4, hop_seconds=3)[:, 0].tolist() == [0, 3, 6]
    assert windows(np.arange(12.0), 1, 4, hop_seconds=3)[:, 0].tolist() == [0, 3, 6, 8]
    x = np.zeros(int(3.7 * SR), np.float32)
    w = windows(x, SR, 1.0)  # rest 0.7 s: an end-aligned 4th window
    assert w.shape == (4, SR) and w.dtype == np.float32 and not np.shares_memory(w, x)


@pytest.mark.parametrize(
    ("samples", "window"), [(np.zeros(0), 1.0), (np.zeros((2, 10)), 1.0), (np.zeros(10), 0.01)]
)
def test_windows_refuse_bad_input(samples: np.ndarray, window: float) -> None:
    with pytest.raises(ValueError):
        windows(samples, 10, window)


def float_sine(amplitude: float, rate: int = 44100, seconds: float = 3.0) -> bytes:
    t = np.arange(round(rate * seconds)) / rate
    return encode((amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, "wav",
                  "FLOAT")


@pytest.mark.parametrize("exponent", range(-30, 39, 2))
@pytest.mark.parametrize("rate", [16000, 44100])
def test_any_finite_amplitude_decodes_to_finite_samples_at_most_full_scale(exponent, rate):
    """Float WAVs from 1e-30 to 1e38: silent (a clear error) or finite and within [-1, 1]."""
    amplitude = 10.0**exponent
    try:
        d = decode(float_sine(amplitude, rate), sample_rate=SR)
    except SilentAudio:
        assert amplitude < 1e-3  # a sine's RMS is amplitude / sqrt(2): -80 dBFS at 1.4e-4
        return
    assert np.isfinite(d.samples).all() and np.abs(d.samples).max() <= 1.0
    assert d.gain == 1.0 if amplitude <= 0.1 else 0 < d.gain <= 1.0


@pytest.mark.parametrize("amplitude", [1.5, 10.0, 1e17, 1e29])
def test_loud_float_audio_keeps_its_shape_at_full_scale(amplitude):
    reference = decode(float_sine(1.0), sample_rate=SR)
    loud = decode(float_sine(amplitude), sample_rate=SR)
    assert loud.gain == pytest.approx(reference.gain / amplitude, rel=1e-5)
    np.testing.assert_allclose(loud.samples, reference.samples, atol=1e-5)


def test_beyond_the_clip_level_the_shape_is_clipped_but_finite():
    d = decode(float_sine(3e38), sample_rate=SR)  # clipped at 1e30, then full scale
    assert np.isfinite(d.samples).all() and np.abs(d.samples).max() == pytest.approx(1.0)
    rms = np.sqrt(np.mean(d.samples.astype(np.float64) ** 2))
    assert rms > 0.8  # a (band-limited) square wave, where a sine would be 0.707


def test_integer_audio_is_not_rescaled():
    x = (0.5 * np.sin(np.arange(SR) * 0.05)).astype(np.float32)
    d = decode(encode(x, SR, "wav"), sample_rate=SR)
    assert d.gain == 1.0
