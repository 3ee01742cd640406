"""A map of each facet space: every catalogue track as a point, placed by a 2-D projection of
its facet sub-vector and coloured by its most probable tag in that facet's concept(s).

If the facets are disentangled, tracks sharing a tag gather together in their own facet's
map (genre in the genre map) and not necessarily in the others.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from matplotlib.figure import Figure

from layout.schema import ConceptSchema

#: The colours of the most frequent top tags in a map (tab10 without its grey, which is
#: "other": every less frequent tag).
PALETTE = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")
OTHER = "0.75"


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The (N, 2) projection of (N, d) rows on their first two principal components (rows
    centred; each component's sign fixed so that its largest loading is positive)."""
    x = np.asarray(x, dtype=np.float64)
    centred = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    comps = vt[:2]
    signs = np.sign(comps[np.arange(len(comps)), np.abs(comps).argmax(axis=1)])
    out = centred @ (comps * signs[:, None]).T
    return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))


def tsne_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE of the rows (scikit-learn, cosine distance, seeded): neighbourhoods read better
    than with PCA, distances between clusters do not."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    return TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca",
                random_state=seed).fit_transform(np.asarray(x, dtype=np.float64))


def facet_tags(schema: ConceptSchema, facet: str) -> list[str]:
    """The tags whose proxies live in ``facet`` (those of the concepts it holds)."""
    return [t for c, tags in schema.concepts.items()
            if schema.facet_of_concept(c).name == facet for t in tags]


def top_tags(tag_probs: np.ndarray, schema: ConceptSchema, facet: str) -> list[str]:
    """Each track's most probable tag among ``facet``'s tags; (N, T) probabilities in
    ``schema.tags`` order."""
    tags = facet_tags(schema, facet)
    cols = [schema.tag_index(t) for t in tags]
    return [tags[i] for i in np.argmax(tag_probs[:, cols], axis=1)]


def facet_points(
    vectors: np.ndarray, tag_probs: np.ndarray, schema: ConceptSchema, *, method: str = "pca",
    seed: int = 0,
) -> dict[str, tuple[np.ndarray, list[str]]]:
    """facet -> ((N, 2) map coordinates, each track's top tag in that facet).

    Args:
        vectors: (N, D) full-space vectors as stored (facet slices normalised).
        tag_probs: (N, T) tag probabilities, columns in ``schema.tags`` order.
        method: "pca" or "tsne".

    Raises:
        ValueError: shapes that disagree with the schema, or an unknown method.
    """
    if vectors.ndim != 2 or vectors.shape[1] != schema.dim:
        raise ValueError(f"vectors: expected shape (N, {schema.dim}), got {vectors.shape}")
    if tag_probs.shape != (len(vectors), len(schema.tags)):
        raise ValueError(
            f"tag_probs: expected shape ({len(vectors)}, {len(schema.tags)}), got {tag_probs.shape}"
        )
    project = {"pca": pca_2d, "tsne": lambda x: tsne_2d(x, seed)}.get(method)
    if project is None:
        raise ValueError(f"unknown method '{method}'; valid: pca, tsne")
    out = {}
    for f in schema.facets:
        sub = vectors[:, f.slice]
        sub = sub / np.maximum(np.linalg.norm(sub, axis=1, keepdims=True), 1e-12)
        out[f.name] = (project(sub), top_tags(tag_probs, schema, f.name))
    return out


def colours(labels: list[str]) -> dict[str, str]:
    """A colour per label: the most frequent get PALETTE's (ties by name), the rest OTHER."""
    counts = Counter(labels)
    common = sorted(counts, key=lambda t: (-counts[t], t))[: len(PALETTE)]
    palette = dict(zip(common, PALETTE, strict=False))
    return {t: palette.get(t, OTHER) for t in counts}


def facet_maps_figure(
    points: dict[str, tuple[np.ndarray, list[str]]], *, method: str = "pca", title: str = ""
) -> Figure:
    """One scatter per facet (from :func:`facet_points`), points coloured by top tag."""
    n = len(points)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(6.2 * cols, 5.0 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (facet, (xy, labels)) in zip(axes, points.items(), strict=False):
        palette = colours(labels)
        order = sorted(set(labels), key=lambda t: (palette[t] == OTHER, -labels.count(t), t))
        for tag in order:
            idx = [i for i, t in enumerate(labels) if t == tag]
            grey = palette[tag] == OTHER
            ax.scatter(xy[idx, 0], xy[idx, 1], s=16, c=palette[tag], alpha=0.85,
                       label=None if grey else f"{tag} ({len(idx)})", gid=f"{facet}:{tag}")
        if OTHER in palette.values():
            ax.scatter([], [], s=16, c=OTHER, label="other")
        ax.set_title(f"{facet} facet", fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(fontsize=7, loc="best", title="top tag", title_fontsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    what = {"pca": "PCA", "tsne": "t-SNE"}.get(method, method)
    fig.suptitle(f"{title} — {what} of each facet's sub-vectors".strip(" —"))
    return fig
