"""Distillation: the student's tag logits learn a teacher's soft tags, tag by tag.

The teacher (musicnn's MSD-50 port, :mod:`model.teacher`) gives each window a probability
per tag. The student's logit for that tag is trained towards it with the per-tag Bernoulli
KL divergence

    KL(p || q) = p log(p / q) + (1 - p) log((1 - p) / (1 - q)),   q = sigmoid(logit),

which is the binary cross-entropy with the soft target p minus the target's own entropy
H(p). The entropy does not depend on the student, so the gradient is exactly that of
soft-target BCE (Hinton et al. 2015 at temperature 1, per tag rather than softmax); the
KL form is chosen because its value reads directly: 0 when the student matches the teacher.

Masking: a source labels only some tags (a catalogue's own tags are not the teacher's 50,
a track may lack teacher outputs). Entries where ``mask`` is False contribute nothing: they
are left out of the sum and of the count, so they are neither positives nor negatives, and
their logits receive a gradient of exactly 0 (targets there may even be NaN).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import check_labelled, zero_like_graph
from model.losses.heads import LossTagHead


def check_soft_targets(logits: torch.Tensor, targets: torch.Tensor,
                       mask: torch.Tensor | None) -> torch.Tensor:
    """Validate (B, T) logits, targets and mask; returns the mask (all True when ``None``).

    Raises:
        ValueError: shapes differ, or an unmasked target is outside [0, 1] or NaN.
        TypeError: a mask that is not bool.
    """
    if logits.ndim != 2 or logits.shape != targets.shape:
        raise ValueError(f"logits and targets must both be (B, T), got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    if mask is None:
        mask = torch.ones_like(logits, dtype=torch.bool)
    if mask.shape != logits.shape:
        raise ValueError(f"mask must have shape {tuple(logits.shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor, got {mask.dtype}")
    kept = targets[mask]
    if kept.numel() and not bool(((kept >= 0) & (kept <= 1)).all()):
        raise ValueError("soft targets must be probabilities in [0, 1] where the mask is set")
    return mask


class SoftTagKLLoss(nn.Module):
    """Mean per-tag Bernoulli KL(teacher || student) over the unmasked (row, tag) entries."""

    def per_element(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, T) logits and targets in [0, 1] -> (B, T) KL, computed as BCE - H(p)."""
        p = targets.to(logits.dtype)
        bce = F.binary_cross_entropy_with_logits(logits, p, reduction="none")
        entropy = -(torch.xlogy(p, p) + torch.xlogy(1 - p, 1 - p))
        return bce - entropy

    def forward(self, logits: torch.Tensor, targets: torch.Tensor,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            logits: (B, T) student tag logits.
            targets: (B, T) teacher probabilities (any value where ``mask`` is False).
            mask: optional (B, T) bool; False entries are ignored.

        Returns:
            Scalar mean KL over the unmasked entries; a graph-safe 0 when none is.
        """
        mask = check_soft_targets(logits, targets, mask)
        if not bool(mask.any()):
            return zero_like_graph(logits)
        # Masked entries get target 0 and logit 0 inside the KL (a finite value), then are
        # dropped by torch.where, so neither a NaN target nor the logit leaks a gradient.
        safe_t = torch.where(mask, targets.to(logits.dtype), torch.zeros_like(logits))
        safe_l = torch.where(mask, logits, torch.zeros_like(logits))
        kl = torch.where(mask, self.per_element(safe_l, safe_t), torch.zeros_like(logits))
        return kl.sum() / mask.sum().to(logits.dtype)


class DistillationLoss(nn.Module):
    """A tag head on the embedding trained to the teacher's soft tags (masked KL).

    The head is the one a classification loss trains (:class:`LossTagHead`); with
    ``normalize`` it is a cosine head that :mod:`model.train.tag_head` copies into the
    encoder's serving head, as for the proxy and normalised classification losses.

    Args:
        num_tags: T.
        dim: D.
        normalize: L2-normalise the embedding (per facet when ``tag_slices``) first.
        temperature: logits are divided by it.
        tag_slices: for each tag its concept's facet slice (disentangled); ``None``: the
            full embedding.
    """

    def __init__(self, num_tags: int, dim: int, normalize: bool = True,
                 temperature: float = 0.05, tag_slices: Sequence[slice] | None = None) -> None:
        super().__init__()
        self.head = LossTagHead(
            dim, num_tags, normalize_embedding=normalize, normalize_weight=False,
            temperature=temperature, bias=True, tag_slices=tag_slices,
        )
        self.kl = SoftTagKLLoss()

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, T) tag logits."""
        return self.head(embeddings)

    def forward(self, embeddings: torch.Tensor, targets: torch.Tensor,
                labelled: torch.Tensor | None = None,
                mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            targets: (B, T) soft (or hard) tag probabilities.
            labelled: optional (B,) bool; False rows are masked whole.
            mask: optional (B, T) bool; False entries are masked.

        Returns:
            Scalar mean KL over the unmasked entries.
        """
        logits = self.head(embeddings)
        full = check_soft_targets(logits, targets, mask)
        labelled = check_labelled(labelled, logits.shape[0])
        if labelled is not None:
            full = full & labelled[:, None]
        return self.kl(logits, targets, full)
