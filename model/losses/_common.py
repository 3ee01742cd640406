"""Small helpers shared by the losses: input checks, reductions, per-facet normalisation."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from layout import facets as layout

EPS = layout.EPS  # the one epsilon of every normalisation
REDUCTIONS = ("mean", "sum", "mean_nonzero")


def check_embeddings(x: torch.Tensor, name: str = "embeddings") -> None:
    """Raise if ``x`` is not a floating (B, D) tensor."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (B, D), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor, got {x.dtype}")


def check_pair(z1: torch.Tensor, z2: torch.Tensor) -> None:
    """Raise unless ``z1`` and ``z2`` are floating (B, D) tensors of the same shape."""
    check_embeddings(z1, "z1")
    check_embeddings(z2, "z2")
    if z1.shape != z2.shape:
        raise ValueError(
            f"views must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )


def check_labelled(labelled: torch.Tensor | None, batch: int) -> torch.Tensor | None:
    """Validate an optional boolean (B,) mask of labelled rows and return it as bool."""
    if labelled is None:
        return None
    if labelled.ndim != 1 or labelled.shape[0] != batch:
        raise ValueError(f"labelled must have shape ({batch},), got {tuple(labelled.shape)}")
    if labelled.dtype != torch.bool:
        raise TypeError(f"labelled must be a bool tensor, got {labelled.dtype}")
    return labelled


def zero_like_graph(x: torch.Tensor) -> torch.Tensor:
    """A scalar 0 that is still connected to ``x``'s graph (so ``backward`` works and every
    parameter receives a zero gradient rather than ``None``)."""
    return x.sum() * 0.0


def reduce(losses: torch.Tensor, reduction: str, like: torch.Tensor) -> torch.Tensor:
    """Reduce per-item losses (M,) to a scalar; an empty ``losses`` gives a graph-safe 0.

    Args:
        losses: (M,) per-item losses.
        reduction: ``"mean"``, ``"sum"`` or ``"mean_nonzero"`` (mean over the items whose loss
            is > 0, as pytorch-metric-learning's AvgNonZeroReducer).
        like: a tensor of the graph to attach the zero to.
    """
    if losses.numel() == 0:
        return zero_like_graph(like)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean_nonzero":
        nonzero = losses > 0
        if not bool(nonzero.any()):
            return losses.sum() * 0.0
        return losses[nonzero].mean()
    raise ValueError(f"unknown reduction '{reduction}'; valid: {', '.join(REDUCTIONS)}")


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction '{reduction}'; valid: {', '.join(REDUCTIONS)}")
    return reduction


def check_slices(slices: Sequence[slice], dim: int) -> list[slice]:
    """Distinct facet slices in order of their start; raise if any is out of range or two
    overlap."""
    uniq: dict[tuple[int, int], slice] = {}
    for s in slices:
        if not isinstance(s, slice) or s.step not in (None, 1):
            raise TypeError(f"facet slices must be contiguous slices, got {s!r}")
        start, stop = s.start or 0, s.stop
        if stop is None or not 0 <= start < stop <= dim:
            raise ValueError(f"facet slice {s!r} is not a non-empty range inside [0, {dim})")
        uniq[(start, stop)] = slice(start, stop)
    ordered = [uniq[k] for k in sorted(uniq)]
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.stop:
            raise ValueError(f"facet slices overlap: {a!r} and {b!r}")
    return ordered


def normalize_facets(x: torch.Tensor, slices: Sequence[slice] | None) -> torch.Tensor:
    """L2-normalise each facet slice of ``x`` (B, D) on its own (``layout.facets``, the one
    per-facet normalisation); ``None`` normalises whole rows. Dimensions outside every slice
    are left as they are."""
    return layout.normalize_slices(x, [slice(0, x.shape[1])] if slices is None else slices)
