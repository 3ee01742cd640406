"""Build a loss by name: ``build_loss("proxy", num_tags=50, dim=256)``.

Composite names build the composition the papers use:

* ``"concept_triplet"``: ``PerConcept(MinedTripletLoss(TripletLoss(margin),
  TagTripletMiner(...)), concept_columns, concept_slices)``; ``concept_slices=None`` is Lee et
  al.'s non-disentangled category model, a slice map the disentangled one.
* ``"track_triplet"``: ``MinedTripletLoss(TripletLoss(margin), TrackTripletMiner(...))``.
* ``"triplet_track_reg"``: ``TrackRegularized(concept_triplet, track_triplet, weight)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from model.losses.barlow import BarlowTwinsLoss
from model.losses.byol import BYOLLoss
from model.losses.classification import ClassificationLoss
from model.losses.composition import MinedTripletLoss, PerConcept, TrackRegularized
from model.losses.dino import DINOLoss
from model.losses.multilabel import MultiLabelBCELoss
from model.losses.ntxent import NTXentLoss
from model.losses.proxy import ProxyLoss
from model.losses.triplet import TripletLoss
from model.losses.vicreg import VICRegLoss


def build_concept_triplet(
    *,
    concept_columns: Mapping[str, Sequence[int]],
    concept_slices: Mapping[str, slice] | None = None,
    margin: float = 0.1,
    mining: str = "random",
    per_anchor: int = 1,
    negatives_need_tag: bool = True,
    generator: torch.Generator | None = None,
) -> PerConcept:
    """Per-concept tag triplets (Lee et al. 2020), disentangled when ``concept_slices``."""
    from model.miners import TagTripletMiner  # model.miners imports model.losses

    miner = TagTripletMiner(
        mining, per_anchor=per_anchor, negatives_need_tag=negatives_need_tag, generator=generator
    )
    return PerConcept(MinedTripletLoss(TripletLoss(margin), miner), concept_columns, concept_slices)


def build_track_triplet(
    *,
    margin: float = 0.1,
    mining: str = "random",
    per_anchor: int = 1,
    generator: torch.Generator | None = None,
) -> MinedTripletLoss:
    """Same-track window triplets on the full space (Lee et al.'s track regularisation)."""
    from model.miners import TrackTripletMiner

    miner = TrackTripletMiner(mining, per_anchor=per_anchor, generator=generator)
    return MinedTripletLoss(TripletLoss(margin), miner)


def build_triplet_track_reg(
    *,
    concept_columns: Mapping[str, Sequence[int]],
    concept_slices: Mapping[str, slice] | None = None,
    margin: float = 0.1,
    weight: float = 0.5,
    mining: str = "random",
    per_anchor: int = 1,
    negatives_need_tag: bool = True,
    generator: torch.Generator | None = None,
) -> TrackRegularized:
    """Concept triplets + ``weight`` x track triplets (lambda = 0.5 in Lee et al. 2020)."""
    category = build_concept_triplet(
        concept_columns=concept_columns, concept_slices=concept_slices, margin=margin,
        mining=mining, per_anchor=per_anchor, negatives_need_tag=negatives_need_tag,
        generator=generator,
    )
    track = build_track_triplet(
        margin=margin, mining=mining, per_anchor=per_anchor, generator=generator
    )
    return TrackRegularized(category, track, weight)


LOSSES: dict[str, Callable[..., nn.Module]] = {
    "triplet": TripletLoss,
    "concept_triplet": build_concept_triplet,
    "track_triplet": build_track_triplet,
    "triplet_track_reg": build_triplet_track_reg,
    "proxy": ProxyLoss,
    "classification": ClassificationLoss,
    "multilabel_bce": MultiLabelBCELoss,
    "ntxent": NTXentLoss,
    "byol": BYOLLoss,
    "vicreg": VICRegLoss,
    "barlow_twins": BarlowTwinsLoss,
    "dino": DINOLoss,
}


def build_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build the loss registered as ``name`` with keyword arguments ``kwargs``.

    Raises:
        KeyError: unknown name; the message lists the valid ones.
        TypeError: a keyword the loss does not take.
    """
    try:
        factory = LOSSES[name]
    except KeyError:
        valid = ", ".join(sorted(LOSSES))
        raise KeyError(f"unknown loss '{name}'; valid losses: {valid}") from None
    return factory(**kwargs)
