"""Classification loss: a dense tag layer on the embedding and multi-label sigmoid BCE.

Lee et al., ISMIR 2020, models (c) (plain: a dense layer on the raw embedding) and (f)
(disentangled: a sub-dense layer per concept on that concept's normalised sub-vector, feeding
only the concept's tags). ``normalize=True`` is the "Norm" variant, as Akama et al. (2023):
the dense layer sees the L2-normalised embedding, W is not normalised, temperature 1.

The dense layer lives in this module (``loss.head``); the trainer optimises and checkpoints
``loss.parameters()`` and uses ``loss.logits`` for tag scores.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from model.losses.heads import LossTagHead
from model.losses.multilabel import MultiLabelBCELoss


class ClassificationLoss(nn.Module):
    """Sigmoid BCE on ``W normalize?(z) / temperature + b``.

    Args:
        num_tags: T.
        dim: D.
        normalize: L2-normalise the embedding (per facet when ``tag_slices``) first.
        temperature: logits are divided by it (default 1).
        tag_slices: for each tag its concept's facet slice (disentangled, per-concept
            sub-dense layers); ``None`` for one dense layer over the full embedding.
        bias: learnable per-tag bias.
        pos_weight: optional (T,) positive-term weights.
    """

    def __init__(
        self,
        num_tags: int,
        dim: int,
        normalize: bool = False,
        temperature: float = 1.0,
        tag_slices: Sequence[slice] | None = None,
        bias: bool = True,
        pos_weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.head = LossTagHead(
            dim, num_tags, normalize_embedding=normalize, normalize_weight=False,
            temperature=temperature, bias=bias, tag_slices=tag_slices,
        )
        self.bce = MultiLabelBCELoss(pos_weight)

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, T) tag logits."""
        return self.head(embeddings)

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            labels: (B, T) multi-hot tags.
            labelled: optional (B,) bool; False rows contribute nothing.

        Returns:
            Scalar mean BCE.
        """
        return self.bce(self.head(embeddings), labels, labelled)
