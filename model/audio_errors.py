"""Typed audio errors (re-exported by model.audio). Messages never contain file paths."""

from __future__ import annotations

import math


class AudioError(ValueError):
    """Base of every error about the audio itself (not about the caller's arguments)."""


class AudioDecodeError(AudioError):
    """Not audio, corrupt or truncated data, no samples, or non-finite samples.

    Attributes:
        reason: what is wrong, in words.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"cannot decode audio: {reason}")


class UnsupportedSampleRate(AudioDecodeError):
    """The file's sample rate is outside the supported range.

    Attributes:
        rate: the file's rate in Hz.
        low, high: the supported range in Hz.
    """

    def __init__(self, rate: int, low: int, high: int) -> None:
        self.rate, self.low, self.high = rate, low, high
        super().__init__(f"unsupported sample rate {rate} Hz (supported: {low} to {high} Hz)")


class AudioTooLong(AudioError):
    """The audio is longer than the limit.

    Attributes:
        seconds: the declared length (``declared=True``), or how far decoding got before
            it was stopped (``declared=False``: the audio is at least that long).
        limit: the limit in seconds.
        declared: whether ``seconds`` comes from the header, checked before decoding.
    """

    def __init__(self, seconds: float, limit: float, *, declared: bool) -> None:
        self.seconds, self.limit, self.declared = seconds, limit, declared
        if declared:
            msg = f"audio is {seconds:.3f} s long (declared); the limit is {limit:.3f} s"
        else:
            msg = (
                f"audio is longer than the limit of {limit:.3f} s "
                f"(decoding stopped at {seconds:.3f} s)"
            )
        super().__init__(msg)


class AudioTooShort(AudioError):
    """The returned audio is shorter than the minimum.

    Attributes:
        seconds: its length in seconds.
        limit: the minimum in seconds.
    """

    def __init__(self, seconds: float, limit: float) -> None:
        self.seconds, self.limit = seconds, limit
        super().__init__(f"audio is {seconds:.3f} s long; at least {limit:.3f} s is needed")


class SilentAudio(AudioError):
    """The audio's RMS level is below the silence threshold.

    Attributes:
        rms_dbfs: its RMS level in dBFS (``-inf`` for digital silence).
        threshold_dbfs: the threshold in dBFS.
    """

    def __init__(self, rms_dbfs: float, threshold_dbfs: float) -> None:
        self.rms_dbfs, self.threshold_dbfs = rms_dbfs, threshold_dbfs
        level = "-inf" if math.isinf(rms_dbfs) else f"{rms_dbfs:.1f}"
        super().__init__(
            f"audio is silent: RMS {level} dBFS is below the {threshold_dbfs:.0f} dBFS threshold"
        )


class InvalidRange(AudioError):
    """A ``start``/``duration`` pair that cannot be served.

    Attributes:
        start: the start asked for, in seconds.
        duration: the duration asked for, in seconds (None: to the end).
        reason: what is wrong, in words.
        length: the audio's length in seconds, when known.
        past_end: the range starts at or after the end of the audio (else it is malformed).
    """

    def __init__(
        self, start: float, duration: float | None, reason: str, length: float | None = None,
        *, past_end: bool = False,
    ) -> None:
        self.start, self.duration, self.reason, self.length = start, duration, reason, length
        self.past_end = past_end
        known = "" if length is None else f" (the audio is {length:.3f} s long)"
        super().__init__(
            f"invalid range start={start!r} s, duration={duration!r} s: {reason}{known}"
        )


class NonFiniteEmbedding(AudioError):
    """The encoder gave NaN or infinity for this audio (decoding keeps samples finite and at
    most full scale, so this is a guard: such an embedding is never stored or searched)."""

    def __init__(self) -> None:
        super().__init__("cannot embed this audio: the encoder produced non-finite values")
