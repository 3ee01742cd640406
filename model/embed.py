"""From decoded audio to what the store and indexes keep: window vectors, the track vector and
tag probabilities (DESIGN.md: a track is embedded from several windows, averaged per facet,
then renormalised; the window vectors are kept)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from layout.facets import mean_full_space, to_full_space
from model.audio import windows as frame_windows
from model.audio_errors import NonFiniteEmbedding
from model.checkpoint import LoadedModel


@dataclass
class TrackEmbedding:
    """windows: (W, D) full-space window vectors; vector: (D,) full-space track vector;
    tag_probs: (T,) mean of the windows' calibrated tag probabilities."""

    windows: np.ndarray
    vector: np.ndarray
    tag_probs: np.ndarray
    window_seconds: float
    hop_seconds: float


class Embedder:
    """Embeds decoded mono audio with a loaded model, in batches of windows, without grad.

    Args:
        model: a loaded checkpoint.
        batch_size: windows per forward pass (bounds memory for long tracks).
        hop_seconds: window hop; default non-overlapping (hop = window).
    """

    def __init__(
        self, model: LoadedModel, *, batch_size: int = 32, hop_seconds: float | None = None
    ):
        self.model = model
        self.batch_size = batch_size
        self.window_seconds = model.config.clip_seconds
        self.hop_seconds = hop_seconds or self.window_seconds

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    @torch.inference_mode()
    def embed_windows(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W, n) window samples -> ((W, D) full-space vectors, (W, T) tag probabilities)."""
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise ValueError(f"expected (windows, samples) with windows >= 1, got {frames.shape}")
        zs, ps = [], []
        for i in range(0, frames.shape[0], self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(frames[i : i + self.batch_size]))
            out = self.model.encoder(batch.float())
            zs.append(out.embedding.numpy())
            ps.append(torch.sigmoid(out.logits).numpy())
        z = np.concatenate(zs).astype(np.float32)
        probs = np.concatenate(ps).astype(np.float32)
        if not (np.isfinite(z).all() and np.isfinite(probs).all()):
            raise NonFiniteEmbedding()
        return to_full_space(z, self.model.schema), probs

    def embed(self, samples: np.ndarray) -> TrackEmbedding:
        """Mono float32 samples at the model rate -> :class:`TrackEmbedding`."""
        frames = frame_windows(samples, self.sample_rate, self.window_seconds, self.hop_seconds)
        win, probs = self.embed_windows(frames)
        return TrackEmbedding(
            windows=win,
            vector=mean_full_space(win, self.model.schema),
            tag_probs=probs.mean(axis=0),
            window_seconds=self.window_seconds,
            hop_seconds=self.hop_seconds,
        )
