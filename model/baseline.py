"""The classical baseline: MFCC and chroma statistics, evaluated like a trained encoder.

Per window: 20 MFCCs (the DCT-II, orthonormal, of the window's 64-band log-mel in dB, floored
80 dB below its loudest cell: scipy's DCT over :mod:`model.frontend`'s mel power, the classic
definition that torchaudio's MFCC also computes) and a 12-bin chroma from the power
spectrogram (each STFT bin between 55 Hz and 5 kHz credited to its nearest pitch
class, frames normalised to sum 1), each pooled over the window's frames by mean and standard
deviation: 64 numbers. They are standardised with the training windows' mean and std, and the
result is the embedding (one facet, ``all``). Tags get a fitted cosine head exactly as the
encoders without a learned head (:mod:`model.train.tag_head`: class-mean proxies from the
training tracks, logistic calibration on the validation tracks), so every metric of
:mod:`model.evaluation.evaluate` is computed the same way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch
from torch import nn

from layout.facets import to_full_space
from layout.schema import ConceptSchema
from layout.tags import tag_cosines
from model.data.base import MusicDataset
from model.evaluation.evaluate import WindowOutputs, aggregate, embed_clips, evaluate_window_fn
from model.frontend import LogMel
from model.train import tag_head

logger = logging.getLogger(__name__)

N_MFCC = 20
N_CHROMA = 12
#: The log-mel floor of the MFCCs: power below 1e-10 and cells more than TOP_DB under the
#: window's loudest are clamped.
AMIN = 1e-10
TOP_DB = 80.0


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """(n_mfcc, n_mels) the first rows of the orthonormal DCT-II (scipy.fft.dct)."""
    return torch.from_numpy(
        scipy.fft.dct(np.eye(n_mels), type=2, norm="ortho", axis=0)[:n_mfcc].astype(np.float32)
    )


def chroma_matrix(sample_rate: int, n_fft: int, fmin: float = 55.0,
                  fmax: float = 5000.0) -> torch.Tensor:
    """(12, n_fft // 2 + 1) 0/1 map from STFT bins to pitch classes (C = 0)."""
    freqs = torch.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    out = torch.zeros(N_CHROMA, freqs.numel())
    ok = (freqs >= fmin) & (freqs <= fmax)
    midi = 69.0 + 12.0 * torch.log2(freqs[ok] / 440.0)
    out[torch.round(midi).long() % N_CHROMA, torch.nonzero(ok).flatten()] = 1.0
    return out


class MFCCChroma(nn.Module):
    """(B, n) waveform -> (B, 64) mean/std of 20 MFCCs and 12 chroma bins over frames.

    Args:
        sample_rate: Hz.
        n_fft, hop_length, n_mels: the STFT and mel parameters (the encoder's defaults).
    """

    dct: torch.Tensor  # (N_MFCC, n_mels)
    chroma: torch.Tensor  # (N_CHROMA, n_fft // 2 + 1)

    def __init__(self, sample_rate: int = 16_000, n_fft: int = 2048, hop_length: int = 256,
                 n_mels: int = 64) -> None:
        super().__init__()
        self.front = LogMel(sample_rate, n_fft, hop_length, n_mels)
        self.register_buffer("dct", dct_matrix(N_MFCC, n_mels))
        self.register_buffer("chroma", chroma_matrix(sample_rate, n_fft))

    @property
    def dim(self) -> int:
        return 2 * (N_MFCC + N_CHROMA)

    def mfcc(self, power: torch.Tensor) -> torch.Tensor:
        """(B, F, frames) power spectrogram -> (B, N_MFCC, frames)."""
        mel = torch.matmul(power.transpose(1, 2), self.front.mel_fb).transpose(1, 2)
        db = 10.0 * torch.log10(mel.clamp_min(AMIN))  # (B, n_mels, frames)
        db = torch.maximum(db, db.amax(dim=(1, 2), keepdim=True) - TOP_DB)
        return torch.matmul(self.dct, db)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        power = self.front.power(wave)  # (B, F, frames)
        m = self.mfcc(power)  # (B, 20, frames)
        c = self.chroma @ power  # (B, 12, frames)
        c = c / c.sum(dim=1, keepdim=True).clamp_min(1e-10)
        x = torch.cat([m, c], dim=1)  # (B, 32, frames)
        return torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1)  # (B, 64)


@dataclass
class BaselineModel:
    """Standardised MFCC/chroma statistics with a fitted cosine tag head."""

    features: MFCCChroma
    mean: np.ndarray
    std: np.ndarray
    schema: ConceptSchema
    proxies: np.ndarray
    calibration: tag_head.Calibration

    def raw(self, frames: np.ndarray) -> np.ndarray:
        """(W, n) window samples -> (W, 64) unstandardised statistics."""
        with torch.no_grad():
            return self.features(torch.from_numpy(np.ascontiguousarray(frames))).numpy()

    def embed_windows(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W, n) -> ((W, 64) full-space vectors, (W, T) calibrated tag probabilities)."""
        v = to_full_space(((self.raw(frames) - self.mean) / self.std).astype(np.float32),
                          self.schema)
        cos = tag_cosines(v, self.proxies, self.schema)
        logits = cos * self.calibration.scale + self.calibration.bias
        return v, (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def _track_vectors(model: BaselineModel, ds: MusicDataset, raw: WindowOutputs
                   ) -> tuple[np.ndarray, np.ndarray]:
    v = to_full_space(((raw.vectors - model.mean) / model.std).astype(np.float32), model.schema)
    tr = aggregate(WindowOutputs(v, raw.probs, raw.clip), ds, model.schema)
    keep = tr.labelled & (tr.labels > 0).any(axis=1)
    return tr.vectors[keep], tr.labels[keep]


def fit_baseline(train: MusicDataset, val: MusicDataset, *, sample_rate: int,
                 window_seconds: float, progress: bool = False) -> BaselineModel:
    """Standardisation from the training windows, proxies from the training tracks,
    calibration on the validation tracks."""
    feats = MFCCChroma(sample_rate).eval()
    concepts = dict(train.schema.concepts)
    schema = ConceptSchema(concepts, facet_dim=feats.dim, disentangled=False)
    zeros = np.zeros(0, np.float32)
    model = BaselineModel(feats, zeros, zeros, schema, zeros, tag_head.Calibration(
        zeros, zeros, ()))

    def raw_fn(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return model.raw(frames), np.zeros((len(frames), schema.num_tags), np.float32)

    tr_raw = embed_clips(raw_fn, train, sample_rate=sample_rate, window_seconds=window_seconds,
                         progress=progress)
    model.mean = tr_raw.vectors.mean(axis=0)
    model.std = np.maximum(tr_raw.vectors.std(axis=0), 1e-6)
    tv, ty = _track_vectors(model, train, tr_raw)
    model.proxies = tag_head.fit_proxies(tv, ty, schema)
    if len(val):
        va_raw = embed_clips(raw_fn, val, sample_rate=sample_rate,
                             window_seconds=window_seconds, progress=progress)
        vv, vy = _track_vectors(model, val, va_raw)
    else:
        vv, vy = tv[:0], ty[:0]
    model.calibration = tag_head.calibrate(tag_cosines(vv, model.proxies, schema), vy,
                                           tag_cosines(tv, model.proxies, schema), ty)
    return model


def evaluate_baseline(train: MusicDataset, val: MusicDataset, test: MusicDataset, *,
                      sample_rate: int = 16_000, window_seconds: float = 3.0,
                      triplets: int = 2000, seed: int = 0, progress: bool = False
                      ) -> dict[str, float]:
    """Fit the baseline on train/val and evaluate it on test (``train_seconds`` is the
    fitting time)."""
    import time

    t0 = time.perf_counter()
    model = fit_baseline(train, val, sample_rate=sample_rate, window_seconds=window_seconds,
                         progress=progress)
    seconds = time.perf_counter() - t0
    res = evaluate_window_fn(model.embed_windows, test, model.schema, sample_rate=sample_rate,
                             window_seconds=window_seconds, triplets=triplets, seed=seed,
                             progress=progress)
    res["train_seconds"] = seconds
    return res
