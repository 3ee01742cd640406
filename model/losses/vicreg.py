"""VICReg (Bardes, Ponce, LeCun 2022): variance-invariance-covariance regularisation.

Defaults follow Meseguer-Brocal et al. 2024 (Deezer): invariance, variance and covariance
weights all 1, gamma 1, and the covariance term taken on batch-standardised features (a
correlation matrix) averaged over off-diagonal entries. ``cov_mode="covariance"`` gives the
original paper's term instead (sum of squared off-diagonal covariances / D; the paper's
weights are 25 / 25 / 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import check_pair

COV_MODES = ("correlation", "covariance")


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    d = m.shape[0]
    return m[~torch.eye(d, dtype=torch.bool, device=m.device)]


class VICRegLoss(nn.Module):
    """``inv_weight * MSE(z1, z2) + var_weight * V + cov_weight * C``.

    * V: mean over both views and all D dims of ``relu(gamma - sqrt(Var_unbiased + eps))``.
    * C (``"correlation"``): mean over both views of the mean squared off-diagonal entry of
      the correlation matrix ``zs.T @ zs / B``, zs the features standardised over the batch.
    * C (``"covariance"``): mean over both views of ``sum_{i != j} Cov_ij^2 / D``,
      ``Cov = zc.T @ zc / (B - 1)``, zc centred.

    Args:
        inv_weight: weight of the invariance term.
        var_weight: weight of the variance term.
        cov_weight: weight of the covariance term.
        gamma: target standard deviation.
        eps: added to the variance before the square root (and the standardisation).
        cov_mode: ``"correlation"`` (Deezer) or ``"covariance"`` (Bardes et al.).
    """

    def __init__(
        self,
        inv_weight: float = 1.0,
        var_weight: float = 1.0,
        cov_weight: float = 1.0,
        gamma: float = 1.0,
        eps: float = 1e-4,
        cov_mode: str = "correlation",
    ) -> None:
        super().__init__()
        if cov_mode not in COV_MODES:
            raise ValueError(f"unknown cov_mode '{cov_mode}'; valid: {', '.join(COV_MODES)}")
        self.inv_weight, self.var_weight, self.cov_weight = inv_weight, var_weight, cov_weight
        self.gamma, self.eps, self.cov_mode = gamma, eps, cov_mode

    def variance_term(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> scalar mean hinge on the per-dimension standard deviation."""
        std = torch.sqrt(z.var(dim=0) + self.eps)
        return torch.relu(self.gamma - std).mean()

    def covariance_term(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) -> scalar off-diagonal (co)variance penalty."""
        b, d = z.shape
        zc = z - z.mean(dim=0)
        if self.cov_mode == "correlation":
            zs = zc / torch.sqrt(zc.pow(2).mean(dim=0) + self.eps)
            return _off_diagonal(zs.T @ zs / b).pow(2).mean()
        return _off_diagonal(zc.T @ zc / (b - 1)).pow(2).sum() / d

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            z1: (B, D) projections of the first views.
            z2: (B, D) projections of the second views.

        Returns:
            Scalar loss. Needs B >= 2 and D >= 2.
        """
        check_pair(z1, z2)
        if z1.shape[0] < 2 or z1.shape[1] < 2:
            raise ValueError(f"VICReg needs B >= 2 and D >= 2, got {tuple(z1.shape)}")
        inv = F.mse_loss(z1, z2)
        var = (self.variance_term(z1) + self.variance_term(z2)) / 2
        cov = (self.covariance_term(z1) + self.covariance_term(z2)) / 2
        return self.inv_weight * inv + self.var_weight * var + self.cov_weight * cov

    def extra_repr(self) -> str:
        return (
            f"inv_weight={self.inv_weight}, var_weight={self.var_weight}, cov_weight="
            f"{self.cov_weight}, gamma={self.gamma}, cov_mode={self.cov_mode!r}"
        )
