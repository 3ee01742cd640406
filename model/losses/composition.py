"""Composing losses: per-concept application on facet slices, mining, track regularisation.

Lee et al. (ICASSP 2020) train one triplet loss per concept on that concept's fixed slice of
the embedding (a disjoint binary mask, Veit et al.'s Conditional Similarity Networks), and
add track-regularisation triplets on the full space with weight lambda = 0.5. Here that is
``PerConcept(MinedTripletLoss(TripletLoss(), TagTripletMiner()), columns, slices)`` plus
``TrackRegularized``: the same loss object applied to sliced inputs, never a subclass per
concept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from model.losses._common import check_embeddings, check_labelled, check_reduction, reduce
from model.losses.miners import TagTripletMiner, TrackTripletMiner
from model.losses.triplet import TripletLoss, Triplets

Miner = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], Triplets]


class MinedTripletLoss(nn.Module):
    """A triplet loss fed by a miner: ``loss(embeddings, miner(embeddings, labels, labelled))``.

    Args:
        loss: the triplet loss (e.g. :class:`TripletLoss`).
        miner: ``(embeddings, labels, mask) -> (a, p, n)``, e.g.
            :class:`~model.losses.miners.TagTripletMiner` or
            :class:`~model.losses.miners.TrackTripletMiner`.
    """

    def __init__(self, loss: TripletLoss, miner: Miner) -> None:
        super().__init__()
        self.loss = loss
        self.miner = miner

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        labelled: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            labels: what the miner reads: (B, T) multi-hot tags, or (B,) track ids.
            labelled: optional (B,) bool; False rows take part in no triplet.

        Returns:
            Scalar loss (graph-safe 0 without a valid triplet).
        """
        check_embeddings(embeddings)
        labelled = check_labelled(labelled, embeddings.shape[0])
        return self.loss(embeddings, self.miner(embeddings, labels, labelled))

    def extra_repr(self) -> str:
        return f"miner={self.miner!r}"


class SliceLoss(nn.Module):
    """Apply a loss to a slice of the embedding and a subset of the label columns.

    ``SliceLoss(loss, dims, columns)(embeddings, labels, labelled)`` is
    ``loss(embeddings[:, dims], labels[:, columns], labelled)``.

    Args:
        loss: a module called as ``loss(embeddings, labels, labelled)``.
        dims: the facet slice; ``None`` keeps the whole embedding.
        columns: label columns (the concept's tags); ``None`` keeps every column.
    """

    def __init__(
        self, loss: nn.Module, dims: slice | None = None, columns: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        self.loss = loss
        self.dims = dims if dims is not None else slice(None)
        self.columns = None if columns is None else [int(c) for c in columns]
        if self.columns is not None and not self.columns:
            raise ValueError("columns must not be empty")

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            labels: (B, T) multi-hot tags.
            labelled: optional (B,) bool.

        Returns:
            The wrapped loss on ``embeddings[:, dims]`` and ``labels[:, columns]``.
        """
        check_embeddings(embeddings)
        sub = embeddings[:, self.dims]
        if sub.shape[1] == 0:
            raise ValueError(
                f"slice {self.dims!r} is empty for embeddings of dim {embeddings.shape[1]}"
            )
        if self.columns is not None:
            if labels.ndim != 2 or max(self.columns) >= labels.shape[1]:
                raise ValueError(
                    f"columns {self.columns} do not fit labels of shape {tuple(labels.shape)}"
                )
            labels = labels[:, self.columns]
        return self.loss(sub, labels, labelled)

    def extra_repr(self) -> str:
        return f"dims={self.dims!r}, columns={self.columns}"


class PerConcept(nn.Module):
    """One loss applied concept by concept, each on its tag columns and (when disentangled) its
    facet slice; the result is the mean (or sum) over concepts. A concept without a valid
    triplet in the batch contributes its graph-safe 0 to that mean.

    Args:
        loss: the shared loss, called as ``loss(embeddings, labels, labelled)``.
        concept_columns: concept -> its tag columns in the label matrix.
        concept_slices: concept -> its facet slice; ``None`` applies every concept's loss to the
            full embedding (Lee et al.'s non-disentangled "category" model).
        reduction: ``"mean"`` (default) or ``"sum"`` over concepts.
    """

    def __init__(
        self,
        loss: nn.Module,
        concept_columns: Mapping[str, Sequence[int]],
        concept_slices: Mapping[str, slice] | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        if not concept_columns:
            raise ValueError("concept_columns must name at least one concept")
        if concept_slices is not None and set(concept_slices) != set(concept_columns):
            raise ValueError(
                f"concept_slices {sorted(concept_slices)} and concept_columns "
                f"{sorted(concept_columns)} must name the same concepts"
            )
        if check_reduction(reduction) == "mean_nonzero":
            raise ValueError("PerConcept reduction must be 'mean' or 'sum'")
        self.reduction = reduction
        self.parts = nn.ModuleDict(
            {
                c: SliceLoss(loss, None if concept_slices is None else concept_slices[c], cols)
                for c, cols in concept_columns.items()
            }
        )

    def terms(
        self, embeddings: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-concept scalar losses (for logging), concept -> loss."""
        return {c: part(embeddings, labels, labelled) for c, part in self.parts.items()}

    def forward(
        self, embeddings: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Args:
            embeddings: (B, D).
            labels: (B, T) multi-hot tags over every concept's columns.
            labelled: optional (B,) bool.

        Returns:
            Scalar: mean (or sum) over concepts of the per-concept losses.
        """
        terms = torch.stack(list(self.terms(embeddings, labels, labelled).values()))
        return reduce(terms, self.reduction, embeddings)


class TrackRegularized(nn.Module):
    """``category(embeddings, labels, labelled) + weight * track(embeddings, track_ids)``.

    Lee et al. 2020: L = L(t_c) + lambda * L(t_t), lambda = 0.5, the track triplets on the full
    space (an all-ones mask). Track triplets use every window, labelled or not.

    Args:
        category: the supervised loss (e.g. a :class:`PerConcept` of mined triplet losses).
        track: the track loss, called as ``track(embeddings, track_ids)`` (e.g. a
            :class:`MinedTripletLoss` with a :class:`model.losses.miners.TrackTripletMiner`).
        weight: lambda.
    """

    def __init__(self, category: nn.Module, track: nn.Module, weight: float = 0.5) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.category = category
        self.track = track
        self.weight = float(weight)

    def forward(
        self,
        embeddings: torch.Tensor,
        labels: torch.Tensor,
        track_ids: torch.Tensor,
        labelled: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Args:
            embeddings: (B, D) window embeddings.
            labels: (B, T) multi-hot tags of each window's track.
            track_ids: (B,) int64 track id of each window.
            labelled: optional (B,) bool, for the category term only.

        Returns:
            Scalar loss.
        """
        return self.category(embeddings, labels, labelled) + self.weight * self.track(
            embeddings, track_ids
        )

    def extra_repr(self) -> str:
        return f"weight={self.weight}"


# --- the compositions of Lee et al. ----------------------------------------------------------
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
