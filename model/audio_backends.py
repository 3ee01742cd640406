"""The two decoders behind model.audio: soundfile (libsndfile) and PyAV (ffmpeg).

Each opener is a context manager over a seekable binary file object at position 0 that
yields a :class:`SourceStream`: the source's rate, channels, names, its *exact* declared
length when there is one, and a way to get mono float32 blocks at the source rate.
Library errors become :class:`BackendFailed` (so model.audio can try the next decoder);
the library's message, which may contain a path, is kept only in ``detail`` for logging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import av
import numpy as np
import soundfile as sf

from model.audio_errors import AudioDecodeError

#: Samples (frames x channels) per soundfile read, so that a file declaring thousands of
#: channels still reads in bounded blocks.
BLOCK_SAMPLES = 1 << 18
#: libsndfile reports SF_COUNT_MAX frames when the length is unknown (e.g. FLAC total 0).
_SF_UNKNOWN_FRAMES = 1 << 62
#: ffmpeg demuxers whose duration is a bitrate estimate, not a count.
_AV_ESTIMATED = frozenset({"mp3", "aac", "ac3", "eac3", "mp2", "mpeg", "mpegts", "dts"})
_MP3_LENGTH_TAGS = (b"Xing", b"Info", b"VBRI")


class BackendFailed(Exception):
    """A decoder could not open (``stage="open"``) or decode (``"decode"``) the data."""

    def __init__(self, stage: str, format: str | None, detail: str) -> None:
        self.stage, self.format, self.detail = stage, format, detail
        super().__init__(f"{stage} failed ({format or 'unknown format'}): {detail}")


@dataclass(frozen=True)
class SourceStream:
    """An opened source.

    Attributes:
        rate, channels: as the file declares them.
        format, codec, backend: lower-case names.
        declared_frames: the exact declared length in source frames; None when unknown
            or only estimated.
        blocks_from: ``f(frame) -> (position, blocks)``: (n,) float32 mono blocks from
            ``position``, which is ``frame`` when the decoder could seek there, else 0.
    """

    rate: int
    channels: int
    format: str
    codec: str
    backend: str
    declared_frames: int | None
    blocks_from: Callable[[int], tuple[int, Iterator[np.ndarray]]]


@contextmanager
def open_soundfile(fh: BinaryIO) -> Iterator[SourceStream]:
    """Opens ``fh`` with libsndfile."""
    mp3_tagged = mp3_has_length_tag(fh)
    try:
        f = sf.SoundFile(fh)
    except (sf.SoundFileError, RuntimeError, ValueError, TypeError) as exc:
        raise BackendFailed("open", None, str(exc)) from exc
    with f:
        fmt = f.format.lower()
        known = 0 <= f.frames < _SF_UNKNOWN_FRAMES and (fmt != "mp3" or mp3_tagged)
        declared = f.frames if known else None

        def blocks_from(frame: int) -> tuple[int, Iterator[np.ndarray]]:
            position = 0
            if frame > 0 and declared is not None and fmt != "mp3" and f.seekable():
                try:
                    position = f.seek(frame)
                except (sf.SoundFileError, RuntimeError, ValueError) as exc:
                    raise BackendFailed("decode", fmt, str(exc)) from exc
            return position, _sf_blocks(f, fmt)

        yield SourceStream(
            f.samplerate, f.channels, fmt, f.subtype.lower(), "soundfile", declared, blocks_from
        )


def _sf_blocks(f: sf.SoundFile, fmt: str) -> Iterator[np.ndarray]:
    frames = max(1, BLOCK_SAMPLES // max(f.channels, 1))
    while True:
        try:
            data = f.read(frames, dtype="float32", always_2d=True)  # (n, channels)
        except (sf.SoundFileError, RuntimeError, ValueError) as exc:
            raise BackendFailed("decode", fmt, str(exc)) from exc
        if len(data) == 0:
            return
        yield downmix(data)


def downmix(data: np.ndarray) -> np.ndarray:
    """(n, C) interleaved float32 -> (n,) mean over channels.

    The same values as ``data.mean(axis=1)``, summed channel by channel: numpy's reduction
    along the short inner axis of an interleaved block is about 20x slower, which made the
    channel average half of the decode time of a stereo WAV (benchmarks/results/encoder.md).
    """
    out = data[:, 0].copy()
    for c in range(1, data.shape[1]):
        out += data[:, c]
    if data.shape[1] > 1:
        out /= np.float32(data.shape[1])
    return out


def mp3_has_length_tag(fh: BinaryIO) -> bool:
    """Whether the data starts (after up to 4 ID3v2 tags) with an MPEG frame that carries a
    Xing/Info/VBRI header, i.e. an exact frame count. Leaves ``fh`` where it was."""
    position = fh.tell()
    try:
        offset = 0
        for _ in range(4):
            head = fh.read(10)
            if len(head) < 10 or head[:3] != b"ID3":
                break
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]  # syncsafe
            offset += 10 + size + (10 if head[5] & 0x10 else 0)
            fh.seek(position + offset)
        fh.seek(position + offset)
        frame = fh.read(200)
    finally:
        fh.seek(position)
    return len(frame) > 4 and frame[0] == 0xFF and any(t in frame for t in _MP3_LENGTH_TAGS)


@contextmanager
def open_pyav(fh: BinaryIO) -> Iterator[SourceStream]:
    """Opens ``fh`` with ffmpeg, through PyAV; uses the first audio stream."""
    try:
        container = av.open(fh, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
        raise BackendFailed("open", None, str(exc)) from exc
    with container:
        fmt = container.format.name
        if not container.streams.audio:
            raise BackendFailed("open", None, f"no audio stream in {fmt} data")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if ctx is None:  # ffmpeg has no decoder for this codec
            raise BackendFailed("open", fmt, "no decoder for this audio codec")
        rate = int(ctx.sample_rate or 0)
        declared = None if fmt in _AV_ESTIMATED else _av_declared_frames(container, stream, rate)

        def blocks_from(frame: int) -> tuple[int, Iterator[np.ndarray]]:
            return 0, _av_blocks(container, stream, rate, fmt)

        yield SourceStream(
            rate, ctx.layout.nb_channels, fmt, ctx.name, "pyav", declared, blocks_from
        )


def _av_declared_frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, rate: int
) -> int | None:
    if stream.duration and stream.time_base:
        return round(float(stream.duration * stream.time_base) * rate)
    if container.duration:
        return round(container.duration / av.time_base * rate)
    return None


def _av_blocks(
    container: av.container.InputContainer,
    stream: av.audio.stream.AudioStream,
    rate: int,
    fmt: str,
) -> Iterator[np.ndarray]:
    to_planar = av.AudioResampler(format="fltp")  # same rate and layout; (channels, n) arrays
    for frame in _av_frames(container, stream, fmt):
        if frame is not None and frame.sample_rate != rate:
            raise AudioDecodeError(
                f"the sample rate changes mid-stream ({rate} Hz to {frame.sample_rate} Hz)"
            )
        try:
            planar = to_planar.resample(frame)
        except av.error.FFmpegError as exc:
            raise BackendFailed("decode", fmt, str(exc)) from exc
        for out in planar:
            yield out.to_ndarray().mean(axis=0, dtype=np.float32)


def _av_frames(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, fmt: str
) -> Iterator[av.AudioFrame | None]:
    """Decoded frames, then None (to flush the format converter)."""
    try:
        for packet in container.demux(stream):
            yield from packet.decode()
    except av.error.FFmpegError as exc:
        raise BackendFailed("decode", fmt, str(exc)) from exc
    yield None
