"""NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR (Chen et al. 2020).

Used by CLMR / Akama et al. 2023 (tau = 0.5) and by Meseguer-Brocal et al. 2024 (Deezer,
tau = 0.1) on two views of each track.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import EPS, check_pair


class NTXentLoss(nn.Module):
    """Each of the 2B projected views must pick its partner out of the other 2B - 1.

    For view i with partner j(i): ``l_i = -log exp(s_ij / tau) / sum_{k != i} exp(s_ik / tau)``
    with s the cosine similarity; the loss is the mean of l_i over all 2B views.

    Args:
        temperature: tau (default 0.5 as CLMR / Akama et al.; Deezer uses 0.1).
    """

    def __init__(self, temperature: float = 0.5) -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        """Args:
            z1: (B, D) projections of the first views.
            z2: (B, D) projections of the second views (row i pairs with z1's row i).

        Returns:
            Scalar loss. Needs B >= 2 (one negative at least).
        """
        check_pair(z1, z2)
        b = z1.shape[0]
        if b < 2:
            raise ValueError(f"NT-Xent needs a batch of at least 2 pairs, got {b}")
        z = F.normalize(torch.cat([z1, z2]), dim=1, eps=EPS)  # (2B, D)
        sim = z @ z.T / self.temperature  # (2B, 2B)
        eye = torch.eye(2 * b, dtype=torch.bool, device=z.device)
        sim = sim.masked_fill(eye, float("-inf"))
        partner = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)
        return F.cross_entropy(sim, partner)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"
