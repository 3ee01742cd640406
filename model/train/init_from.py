"""Fine-tuning from a checkpoint (``TrainConfig.init_from``, ``musicprism train --init-from``).

The run's encoder starts from the checkpoint's weights: every tensor outside the tag head
(front-end normalisation, conv blocks, projection, BatchNorm statistics) is copied. The tag
head follows the run's schema, which comes from the owner's ``concepts.json`` and may have
new tags and concepts: a tag the checkpoint also has, in a facet at the same place of the
embedding, starts from the checkpoint's proxy, scale and bias (in the encoder's head and in
the loss's head, when the loss trains one); every other tag starts fresh. The checkpoint the
run writes carries the run's schema, so it describes itself as any other.

A checkpoint can only be fine-tuned by a run that builds the same network on the same
input: the encoder config (front end, window, channels, head) and the embedding dimension
must match; :func:`check_compatible` names every difference.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from layout.schema import ConceptSchema
from model.checkpoint import CheckpointError, LoadedModel, load_checkpoint
from model.encoder import Encoder
from model.losses import LossTagHead
from model.train.config import TrainConfig

logger = logging.getLogger(__name__)

#: Encoder settings that only initialise the head (free to differ).
HEAD_INIT_ONLY = ("init_logit_scale",)


def check_compatible(cfg: TrainConfig, loaded: LoadedModel, schema: ConceptSchema,
                     source: str = "the checkpoint") -> None:
    """Raise unless ``loaded``'s network is the one ``cfg`` builds for ``schema``.

    Raises:
        CheckpointError: naming each differing ``encoder.<key>`` (config vs. checkpoint)
            and ``embedding_dim``.
    """
    mine, theirs = asdict(cfg.encoder), asdict(loaded.config)
    diffs = [f"encoder.{k}: config {mine[k]!r}, checkpoint {theirs[k]!r}"
             for k in mine if k not in HEAD_INIT_ONLY and mine[k] != theirs[k]]
    if schema.dim != loaded.schema.dim:
        diffs.append(f"embedding_dim: config {schema.dim}, checkpoint {loaded.schema.dim}")
    if diffs:
        raise CheckpointError(f"cannot fine-tune {source}: it was trained with another network "
                              f"or input; " + "; ".join(diffs) + " (set these in the config "
                              "to the checkpoint's values)")


def load_init(cfg: TrainConfig, schema: ConceptSchema) -> LoadedModel | None:
    """The checkpoint of ``cfg.init_from``, checked against the run; ``None`` without one."""
    if cfg.init_from is None:
        return None
    loaded = load_checkpoint(cfg.init_from)
    check_compatible(cfg, loaded, schema, f"'{Path(cfg.init_from).name}'")
    return loaded


def kept_tags(old: ConceptSchema, new: ConceptSchema) -> dict[str, tuple[int, int]]:
    """``tag -> (old index, new index)`` for the tags of both schemas whose facet is the same
    slice of the embedding in both (their proxies mean the same thing there)."""
    def place(schema: ConceptSchema, t: int) -> tuple[int, int]:
        facet = schema.facets[schema.tag_facet_index()[t]]
        return facet.start, facet.dim

    old_index = {tag: i for i, tag in enumerate(old.tags)}
    out = {}
    for j, tag in enumerate(new.tags):
        i = old_index.get(tag)
        if i is not None and place(old, i) == place(new, j):
            out[tag] = (i, j)
    return out


@torch.no_grad()
def init_encoder(encoder: Encoder, loaded: LoadedModel) -> dict[str, Any]:
    """Copy ``loaded``'s encoder into ``encoder`` (everything but the head; kept tags' head
    rows). Returns what was done, for the checkpoint's training record.

    Raises:
        CheckpointError: the two encoders' non-head tensors differ in names or shapes.
    """
    source = loaded.encoder.state_dict()
    target = encoder.state_dict()
    body = {k: v for k, v in source.items() if not k.startswith("head.")}
    mine = {k for k in target if not k.startswith("head.")}
    bad = sorted(set(body) ^ mine) + sorted(k for k in body if k in target
                                           and body[k].shape != target[k].shape)
    if bad:
        raise CheckpointError(f"checkpoint tensors do not fit the run's encoder: {bad[:5]}")
    encoder.load_state_dict({**target, **body}, strict=True)
    kept = kept_tags(loaded.schema, encoder.schema)
    if encoder.head.kind == "cosine" and loaded.encoder.head.kind == "cosine":
        for i, j in kept.values():
            for name in ("proxies", "scale", "bias"):
                getattr(encoder.head, name)[j] = getattr(loaded.encoder.head, name)[i]
    new = [t for t in encoder.schema.tags if t not in kept]
    moved = [t for t in new if t in loaded.schema.tags]
    if moved:
        logger.warning("init from %s: %d tag(s) of the checkpoint sit in another facet here "
                       "and start fresh: %s", loaded.version, len(moved), moved[:10])
    logger.info("init from %s: encoder copied, %d tag(s) kept, %d new", loaded.version,
                len(kept), len(new))
    return {"checkpoint": loaded.version, "sha256": loaded.sha256,
            "kept_tags": list(kept), "new_tags": new}


@torch.no_grad()
def init_loss_head(loss: nn.Module, encoder: Encoder, kept: list[str]) -> int:
    """Start the loss's cosine head (proxy / normalised classification / distillation) at the
    encoder's head rows for the ``kept`` tags; returns how many rows were set (0 when the loss
    trains no such head)."""
    head = getattr(loss, "head", None)
    if not isinstance(head, LossTagHead) or not head.normalize_embedding or (
            encoder.head.kind != "cosine"):
        return 0
    schema = encoder.schema
    facets = schema.tag_facet_index()
    index = {tag: j for j, tag in enumerate(schema.tags)}
    proxies = encoder.head.proxy_vectors()
    for tag in kept:
        j = index[tag]
        row = torch.zeros(schema.dim)
        sl = schema.facets[facets[j]].slice
        row[sl] = proxies[j] * encoder.head.scale[j] * head.temperature
        head.weight[j] = row.to(head.weight.dtype)
        if head.bias is not None:
            head.bias[j] = encoder.head.bias[j]
    return len(kept)
