"""Distances used by the triplet loss and the miners.

A distance object has two methods: ``__call__(a, b)`` for row-wise distances between paired
rows (M, D) x (M, D) -> (M,), used by the loss on mined triplets, and ``pairwise(x)`` for the
full (B, B) matrix of a batch, used by the hard and semi-hard miners. Both L2-normalise their
inputs first, as Lee et al. (ICASSP 2020) do before every distance.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.losses._common import EPS


def safe_sqrt(sq: torch.Tensor) -> torch.Tensor:
    """sqrt with a zero (not NaN) gradient at 0: a pair of identical embeddings (two windows
    of a silent track, say) has distance exactly 0 and contributes no gradient through it."""
    sq = sq.clamp_min(0.0)
    pos = sq > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))), 0.0)


class NormalizedEuclidean:
    """Euclidean distance between L2-normalised vectors, in [0, 2]."""

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Row-wise distances.

        Args:
            a: (M, D) embeddings.
            b: (M, D) embeddings.

        Returns:
            (M,) distances ``||a_i/|a_i| - b_i/|b_i|||``.
        """
        a = F.normalize(a, dim=1, eps=EPS)
        b = F.normalize(b, dim=1, eps=EPS)
        return safe_sqrt((a - b).pow(2).sum(dim=1))

    def pairwise(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, B) distances, computed as sqrt(2 - 2 cos) on normalised rows."""
        x = F.normalize(x, dim=1, eps=EPS)
        return safe_sqrt(2.0 - 2.0 * (x @ x.T))

    def __repr__(self) -> str:
        return "NormalizedEuclidean()"


class CosineDistance:
    """1 - cosine similarity, in [0, 2]; orders pairs exactly as NormalizedEuclidean."""

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Row-wise ``1 - cos(a_i, b_i)``: (M, D) x (M, D) -> (M,)."""
        return 1.0 - F.cosine_similarity(a, b, dim=1, eps=EPS)

    def pairwise(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, B) matrix of ``1 - cos``."""
        x = F.normalize(x, dim=1, eps=EPS)
        return 1.0 - x @ x.T

    def __repr__(self) -> str:
        return "CosineDistance()"
