"""Streaming resampling with libsoxr (the ``soxr`` package), in bounded memory.

``StreamResampler`` feeds blocks of any size to one ``soxr.ResampleStream`` and keeps only the
output, so memory follows the output length whatever the source rate or file length. Its
output equals one ``soxr.resample`` call over the whole signal (soxr's streaming and one-shot
paths are the same filter; tests/model/test_audio_resample.py checks it), at soxr's "HQ"
quality: a linear-phase filter with a pass band to 0.913 of the lower Nyquist rate and at
least 125 dB of stop-band rejection (libsoxr's documented HQ recipe).

The length contract of :func:`model.audio.decode` holds: ``finish`` returns exactly
ceil(input samples * target / source) samples (soxr's own count is that up to one sample; the
difference is filled with zeros or trimmed).

Float audio may hold any finite float32 (up to 3.4e38); the filter's sums of products would
overflow to infinity (and NaN) near that. Input samples are therefore clipped to +-``CLIP``
(1e30: far beyond any level a recording holds, far below float32's overflow), so the output is
finite whatever the input; ``model.audio`` then brings loud audio to full scale.
"""

from __future__ import annotations

import numpy as np
import soxr

#: libsoxr quality recipe (QQ, LQ, MQ, HQ, VHQ); see benchmarks/results/resampler.md.
QUALITY = "HQ"
#: Input magnitudes are clipped here (float32's largest is 3.4e38).
CLIP = 1e30


def output_length(n_in: int, source_rate: int, target_rate: int) -> int:
    """ceil(n_in * target_rate / source_rate), in integers."""
    return -(-n_in * target_rate // source_rate)


class StreamResampler:
    """Resamples a mono float32 signal pushed in blocks of any size.

    Args:
        source_rate: input rate in Hz.
        target_rate: output rate in Hz.
    """

    def __init__(self, source_rate: int, target_rate: int) -> None:
        if source_rate <= 0 or target_rate <= 0:
            raise ValueError(f"rates must be positive, got {source_rate} -> {target_rate} Hz")
        self.source_rate = source_rate
        self.target_rate = target_rate
        self.identity = source_rate == target_rate
        self._stream = None if self.identity else soxr.ResampleStream(
            source_rate, target_rate, 1, dtype="float32", quality=QUALITY
        )
        self._out: list[np.ndarray] = []
        self._total_in = 0

    def push(self, block: np.ndarray) -> None:
        """Adds (n,) float32 input samples."""
        if len(block) == 0:
            return
        self._total_in += len(block)
        x = np.clip(np.asarray(block, dtype=np.float32), -CLIP, CLIP)  # a copy
        if self._stream is None:
            self._out.append(x)
        else:
            self._out.append(self._stream.resample_chunk(x))

    def finish(self) -> np.ndarray:
        """All output, shape (ceil(total input * target / source),), float32."""
        if self._stream is not None and self._total_in:
            self._out.append(self._stream.resample_chunk(np.zeros(0, np.float32), last=True))
        y = np.concatenate(self._out) if self._out else np.zeros(0, np.float32)
        n = output_length(self._total_in, self.source_rate, self.target_rate)
        if len(y) < n:
            y = np.concatenate([y, np.zeros(n - len(y), np.float32)])
        return y[:n].astype(np.float32, copy=False)
