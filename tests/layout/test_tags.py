"""layout.tags: tag cosines and the tag-search query, against per-tag loops."""

from __future__ import annotations

import numpy as np
import pytest

from layout.facets import to_full_space, weighted_query
from layout.schema import ConceptSchema
from layout.tags import tag_cosines, tag_query, weighted_tag_query

SCHEMA = ConceptSchema({"genre": ("rock", "jazz", "pop"), "mood": ("sad", "happy"),
                        "era": ("80s",)}, facet_dim=6)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


@pytest.fixture
def proxies() -> np.ndarray:
    return unit(np.random.default_rng(0).standard_normal((SCHEMA.num_tags, 6))).astype(
        np.float32)


def test_tag_cosines_loop(proxies: np.ndarray) -> None:
    z = np.random.default_rng(1).standard_normal((4, SCHEMA.dim)).astype(np.float32)
    got = tag_cosines(z, proxies, SCHEMA)
    for i in range(4):
        for t, tag in enumerate(SCHEMA.tags):
            f = SCHEMA.facet_of_concept(SCHEMA.concept_of_tag(tag))
            assert got[i, t] == pytest.approx(float(unit(z[i, f.slice]) @ proxies[t]), abs=1e-6)
    np.testing.assert_allclose(tag_cosines(to_full_space(z, SCHEMA), proxies, SCHEMA), got,
                               atol=1e-6)  # raw or full-space: the same cosines


@pytest.mark.parametrize("tags", [["jazz"], ["jazz", "sad"], ["rock", "jazz", "happy", "80s"],
                                  ["pop", "pop", "sad"]])
def test_the_query_scores_the_mean_tag_cosine(proxies: np.ndarray, tags: list[str]) -> None:
    q, weights = tag_query(tags, proxies, SCHEMA)
    x = to_full_space(np.random.default_rng(2).standard_normal((5, SCHEMA.dim)), SCHEMA)
    scores = x @ weighted_query(q, weights, SCHEMA)
    unique = list(dict.fromkeys(tags))
    want = tag_cosines(x, proxies, SCHEMA)[:, [SCHEMA.tag_index(t) for t in unique]].mean(axis=1)
    np.testing.assert_allclose(scores, want, atol=1e-5)
    assert sum(weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("weights", [
    {"jazz": 2.0},
    {"jazz": 1.0, "sad": -1.0},
    {"rock": 0.5, "jazz": -2.0, "happy": 1.0, "80s": 3.0},
    {"sad": -1.0},
    {"pop": 1.0, "rock": -1.0},  # one facet, opposite signs
])
def test_the_weighted_query_scores_the_signed_weighted_mean(
    proxies: np.ndarray, weights: dict[str, float]
) -> None:
    q, facet_weights = weighted_tag_query(weights, proxies, SCHEMA)
    x = to_full_space(np.random.default_rng(3).standard_normal((6, SCHEMA.dim)), SCHEMA)
    got = x @ weighted_query(q, facet_weights, SCHEMA)
    cos = tag_cosines(x, proxies, SCHEMA)
    want = sum(w * cos[:, SCHEMA.tag_index(t)] for t, w in weights.items())
    want = want / sum(abs(w) for w in weights.values())
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert sum(facet_weights.values()) == pytest.approx(1.0)
    assert all(w > 0 for w in facet_weights.values())


@pytest.mark.parametrize("weights", [{}, {"jazz": 0.0}, {"jazz": float("nan")},
                                     {"jazz": float("inf")}])
def test_the_weighted_query_refuses_no_tag_and_bad_weights(
    proxies: np.ndarray, weights: dict[str, float]
) -> None:
    with pytest.raises(ValueError):
        weighted_tag_query(weights, proxies, SCHEMA)


def test_unknown_tag_is_a_key_error(proxies: np.ndarray) -> None:
    with pytest.raises(KeyError, match="unknown tag 'polka'"):
        tag_query(["polka"], proxies, SCHEMA)


def test_tag_probabilities_are_the_cosine_head_by_hand() -> None:
    import math

    from layout.tags import tag_probabilities

    schema = ConceptSchema({"genre": ("rock", "jazz"), "mood": ("calm",)}, facet_dim=2)
    proxies = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    x = np.array([[3.0, 4.0, 0.0, -2.0]])  # genre facet (0.6, 0.8), mood facet (0, -1)
    scale, bias = np.array([2.0, 4.0, 1.0]), np.array([0.5, -1.0, 0.0])
    got = tag_probabilities(x, proxies, scale, bias, schema)[0]
    want = [1 / (1 + math.exp(-(2.0 * 0.6 + 0.5))), 1 / (1 + math.exp(-(4.0 * 0.8 - 1.0))),
            1 / (1 + math.exp(-(1.0 * 0.0)))]
    np.testing.assert_allclose(got, want, rtol=1e-12)
