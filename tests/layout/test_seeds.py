import numpy as np
import pytest

from layout.facets import facet_cosines, to_full_space
from layout.schema import ConceptSchema
from layout.seeds import average_query

SCHEMA = ConceptSchema({"a": ("x",), "b": ("y",)}, facet_dim=2)
R = 1 / np.sqrt(2)


def full(*z: float) -> np.ndarray:
    return to_full_space(np.array(z, dtype=np.float32), SCHEMA)


def test_one_positive_is_itself():
    p = full(3, 4, 0, 2)
    np.testing.assert_allclose(average_query(p[None], None, SCHEMA), p, atol=1e-7)
    np.testing.assert_allclose(average_query(p[None], np.zeros((0, 4)), SCHEMA), p, atol=1e-7)


def test_two_positives_hand_computed():
    # facet a: mean of (1, 0) and (0, 1) = (0.5, 0.5) -> (R, R); facet b: (1, 0) both times
    q = average_query(np.stack([full(1, 0, 1, 0), full(0, 1, 1, 0)]), None, SCHEMA)
    np.testing.assert_allclose(q, np.array([R, R, 1, 0]) * R, atol=1e-7)


def test_negative_hand_computed():
    # facet a: (1, 0) - (0, 1) -> (R, -R); facet b: (1, 0) - (1, 0) = 0: no direction
    p, n = full(1, 0, 1, 0), full(0, 1, 1, 0)
    q = average_query(p[None], n[None], SCHEMA)
    np.testing.assert_allclose(q, np.array([R, -R, 0, 0]) * R, atol=1e-7)
    assert np.all(facet_cosines(q, np.stack([p, n]), SCHEMA)[:, 1] == 0)
    # lambda = 0.5: facet b keeps (0.5, 0) -> (1, 0); facet a: (1, -0.5) -> (2, -1) / sqrt(5)
    q = average_query(p[None], n[None], SCHEMA, negative_weight=0.5)
    np.testing.assert_allclose(q, np.array([2 / np.sqrt(5), -1 / np.sqrt(5), 1, 0]) * R,
                               atol=1e-7)
    # lambda = 0: negatives are ignored
    np.testing.assert_allclose(average_query(p[None], n[None], SCHEMA, negative_weight=0), p,
                               atol=1e-7)


def test_matches_the_formula_on_random_seeds():
    schema = ConceptSchema({c: (c + "_t",) for c in "abcd"}, facet_dim=8)
    rng = np.random.default_rng(0)
    pos = to_full_space(rng.normal(size=(5, 32)).astype(np.float32), schema)
    neg = to_full_space(rng.normal(size=(3, 32)).astype(np.float32), schema)
    q = average_query(pos, neg, schema, negative_weight=0.7)
    for f in schema.facets:  # per facet: unit(mean unit(p) - 0.7 mean unit(n)) / sqrt(K)
        u = pos[:, f.slice].mean(0) * 2 - 0.7 * neg[:, f.slice].mean(0) * 2
        np.testing.assert_allclose(q[f.slice], u / np.linalg.norm(u) / 2, atol=1e-6)
    assert np.linalg.norm(q) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "pos, neg, weight, message",
    [
        (np.zeros((0, 4)), None, 1.0, "at least one positive seed"),
        (np.ones((1, 4)), None, -0.5, "negative_weight must be a finite number >= 0, got -0.5"),
        (np.ones((1, 4)), None, float("nan"), "finite number >= 0, got nan"),
        (np.ones((1, 3)), None, 1.0, r"positive seeds must have shape \(n, 4\), got \(1, 3\)"),
        (np.ones((1, 4)), np.ones(4), 1.0, r"negative seeds must have shape \(n, 4\), got \(4,\)"),
    ],
)
def test_refuses(pos, neg, weight, message):
    with pytest.raises(ValueError, match=message):
        average_query(pos, neg, SCHEMA, negative_weight=weight)
