"""Barlow Twins (Zbontar et al. 2021): push the cross-correlation of two views' batch-
standardised features to the identity.

Following Meseguer-Brocal et al. 2024 (Deezer), both terms are means rather than sums:
``mean_i (1 - c_ii)^2 + lambda * mean_{i != j} c_ij^2`` with lambda = 1.
"""

from __future__ import annotations

import torch
from torch import nn

from model.losses._common import check_pair


def _standardize(z: torch.Tensor, eps: float) -> torch.Tensor:
    """BatchNorm without affine: zero mean, unit (biased) variance per dimension."""
    zc = z - z.mean(dim=0)
    return zc / torch.sqrt(zc.pow(2).mean(dim=0) + eps)


class BarlowTwinsLoss(nn.Module):
    """Cross-correlation ``c = z1s.T @ z2s / B`` (standardised views) against the identity.

    Args:
        lambda_offdiag: weight lambda of the off-diagonal (redundancy) term.
        eps: added to the variance in the standardisation (BatchNorm's 1e-5).
    """

    def __init__(self, lambda_offdiag: float = 1.0, eps: float = 1e-5) -> None:
        super().__init__()
        if lambda_offdiag < 0:
            raise ValueError(f"lambda_offdiag must be >= 0, got {lambda_offdiag}")
        self.lambda_offdiag = float(lambda_offdiag)
        self.eps = float(eps)

    def cross_correlation(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """(B, D), (B, D) -> (D, D) cross-correlation of the standardised views."""
        check_pair(z1, z2)
        b = z1.shape[0]
        return _standardize(z1, self.eps).T @ _standardize(z2, self.eps) / b

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            z1: (B, D) projections of the first views.
            z2: (B, D) projections of the second views.

        Returns:
            Scalar loss. Needs B >= 2 and D >= 2.
        """
        check_pair(z1, z2)
        if z1.shape[0] < 2 or z1.shape[1] < 2:
            raise ValueError(f"Barlow Twins needs B >= 2 and D >= 2, got {tuple(z1.shape)}")
        c = self.cross_correlation(z1, z2)
        eye = torch.eye(c.shape[0], dtype=torch.bool, device=c.device)
        on = (1.0 - c[eye]).pow(2).mean()
        off = c[~eye].pow(2).mean()
        return on + self.lambda_offdiag * off

    def extra_repr(self) -> str:
        return f"lambda_offdiag={self.lambda_offdiag}"
