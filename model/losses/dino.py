"""DINO-style clustering loss (Caron et al. 2021), as benchmarked by Meseguer-Brocal et al.
2024 (Deezer): cross-entropy between the centred, sharpened teacher softmax of one view and
the student log-softmax of the other view.

Deezer defaults: student temperature 0.1; teacher temperature warmed up from 0.02 to 0.04
over 10 epochs; centre updated with momentum 0.9.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import check_pair

SCHEDULES = ("linear", "cosine")


def dino_teacher_temperature(
    epoch: float,
    warmup_temp: float = 0.02,
    final_temp: float = 0.04,
    warmup_epochs: int = 10,
    shape: str = "linear",
) -> float:
    """Teacher temperature at ``epoch``: ``warmup_temp`` -> ``final_temp`` over
    ``warmup_epochs`` (linearly as DINO, or on a half-cosine as Deezer's code), then constant.
    """
    if shape not in SCHEDULES:
        raise ValueError(f"unknown schedule shape '{shape}'; valid: {', '.join(SCHEDULES)}")
    if warmup_epochs <= 0 or epoch >= warmup_epochs:
        return final_temp
    frac = max(epoch, 0) / warmup_epochs
    if shape == "cosine":
        frac = (1.0 - math.cos(math.pi * frac)) / 2.0
    return warmup_temp + (final_temp - warmup_temp) * frac


class DINOLoss(nn.Module):
    """``mean over the 2 cross-view pairs of mean_b sum_k -q_t[b, k] log p_s[b, k]`` with
    ``q_t = softmax((t - center) / tau_t)`` (no gradient) and ``p_s = softmax(s / tau_s)``.

    In training mode every call then moves ``center`` (a buffer, saved with the state dict)
    towards the batch mean of the teacher outputs with momentum ``center_momentum``.

    Args:
        out_dim: K, the number of prototypes (Deezer: 4096).
        student_temp: tau_s.
        teacher_temp: tau_t after warm-up.
        warmup_teacher_temp: tau_t at epoch 0.
        warmup_epochs: length of the teacher-temperature warm-up.
        center_momentum: EMA momentum of the centre.
        schedule: ``"linear"`` or ``"cosine"`` warm-up shape.
    """

    def __init__(
        self,
        out_dim: int,
        student_temp: float = 0.1,
        teacher_temp: float = 0.04,
        warmup_teacher_temp: float = 0.02,
        warmup_epochs: int = 10,
        center_momentum: float = 0.9,
        schedule: str = "linear",
    ) -> None:
        super().__init__()
        if out_dim <= 0:
            raise ValueError(f"out_dim must be positive, got {out_dim}")
        if not (student_temp > 0 and teacher_temp > 0 and warmup_teacher_temp > 0):
            raise ValueError("temperatures must be > 0")
        if not 0.0 <= center_momentum <= 1.0:
            raise ValueError(f"center_momentum must be in [0, 1], got {center_momentum}")
        dino_teacher_temperature(0, shape=schedule)  # validates the shape name
        self.out_dim = out_dim
        self.student_temp, self.teacher_temp = student_temp, teacher_temp
        self.warmup_teacher_temp, self.warmup_epochs = warmup_teacher_temp, warmup_epochs
        self.center_momentum, self.schedule = center_momentum, schedule
        self.center: torch.Tensor
        self.register_buffer("center", torch.zeros(1, out_dim))

    def teacher_temperature(self, epoch: float) -> float:
        """tau_t at ``epoch``."""
        return dino_teacher_temperature(
            epoch, self.warmup_teacher_temp, self.teacher_temp, self.warmup_epochs, self.schedule
        )

    def forward(
        self,
        student1: torch.Tensor,
        student2: torch.Tensor,
        teacher1: torch.Tensor,
        teacher2: torch.Tensor,
        epoch: float,
    ) -> torch.Tensor:
        """Args:
            student1: (B, K) student head outputs (logits) for view 1.
            student2: (B, K) for view 2.
            teacher1: (B, K) teacher head outputs for view 1 (detached here).
            teacher2: (B, K) for view 2.
            epoch: the (possibly fractional) epoch, for the teacher-temperature warm-up.

        Returns:
            Scalar: the mean of CE(teacher1, student2) and CE(teacher2, student1).
        """
        check_pair(student1, student2)
        check_pair(teacher1, teacher2)
        if student1.shape != teacher1.shape or student1.shape[1] != self.out_dim:
            raise ValueError(
                f"student and teacher outputs must be (B, {self.out_dim}), got "
                f"{tuple(student1.shape)} and {tuple(teacher1.shape)}"
            )
        tau_t = self.teacher_temperature(epoch)
        center = self.center.to(teacher1.dtype)
        q1 = F.softmax((teacher1.detach() - center) / tau_t, dim=1)
        q2 = F.softmax((teacher2.detach() - center) / tau_t, dim=1)
        log_p1 = F.log_softmax(student1 / self.student_temp, dim=1)
        log_p2 = F.log_softmax(student2 / self.student_temp, dim=1)
        loss = (-(q1 * log_p2).sum(dim=1).mean() - (q2 * log_p1).sum(dim=1).mean()) / 2
        if self.training:
            self.update_center(torch.cat([teacher1, teacher2]))
        return loss

    @torch.no_grad()
    def update_center(self, teacher_out: torch.Tensor) -> None:
        """``center <- m * center + (1 - m) * mean(teacher_out)``; teacher_out (N, K)."""
        batch_center = teacher_out.detach().mean(dim=0, keepdim=True).to(self.center.dtype)
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)

    def extra_repr(self) -> str:
        return (
            f"out_dim={self.out_dim}, student_temp={self.student_temp}, teacher_temp="
            f"{self.teacher_temp}, warmup_teacher_temp={self.warmup_teacher_temp}, "
            f"warmup_epochs={self.warmup_epochs}, center_momentum={self.center_momentum}"
        )
