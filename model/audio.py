"""Audio decoding: bytes, a file-like object or a path -> mono float32 at the model's rate.

soundfile (libsndfile: wav, flac, ogg/vorbis, ogg/opus, mp3, aiff, ...) is tried first, PyAV
(ffmpeg: m4a/aac, webm, anything else ffmpeg reads) second, when soundfile cannot open the
data or fails while decoding it (the checks below are final, whichever decoder).
Channels are averaged to mono, then libsoxr (model.audio_resample, a streaming resampler)
brings the audio to the target rate block by block, so memory follows the *output* length,
whatever the source rate.

Safety rules (every one raises a typed :class:`AudioError`, a ``ValueError``):

- Source rates outside [MIN_SOURCE_RATE, MAX_SOURCE_RATE] Hz are refused before decoding.
- A declared length (soundfile ``frames``, PyAV stream duration) is checked before decoding
  when it is exact; bitrate estimates (mp3 without a Xing/Info/VBRI tag, raw AAC) are not
  trusted, neither for this check nor for truncation.
- The decode loop itself stops once the source position passes ``max_seconds`` +
  LENGTH_TOLERANCE_SECONDS (or MAX_SECONDS_CEILING when no limit is given), so a lying
  header or a decompression bomb costs at most that much decoding.
- An exact declared length that the data falls short of by more than the tolerance is a
  truncated file, and so is a WAV whose ``data`` chunk declares more than the file holds or an
  Ogg stream whose last page is cut or does not end the stream (model.audio_integrity: the
  decoders read such files to wherever they stop without a word).
  Decoder errors mid-stream are corrupt data. Neither leaks a file path.
- Non-finite samples are refused; audio whose RMS is below SILENCE_DBFS is refused.
- Float audio louder than full scale (a peak above 1.0) is scaled to a peak of 1.0, its shape
  kept (:func:`to_full_scale`; ``Decoded.gain`` says by how much): any finite input gives
  finite samples, and so finite log-mels and embeddings.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from model.audio_backends import BackendFailed, SourceStream, open_pyav, open_soundfile
from model.audio_errors import (
    AudioDecodeError,
    AudioError,
    AudioTooLong,
    AudioTooShort,
    InvalidRange,
    SilentAudio,
    UnsupportedSampleRate,
)
from model.audio_integrity import truncation
from model.audio_resample import StreamResampler

__all__ = [
    "AudioDecodeError",
    "AudioError",
    "AudioTooLong",
    "AudioTooShort",
    "LENGTH_TOLERANCE_SECONDS",
    "MAX_SECONDS_CEILING",
    "MAX_SOURCE_RATE",
    "MIN_SOURCE_RATE",
    "SILENCE_DBFS",
    "Decoded",
    "InvalidRange",
    "SilentAudio",
    "UnsupportedSampleRate",
    "decode",
    "to_full_scale",
    "sha256_of",
    "windows",
]

logger = logging.getLogger(__name__)

MIN_SOURCE_RATE = 1_000
MAX_SOURCE_RATE = 768_000
#: Allowance over ``max_seconds`` (and under a declared length) for codec padding/priming.
LENGTH_TOLERANCE_SECONDS = 0.25
#: The bound on decoding when ``max_seconds`` is None.
MAX_SECONDS_CEILING = 6 * 3600.0
#: RMS relative to full scale 1.0 (a full-scale square wave is 0 dBFS, a full-scale sine
#: -3 dBFS); -80 dBFS is an RMS of 1e-4, below 16-bit dither noise (about -101 dBFS).
SILENCE_DBFS = -80.0

Source = bytes | bytearray | memoryview | str | Path | BinaryIO


@dataclass(frozen=True, eq=False)
class Decoded:
    """Decoded audio.

    Attributes:
        samples: (T,) float32 mono samples at ``sample_rate``.
        sample_rate: the rate asked for, in Hz.
        duration: T / sample_rate, in seconds.
        source_rate: the file's sample rate, in Hz.
        channels: the file's channel count (averaged to mono).
        format: container, lower case (``wav``, ``flac``, ``ogg``, ``mp3``,
            ``mov,mp4,m4a,3gp,3g2,mj2``, ...).
        codec: codec or sample format, lower case (``pcm_16``, ``vorbis``, ``aac``, ...).
        backend: ``soundfile`` or ``pyav``.
        gain: the factor the samples were scaled by: 1.0, or below it for float audio whose
            peak exceeded full scale (brought to a peak of 1.0).
    """

    samples: np.ndarray
    sample_rate: int
    duration: float
    source_rate: int
    channels: int
    format: str
    codec: str
    backend: str
    gain: float = 1.0


@dataclass(frozen=True)
class _Plan:
    sample_rate: int
    start: float
    duration: float | None
    max_seconds: float | None
    min_seconds: float | None


def decode(
    source: Source,
    *,
    sample_rate: int,
    max_seconds: float | None = None,
    min_seconds: float | None = None,
    start: float = 0.0,
    duration: float | None = None,
    reject_silence: bool = True,
) -> Decoded:
    """Decodes audio to mono float32 at ``sample_rate``.

    Args:
        source: encoded bytes, a path, or a binary file-like object (read from its current
            position; a seekable one at position 0 is used in place, anything else is read
            into memory first).
        sample_rate: the output rate in Hz (the model's rate, e.g. 16000).
        max_seconds: longest source accepted. Files declaring more are refused before
            decoding, and decoding stops (and refuses) once the source position passes
            ``max_seconds`` + LENGTH_TOLERANCE_SECONDS, even when only a range is asked for.
            None: MAX_SECONDS_CEILING bounds decoding instead.
        min_seconds: shortest *returned* audio accepted (after ``start``/``duration``).
        start: offset into the audio, in seconds; must lie before the end.
        duration: length to return from ``start``, in seconds; clipped at the end of the
            audio. None: to the end.
        reject_silence: refuse audio whose RMS is below SILENCE_DBFS (a catalogue track or
            a query must have something to hear; a training window may be quiet).

    Returns:
        The decoded audio; ``samples`` has shape (T,), T = ceil(source frames in range *
        sample_rate / source_rate).

    Raises:
        ValueError: ``sample_rate``, ``max_seconds`` or ``min_seconds`` is not usable.
        InvalidRange: ``start``/``duration`` negative, NaN, infinite, or start past the end.
        UnsupportedSampleRate: the source rate is outside [MIN_SOURCE_RATE, MAX_SOURCE_RATE].
        AudioDecodeError: not audio, corrupt, truncated, no samples, non-finite samples.
        AudioTooLong: longer than ``max_seconds`` (declared, or found while decoding).
        AudioTooShort: the returned audio is shorter than ``min_seconds``.
        SilentAudio: the returned audio's RMS is below SILENCE_DBFS (``reject_silence``).
        OSError: a path that cannot be opened (FileNotFoundError, ...).
    """
    plan = _validate(sample_rate, max_seconds, min_seconds, start, duration)
    with _as_binary(source) as fh:
        decoded = _decode_any(fh, plan)
    _check_result(decoded, plan, reject_silence)
    return decoded


def _validate(
    sample_rate: int,
    max_seconds: float | None,
    min_seconds: float | None,
    start: float,
    duration: float | None,
) -> _Plan:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
    if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"max_seconds must be a finite number > 0, got {max_seconds!r}")
    if min_seconds is not None and not (math.isfinite(min_seconds) and min_seconds >= 0):
        raise ValueError(f"min_seconds must be a finite number >= 0, got {min_seconds!r}")
    if min_seconds is not None and max_seconds is not None and min_seconds > max_seconds:
        raise ValueError(f"min_seconds {min_seconds} exceeds max_seconds {max_seconds}")
    if not (isinstance(start, int | float) and math.isfinite(start) and start >= 0):
        raise InvalidRange(start, duration, "start must be a finite number >= 0")
    if duration is not None and not (
        isinstance(duration, int | float) and math.isfinite(duration) and duration > 0
    ):
        raise InvalidRange(start, duration, "duration must be a finite number > 0")
    return _Plan(sample_rate, float(start), duration, max_seconds, min_seconds)


@contextmanager
def _as_binary(source: Source) -> Iterator[BinaryIO]:
    """Any source as a seekable binary file object positioned at 0."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | Path):
        with open(source, "rb") as fh:
            yield fh
    elif _seekable(source) and source.tell() == 0:
        yield source
    else:
        yield io.BytesIO(source.read())


def _seekable(fh: BinaryIO) -> bool:
    try:
        return bool(fh.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _decode_any(fh: BinaryIO, plan: _Plan) -> Decoded:
    cut = truncation(fh, tolerance_seconds=LENGTH_TOLERANCE_SECONDS)
    if cut is not None:
        raise AudioDecodeError(f"the data is truncated: {cut}")
    failures: list[BackendFailed] = []
    for opener in (open_soundfile, open_pyav):
        fh.seek(0)
        try:
            with opener(fh) as stream:
                return _decode_stream(stream, plan)
        except BackendFailed as exc:
            logger.debug("%s could not decode: %s", opener.__name__, exc.detail)
            failures.append(exc)
    # Prefer the message of a backend that recognised the format (it got past opening).
    opened = [f for f in failures if f.stage != "open"]
    if opened:
        raise AudioDecodeError(f"the {opened[0].format} data is corrupt or truncated")
    raise AudioDecodeError("not a recognised audio format, or the data is corrupt")


def _decode_stream(stream: SourceStream, plan: _Plan) -> Decoded:
    rate = stream.rate
    limit = plan.max_seconds if plan.max_seconds is not None else MAX_SECONDS_CEILING
    start_frame = _check_header(stream, plan, limit)
    stop_frame = None if plan.duration is None else start_frame + round(plan.duration * rate)
    limit_frames = math.floor((limit + LENGTH_TOLERANCE_SECONDS) * rate)
    resampler = StreamResampler(rate, plan.sample_rate)
    position, blocks = stream.blocks_from(start_frame)
    end, at_eof = _consume(
        blocks, position, rate, start_frame, stop_frame, limit_frames, resampler, limit
    )
    declared = stream.declared_frames
    if at_eof and declared is not None and (declared - end) / rate > LENGTH_TOLERANCE_SECONDS:
        raise AudioDecodeError(
            f"the data is truncated: the header declares {declared / rate:.3f} s "
            f"but only {end / rate:.3f} s could be decoded"
        )
    if 0 < start_frame and end <= start_frame:
        raise InvalidRange(
            plan.start, plan.duration, "start is at or past the end", end / rate, past_end=True
        )
    samples = resampler.finish()
    gain = to_full_scale(samples)
    return Decoded(
        gain=gain,
        samples=samples,
        sample_rate=plan.sample_rate,
        duration=len(samples) / plan.sample_rate,
        source_rate=rate,
        channels=stream.channels,
        format=stream.format,
        codec=stream.codec,
        backend=stream.backend,
    )


def to_full_scale(samples: np.ndarray) -> float:
    """Scales (T,) float32 ``samples`` in place so that their peak is at most 1.0; returns the
    factor (1.0 when the peak already is). Integer formats never exceed full scale; float
    files may (a mix that clips, or data scaled by anything up to 3.4e38), and the front end
    squares the samples: beyond full scale they would overflow float32."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    if peak <= 1.0:
        return 1.0
    samples /= np.float32(peak)
    return 1.0 / peak


def _check_header(stream: SourceStream, plan: _Plan, limit: float) -> int:
    """Checks what the header declares, before decoding; returns the start frame."""
    rate, declared = stream.rate, stream.declared_frames
    if not MIN_SOURCE_RATE <= rate <= MAX_SOURCE_RATE:
        raise UnsupportedSampleRate(rate, MIN_SOURCE_RATE, MAX_SOURCE_RATE)
    if declared is not None and declared / rate > limit + LENGTH_TOLERANCE_SECONDS:
        raise AudioTooLong(declared / rate, limit, declared=True)
    start_frame = round(plan.start * rate)
    if declared is not None and 0 < declared <= start_frame:
        raise InvalidRange(
            plan.start, plan.duration, "start is at or past the end", declared / rate,
            past_end=True,
        )
    return start_frame


def _consume(
    blocks: Iterator[np.ndarray],
    position: int,
    rate: int,
    start_frame: int,
    stop_frame: int | None,
    limit_frames: int,
    resampler: StreamResampler,
    limit: float,
) -> tuple[int, bool]:
    """Feeds the [start_frame, stop_frame) part of mono source blocks to the resampler.

    Returns:
        (source position reached, whether the decoder ran out of data).
    """
    for block in blocks:
        lo = max(start_frame - position, 0)
        hi = len(block) if stop_frame is None else min(stop_frame - position, len(block))
        if hi > lo:
            part = block[lo:hi]
            if not np.isfinite(part).all():
                raise AudioDecodeError("it contains non-finite samples (NaN or infinity)")
            resampler.push(part)
        position += len(block)
        if stop_frame is not None and position >= stop_frame:
            return position, False
        if position > limit_frames:
            raise AudioTooLong(position / rate, limit, declared=False)
    return position, True


def _check_result(decoded: Decoded, plan: _Plan, reject_silence: bool) -> None:
    x = decoded.samples
    if len(x) == 0:
        raise AudioDecodeError("it contains no audio samples")
    if not np.isfinite(x).all():  # the source held NaN or infinity
        raise AudioDecodeError("it contains non-finite samples (NaN or infinity)")
    if plan.min_seconds is not None and decoded.duration < plan.min_seconds:
        raise AudioTooShort(decoded.duration, plan.min_seconds)
    if not reject_silence:
        return
    rms = _rms(x)
    dbfs = 20.0 * math.log10(rms) if rms > 0 else -math.inf
    if dbfs < SILENCE_DBFS:
        raise SilentAudio(dbfs, SILENCE_DBFS)


def _rms(x: np.ndarray, chunk: int = 1 << 20) -> float:
    """RMS of (T,) float32, accumulated in float64 a chunk at a time (bounded memory)."""
    total = 0.0
    for i in range(0, len(x), chunk):
        part = x[i : i + chunk].astype(np.float64)
        total += float(np.dot(part, part))
    return math.sqrt(total / len(x))


def sha256_of(source: Source, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 hex digest of the raw encoded bytes (paths are streamed).

    A file-like object is hashed from its current position to its end, then put back at
    that position when it is seekable.
    """
    digest = hashlib.sha256()
    if isinstance(source, bytes | bytearray | memoryview):
        digest.update(source)
        return digest.hexdigest()
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            _feed(digest, fh, chunk_bytes)
        return digest.hexdigest()
    position = source.tell() if _seekable(source) else None
    _feed(digest, source, chunk_bytes)
    if position is not None:
        source.seek(position)
    return digest.hexdigest()


def _feed(digest: hashlib._Hash, fh: BinaryIO, chunk_bytes: int) -> None:
    while chunk := fh.read(chunk_bytes):
        digest.update(chunk)


def windows(
    samples: np.ndarray,
    sample_rate: int,
    window_seconds: float,
    hop_seconds: float | None = None,
) -> np.ndarray:
    """Frames audio into fixed-length windows.

    With n = round(window_seconds * sample_rate) and h = round(hop_seconds * sample_rate)
    (default h = n, no overlap):

    - T >= n: windows start at 0, h, 2h, ... as long as they fit. If the samples after the
      last of them amount to at least half a window (2 * rest >= n), one more window is
      added that ends exactly at the end of the audio (overlapping the one before);
      a shorter rest is dropped.
    - 0 < T < n: the audio is looped (tiled) to fill one window. Enforce a minimum length
      before this (``decode(min_seconds=...)``).

    Args:
        samples: (T,) mono audio.
        sample_rate: its rate in Hz.
        window_seconds: window length in seconds.
        hop_seconds: distance between window starts; None: window_seconds.

    Returns:
        (W, n) float32 array, a copy.

    Raises:
        ValueError: samples not 1-D or empty, window or hop under one sample.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"samples must be a non-empty 1-D array, got shape {x.shape}")
    n = round(window_seconds * sample_rate)
    h = n if hop_seconds is None else round(hop_seconds * sample_rate)
    if n < 1 or h < 1:
        raise ValueError(
            f"window ({window_seconds} s) and hop ({hop_seconds} s) must each be at least "
            f"one sample at {sample_rate} Hz"
        )
    if len(x) < n:
        return np.resize(x, n)[None, :]
    starts = list(range(0, len(x) - n + 1, h))
    rest = len(x) - (starts[-1] + n)
    if 2 * rest >= n:
        starts.append(len(x) - n)
    return np.lib.stride_tricks.sliding_window_view(x, n)[starts]  # indexing copies
