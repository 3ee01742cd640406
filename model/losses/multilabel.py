"""Multi-label sigmoid binary cross-entropy on tag logits, with unlabelled rows masked out.

Used by the proxy and classification losses (Lee et al., ISMIR 2020: "multi-label
classification loss"; Akama et al. 2023: sigmoid BCE). Tracks without tags (a ``False`` in
``labelled``) contribute nothing: they are dropped, not given all-negative targets.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import check_labelled, zero_like_graph


class MultiLabelBCELoss(nn.Module):
    """Mean binary cross-entropy with logits over the labelled rows and all tags.

    Args:
        pos_weight: optional (T,) weight of the positive term per tag (as
            ``BCEWithLogitsLoss``).
    """

    def __init__(self, pos_weight: torch.Tensor | None = None) -> None:
        super().__init__()
        self.pos_weight: torch.Tensor | None
        self.register_buffer("pos_weight", pos_weight)

    def forward(
        self, logits: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            logits: (B, T) tag logits.
            labels: (B, T) multi-hot targets in {0, 1} (any dtype).
            labelled: optional (B,) bool; False rows are ignored.

        Returns:
            Scalar mean BCE over (labelled rows) x T; a graph-safe 0 with no labelled row.
        """
        if logits.ndim != 2 or logits.shape != labels.shape:
            raise ValueError(
                f"logits and labels must both be (B, T), got {tuple(logits.shape)} and "
                f"{tuple(labels.shape)}"
            )
        labelled = check_labelled(labelled, logits.shape[0])
        if labelled is not None:
            if not bool(labelled.any()):
                return zero_like_graph(logits)
            logits, labels = logits[labelled], labels[labelled]
        return F.binary_cross_entropy_with_logits(
            logits, labels.to(logits.dtype), pos_weight=self.pos_weight
        )
