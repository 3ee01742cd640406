"""Tags in the facet layout: each tag's proxy lives in its concept's facet (DESIGN.md).

A model's tag proxies are a (T, d) array of unit vectors, row t in the facet of tag t's
concept. Everything here is numpy and needs only the schema and those proxies, so the service
answers tag queries without reaching into the network.
"""

from __future__ import annotations

from collections.abc import Sequence

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
    """The full-space query of a tag search, and its facet weights.

    Each facet slice holds the mean proxy of the tags in that facet, scaled by 1/(n_f sqrt(K)),
    and facet f gets weight n_f / n, so that for a full-space track vector x the weighted inner
    product is the mean over the tags of cos(x_facet(t), p_t). Repeated tags count once.

    Returns:
        ((D,) float32 query, {facet: weight}).

    Raises:
        KeyError: a tag the schema does not know.
    """
    k = len(schema.facets)
    query = np.zeros(schema.dim, dtype=np.float32)
    counts: dict[str, int] = {}
    for tag in dict.fromkeys(tags):
        f = schema.facet_of_concept(schema.concept_of_tag(tag))
        query[f.slice] += proxies[schema.tag_index(tag)]
        counts[f.name] = counts.get(f.name, 0) + 1
    n = sum(counts.values())
    for name, c in counts.items():
        query[schema.facet(name).slice] /= c * np.sqrt(k)
    return query, {name: c / n for name, c in counts.items()}
