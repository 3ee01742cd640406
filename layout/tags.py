"""Tags in the facet layout: each tag's proxy lives in its concept's facet (DESIGN.md).

A model's tag proxies are a (T, d) array of unit vectors, row t in the facet of tag t's
concept. Everything here is numpy and needs only the schema and those proxies, so the service
answers tag queries without reaching into the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from layout.facets import unit_facets
from layout.schema import ConceptSchema


def tag_cosines(vectors: np.ndarray, proxies: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """(N, D) tracks (raw or full-space), (T, d) proxies -> (N, T) float64 cosine of each tag's
    facet with its proxy."""
    x = np.asarray(vectors, dtype=np.float64)
    facets = unit_facets(x, schema).reshape(len(x), len(schema.facets), schema.facet_dim)
    per_tag = facets[:, schema.tag_facet_index()]  # (N, T, d)
    return (per_tag * np.asarray(proxies, dtype=np.float64)[None]).sum(axis=2)


def tag_probabilities(vectors: np.ndarray, proxies: np.ndarray, scale: np.ndarray,
                      bias: np.ndarray, schema: ConceptSchema) -> np.ndarray:
    """(N, D) tracks or windows (raw or full-space) -> (N, T) calibrated tag probabilities,
    sigmoid(scale_t * cos(x_facet(t), p_t) + bias_t): the cosine tag head, in numpy."""
    logits = tag_cosines(vectors, proxies, schema) * np.asarray(scale, np.float64)[None] \
        + np.asarray(bias, np.float64)[None]
    return 1.0 / (1.0 + np.exp(-logits))


def tag_query(
    tags: Sequence[str], proxies: np.ndarray, schema: ConceptSchema
) -> tuple[np.ndarray, dict[str, float]]:
    """The full-space query of a tag search, and its facet weights: :func:`weighted_tag_query`
    with weight 1 for each tag (repeated tags count once)."""
    return weighted_tag_query(dict.fromkeys(tags, 1.0), proxies, schema)


def weighted_tag_query(
    weights: Mapping[str, float], proxies: np.ndarray, schema: ConceptSchema
) -> tuple[np.ndarray, dict[str, float]]:
    """The full-space query and facet weights that rank tracks by the weighted mean of their
    tag cosines, sum_t s_t cos(x_facet(t), p_t) / sum_t |s_t|, for signed tag weights s_t.

    Facet f's slice holds sum_{t in f} s_t p_t / (W_f sqrt(K)), W_f = sum_{t in f} |s_t|, and
    facet f gets weight W_f / W (W = sum_t |s_t|): for a full-space track vector x the index's
    weighted inner product (``layout.facets.weighted_query``) is then exactly that mean. A
    negative s_t ranks the tag's tracks lower; the facet weights stay positive.

    Returns:
        ((D,) float32 query, {facet: weight}).

    Raises:
        KeyError: a tag the schema does not know.
        ValueError: no tag, or a weight that is zero or not finite.
    """
    if not weights:
        raise ValueError("a tag query needs at least one tag")
    k = len(schema.facets)
    query = np.zeros(schema.dim, dtype=np.float64)
    mass: dict[str, float] = {}
    for tag, w in weights.items():
        if not (np.isfinite(w) and w != 0):
            raise ValueError(f"the weight of tag {tag!r} must be finite and not 0, got {w}")
        f = schema.facet_of_concept(schema.concept_of_tag(tag))
        query[f.slice] += w * np.asarray(proxies[schema.tag_index(tag)], dtype=np.float64)
        mass[f.name] = mass.get(f.name, 0.0) + abs(w)
    total = sum(mass.values())
    for name, m in mass.items():
        query[schema.facet(name).slice] /= m * np.sqrt(k)
    return query.astype(np.float32), {name: m / total for name, m in mass.items()}
