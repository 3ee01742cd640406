"""layout.regions: the best aligned stretch against brute force, and by hand."""

from __future__ import annotations

import numpy as np
import pytest

from layout.facets import parse_weights, to_full_space
from layout.regions import best_region, window_scores
from layout.schema import ConceptSchema

SCHEMA = ConceptSchema({"genre": ("rock",), "mood": ("sad",), "era": ("80s",)}, facet_dim=4)


def windows(n: int, seed: int) -> np.ndarray:
    return to_full_space(np.random.default_rng(seed).standard_normal((n, SCHEMA.dim)), SCHEMA)


def brute_force(q, r, weights, max_windows):
    def score(a, b):
        total = 0.0
        for name, w in weights.items():
            sl = SCHEMA.facet(name).slice
            total += w * float(a[sl] @ b[sl]) / (np.linalg.norm(a[sl]) * np.linalg.norm(b[sl]))
        return total

    length = min(len(q), len(r), max_windows)
    best = None
    for j in range(len(q) - length + 1):
        for i in range(len(r) - length + 1):
            s = sum(score(q[j + t], r[i + t]) for t in range(length)) / length
            if best is None or s > best[3] + 1e-12:
                best = (j, i, length, s)
    return best


@pytest.mark.parametrize(("m", "n", "facet", "max_windows"), [
    (1, 1, None, 5), (3, 9, None, 5), (9, 3, "mood", 5), (8, 12, "genre:1,mood:-1", 5),
    (7, 7, "era:0.2,genre:0.8", 2), (4, 10, None, 1),
])
def test_best_region_matches_brute_force(m, n, facet, max_windows) -> None:
    q, r = windows(m, seed=m), windows(n, seed=100 + n)
    weights = parse_weights(facet, SCHEMA)
    got = best_region(q, r, weights, SCHEMA, max_windows=max_windows)
    j, i, length, s = brute_force(q, r, weights, max_windows)
    assert (got.query_start, got.result_start, got.length) == (j, i, length)
    assert got.score == pytest.approx(s, abs=1e-6)  # float32 windows


def test_a_copied_stretch_is_found_with_score_one() -> None:
    r = windows(10, seed=1)
    q = r[4:7].copy()  # the result's windows 4, 5, 6
    got = best_region(q, r, parse_weights(None, SCHEMA), SCHEMA)
    assert (got.query_start, got.result_start, got.length) == (0, 4, 3)
    assert got.score == pytest.approx(1.0)
    assert window_scores(q, r, parse_weights(None, SCHEMA), SCHEMA)[1, 5] == pytest.approx(1.0)


def test_no_windows_is_refused() -> None:
    with pytest.raises(ValueError, match="need windows on both sides"):
        best_region(windows(0, 1), windows(3, 2), parse_weights(None, SCHEMA), SCHEMA)
