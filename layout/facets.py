"""The full-space layout shared by the model, the indexes and the service (DESIGN.md).

An embedding z of dimension D = K * d is split into K facet slices. Each slice is
L2-normalised on its own and scaled by 1/sqrt(K); their concatenation (the *full-space
vector*) has unit norm, and the inner product of two full-space vectors is the mean of their
per-facet cosines. A weighted query scales slice c by w_c * sqrt(K), so that its inner
product with a catalogue vector is sum_c w_c * cos_c. One full-space index therefore serves
every facet mix.

This module is the one place for that arithmetic: the encoder, the losses, the tag head, the
indexes and the service all call it (import-linter keeps it below all of them; it needs numpy
alone). :func:`normalize_slices` and :func:`unit_facets` take numpy arrays or torch tensors
alike (they use only operators and methods the two share), so training normalises exactly as
serving does. The other functions take float32 arrays of shape (N, D) (or (D,)); none
modifies its input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from layout.numbers import NumberSyntaxError, parse_decimal
from layout.schema import ConceptSchema

EPS = 1e-12


class FacetWeightError(ValueError):
    """Facet weights that name an unknown facet, are not finite numbers, or are all zero."""


def normalize_slices(x: Any, slices: Sequence[slice]) -> Any:
    """(B, D) -> (B, D) with each slice L2-normalised on its own (x / max(||x_s||, EPS)).

    Columns outside every slice are copied unchanged. ``x`` is a numpy array or a torch
    tensor (gradients flow through); the result is a new array of the same kind.
    """
    out = x * 1.0  # a copy of the same kind; writing into it keeps autograd's graph
    for s in slices:
        part = x[:, s]
        norm = (part * part).sum(axis=1, keepdims=True).clip(min=EPS * EPS) ** 0.5
        out[:, s] = part / norm
    return out


def unit_facets(z: Any, schema: ConceptSchema) -> Any:
    """(B, D) -> (B, D) with every facet of ``schema`` L2-normalised on its own (not scaled:
    see :func:`to_full_space`). numpy arrays and torch tensors alike."""
    return normalize_slices(z, [f.slice for f in schema.facets])


def _as_2d(x: np.ndarray, dim: int) -> tuple[np.ndarray, bool]:
    x = np.asarray(x, dtype=np.float32)
    squeeze = x.ndim == 1
    x2 = x[None, :] if squeeze else x
    if x2.ndim != 2 or x2.shape[1] != dim:
        raise ValueError(f"expected shape (N, {dim}) or ({dim},), got {x.shape}")
    return x2, squeeze


def to_full_space(z: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Raw embeddings (N, D) -> full-space vectors (N, D) of unit norm.

    A facet slice that is all zeros stays zero (it has no direction); every other slice is
    normalised and scaled by 1/sqrt(K).
    """
    x, squeeze = _as_2d(z, schema.dim)
    out = unit_facets(x, schema) / np.float32(np.sqrt(len(schema.facets)))
    return out[0] if squeeze else out


def facet_cosines(a: np.ndarray, b: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Per-facet cosines between full-space vectors.

    Args:
        a: (D,) or (N, D) full-space vectors.
        b: (M, D) full-space vectors.

    Returns:
        (M, K) if ``a`` is one vector (broadcast against every row of ``b``), else (N, K)
        for row-wise pairs (N == M).
    """
    a2, single = _as_2d(a, schema.dim)
    b2, _ = _as_2d(b, schema.dim)
    k = len(schema.facets)
    if not single and a2.shape[0] != b2.shape[0]:
        raise ValueError(f"row-wise cosines need equal rows, got {a2.shape[0]} and {b2.shape[0]}")
    cols = [(a2[:, f.slice] * b2[:, f.slice]).sum(axis=1) * k for f in schema.facets]
    return np.stack(cols, axis=1).astype(np.float32)


def parse_weights(spec: str | None, schema: ConceptSchema) -> dict[str, float]:
    """Parse ``"mood"`` or ``"mood:0.7,genre:0.3"`` into normalised facet weights.

    ``None`` or ``""`` means every facet with equal weight (the full space). A negative
    weight asks for *unlike* in that facet (``"genre:1,mood:-1"``: same genre, different
    mood). Weights are normalised so that their absolute values sum to 1, so scores stay
    cosine-like in [-1, 1] (for weights >= 0 they sum to 1).

    Raises:
        FacetWeightError: unknown facet, malformed or non-finite weight, or all weights zero.
    """
    names = schema.facet_names
    if spec is None or not spec.strip():
        return {n: 1.0 / len(names) for n in names}
    weights: dict[str, float] = {}
    for part in spec.split(","):
        name, sep, value = part.strip().partition(":")
        name = name.strip()
        _check_facet(name, names)
        if name in weights:
            raise FacetWeightError(f"facet '{name}' is given twice")
        try:
            w = parse_decimal(value.strip()) if sep else 1.0
        except NumberSyntaxError as exc:
            raise FacetWeightError(
                f"weight for facet '{name}' is not a number: '{value}' (expected {exc.rule})"
            ) from None
        weights[name] = _check_value(name, w)
    return _normalised(weights)


def check_weights(weights: Mapping[str, float], schema: ConceptSchema) -> dict[str, float]:
    """Facet weights as floats, checked: known facets, finite, not all zero (they are not
    rescaled; a negative weight ranks by dissimilarity in its facet).

    Raises:
        FacetWeightError: naming the valid facets, or the weight that is wrong.
    """
    out = {}
    for name, value in weights.items():
        _check_facet(name, schema.facet_names)
        out[name] = _check_value(name, value)
    if not any(out.values()):
        raise FacetWeightError("facet weights are all zero")
    return out


def _check_facet(name: str, names: Sequence[str]) -> None:
    if name not in names:
        raise FacetWeightError(f"unknown facet '{name}'; valid facets: {', '.join(names)}")


def _check_value(name: str, value: float) -> float:
    if not np.isfinite(value):
        raise FacetWeightError(f"weight for facet '{name}' must be finite, got {value}")
    return float(value)


def _normalised(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(abs(w) for w in weights.values())
    if total <= 0:
        raise FacetWeightError("facet weights are all zero")
    return {n: w / total for n, w in weights.items()}


def weighted_query(
    q: np.ndarray, weights: Mapping[str, float], schema: ConceptSchema
) -> np.ndarray:
    """Scale the slices of full-space queries so that <q_w, x> = sum_c w_c * cos_c(q, x).

    Facets missing from ``weights`` get weight 0.
    """
    x, squeeze = _as_2d(q, schema.dim)
    out = np.zeros_like(x)
    k = len(schema.facets)
    for f in schema.facets:
        w = float(weights.get(f.name, 0.0))
        if w:
            out[:, f.slice] = x[:, f.slice] * (w * k)
    return out[0] if squeeze else out


def mean_full_space(windows: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """Average window vectors facet by facet, then renormalise: the track vector (D,)."""
    x, _ = _as_2d(windows, schema.dim)
    if x.shape[0] == 0:
        raise ValueError("cannot average zero windows")
    return to_full_space(x.mean(axis=0), schema)
