"""Factories for small, randomly initialised but real encoders and checkpoints."""

from __future__ import annotations

from pathlib import Path

import torch

from layout.schema import ConceptSchema
from model.checkpoint import save_checkpoint
from model.config import EncoderConfig
from model.encoder import Encoder

CONCEPTS = {
    "genre": ("jazz", "rock", "folk song", "chorale"),
    "mood": ("happy", "sad", "calm"),
    "instrument": ("piano", "strings", "drums"),
    "era": ("baroque", "modern"),
}


def tiny_schema(disentangled: bool = True, facet_dim: int = 8) -> ConceptSchema:
    return ConceptSchema(CONCEPTS, facet_dim=facet_dim, disentangled=disentangled)


def tiny_config(**overrides: object) -> EncoderConfig:
    base = dict(sample_rate=16_000, clip_seconds=1.0, n_mels=32, channels=(8, 16, 32))
    base.update(overrides)
    return EncoderConfig(**base)  # type: ignore[arg-type]


def tiny_encoder(seed: int = 0, *, disentangled: bool = True, **cfg: object) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(tiny_config(**cfg), tiny_schema(disentangled)).eval()


def tiny_checkpoint(path: Path, seed: int = 0, **cfg: object) -> Path:
    return save_checkpoint(path, tiny_encoder(seed, **cfg), name="tiny", metrics={"note": "random"})
