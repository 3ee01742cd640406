"""The log-mel front end: ``torch.stft`` and a mel filterbank (DESIGN.md "The model").

It computes what the encoder has always computed (until 0.1 through torchaudio's
``MelSpectrogram`` with its defaults), so checkpoints trained then give the same embeddings:

- power spectrogram: a periodic Hann window of ``n_fft`` samples, hop ``hop_length``, frames
  centred (the signal is reflect-padded by ``n_fft // 2`` on both sides), |STFT|^2;
- mel filterbank: triangles on the HTK mel scale (mel = 2595 log10(1 + f / 700)), ``n_mels``
  bands with edges equally spaced in mel between ``f_min`` and ``f_max`` (default
  sample_rate / 2), evaluated at the STFT bin frequencies ``linspace(0, sample_rate // 2,
  n_fft // 2 + 1)``, without area normalisation;
- dB: 10 log10(mel power + 1e-8).

Both the window and the filterbank are functions of the configuration, so they are buffers
that checkpoints do not store (``persistent=False``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from model.config import EncoderConfig

#: Added to the mel power before the logarithm (a floor of -80 dB).
POWER_FLOOR = 1e-8


def hz_to_mel(hz: float) -> float:
    """HTK mel scale: 2595 * log10(1 + hz / 700)."""
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`, elementwise in the tensor's dtype."""
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """(n_fft // 2 + 1, n_mels) float32 triangular filters on the HTK mel scale.

    Column m rises linearly from 0 at edge m to 1 at edge m + 1 and falls back to 0 at edge
    m + 2, where the n_mels + 2 edges are equally spaced in mel from ``f_min`` to ``f_max``.
    The arithmetic is float32 throughout, as torchaudio's was: the filters then agree with
    the ones stored in format-1 checkpoints bit for bit (in float64 they differ by up to
    5e-6, which moves embeddings by up to 1e-5).

    Raises:
        ValueError: a frequency range that is empty or beyond Nyquist, or a band that no STFT
            bin falls into (too many mels for ``n_fft``).
    """
    top = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < top <= sample_rate / 2:
        raise ValueError(f"need 0 <= f_min < f_max <= {sample_rate / 2} Hz, "
                         f"got f_min={f_min}, f_max={f_max}")
    bins = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1)  # (F,) Hz of each STFT bin
    edges = mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(top), n_mels + 2))  # (M + 2,)
    width = edges[1:] - edges[:-1]  # (M + 1,)
    to_edge = edges[None, :] - bins[:, None]  # (F, M + 2)
    rising = -to_edge[:, :-2] / width[:-1]
    falling = to_edge[:, 2:] / width[1:]
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)  # (F, M)
    empty = torch.nonzero(fb.amax(dim=0) == 0).flatten()
    if empty.numel():
        raise ValueError(f"mel bands {empty.tolist()} hold no STFT bin: n_mels={n_mels} is too "
                         f"many for n_fft={n_fft} at {sample_rate} Hz")
    return fb


class LogMel(nn.Module):
    """(B, T) waveform -> (B, n_mels, frames) log-mel power in dB, frames = T // hop + 1.

    Kept apart from the learned layers so training can cache its output (the dB spectrogram
    is a fixed function of the audio) while serving runs the very same module.
    """

    window: torch.Tensor
    mel_fb: torch.Tensor

    def __init__(self, sample_rate: int, n_fft: int, hop_length: int, n_mels: int,
                 f_min: float = 0.0, f_max: float | None = None) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        self.register_buffer("mel_fb", fb, persistent=False)

    @classmethod
    def from_config(cls, cfg: EncoderConfig) -> LogMel:
        """The front end an encoder config describes."""
        return cls(cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.f_min, cfg.f_max)

    def power(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, n_fft // 2 + 1, frames) |STFT|^2, centred frames."""
        spec = torch.stft(wave, self.n_fft, self.hop_length, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)
        return spec.abs().pow(2.0)

    def mel_power(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, n_mels, frames) mel power."""
        return torch.matmul(self.power(wave).transpose(1, 2), self.mel_fb).transpose(1, 2)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=wave.device.type, enabled=False):
            mel = self.mel_power(wave.float())  # (B, n_mels, frames)
        return 10.0 * torch.log10(mel + POWER_FLOOR)
