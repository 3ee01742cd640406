import numpy as np
import pytest

from layout.facets import (
    FacetWeightError,
    facet_cosines,
    mean_full_space,
    parse_weights,
    to_full_space,
    weighted_query,
)
from layout.schema import ConceptSchema

SCHEMA = ConceptSchema({"a": ("x",), "b": ("y",)}, facet_dim=2)


def test_full_space_hand_computed():
    # facet a = (3, 4) -> (0.6, 0.8); facet b = (0, 2) -> (0, 1); both scaled by 1/sqrt(2)
    z = np.array([3, 4, 0, 2], dtype=np.float32)
    full = to_full_space(z, SCHEMA)
    np.testing.assert_allclose(full, np.array([0.6, 0.8, 0, 1]) / np.sqrt(2), rtol=1e-6)
    assert np.linalg.norm(full) == pytest.approx(1.0)


def test_inner_product_is_mean_of_facet_cosines():
    rng = np.random.default_rng(0)
    schema = ConceptSchema({c: (c + "_t",) for c in "abcd"}, facet_dim=5)
    a, b = to_full_space(rng.normal(size=(2, 20)).astype(np.float32), schema)
    cos = facet_cosines(a, b[None, :], schema)[0]
    brute = [
        np.dot(a[f.slice], b[f.slice]) / np.linalg.norm(a[f.slice]) / np.linalg.norm(b[f.slice])
        for f in schema.facets
    ]
    np.testing.assert_allclose(cos, brute, rtol=1e-5)
    assert float(a @ b) == pytest.approx(np.mean(brute), rel=1e-5)


def test_weighted_query_gives_weighted_cosines():
    rng = np.random.default_rng(1)
    schema = ConceptSchema({c: (c + "_t",) for c in "abc"}, facet_dim=4)
    q, x = to_full_space(rng.normal(size=(2, 12)).astype(np.float32), schema)
    w = {"a": 0.7, "c": 0.3}
    cos = facet_cosines(q, x[None, :], schema)[0]
    assert float(weighted_query(q, w, schema) @ x) == pytest.approx(
        0.7 * cos[0] + 0.3 * cos[2], rel=1e-5
    )


def test_parse_weights():
    assert parse_weights(None, SCHEMA) == {"a": 0.5, "b": 0.5}
    assert parse_weights("a", SCHEMA) == {"a": 1.0}
    assert parse_weights("a:3, b:1", SCHEMA) == {"a": 0.75, "b": 0.25}
    # negative: unlike in that facet; absolute values sum to 1
    assert parse_weights("a:1,b:-1", SCHEMA) == {"a": 0.5, "b": -0.5}
    assert parse_weights("a:-3, b:1", SCHEMA) == {"a": -0.75, "b": 0.25}
    assert parse_weights("b:-2", SCHEMA) == {"b": -1.0}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("tempo", "unknown facet 'tempo'; valid facets: a, b"),
        ("a:x", "not a number"),
        ("a:-1,b:1,a:2", "given twice"),
        ("a:nan", "not a number: .nan. \\(expected a plain decimal"),
        ("a:1_0", "not a number"),
        ("a:0", "all zero"),
        ("a:0,b:-0", "all zero"),
        ("a:1,a:2", "given twice"),
        ("'; DROP TABLE tracks; --", "unknown facet"),
    ],
)
def test_parse_weights_rejects(spec, message):
    with pytest.raises(FacetWeightError, match=message):
        parse_weights(spec, SCHEMA)


def test_mean_full_space_renormalises_each_facet():
    w = to_full_space(np.array([[1, 0, 0, 1], [0, 1, 0, 1]], dtype=np.float32), SCHEMA)
    m = mean_full_space(w, SCHEMA)
    np.testing.assert_allclose(m, np.array([1, 1, 0, np.sqrt(2)]) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="zero windows"):
        mean_full_space(np.zeros((0, 4), np.float32), SCHEMA)
    with pytest.raises(ValueError, match=r"expected shape \(N, 4\)"):
        to_full_space(np.zeros((2, 3), np.float32), SCHEMA)
