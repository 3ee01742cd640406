"""Proxy loss: multi-label BCE on scaled cosines between embeddings and learnable tag proxies.

Lee et al., "Metric Learning vs Classification for Disentangled Music Representation
Learning", ISMIR 2020, model (b): the L2-normalised embedding is compared with class proxies
p_y and trained with a multi-label classification loss; disentangled model (e): each tag's
proxy lives only in its concept's sub-space and the embedding is normalised per facet. The
temperature (1 / scale) is not given there; NormSoftmax's 0.05 (Zhai & Wu 2019) is the default.

The proxies live in this module (``loss.proxies``): add ``loss.parameters()`` to the optimiser
and save them with the checkpoint, since the tag head of the served model is these proxies.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from model.losses.heads import LossTagHead
from model.losses.multilabel import MultiLabelBCELoss


class ProxyLoss(nn.Module):
    """Sigmoid BCE on ``cos(z, p_t) / temperature`` for every tag t.

    Args:
        num_tags: T.
        dim: D.
        temperature: logits are cosines divided by it (default 0.05, i.e. scale 20).
        tag_slices: for each tag its concept's facet slice (disentangled); ``None`` puts every
            proxy in the full space.
        pos_weight: optional (T,) positive-term weights.
    """

    def __init__(
        self,
        num_tags: int,
        dim: int,
        temperature: float = 0.05,
        tag_slices: Sequence[slice] | None = None,
        pos_weight: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.head = LossTagHead(
            dim, num_tags, normalize_embedding=True, normalize_weight=True,
            temperature=temperature, bias=False, tag_slices=tag_slices,
        )
        self.bce = MultiLabelBCELoss(pos_weight)

    @property
    def proxies(self) -> torch.Tensor:
        """(T, D) L2-normalised (and facet-masked) proxies."""
        return self.head.effective_weight()

    def logits(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(B, D) -> (B, T) tag logits (cosines / temperature)."""
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
