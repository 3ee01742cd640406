"""Putting a tag head into the shipped encoder, so that every checkpoint serves tag
probabilities and ``GET /search?tag=`` through cosine proxies (DESIGN.md: a tag's proxy lives
in its concept's facet).

* Cosine-type methods (proxy; normalised classification) learned a head inside their loss
  module that *is* a cosine head: :func:`copy_loss_head` moves it over exactly. For tag t
  with facet slice s and (masked) weight row w_t, the loss computes
  ``cos(z_s, w_t) * |w_t| / temperature + b_t`` (proxies are unit rows, no bias), i.e.
  proxy ``p_t = w_t[s] / |w_t[s]|``, scale ``a_t = |w_t[s]| / temperature``, bias ``b_t``.
* Every other method (triplet, self-supervised only, unnormalised classification) gets a
  fitted head: :func:`fit_proxies` sets ``p_t`` to the normalised mean of the unit facet
  sub-vectors of the training tracks carrying t, and :func:`calibrate` fits ``(a_t, b_t)``
  by one-feature logistic regression (scikit-learn, C = 1) of t on ``cos(track, p_t)`` over
  the validation tracks, or over the training tracks for a tag that the validation split
  does not have both with and without.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from layout.facets import unit_facets
from layout.schema import ConceptSchema
from model.encoder import Encoder
from model.losses import ClassificationLoss, DistillationLoss, ProxyLoss

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Calibration:
    """Per-tag ``(scale, bias)`` and which split each was fitted on (``val``/``train``/
    ``none``: no split had both classes, the scale stays 1 and the bias 0)."""

    scale: np.ndarray
    bias: np.ndarray
    source: tuple[str, ...]


def facet_rows(weight: torch.Tensor, schema: ConceptSchema) -> torch.Tensor:
    """(T, D) weight rows -> (T, d): each tag's row restricted to its concept's facet."""
    idx = schema.tag_facet_index()
    d = schema.facet_dim
    return torch.stack([weight[t, f * d:(f + 1) * d] for t, f in enumerate(idx)])


@torch.no_grad()
def copy_loss_head(loss: ProxyLoss | ClassificationLoss | DistillationLoss,
                   encoder: Encoder) -> None:
    """Copy a cosine-type loss head into ``encoder.head`` (cosine kind) exactly.

    Raises:
        TypeError: an unnormalised classification head (not a cosine head), or an encoder
            with a linear head.
    """
    head = loss.head
    if not head.normalize_embedding:
        raise TypeError("an unnormalised classification head is not a cosine head; fit one")
    if encoder.head.kind != "cosine":
        raise TypeError("the encoder's tag head is linear")
    schema = encoder.schema
    w = facet_rows(head.effective_weight().detach().float(), schema)  # (T, d)
    norm = w.norm(dim=1).clamp_min(1e-12)
    encoder.head.proxies.copy_(w / norm[:, None])
    encoder.head.scale.copy_(norm / head.temperature)
    bias = head.bias.detach() if head.bias is not None else torch.zeros_like(norm)
    encoder.head.bias.copy_(bias)


def fit_proxies(vectors: np.ndarray, labels: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Class-mean proxies.

    Args:
        vectors: (N, D) track embeddings (raw or full-space; facets are normalised here).
        labels: (N, T) multi-hot tags of those tracks.
        schema: the facet layout.

    Returns:
        (T, d) unit proxies; a tag no track carries keeps a zero row (and logs a warning).
    """
    x = np.asarray(vectors, dtype=np.float64)
    facets = unit_facets(x, schema).reshape(len(x), len(schema.facets), schema.facet_dim)
    y = np.asarray(labels) > 0
    idx = schema.tag_facet_index()
    out = np.zeros((schema.num_tags, schema.facet_dim), dtype=np.float64)
    for t, f in enumerate(idx):
        if not y[:, t].any():
            logger.warning("tag '%s' has no training track: zero proxy", schema.tags[t])
            continue
        m = facets[y[:, t], f].mean(axis=0)
        out[t] = m / max(np.linalg.norm(m), 1e-12)
    return out.astype(np.float32)


def _logistic(c: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    model = LogisticRegression(C=1.0)
    model.fit(c[:, None], y)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def calibrate(cos_val: np.ndarray, y_val: np.ndarray, cos_train: np.ndarray,
              y_train: np.ndarray) -> Calibration:
    """Per-tag logistic regression of the tag on its cosine.

    Args:
        cos_val, y_val: (N_v, T) cosines and multi-hot tags of the validation tracks.
        cos_train, y_train: (N_t, T) the same for the training tracks (fallback).

    Returns:
        :class:`Calibration` with (T,) scales and biases.
    """
    t_count = cos_val.shape[1]
    scale, bias, source = np.ones(t_count), np.zeros(t_count), []
    for t in range(t_count):
        for name, c, y in (("val", cos_val, y_val), ("train", cos_train, y_train)):
            yt = np.asarray(y[:, t]) > 0
            if 0 < yt.sum() < len(yt):
                scale[t], bias[t] = _logistic(np.asarray(c[:, t], dtype=np.float64), yt)
                source.append(name)
                break
        else:
            source.append("none")
    return Calibration(scale.astype(np.float32), bias.astype(np.float32), tuple(source))


@torch.no_grad()
def set_cosine_head(encoder: Encoder, proxies: np.ndarray, calibration: Calibration) -> None:
    """Write proxies (T, d) and calibration into ``encoder.head`` (cosine kind)."""
    if encoder.head.kind != "cosine":
        raise TypeError("the encoder's tag head is linear")
    dev = encoder.head.proxies.device
    encoder.head.proxies.copy_(torch.as_tensor(proxies, dtype=torch.float32, device=dev))
    encoder.head.scale.copy_(torch.as_tensor(calibration.scale, device=dev))
    encoder.head.bias.copy_(torch.as_tensor(calibration.bias, device=dev))
