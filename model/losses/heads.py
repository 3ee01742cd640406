"""Tag heads: embeddings (B, D) -> tag logits (B, T), plain, normalised or disentangled.

One module covers the three families of Lee et al. (ISMIR 2020, "Metric learning vs
classification for disentangled music representation learning"):

* classification: a dense layer on the raw embedding (``LossTagHead(D, T)``);
* normalised classification: the dense layer on the L2-normalised embedding, divided by a
  temperature (Akama et al. 2023: LayerNorm + L2 norm, W not normalised, temperature 1);
* proxy: cosine between the normalised embedding and normalised per-tag proxies, divided by
  a temperature (NormSoftmax, Zhai & Wu 2019: temperature 0.05).

With ``tag_slices`` the head is disentangled: tag t's weight row is zero outside its concept's
facet slice (a fixed Hadamard mask), and the embedding is normalised facet by facet, so each
concept's tags see only that concept's sub-vector: one sub-dense layer h_s per concept, each
fed a normalised sub-output (Lee et al. 2020, figures (e) and (f)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from model.losses._common import EPS, check_embeddings, check_slices, normalize_facets


class LossTagHead(nn.Module):
    """Linear tag logits with optional normalisation, temperature and facet masking: the head
    a proxy or classification loss trains (``model.train.tag_head`` copies it into the
    encoder's serving :class:`model.encoder.TagHead` at the end).

    ``logits = normalize?(z) @ normalize?(W * M).T / temperature + b``

    Args:
        dim: D, the embedding dimension.
        num_tags: T.
        normalize_embedding: L2-normalise the embedding (per facet when ``tag_slices``).
        normalize_weight: L2-normalise each tag's weight row (proxies).
        temperature: logits are divided by it (scale = 1 / temperature).
        bias: add a learnable per-tag bias.
        tag_slices: optional, for each tag the facet slice holding it; disentangles the head.
    """

    def __init__(
        self,
        dim: int,
        num_tags: int,
        *,
        normalize_embedding: bool = False,
        normalize_weight: bool = False,
        temperature: float = 1.0,
        bias: bool = True,
        tag_slices: Sequence[slice] | None = None,
    ) -> None:
        super().__init__()
        if dim <= 0 or num_tags <= 0:
            raise ValueError(f"dim and num_tags must be positive, got {dim} and {num_tags}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.dim, self.num_tags = dim, num_tags
        self.normalize_embedding = normalize_embedding
        self.normalize_weight = normalize_weight
        self.temperature = float(temperature)
        self.facets: list[slice] | None = None
        mask = torch.ones(num_tags, dim)
        if tag_slices is not None:
            if len(tag_slices) != num_tags:
                raise ValueError(f"tag_slices has {len(tag_slices)} entries for {num_tags} tags")
            self.facets = check_slices(tag_slices, dim)
            mask.zero_()
            for t, s in enumerate(tag_slices):
                mask[t, s] = 1.0
        self.mask: torch.Tensor
        self.register_buffer("mask", mask)
        self.weight = nn.Parameter(torch.empty(num_tags, dim))
        self.bias = nn.Parameter(torch.empty(num_tags)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """nn.Linear's initialisation, with the fan-in of one facet when disentangled."""
        fan_in = int(self.mask.sum(dim=1).max())
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def effective_weight(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """(T, D) weight after masking and (if asked) row normalisation: the tag proxies,
        computed in ``dtype`` (default the parameter's)."""
        w = self.weight.to(dtype or self.weight.dtype) * self.mask.to(dtype or self.weight.dtype)
        return F.normalize(w, dim=1, eps=EPS) if self.normalize_weight else w

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Args:
            embeddings: (B, D).

        Returns:
            (B, T) logits.
        """
        check_embeddings(embeddings)
        if embeddings.shape[1] != self.dim:
            raise ValueError(f"expected embeddings of dim {self.dim}, got {embeddings.shape[1]}")
        z = normalize_facets(embeddings, self.facets) if self.normalize_embedding else embeddings
        w = self.effective_weight(z.dtype)
        logits = z @ w.T / self.temperature  # (B, T)
        if self.bias is not None:
            logits = logits + self.bias.to(z.dtype)
        return logits

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, num_tags={self.num_tags}, normalize_embedding="
            f"{self.normalize_embedding}, normalize_weight={self.normalize_weight}, "
            f"temperature={self.temperature}, bias={self.bias is not None}, "
            f"disentangled={self.facets is not None}"
        )
