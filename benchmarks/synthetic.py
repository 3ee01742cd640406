"""Synthetic track catalogues with the facet layout of a musicprism model, for benchmarks.

Each facet slice (genre, mood, ...) is drawn from its own mixture of Gaussian clusters:

- cluster centres come in families (sub-genres near their parent genre): a centre is a
  random parent direction plus a perturbation, so clusters are unevenly spaced;
- cluster popularity follows a Zipf law (a few huge genres, a long tail);
- each cluster has its own spread (log-uniform) and its own low-rank noise subspace, so
  within-cluster variation is anisotropic and of low intrinsic dimension, as in learned
  embeddings, plus a little isotropic noise;
- facets are partly independent: for a non-first facet, with probability ``coupling`` a
  track takes the cluster its first-facet cluster is linked to (jazz tends to be acoustic),
  otherwise an independent draw.

Raw vectors then go through ``layout.facets.to_full_space``. Generation is chunked (bounded
temporary memory at 1M tracks) and seeded per chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layout.facets import to_full_space
from layout.schema import ConceptSchema

CHUNK = 65_536


@dataclass(frozen=True)
class CatalogueSpec:
    """Parameters of the synthetic distribution (defaults: the benchmark's).

    Args:
        clusters: clusters per facet.
        families: parent directions per facet that cluster centres gather around.
        family_spread: norm of a centre's offset from its parent (parent norm 1).
        spread: (low, high) range of per-cluster noise norm, drawn log-uniformly.
        rank: dimension of each cluster's noise subspace.
        isotropic: isotropic noise norm, relative to the cluster's spread.
        zipf: exponent of cluster popularity (p_i proportional to 1 / i**zipf).
        coupling: probability that a non-first facet follows the first facet's cluster.
    """

    clusters: int = 300
    families: int = 30
    family_spread: float = 0.8
    spread: tuple[float, float] = (0.4, 1.6)
    rank: int = 12
    isotropic: float = 0.4
    zipf: float = 0.8
    coupling: float = 0.5

    def __post_init__(self) -> None:
        low, high = self.spread
        if self.clusters < 1 or self.families < 1:
            raise ValueError(f"clusters and families must be >= 1, got {self}")
        if not 0 < low <= high:
            raise ValueError(f"spread must satisfy 0 < low <= high, got {self.spread}")
        if not 0.0 <= self.coupling <= 1.0:
            raise ValueError(f"coupling must be in [0, 1], got {self.coupling}")
        if self.rank < 1:
            raise ValueError(f"rank must be >= 1, got {self.rank}")


@dataclass(frozen=True)
class _FacetMixture:
    centres: np.ndarray  # (C, d) unit norm
    bases: np.ndarray  # (C, d, r) orthonormal columns
    sigmas: np.ndarray  # (C,)
    weights: np.ndarray  # (C,) popularity, sums to 1
    link: np.ndarray  # (C_first,) cluster followed when coupled to the first facet


@dataclass(frozen=True)
class Catalogue:
    """Full-space vectors and the cluster each facet slice was drawn from.

    Attributes:
        x: (N, D) float32 full-space vectors (unit norm, each facet slice of norm 1/sqrt(K)).
        labels: (N, K) int32 cluster index per facet, columns in ``schema.facet_names`` order.
    """

    x: np.ndarray
    labels: np.ndarray


def make_catalogue(
    n: int, schema: ConceptSchema, spec: CatalogueSpec | None = None, seed: int = 0
) -> Catalogue:
    """Draw ``n`` tracks from the clustered facet distribution.

    Args:
        n: number of tracks.
        schema: the layout (facets and their dimensions).
        spec: distribution parameters (default ``CatalogueSpec()``).
        seed: the same seed and ``n`` give the same catalogue (rows are drawn in chunks of
            ``CHUNK`` rows, each from its own child seed).

    Returns:
        A ``Catalogue`` with ``x`` (n, D) float32 and ``labels`` (n, K) int32.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    spec = spec or CatalogueSpec()
    root = np.random.SeedSequence(seed)
    mixture_seed, rows_seed = root.spawn(2)
    mixtures = _mixtures(schema, spec, np.random.default_rng(mixture_seed))
    x = np.empty((n, schema.dim), dtype=np.float32)
    labels = np.empty((n, len(schema.facets)), dtype=np.int32)
    n_chunks = -(-n // CHUNK)
    for i, chunk_seed in enumerate(rows_seed.spawn(n_chunks)):
        rows = slice(i * CHUNK, min(n, (i + 1) * CHUNK))
        z, lab = _draw(rows.stop - rows.start, schema, spec, mixtures, chunk_seed)
        x[rows] = to_full_space(z, schema)
        labels[rows] = lab
    return Catalogue(x=x, labels=labels)


def uniform_catalogue(n: int, schema: ConceptSchema, seed: int = 0) -> np.ndarray:
    """(n, D) float32 full-space vectors of isotropic Gaussian noise: the unclustered baseline."""
    z = np.random.default_rng(seed).standard_normal((n, schema.dim), dtype=np.float32)
    return to_full_space(z, schema)


def _unit(v: np.ndarray) -> np.ndarray:
    out: np.ndarray = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def _mixtures(
    schema: ConceptSchema, spec: CatalogueSpec, rng: np.random.Generator
) -> list[_FacetMixture]:
    out = []
    c = spec.clusters
    for f in schema.facets:
        parents = _unit(rng.standard_normal((spec.families, f.dim)))
        offsets = _unit(rng.standard_normal((c, f.dim))) * spec.family_spread
        centres = _unit(parents[rng.integers(0, spec.families, c)] + offsets)
        rank = min(spec.rank, f.dim)
        bases, _ = np.linalg.qr(rng.standard_normal((c, f.dim, rank)))
        low, high = np.log(spec.spread[0]), np.log(spec.spread[1])
        sigmas = np.exp(rng.uniform(low, high, c))
        popularity = 1.0 / np.arange(1, c + 1) ** spec.zipf
        weights = rng.permutation(popularity / popularity.sum())
        link = rng.integers(0, c, c)
        out.append(_FacetMixture(centres, bases, sigmas, weights, link))
    return out


def _draw(
    n: int,
    schema: ConceptSchema,
    spec: CatalogueSpec,
    mixtures: list[_FacetMixture],
    seed: np.random.SeedSequence,
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk: raw vectors (n, D) float32 and labels (n, K)."""
    rng = np.random.default_rng(seed)
    z = np.empty((n, schema.dim), dtype=np.float32)
    labels = np.empty((n, len(schema.facets)), dtype=np.int32)
    first = rng.choice(spec.clusters, size=n, p=mixtures[0].weights)
    for j, (f, mix) in enumerate(zip(schema.facets, mixtures, strict=True)):
        if j == 0:
            lab = first
        else:
            own = rng.choice(spec.clusters, size=n, p=mix.weights)
            lab = np.where(rng.random(n) < spec.coupling, mix.link[first], own)
        labels[:, j] = lab
        z[:, f.slice] = _facet_points(lab, mix, spec, rng)
    return z, labels


def _facet_points(
    lab: np.ndarray, mix: _FacetMixture, spec: CatalogueSpec, rng: np.random.Generator
) -> np.ndarray:
    """Points (n, d) around the centres of clusters ``lab``; noise norm about sigma."""
    n, (_, d, rank) = lab.size, mix.bases.shape
    out = mix.centres[lab].copy()
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(mix.centres.shape[0] + 1))
    for c in np.flatnonzero(np.diff(bounds)):
        rows = order[bounds[c] : bounds[c + 1]]
        g = rng.standard_normal((rows.size, rank)) / np.sqrt(rank)
        out[rows] += mix.sigmas[c] * (g @ mix.bases[c].T)
    iso = rng.standard_normal((n, d)) / np.sqrt(d)
    out += (spec.isotropic * mix.sigmas[lab])[:, None] * iso
    points: np.ndarray = out.astype(np.float32)
    return points
