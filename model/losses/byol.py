"""BYOL (Grill et al. 2020): regress the target network's projection from the online
predictor, 2 - 2 cos, with the target an exponential moving average of the online network.

Meseguer-Brocal et al. 2024 (Deezer): EMA momentum 0.996 -> 1 on a cosine schedule.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import EPS, check_pair


class BYOLLoss(nn.Module):
    """Mean over the batch of ``2 - 2 cos(p_i, t_i)``, the target detached.

    For the symmetric BYOL loss call it on both view orders (or on the concatenation of
    ``(p1, p2)`` against ``(t2, t1)``).
    """

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Args:
            predictions: (B, D) online predictor outputs for one view.
            targets: (B, D) target projector outputs for the other view (no gradient flows
                into them).

        Returns:
            Scalar in [0, 4].
        """
        check_pair(predictions, targets)
        p = F.normalize(predictions, dim=1, eps=EPS)
        t = F.normalize(targets.detach(), dim=1, eps=EPS)
        return (2.0 - 2.0 * (p * t).sum(dim=1)).mean()


def byol_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    """Cosine EMA-momentum schedule: ``final - (final - base) * (cos(pi k / K) + 1) / 2``.

    Args:
        step: k, the current optimisation step (0-based); clamped to [0, K].
        total_steps: K.
        base: momentum at step 0.
        final: momentum at step K.
    """
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    k = min(max(step, 0), total_steps)
    return final - (final - base) * (math.cos(math.pi * k / total_steps) + 1.0) / 2.0


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """In place: ``theta_target <- m * theta_target + (1 - m) * theta_online`` for every
    parameter; buffers (BatchNorm statistics, counters) are copied from the online network.

    Raises:
        ValueError: momentum outside [0, 1], or the two modules' parameter or buffer names
            differ.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    tp, op = dict(target.named_parameters()), dict(online.named_parameters())
    tb, ob = dict(target.named_buffers()), dict(online.named_buffers())
    if tp.keys() != op.keys() or tb.keys() != ob.keys():
        diff = sorted((tp.keys() ^ op.keys()) | (tb.keys() ^ ob.keys()))
        raise ValueError(f"target and online networks differ in: {diff}")
    for name, t in tp.items():
        t.mul_(momentum).add_(op[name].detach(), alpha=1.0 - momentum)
    for name, buf in tb.items():
        buf.copy_(ob[name])
