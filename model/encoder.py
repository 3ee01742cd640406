"""The musicprism encoder: waveform in, facet embeddings and tag logits out.

The log-mel front end (:mod:`model.frontend`) lives inside the module (STYLE.md rule 6), so
training and serving preprocess identically. The embedding z in R^D is split into the facets of a
:class:`~layout.schema.ConceptSchema` (Lee et al., ICASSP/ISMIR 2020: fixed disjoint slices,
one per concept). The tag head is either cosine (each tag's proxy lives in its concept's
facet: Lee et al. (e)/(f), Zhai & Wu's NormSoftmax) or a plain dense layer (Lee et al. (c)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from layout.facets import unit_facets
from layout.schema import ConceptSchema
from model.config import EncoderConfig
from model.frontend import LogMel


@dataclass
class EncoderOutput:
    """embedding: (B, D) raw (not normalised); logits: (B, T) calibrated tag logits."""

    embedding: torch.Tensor
    logits: torch.Tensor


class ConvBlock(nn.Module):
    """3x3 conv, BatchNorm, ReLU, 2x2 max-pool: halves frequency and time."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)


class TagHead(nn.Module):
    """Tag logits from the embedding.

    cosine: logit_t = a_t * cos(z_{facet(t)}, p_t) + b_t, with p_t the tag's proxy in its
    concept's facet; a_t (init ``init_logit_scale``) and b_t calibrate the probabilities.
    linear: logit = W z + b on the raw embedding (the un-normalised baseline).
    """

    facet_index: torch.Tensor  # cosine head: a buffer, the facet of each tag (T,)

    def __init__(self, cfg: EncoderConfig, schema: ConceptSchema) -> None:
        super().__init__()
        self.kind = cfg.head
        self.schema = schema
        n = max(schema.num_tags, 1)
        if cfg.head == "cosine":
            self.proxies = nn.Parameter(torch.randn(n, schema.facet_dim) * 0.1)
            self.scale = nn.Parameter(torch.full((n,), float(cfg.init_logit_scale)))
            self.bias = nn.Parameter(torch.zeros(n))
            self.register_buffer(
                "facet_index", torch.tensor(schema.tag_facet_index() or [0], dtype=torch.long)
            )
        else:
            self.linear = nn.Linear(schema.dim, n)

    def cosines(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D) raw embedding -> (B, T) cosine between each tag's facet and its proxy."""
        zf = unit_facets(z, self.schema)  # (B, D), each facet a unit vector
        zf = zf.view(z.shape[0], len(self.schema.facets), self.schema.facet_dim)  # (B, K, d)
        zf = zf[:, self.facet_index]  # (B, T, d)
        p = F.normalize(self.proxies, dim=1)  # (T, d)
        return (zf * p.unsqueeze(0)).sum(dim=2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.kind == "linear":
            return self.linear(z)
        return self.scale * self.cosines(z) + self.bias

    def proxy_vectors(self) -> torch.Tensor:
        """(T, d) unit proxies, each meant for its concept's facet (cosine head only)."""
        if self.kind != "cosine":
            raise TypeError("a linear tag head has no proxies")
        return F.normalize(self.proxies.detach(), dim=1)


class Encoder(nn.Module):
    """Waveform (B, T) at ``cfg.sample_rate`` -> :class:`EncoderOutput`.

    Args:
        cfg: architecture and front-end configuration.
        schema: concepts, tags and the facet layout of the embedding.
    """

    def __init__(self, cfg: EncoderConfig, schema: ConceptSchema) -> None:
        super().__init__()
        self.cfg = cfg
        self.schema = schema
        self.frontend = LogMel.from_config(cfg)
        self.input_norm = nn.BatchNorm2d(1)
        chans = (1, *cfg.channels)
        self.blocks = nn.Sequential(
            *[ConvBlock(a, b) for a, b in zip(chans, chans[1:], strict=False)]
        )
        self.project = nn.Linear(2 * cfg.channels[-1], schema.dim)
        self.head = TagHead(cfg, schema)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) waveform -> (B, n_mels, frames) log-mel in dB (cacheable for training)."""
        if wave.ndim != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(wave.shape)}")
        return self.frontend(wave)

    def embed_features(self, logmel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, frames) log-mel -> (B, D) raw embedding (facets not yet normalised)."""
        x = self.input_norm(logmel.unsqueeze(1))  # (B, 1, n_mels, frames); removes the dB offset
        x = self.blocks(x)  # (B, C, n_mels / 2^L, frames / 2^L)
        x = x.mean(dim=2)  # (B, C, frames'): pool frequency
        pooled = torch.cat([x.mean(dim=2), x.amax(dim=2)], dim=1)  # (B, 2C)
        return self.project(pooled)  # (B, D)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, D) raw embedding (facets not yet normalised)."""
        return self.embed_features(self.features(wave))

    def forward(self, wave: torch.Tensor) -> EncoderOutput:
        z = self.embed(wave)
        return EncoderOutput(embedding=z, logits=self.head(z))
