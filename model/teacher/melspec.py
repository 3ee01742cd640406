"""musicnn's log-mel front end, without librosa.

musicnn computes ``librosa.feature.melspectrogram(y, sr=16000, n_fft=512, hop_length=256,
n_mels=96)``: a centred STFT (the signal padded by n_fft // 2 on both sides), a periodic
Hann window, the power spectrum, and a Slaney-style mel filterbank (Slaney mel scale, each
triangle normalised to unit area, 0 Hz to sr / 2); then ``log10(10000 * x + 1)``.

Two details depend on the versions it ran with, and are parameters here:

- ``pad_mode``: librosa up to 0.9 padded the centred STFT by reflection, which is what
  musicnn 0.1.0 (2019, librosa 0.7) and its training data used; librosa >= 0.10 pads with
  zeros ("constant"). Only the first and last frame of a track differ.
- ``float16``: musicnn casts the mel power to float16 before the log. Under numpy 1 the
  next step, ``10000 * x``, promoted to float32, so the cast only rounded the power to
  float16 precision (11 bits); under numpy 2 the product stays float16 and overflows to
  infinity for powers above 6.55, which is a bug, not a behaviour to reproduce. With
  ``float16=True`` the power is rounded to float16 and the rest is float32 (numpy 1
  semantics); with False everything is float32. The teacher tests measure both against
  the original (see tests/model/teacher/test_musicnn.py).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = ["LogMel", "hz_to_mel", "mel_filterbank", "mel_to_hz"]

_F_SP = 200.0 / 3  # Slaney scale: linear below 1 kHz (66.67 Hz per mel) ...
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0  # ... logarithmic above, 27 mels per factor 6.4


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney (Auditory Toolbox) mel scale, float64."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Triangular mel filters with Slaney area normalisation (librosa's default ``norm``).

    Args:
        sample_rate: Hz.
        n_fft: FFT size; the filters cover its 1 + n_fft // 2 bins.
        n_mels: number of filters.
        f_min, f_max: band edges in Hz; f_max None is sample_rate / 2.

    Returns:
        (n_mels, 1 + n_fft // 2) float32 weights.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    bins = np.linspace(0.0, sample_rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # (M+2,)
    widths = np.diff(edges)  # (M+1,)
    ramps = edges[:, None] - bins[None, :]  # (M+2, K)
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (M, K)
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


class LogMel(nn.Module):
    """Waveform -> musicnn's log-compressed mel spectrogram.

    Args:
        sample_rate, n_fft, hop_length, n_mels: STFT and filterbank (musicnn: 16000, 512,
            256, 96).
        pad_mode: centre padding, ``"reflect"`` (librosa <= 0.9) or ``"constant"`` (zeros,
            librosa >= 0.10).
        float16: round the mel power to float16 before the log (musicnn under numpy 1).
    """

    filters: torch.Tensor
    window: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 256,
        n_mels: int = 96,
        *,
        pad_mode: str = "reflect",
        float16: bool = True,
    ) -> None:
        super().__init__()
        if pad_mode not in ("reflect", "constant"):
            raise ValueError(f"pad_mode must be 'reflect' or 'constant', got {pad_mode!r}")
        self.n_fft, self.hop_length, self.pad_mode, self.float16 = (
            n_fft, hop_length, pad_mode, float16)
        fb = mel_filterbank(sample_rate, n_fft, n_mels)
        self.register_buffer("filters", torch.from_numpy(fb.T.copy()), persistent=False)
        window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).float()
        self.register_buffer("window", window, persistent=False)

    def frames(self, n_samples: int) -> int:
        """Number of STFT frames for a signal of ``n_samples`` (centred): 1 + T // hop."""
        return 1 + n_samples // self.hop_length

    def pad(self, samples: torch.Tensor) -> torch.Tensor:
        """Centre-pad (..., T) by n_fft // 2 on both sides."""
        half = self.n_fft // 2
        if self.pad_mode == "reflect" and samples.shape[-1] <= half:
            raise ValueError(f"reflect padding needs more than {half} samples, "
                             f"got {samples.shape[-1]}")
        shape = samples.shape
        flat = samples.reshape(-1, 1, shape[-1])
        return nn.functional.pad(flat, (half, half), mode=self.pad_mode).reshape(
            *shape[:-1], shape[-1] + 2 * half)

    def power_from_padded(self, padded: torch.Tensor) -> torch.Tensor:
        """Mel power of an already padded signal (or a slice of one starting on a frame).

        Args:
            padded: (..., P) float32; frames start at 0, hop, 2 hop, ... while they fit.

        Returns:
            (..., 1 + (P - n_fft) // hop, n_mels) float32, librosa's ``melspectrogram``.
        """
        frames = padded.unfold(-1, self.n_fft, self.hop_length) * self.window  # (..., F, n_fft)
        power = torch.fft.rfft(frames, dim=-1).abs() ** 2  # (..., F, n_fft // 2 + 1)
        return power @ self.filters  # (..., F, n_mels)

    def compress(self, mel: torch.Tensor) -> torch.Tensor:
        """musicnn's ``log10(10000 * x + 1)`` (after the float16 rounding if enabled)."""
        if self.float16:
            mel = mel.to(torch.float16).to(torch.float32)
        return torch.log10(10000.0 * mel + 1.0)

    def forward(self, samples: torch.Tensor) -> torch.Tensor:
        """(..., T) float32 samples -> (..., 1 + T // hop, n_mels) log-mel."""
        return self.compress(self.power_from_padded(self.pad(samples.to(torch.float32))))

    def window_count(self, n_samples: int, n_frames: int) -> int:
        """Non-overlapping ``n_frames`` windows musicnn takes from T samples (partial last
        window dropped; 0 when the track is shorter than one window)."""
        frames = self.frames(n_samples)
        return 0 if frames < n_frames else (frames - n_frames) // n_frames + 1

    def windows(self, padded: torch.Tensor, first: int, count: int, n_frames: int) -> torch.Tensor:
        """Log-mel of windows ``first .. first + count - 1``, computed from their samples only.

        Args:
            padded: (P,) the whole track after :meth:`pad`.
            first: index of the first window.
            count: number of windows (all must fit, see :meth:`window_count`).
            n_frames: frames per window (187).

        Returns:
            (count, n_frames, n_mels) float32.
        """
        start = first * n_frames * self.hop_length
        stop = start + (count * n_frames - 1) * self.hop_length + self.n_fft
        if count < 1 or first < 0 or stop > padded.shape[-1]:
            raise ValueError(f"windows {first}..{first + count - 1} of {n_frames} frames do not "
                             f"fit {padded.shape[-1]} padded samples")
        mel = self.compress(self.power_from_padded(padded[start:stop]))  # (count*n_frames, M)
        return mel.reshape(count, n_frames, -1)
