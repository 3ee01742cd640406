"""The one list of training losses: every method a training config may name, and how to
build it (``LossConfig.method`` and ``SSLConfig.method`` are checked against it, and
``model.train.objectives`` builds from it). Adding a loss is one entry here plus its test.

Supervised methods (Lee et al. 2020) are built from the loss settings and the concept
schema; self-supervised ones (Akama et al. 2023; the Deezer comparison) from the SSL
settings, with what their training needs besides the loss: an EMA target or teacher (BYOL,
DINO), a predictor (BYOL), prototypes after the projector (DINO).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import torch
from torch import nn

from layout.schema import ConceptSchema
from model.losses.barlow import BarlowTwinsLoss
from model.losses.byol import BYOLLoss
from model.losses.classification import ClassificationLoss
from model.losses.composition import build_concept_triplet, build_triplet_track_reg
from model.losses.dino import DINOLoss
from model.losses.distillation import DistillationLoss
from model.losses.layout import concept_columns, concept_slices, tag_slices
from model.losses.ntxent import NTXentLoss
from model.losses.proxy import ProxyLoss
from model.losses.vicreg import VICRegLoss

Kind = Literal["supervised", "self-supervised"]


class SupervisedSettings(Protocol):
    """What a supervised builder reads (``model.train.config.LossConfig`` has it)."""

    margin: float
    mining: str
    per_anchor: int
    track_reg: float
    temperature: float
    normalize: bool


class SSLSettings(Protocol):
    """What a self-supervised builder reads (``model.train.config.SSLConfig`` has it)."""

    temperature: float
    out_dim: int


@dataclass(frozen=True)
class LossMethod:
    """A training method: its kind, its builder, and what its training needs besides it.

    Attributes:
        name: the config value (``loss.method`` or ``loss.ssl.method``).
        kind: ``supervised`` (``build(settings, schema, generator)``) or ``self-supervised``
            (``build(settings)``).
        build: returns the loss module.
        ema_target: trained against an EMA copy of the encoder (BYOL's target, DINO's
            teacher).
        predictor: a predictor MLP on the online branch (BYOL).
        prototypes: the projector ends in ``out_dim`` prototypes (DINO).
    """

    name: str
    kind: Kind
    build: Callable[..., nn.Module]
    ema_target: bool = False
    predictor: bool = False
    prototypes: bool = False


def _triplet(cfg: SupervisedSettings, schema: ConceptSchema,
             generator: torch.Generator | None) -> nn.Module:
    common = dict(concept_columns=concept_columns(schema), concept_slices=concept_slices(schema),
                  margin=cfg.margin, mining=cfg.mining, per_anchor=cfg.per_anchor,
                  generator=generator)
    if cfg.track_reg > 0:
        return build_triplet_track_reg(weight=cfg.track_reg, **common)  # type: ignore[arg-type]
    return build_concept_triplet(**common)  # type: ignore[arg-type]


def _proxy(cfg: SupervisedSettings, schema: ConceptSchema,
           generator: torch.Generator | None) -> nn.Module:
    return ProxyLoss(schema.num_tags, schema.dim, temperature=cfg.temperature,
                     tag_slices=tag_slices(schema))


def _classification(cfg: SupervisedSettings, schema: ConceptSchema,
                    generator: torch.Generator | None) -> nn.Module:
    return ClassificationLoss(schema.num_tags, schema.dim, normalize=cfg.normalize,
                              temperature=cfg.temperature if cfg.normalize else 1.0,
                              tag_slices=tag_slices(schema))


def _distillation(cfg: SupervisedSettings, schema: ConceptSchema,
                  generator: torch.Generator | None) -> nn.Module:
    return DistillationLoss(schema.num_tags, schema.dim, normalize=cfg.normalize,
                            temperature=cfg.temperature if cfg.normalize else 1.0,
                            tag_slices=tag_slices(schema))


LOSSES: dict[str, LossMethod] = {m.name: m for m in (
    LossMethod("triplet", "supervised", _triplet),
    LossMethod("proxy", "supervised", _proxy),
    LossMethod("classification", "supervised", _classification),
    LossMethod("distillation", "supervised", _distillation),
    LossMethod("ntxent", "self-supervised", lambda cfg: NTXentLoss(cfg.temperature)),
    LossMethod("byol", "self-supervised", lambda cfg: BYOLLoss(), ema_target=True,
               predictor=True),
    LossMethod("vicreg", "self-supervised", lambda cfg: VICRegLoss()),
    LossMethod("barlow_twins", "self-supervised", lambda cfg: BarlowTwinsLoss()),
    LossMethod("dino", "self-supervised", lambda cfg: DINOLoss(cfg.out_dim), ema_target=True,
               prototypes=True),
)}


def methods(kind: Kind) -> tuple[str, ...]:
    """The names of the ``kind`` methods, in registry order."""
    return tuple(name for name, m in LOSSES.items() if m.kind == kind)


def loss_method(name: str, kind: Kind) -> LossMethod:
    """The registered ``kind`` method ``name``.

    Raises:
        KeyError: not such a method; the message lists the valid ones.
    """
    method = LOSSES.get(name)
    if method is None or method.kind != kind:
        raise KeyError(f"unknown {kind} loss '{name}'; valid: {', '.join(methods(kind))}")
    return method
