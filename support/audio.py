"""Seeded audio synthesis and encoding for tests.

Synthesis returns float32 arrays, (T,) mono or (T, C) for several channels. ``encode``
writes wav / flac / ogg (vorbis) with soundfile and mp3 / m4a (aac) / opus (ogg) / webm
(opus) / adts (raw aac) with PyAV. ``wav_header``, ``sparse_wav`` and the ``flac_set_*``
helpers build hostile files.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import av
import numpy as np
import soundfile as sf
import soxr

from model.audio_resample import CLIP, QUALITY, output_length

SOUNDFILE_FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS")}
# fmt -> (container, encoder, rates the encoder takes; others are converted to the last one)
PYAV_FORMATS = {
    "mp3": ("mp3", "libmp3lame", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "m4a": ("ipod", "aac", (8000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "adts": ("adts", "aac", (8000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "opus": ("ogg", "libopus", (8000, 12000, 16000, 24000, 48000)),
    "webm": ("webm", "libopus", (8000, 12000, 16000, 24000, 48000)),
}
FORMATS = tuple(SOUNDFILE_FORMATS) + tuple(PYAV_FORMATS)
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def tone(freq: float, seconds: float, sr: int, seed: int = 0, amplitude: float = 0.5) -> np.ndarray:
    """A sine of ``freq`` Hz with a phase drawn from ``seed``; (round(seconds * sr),) float32."""
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi)
    t = np.arange(round(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


def synth_music(seconds: float, sr: int, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A few harmonic notes (random pitches, decaying envelopes) plus noise at about -40 dB.

    Returns:
        (T,) float32 for one channel, (T, channels) otherwise (each channel its own notes),
        T = round(seconds * sr), peak 0.8.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n) / sr
    out = np.zeros((n, channels))
    for c in range(channels):
        for onset in np.arange(0.0, seconds, 0.25):
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            env = np.where(t >= onset, np.exp(-(t - onset) * rng.uniform(2, 6)), 0.0)
            for k in range(1, 5):
                if k * f0 < sr / 2:
                    out[:, c] += env * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k
        out[:, c] += 0.01 * rng.standard_normal(n)
    out *= 0.8 / np.max(np.abs(out))
    return (out[:, 0] if channels == 1 else out).astype(np.float32)


def encode(samples: np.ndarray, sr: int, fmt: str, subtype: str | None = None) -> bytes:
    """Encodes (T,) or (T, C) float samples in [-1, 1].

    Args:
        samples: the audio.
        sr: its rate in Hz.
        fmt: one of FORMATS.
        subtype: soundfile subtype for wav/flac/ogg (PCM_U8, PCM_16, PCM_24, PCM_32, FLOAT,
            DOUBLE, VORBIS, OPUS ...); default PCM_16 (wav, flac) or VORBIS (ogg).
    """
    if fmt in SOUNDFILE_FORMATS:
        container, default = SOUNDFILE_FORMATS[fmt]
        buf = io.BytesIO()
        sf.write(buf, samples, sr, format=container, subtype=subtype or default)
        return buf.getvalue()
    if fmt in PYAV_FORMATS:
        return _pyav_encode(np.asarray(samples, dtype=np.float32), sr, *PYAV_FORMATS[fmt])
    raise ValueError(f"unknown format {fmt!r}; known: {FORMATS}")


def _pyav_encode(x: np.ndarray, sr: int, container: str, codec: str, rates: tuple) -> bytes:
    planar = np.ascontiguousarray(x[None, :] if x.ndim == 1 else x.T)  # (C, T)
    layout = _LAYOUTS[planar.shape[0]]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr if sr in rates else rates[-1], layout=layout)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate = sr
        for packet in stream.encode(frame):  # PyAV converts rate and frame size itself
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def wav_header(rate: int, channels: int, bits: int, data_bytes: int, format_tag: int = 1) -> bytes:
    """A 44-byte RIFF/WAVE header; every field may lie (sizes and rate wrap at 2**32)."""
    align = channels * bits // 8
    return (
        b"RIFF"
        + struct.pack("<I", (36 + data_bytes) % 2**32)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH", 16, format_tag, channels, rate % 2**32, (rate * align) % 2**32, align, bits
        )
        + b"data"
        + struct.pack("<I", data_bytes % 2**32)
    )


def sparse_wav(path: Path, rate: int, seconds: float) -> Path:
    """An honest 8-bit mono wav of ``seconds`` whose data is a hole (costs no disk)."""
    n = round(rate * seconds)
    with open(path, "wb") as fh:
        fh.write(wav_header(rate, 1, 8, n))
        fh.truncate(44 + n)
    return path


def _flac_streaminfo_patch(data: bytes, mask: int, value: int) -> bytes:
    """Rewrites bits of STREAMINFO's rate|channels|bps|total-samples 64-bit field."""
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0, "STREAMINFO must be the first block"
    field = int.from_bytes(data[18:26], "big")
    field = (field & ~mask) | value
    return data[:18] + field.to_bytes(8, "big") + data[26:]


def flac_set_total_samples(data: bytes, total: int) -> bytes:
    """FLAC bytes with STREAMINFO total samples set (0 means unknown)."""
    return _flac_streaminfo_patch(data, (1 << 36) - 1, total)


def flac_set_rate(data: bytes, rate: int) -> bytes:
    """FLAC bytes with the STREAMINFO sample rate (20 bits) set."""
    return _flac_streaminfo_patch(data, ((1 << 20) - 1) << 44, rate << 44)


def best_lag_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[float, int]:
    """Max over lags |l| <= max_lag of sum(a[t] b[t + l]) / (|a| |b|), and that lag.

    The signals are cut to a common length first; codec delay shows as a non-zero lag.
    """
    n = min(len(a), len(b))
    a64, b64 = a[:n].astype(np.float64), b[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.conj(np.fft.rfft(a64, size)) * np.fft.rfft(b64, size), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    values = xc[lags % size] / (np.linalg.norm(a64) * np.linalg.norm(b64))
    best = int(np.argmax(values))
    return float(values[best]), int(lags[best])


def one_shot_resample(x: np.ndarray, source: int, target: int) -> np.ndarray:
    """One soxr call over the whole (T,) signal, at model.audio.decode's length (the reference
    for the streaming resampler)."""
    if source == target:
        return x
    y = soxr.resample(np.clip(x, -CLIP, CLIP).astype(np.float32), source, target,
                      quality=QUALITY)
    n = output_length(len(x), source, target)
    return np.pad(y, (0, max(0, n - len(y))))[:n]
