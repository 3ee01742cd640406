"""The synthetic catalogue: layout, determinism, and clustered (not uniform) structure."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from benchmarks.synthetic import CatalogueSpec, make_catalogue, uniform_catalogue
from layout.schema import ConceptSchema

SCHEMA = ConceptSchema({c: (c,) for c in ("genre", "mood", "instrument", "era")}, facet_dim=64)
N = 3000


@pytest.fixture(scope="module")
def catalogue():
    return make_catalogue(N, SCHEMA, seed=3)


def _top1(xq: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest neighbour by inner product: (nq,) scores and ids."""
    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(np.ascontiguousarray(xb))
    d, i = index.search(np.ascontiguousarray(xq), 1)
    return d[:, 0], i[:, 0]


def test_layout_shape_dtype_and_norms(catalogue):
    x = catalogue.x
    assert x.shape == (N, 256) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    for f in SCHEMA.facets:  # each facet slice has norm 1/sqrt(K), as to_full_space makes it
        np.testing.assert_allclose(np.linalg.norm(x[:, f.slice], axis=1), 0.5, atol=1e-5)
    assert catalogue.labels.shape == (N, 4) and catalogue.labels.dtype == np.int32
    assert catalogue.labels.min() >= 0 and catalogue.labels.max() < CatalogueSpec().clusters


def test_same_seed_same_catalogue_other_seed_differs(catalogue):
    again = make_catalogue(N, SCHEMA, seed=3)
    np.testing.assert_array_equal(again.x, catalogue.x)
    np.testing.assert_array_equal(again.labels, catalogue.labels)
    assert not np.allclose(make_catalogue(N, SCHEMA, seed=4).x, catalogue.x)


def test_nearest_neighbours_are_much_closer_than_in_uniform_noise(catalogue):
    x, u = catalogue.x, uniform_catalogue(N, SCHEMA, seed=3)
    clustered, _ = _top1(x[:200], x[200:])
    uniform, _ = _top1(u[:200], u[200:])
    # measured: about 0.5 clustered vs 0.25 uniform at this size
    assert clustered.mean() > uniform.mean() + 0.15
    # and a random pair is near-orthogonal in both, so the gap is neighbourhood structure
    assert abs(float((x[:200] @ x[200:400].T).mean())) < 0.1


def test_facet_neighbours_share_the_facet_cluster(catalogue):
    x, labels = catalogue.x, catalogue.labels
    for j, f in enumerate(SCHEMA.facets):
        part = x[:, f.slice] * 2
        _, nn = _top1(part[:300], part[300:])
        same = (labels[300:][nn, j] == labels[:300, j]).mean()
        assert same > 0.8, (f.name, same)  # chance level is a few percent


def _purity(labels: np.ndarray, a: int, b: int) -> float:
    """Share of tracks whose facet-b cluster is the most common one among tracks sharing
    their facet-a cluster: 1 if b is a function of a, low if independent."""
    hits = 0
    for cluster in np.unique(labels[:, a]):
        rows = labels[labels[:, a] == cluster, b]
        hits += np.bincount(rows).max()
    return hits / len(labels)


def test_coupling_sets_how_dependent_facets_are():
    def purity(coupling: float) -> float:
        spec = CatalogueSpec(clusters=20, families=4, coupling=coupling)
        return _purity(make_catalogue(4000, SCHEMA, spec, seed=1).labels, 0, 2)

    assert purity(1.0) == 1.0
    independent, partial = purity(0.0), purity(0.5)
    assert independent < 0.35 < partial < 0.9, (independent, partial)


@pytest.mark.parametrize(
    "kwargs",
    [dict(clusters=0), dict(spread=(0.0, 1.0)), dict(spread=(2.0, 1.0)), dict(coupling=1.5),
     dict(rank=0)],
)
def test_spec_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CatalogueSpec(**kwargs)


def test_rejects_bad_size():
    with pytest.raises(ValueError, match="n must be an int >= 0, got -1"):
        make_catalogue(-1, SCHEMA)
    assert make_catalogue(0, SCHEMA).x.shape == (0, 256)
