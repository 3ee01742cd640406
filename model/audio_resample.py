"""Block-wise resampling with torchaudio's sinc resampler.

``StreamResampler`` gives the same output as one call of ``torchaudio.functional.resample``
over the whole signal (up to float rounding), while holding only the output and one block of
input. It calls ``torchaudio.transforms.Resample`` (the same computation, with the filter
kernel built once instead of on every call).

It relies on the structure of torchaudio's polyphase sinc resampler: with the rates
reduced to orig/new, output frame i (new samples) depends only on input samples
[i * orig - width, (i + 1) * orig + width), with zeros outside the signal. So a chunk of
input that starts and ends on multiples of ``orig``, padded with ``context`` >= width real
samples on each side (zeros before the start, as torchaudio does), yields exactly that
chunk's outputs.

Rates whose reduced ratio has a term above MAX_RATIO_TERM (e.g. 16000 / 22051) would make
torchaudio build a kernel of new x orig floats (16000 x 22051 = 1.4 GB); the ratio is then
replaced by the closest fraction with terms <= MAX_RATIO_TERM (relative error < 1e-5).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
import torchaudio.transforms as tat

LOWPASS_FILTER_WIDTH = 6  # torchaudio's defaults, restated to size the context
ROLLOFF = 0.99
MAX_RATIO_TERM = 1000
CHUNK_SAMPLES = 1 << 18  # input samples per resample call (rounded up to a multiple of orig)


def resample_ratio(source_rate: int, target_rate: int) -> tuple[int, int]:
    """(orig, new): the reduced ratio target/source, terms bounded by MAX_RATIO_TERM."""
    ratio = Fraction(target_rate, source_rate)
    if max(ratio.numerator, ratio.denominator) > MAX_RATIO_TERM:
        if ratio >= 1:
            ratio = 1 / (1 / ratio).limit_denominator(MAX_RATIO_TERM)
        else:
            ratio = ratio.limit_denominator(MAX_RATIO_TERM)
    return ratio.denominator, ratio.numerator


class StreamResampler:
    """Resamples a mono signal pushed in blocks of any size.

    Args:
        source_rate: input rate in Hz.
        target_rate: output rate in Hz.
    """

    def __init__(self, source_rate: int, target_rate: int) -> None:
        self.orig, self.new = resample_ratio(source_rate, target_rate)
        self.identity = self.orig == self.new
        width = math.ceil(LOWPASS_FILTER_WIDTH * self.orig / (ROLLOFF * min(self.orig, self.new)))
        self.context = self.orig * (math.ceil(width / self.orig) + 1)
        self.chunk = self.orig * math.ceil(CHUNK_SAMPLES / self.orig)
        self._kernel = (
            None if self.identity else tat.Resample(self.orig, self.new, dtype=torch.float32)
        )
        # Input not yet turned into output, preceded by `context` samples of left context.
        self._pending: list[np.ndarray] = [np.zeros(self.context, np.float32)]
        self._pending_len = self.context
        self._out: list[np.ndarray] = []
        self._total_in = 0

    def push(self, block: np.ndarray) -> None:
        """Adds (n,) float32 input samples."""
        if len(block) == 0:
            return
        self._total_in += len(block)
        if self.identity:
            self._out.append(np.asarray(block, dtype=np.float32))
            return
        self._pending.append(np.asarray(block, dtype=np.float32))
        self._pending_len += len(block)
        if self._pending_len >= 2 * self.context + self.chunk:
            self._drain()

    def _drain(self) -> None:
        x = np.concatenate(self._pending)
        lead = self.context * self.new // self.orig
        n_out = self.chunk * self.new // self.orig
        start = 0
        while len(x) - start >= 2 * self.context + self.chunk:
            piece = x[start : start + 2 * self.context + self.chunk]
            self._out.append(self._resample(piece)[lead : lead + n_out])
            start += self.chunk
        self._pending = [x[start:]]
        self._pending_len = len(x) - start

    def _resample(self, x: np.ndarray) -> np.ndarray:
        assert self._kernel is not None
        with torch.no_grad():
            y: torch.Tensor = self._kernel(torch.from_numpy(np.ascontiguousarray(x)))
        return y.numpy()

    def finish(self) -> np.ndarray:
        """Returns all output, shape (ceil(total input * new / orig),), float32."""
        if self.identity or self._total_in == 0:
            return _join(self._out)
        x = np.concatenate(self._pending)
        emitted = sum(len(o) for o in self._out)
        total = -(-self._total_in * self.new // self.orig)
        lead = self.context * self.new // self.orig
        self._out.append(self._resample(x)[lead : lead + total - emitted])
        return _join(self._out)


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return (
        np.concatenate(parts).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
    )
