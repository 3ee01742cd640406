"""Triplet miners: from a batch and its labels to (anchor, positive, negative) index tuples.

Miners run under ``torch.no_grad`` and return checked int64 index tuples that a
:class:`model.losses.triplet.TripletLoss` consumes. Randomness comes only from the
``torch.Generator`` handed to the miner, so a seed replays a batch's triplets exactly.

* :class:`TagTripletMiner`: one concept's multi-hot tag columns (B, T_c). A positive shares at
  least one tag of the concept with the anchor, a negative shares none (Lee et al., ICASSP 2020).
* :class:`TrackTripletMiner`: window-level track ids (B,). A positive is another window of the
  anchor's track, a negative a window of another track (Lee et al.'s track regularisation).

Modes: ``"random"`` (uniform positive and negative, the default; Lee et al. do not describe
their mining), ``"semihard"`` (uniform positive; the closest negative that is still farther
than the positive, else the farthest negative, as FaceNet / TF's semi-hard loss) and
``"hard"`` (batch-hard: farthest positive, closest negative; one triplet per anchor).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import torch

from model.losses.distances import NormalizedEuclidean
from model.losses.triplet import Triplets, check_triplets

logger = logging.getLogger(__name__)

MODES = ("random", "semihard", "hard")


def _masked_uniform_pick(mask: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """For each row of a (A, B) bool mask with at least one True, a uniformly drawn column."""
    gen_device = generator.device if generator is not None else torch.device("cpu")
    scores = torch.rand(mask.shape, generator=generator, device=gen_device).to(mask.device)
    return scores.masked_fill(~mask, -1.0).argmax(dim=1)


def _semihard_negative(d_ap: torch.Tensor, d_an: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Closest negative farther than the positive; the farthest negative when none is."""
    inf = torch.finfo(d_an.dtype).max
    farther = neg & (d_an > d_ap[:, None])
    closest_farther = d_an.masked_fill(~farther, inf).argmin(dim=1)
    farthest = d_an.masked_fill(~neg, -inf).argmax(dim=1)
    return torch.where(farther.any(dim=1), closest_farther, farthest)


def sample_triplets(
    pos_mask: torch.Tensor,
    neg_mask: torch.Tensor,
    *,
    mode: str = "random",
    dist: torch.Tensor | None = None,
    per_anchor: int = 1,
    generator: torch.Generator | None = None,
) -> Triplets:
    """Draw triplets from candidate masks.

    Every row with at least one positive and one negative is an anchor.

    Args:
        pos_mask: (B, B) bool, ``pos_mask[a, p]`` if p may be a positive of a (never a == p).
        neg_mask: (B, B) bool, ``neg_mask[a, n]`` if n may be a negative of a.
        mode: ``"random"``, ``"semihard"`` or ``"hard"``.
        dist: (B, B) distances, required by ``"semihard"`` and ``"hard"``.
        per_anchor: triplets drawn per anchor (``"hard"`` always gives one).
        generator: source of randomness.

    Returns:
        (a, p, n) int64 tensors of equal length, anchors in increasing order per draw.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mining mode '{mode}'; valid: {', '.join(MODES)}")
    if per_anchor < 1:
        raise ValueError(f"per_anchor must be >= 1, got {per_anchor}")
    if mode != "random" and dist is None:
        raise ValueError(f"mining mode '{mode}' needs the (B, B) distance matrix")
    anchors = torch.nonzero(pos_mask.any(dim=1) & neg_mask.any(dim=1)).flatten()
    pos, neg = pos_mask[anchors], neg_mask[anchors]
    if mode == "hard":
        assert dist is not None
        d = dist[anchors]
        inf = torch.finfo(d.dtype).max
        p = d.masked_fill(~pos, -inf).argmax(dim=1)
        n = d.masked_fill(~neg, inf).argmin(dim=1)
        return anchors, p, n
    # per_anchor independent draws at once: rows ordered draw by draw
    a = anchors.repeat(per_anchor)
    pos, neg = pos.repeat(per_anchor, 1), neg.repeat(per_anchor, 1)
    p = _masked_uniform_pick(pos, generator)
    if mode == "random":
        return a, p, _masked_uniform_pick(neg, generator)
    assert dist is not None
    d = dist[a]
    return a, p, _semihard_negative(d.gather(1, p[:, None])[:, 0], d, neg)


def concept_masks(
    labels: torch.Tensor, valid: torch.Tensor | None = None, *, negatives_need_tag: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive / negative candidate masks for one concept.

    Args:
        labels: (B, T_c) multi-hot tags of one concept (any dtype; > 0 means present).
        valid: optional (B,) bool; rows that are False (unlabelled tracks) are never used.
        negatives_need_tag: if true a negative must carry at least one tag of the concept
            (a track with no tag of the concept is "unknown", not "different").

    Returns:
        (pos_mask, neg_mask), each (B, B) bool.
    """
    has = labels > 0
    shared = (has.float() @ has.float().T) > 0  # (B, B): share >= 1 tag
    b = labels.shape[0]
    ok = torch.ones(b, dtype=torch.bool, device=labels.device) if valid is None else valid
    pair_ok = ok[:, None] & ok[None, :]
    eye = torch.eye(b, dtype=torch.bool, device=labels.device)
    pos = shared & pair_ok & ~eye
    neg = ~shared & pair_ok
    if negatives_need_tag:
        neg &= has.any(dim=1)[None, :]
    return pos, neg


def track_masks(
    track_ids: torch.Tensor, valid: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pos_mask, neg_mask), each (B, B) bool: same track (not the same window) / other track."""
    same = track_ids[:, None] == track_ids[None, :]
    b = track_ids.shape[0]
    ok = torch.ones(b, dtype=torch.bool, device=track_ids.device) if valid is None else valid
    pair_ok = ok[:, None] & ok[None, :]
    eye = torch.eye(b, dtype=torch.bool, device=track_ids.device)
    return same & pair_ok & ~eye, ~same & pair_ok


def _check_batch(
    embeddings: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor | None
) -> None:
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must have shape (B, D), got {tuple(embeddings.shape)}")
    b = embeddings.shape[0]
    if labels.shape[0] != b:
        raise ValueError(f"labels have {labels.shape[0]} rows, embeddings {b}")
    if valid is not None and (valid.dtype != torch.bool or tuple(valid.shape) != (b,)):
        raise ValueError(
            f"mask must be a bool tensor of shape ({b},), got {valid.dtype} {tuple(valid.shape)}"
        )


class _Miner(ABC):
    def __init__(
        self,
        mode: str = "random",
        *,
        per_anchor: int = 1,
        distance: NormalizedEuclidean | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mining mode '{mode}'; valid: {', '.join(MODES)}")
        if per_anchor < 1:
            raise ValueError(f"per_anchor must be >= 1, got {per_anchor}")
        self.mode = mode
        self.per_anchor = per_anchor
        self.distance = distance if distance is not None else NormalizedEuclidean()
        self.generator = generator

    @abstractmethod
    def _masks(
        self, labels: torch.Tensor, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(pos_mask, neg_mask), each (B, B) bool."""

    @torch.no_grad()
    def __call__(
        self, embeddings: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
    ) -> Triplets:
        """Mine triplets from one batch.

        Args:
            embeddings: (B, D), used for distances by the semi-hard and hard modes.
            labels: the miner's labels (see the subclass).
            mask: optional (B,) bool; rows that are False take no part in any triplet.

        Returns:
            (a, p, n): (M,) int64 index tensors, M == 0 when the batch has no valid triplet.
        """
        _check_batch(embeddings, labels, mask)
        pos, neg = self._masks(labels, mask)
        dist = None if self.mode == "random" else self.distance.pairwise(embeddings.detach())
        triplets = sample_triplets(
            pos, neg, mode=self.mode, dist=dist, per_anchor=self.per_anchor,
            generator=self.generator,
        )
        if triplets[0].numel() == 0:
            logger.debug("%s: no valid triplet in a batch of %d", type(self).__name__, len(labels))
        return check_triplets(triplets, embeddings.shape[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r}, per_anchor={self.per_anchor})"


class TagTripletMiner(_Miner):
    """Triplets along one concept: a positive shares >= 1 of the concept's tags with the
    anchor, a negative shares none.

    Called as ``miner(embeddings (B, D), labels (B, T_c), mask (B,) | None)``.

    Args:
        mode: ``"random"``, ``"semihard"`` or ``"hard"``.
        per_anchor: triplets per anchor (random / semi-hard).
        negatives_need_tag: a negative must carry >= 1 tag of the concept (default true).
        distance: distance for the semi-hard / hard modes (default normalised Euclidean).
        generator: seeded ``torch.Generator``; ``None`` uses torch's global generator.
    """

    def __init__(
        self,
        mode: str = "random",
        *,
        per_anchor: int = 1,
        negatives_need_tag: bool = True,
        distance: NormalizedEuclidean | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(mode, per_anchor=per_anchor, distance=distance, generator=generator)
        self.negatives_need_tag = negatives_need_tag

    def _masks(
        self, labels: torch.Tensor, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if labels.ndim != 2:
            raise ValueError(f"labels must have shape (B, T), got {tuple(labels.shape)}")
        return concept_masks(labels, valid, negatives_need_tag=self.negatives_need_tag)


class TrackTripletMiner(_Miner):
    """Track-regularisation triplets: anchor and positive are two windows of the same track,
    the negative a window of another track.

    Called as ``miner(embeddings (B, D), track_ids (B,) int, mask (B,) | None)``.
    Same constructor arguments as :class:`TagTripletMiner` minus ``negatives_need_tag``.
    """

    def _masks(
        self, labels: torch.Tensor, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if labels.ndim != 1 or labels.is_floating_point():
            raise ValueError(
                f"track ids must be an integer tensor of shape (B,), got {labels.dtype} "
                f"{tuple(labels.shape)}"
            )
        return track_masks(labels, valid)
