"""Triplet margin loss on mined (anchor, positive, negative) index triplets.

Lee, Bryan, Salamon, Jin, Nam, "Disentangled Multidimensional Metric Learning for Music
Similarity", ICASSP 2020: L = max(0, D(a, p) - D(a, n) + margin), margin 0.1, D the Euclidean
distance between L2-normalised embeddings.
"""

from __future__ import annotations

import torch
from torch import nn

from model.losses._common import check_embeddings, check_reduction, reduce
from model.losses.distances import NormalizedEuclidean

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def check_triplets(triplets: Triplets, batch: int) -> Triplets:
    """Validate an (a, p, n) tuple of equal-length int64 index vectors into a batch of size
    ``batch``; return it unchanged.

    Raises:
        TypeError: not a 3-tuple of LongTensors.
        ValueError: lengths differ, or an index is outside ``[0, batch)``.
    """
    if not isinstance(triplets, tuple | list) or len(triplets) != 3:
        raise TypeError(f"triplets must be an (a, p, n) tuple, got {type(triplets).__name__}")
    a, p, n = triplets
    for name, t in (("anchors", a), ("positives", p), ("negatives", n)):
        if not isinstance(t, torch.Tensor) or t.dtype != torch.int64 or t.ndim != 1:
            raise TypeError(f"{name} must be a 1-d int64 tensor, got {getattr(t, 'dtype', t)}")
    if not a.shape == p.shape == n.shape:
        raise ValueError(
            f"a, p, n must have the same length, got {a.shape[0]}, {p.shape[0]}, {n.shape[0]}"
        )
    if a.numel():
        idx = torch.cat([a, p, n])
        lo, hi = torch.stack([idx.min(), idx.max()]).tolist()  # one device sync
        if lo < 0 or hi >= batch:
            raise ValueError(f"triplet index out of range [0, {batch}): min {lo}, max {hi}")
    return (a, p, n)


class TripletLoss(nn.Module):
    """Hinge on the distance gap of each triplet, reduced over triplets.

    Args:
        margin: the margin Delta (Lee et al. 2020: 0.1).
        distance: row-wise distance ``(M, D) x (M, D) -> (M,)``; default Euclidean on
            L2-normalised embeddings.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"mean_nonzero"``.
    """

    def __init__(
        self,
        margin: float = 0.1,
        distance: NormalizedEuclidean | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.margin = float(margin)
        self.distance = distance if distance is not None else NormalizedEuclidean()
        self.reduction = check_reduction(reduction)

    def per_triplet(self, embeddings: torch.Tensor, triplets: Triplets) -> torch.Tensor:
        """Unreduced losses.

        Args:
            embeddings: (B, D).
            triplets: (a, p, n), each (M,) int64 indices into the batch.

        Returns:
            (M,) ``max(0, d(a, p) - d(a, n) + margin)``.
        """
        check_embeddings(embeddings)
        a, p, n = check_triplets(triplets, embeddings.shape[0])
        d_ap = self.distance(embeddings[a], embeddings[p])
        d_an = self.distance(embeddings[a], embeddings[n])
        return torch.relu(d_ap - d_an + self.margin)

    def forward(self, embeddings: torch.Tensor, triplets: Triplets) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            triplets: (a, p, n), each (M,) int64 indices into the batch, e.g. from a miner.

        Returns:
            Scalar loss; a 0 still attached to ``embeddings``'s graph when M == 0.
        """
        return reduce(self.per_triplet(embeddings, triplets), self.reduction, embeddings)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, distance={self.distance!r}, reduction={self.reduction!r}"
