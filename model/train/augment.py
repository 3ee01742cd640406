"""Augmentations of log-mel windows for self-supervised views (STYLE.md rule 8: randomness is
drawn, then applied).

:func:`draw_augment` draws every parameter for a batch from a seeded
``numpy.random.Generator`` and returns them as :class:`AugmentParams`; :func:`apply_augment`
is a deterministic function of the windows and those parameters, so a failure replays from
the seed. The random crop is the view itself (:mod:`model.train.features`); here:

* gain: a constant added in dB (the spectrogram is ``10 log10`` power);
* frequency shift: the window moved up or down by a few mel bins, edge bins repeated;
* time and frequency masks (SpecAugment, Park et al. 2019), filled with the window's mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model.train.config import AugmentConfig


@dataclass(frozen=True)
class AugmentParams:
    """Drawn parameters for N windows.

    Attributes:
        gain_db: (N,) float32 dB added to every bin.
        shift: (N,) int64 mel bins; output bin m takes input bin ``clamp(m - shift)``.
        time_masks: (N, k, 2) int64 ``(start, width)`` in frames (width 0: no mask).
        freq_masks: (N, k, 2) int64 ``(start, width)`` in mel bins.
    """

    gain_db: torch.Tensor
    shift: torch.Tensor
    time_masks: torch.Tensor
    freq_masks: torch.Tensor

    def to(self, device: torch.device) -> AugmentParams:
        return AugmentParams(*(t.to(device) for t in (self.gain_db, self.shift,
                                                     self.time_masks, self.freq_masks)))


def _draw_masks(rng: np.random.Generator, n: int, count: int, max_width: int,
                size: int) -> torch.Tensor:
    width = rng.integers(0, min(max_width, size) + 1, size=(n, count))
    start = (rng.random((n, count)) * (size - width + 1)).astype(np.int64)
    return torch.from_numpy(np.stack([start, width], axis=2).astype(np.int64))


def draw_augment(
    cfg: AugmentConfig, n: int, n_mels: int, frames: int, rng: np.random.Generator
) -> AugmentParams:
    """Draw the parameters for ``n`` windows of shape ``(n_mels, frames)``."""
    gain = rng.uniform(-cfg.gain_db, cfg.gain_db, size=n).astype(np.float32)
    shift = rng.integers(-cfg.freq_shift_bins, cfg.freq_shift_bins + 1, size=n)
    return AugmentParams(
        gain_db=torch.from_numpy(gain),
        shift=torch.from_numpy(shift.astype(np.int64)),
        time_masks=_draw_masks(rng, n, cfg.time_masks, cfg.time_mask_frames, frames),
        freq_masks=_draw_masks(rng, n, cfg.freq_masks, cfg.freq_mask_bins, n_mels),
    )


def _span_mask(masks: torch.Tensor, size: int) -> torch.Tensor:
    """(N, k, 2) (start, width) -> (N, size) bool, True inside any span."""
    pos = torch.arange(size, device=masks.device)[None, None, :]  # (1, 1, size)
    start, width = masks[..., 0:1], masks[..., 1:2]  # (N, k, 1)
    return ((pos >= start) & (pos < start + width)).any(dim=1)


def apply_augment(x: torch.Tensor, p: AugmentParams) -> torch.Tensor:
    """Apply drawn parameters.

    Args:
        x: (N, n_mels, frames) log-mel windows in dB.
        p: parameters for the N windows.

    Returns:
        (N, n_mels, frames), a new tensor.
    """
    if x.ndim != 3 or x.shape[0] != p.gain_db.shape[0]:
        raise ValueError(f"expected (N, n_mels, frames) with N = {p.gain_db.shape[0]}, "
                         f"got {tuple(x.shape)}")
    n, m, f = x.shape
    y = x + p.gain_db.to(x.dtype)[:, None, None]
    src = (torch.arange(m, device=x.device)[None, :] - p.shift[:, None]).clamp(0, m - 1)
    y = torch.gather(y, 1, src[:, :, None].expand(n, m, f))  # (N, M, F)
    fill = y.mean(dim=(1, 2), keepdim=True)
    masked = _span_mask(p.time_masks, f)[:, None, :] | _span_mask(p.freq_masks, m)[:, :, None]
    return torch.where(masked, fill, y)
