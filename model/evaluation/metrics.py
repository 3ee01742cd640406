"""Evaluation metrics for tagging and retrieval (definitions in /work/shared/PAPERS.md).

Pure functions over numpy arrays returning floats or ``{name: value}`` dicts:

* :func:`macro_roc_auc`, :func:`macro_pr_auc`: sklearn ROC-AUC / average precision per tag,
  macro-averaged (Akama et al. 2023; Meseguer-Brocal et al. 2024).
* :func:`recall_at_k`: Akama et al.'s tag-coverage R@K (x100).
* :func:`mapgtt_at_k`: Akama et al.'s MAPGTT@K (x100).
* :func:`triplet_accuracy` with :func:`make_concept_triplets` / :func:`make_track_triplets`:
  Lee et al.'s triplet prediction accuracy.
* :func:`same_track_recall_at_1`: is a window's nearest other window from its own track.

Neighbour search is injectable: ``knn_func(xq, xb, k) -> (D, I)`` in FAISS terms (float32
C-contiguous arrays, inner-product similarities, descending). Queries are always part of the
reference set; each query's own row is removed from its neighbour list explicitly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

logger = logging.getLogger(__name__)

KnnFunc = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
_EPS = 1e-12


# --- neighbour search ---------------------------------------------------------------------
def exact_knn(xq: np.ndarray, xb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product kNN in numpy; ties broken by the lower reference index.

    Args:
        xq: (Q, D) queries.
        xb: (N, D) references.
        k: neighbours per query (<= N).

    Returns:
        (D, I): (Q, k) similarities (descending) and int64 reference indices.
    """
    sims = np.asarray(xq, dtype=np.float64) @ np.asarray(xb, dtype=np.float64).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1).astype(np.float32), order.astype(np.int64)


def faiss_knn(xq: np.ndarray, xb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product kNN with ``faiss.IndexFlatIP`` (what Akama et al. use)."""
    import faiss

    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(np.ascontiguousarray(xb, dtype=np.float32))
    sims, ids = index.search(np.ascontiguousarray(xq, dtype=np.float32), k)
    return sims, ids.astype(np.int64)


def _l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)


def neighbours_excluding_self(
    embeddings: np.ndarray, k: int, knn_func: KnnFunc | None = None
) -> np.ndarray:
    """The k cosine nearest neighbours of every row among the other rows.

    The search asks for k + 1 neighbours and removes the query's own index wherever it
    appears (with duplicate vectors it need not come first); if it is absent the (k+1)-th
    neighbour is dropped.

    Args:
        embeddings: (N, D); rows are L2-normalised here.
        k: neighbours per row, at most N - 1.
        knn_func: ``(xq, xb, k) -> (D, I)``; default :func:`faiss_knn`.

    Returns:
        (N, k) int64 neighbour indices, nearest first.
    """
    x = _l2_normalize(embeddings)
    n = x.shape[0]
    if not 1 <= k <= n - 1:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} items, got {k}")
    _, ids = (knn_func or faiss_knn)(x, x, k + 1)
    ids = np.asarray(ids, dtype=np.int64)
    if ids.shape != (n, k + 1):
        raise ValueError(f"knn_func returned indices of shape {ids.shape}, expected {(n, k + 1)}")
    not_self = ids != np.arange(n)[:, None]
    # keep the first k non-self entries of each row (a row has k or k + 1 of them)
    keep = not_self & (np.cumsum(not_self, axis=1) <= k)
    return ids[keep].reshape(n, k)


# --- tagging ------------------------------------------------------------------------------
def _check_scores(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2 or y_true.shape != y_score.shape:
        raise ValueError(
            f"y_true and y_score must both be (N, T), got {y_true.shape} and {y_score.shape}"
        )
    return (y_true > 0).astype(np.int64), y_score


def _macro(
    metric: Callable[[np.ndarray, np.ndarray], float], name: str, y_true: np.ndarray,
    y_score: np.ndarray,
) -> dict[str, float]:
    y, s = _check_scores(y_true, y_score)
    positives = y.sum(axis=0)
    usable = (positives > 0) & (positives < y.shape[0])
    if not usable.any():
        raise ValueError(f"{name}: no tag has both positive and negative examples")
    skipped = int((~usable).sum())
    if skipped:
        logger.info("%s: skipped %d tags without both classes", name, skipped)
    values = [metric(y[:, t], s[:, t]) for t in np.flatnonzero(usable)]
    return {name: float(np.mean(values)), "tags_used": float(usable.sum()),
            "tags_skipped": float(skipped)}


def macro_roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC over tags.

    Args:
        y_true: (N, T) multi-hot ground truth (> 0 means present).
        y_score: (N, T) scores (probabilities or logits).

    Returns:
        ``{"roc_auc": mean over usable tags, "tags_used": ..., "tags_skipped": ...}``; a tag
        is skipped when y_true has no positive or no negative for it.

    Raises:
        ValueError: shapes differ, or no tag is usable.
    """
    return _macro(roc_auc_score, "roc_auc", y_true, y_score)


def macro_pr_auc(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Macro PR-AUC (sklearn average precision) over tags; same conventions and return keys
    as :func:`macro_roc_auc`, with ``"pr_auc"``."""
    return _macro(average_precision_score, "pr_auc", y_true, y_score)


# --- retrieval ----------------------------------------------------------------------------
def _tagged(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    x, y = np.asarray(embeddings), np.asarray(labels) > 0
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"embeddings (N, D) and labels (N, T) expected, got {x.shape}, {y.shape}")
    keep = y.any(axis=1)
    return x[keep], y[keep], int((~keep).sum())


def recall_at_k(
    embeddings: np.ndarray,
    labels: np.ndarray,
    ks: Sequence[int] = (1, 2, 4, 8),
    knn_func: KnnFunc | None = None,
) -> dict[str, float]:
    """Tag-coverage recall (Akama et al. 2023), x100.

    Tracks without tags are dropped (from queries and references, as in Akama et al.'s
    code). For a query q with tag set tags(q) and top-K cosine neighbours (self excluded),
    ``R@K(q) = |tags(q) & union of the neighbours' tags| / |tags(q)|``; the metric is the
    mean over queries times 100.

    Args:
        embeddings: (N, D) track embeddings.
        labels: (N, T) multi-hot tags.
        ks: the K values.
        knn_func: ``(xq, xb, k) -> (D, I)``; default exact FAISS inner product.

    Returns:
        ``{"R@1": ..., "R@2": ..., ..., "queries": n, "untagged": dropped}``.
    """
    x, y, dropped = _tagged(embeddings, labels)
    nbrs = neighbours_excluding_self(x, max(ks), knn_func)  # (N, K)
    union = np.logical_or.accumulate(y[nbrs], axis=1)  # (N, K, T): tags of the top-k, k=1..K
    covered = (union & y[:, None, :]).sum(axis=2) / y.sum(axis=1, keepdims=True)  # (N, K)
    out = {f"R@{k}": float(covered[:, k - 1].mean() * 100.0) for k in ks}
    out.update(queries=float(x.shape[0]), untagged=float(dropped))
    return out


def mapgtt_at_k(
    embeddings: np.ndarray,
    labels: np.ndarray,
    ks: Sequence[int] = (1, 4, 7, 10),
    knn_func: KnnFunc | None = None,
) -> dict[str, float]:
    """MAPGTT@K (Akama et al. 2023), x100.

    Tracks without tags are dropped. For each tag t and each query q carrying t, with
    ``h_i = 1`` if the i-th neighbour (self excluded) carries t:
    ``AP@K(q, t) = (1/K) sum_{k<=K} h_k * (sum_{i<=k} h_i) / k``. It is averaged over the
    queries carrying t, then over the tags that have at least one such query.

    Returns:
        ``{"MAPGTT@1": ..., "MAPGTT@4": ..., ...}``.
    """
    x, y, _ = _tagged(embeddings, labels)
    kmax = max(ks)
    hits = y[neighbours_excluding_self(x, kmax, knn_func)]  # (N, K, T)
    pos = np.arange(1, kmax + 1)[None, :, None]
    precision = np.cumsum(hits, axis=1) / pos
    ap = np.cumsum(hits * precision, axis=1) / pos  # (N, K, T)
    carriers = y.sum(axis=0)  # (T,)
    per_tag = (ap * y[:, None, :]).sum(axis=0)[:, carriers > 0] / carriers[carriers > 0]
    return {f"MAPGTT@{k}": float(per_tag[k - 1].mean() * 100.0) for k in ks}


def same_track_recall_at_1(
    window_embeddings: np.ndarray,
    window_track_ids: np.ndarray,
    knn_func: KnnFunc | None = None,
) -> float:
    """Fraction of windows whose nearest other window (cosine) belongs to the same track.

    Windows of a track with a single window cannot succeed and are left out of the queries
    (they still serve as references).

    Args:
        window_embeddings: (N, D).
        window_track_ids: (N,) track id of each window.
        knn_func: ``(xq, xb, k) -> (D, I)``.
    """
    ids = np.asarray(window_track_ids)
    if ids.ndim != 1 or ids.shape[0] != np.asarray(window_embeddings).shape[0]:
        raise ValueError(f"window_track_ids must be (N,), got {ids.shape}")
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    queries = counts[inverse] > 1
    if not queries.any():
        raise ValueError("no track has two windows")
    nearest = neighbours_excluding_self(window_embeddings, 1, knn_func)[:, 0]
    return float((ids[nearest] == ids)[queries].mean())


# --- triplets -----------------------------------------------------------------------------
def triplet_accuracy(
    embeddings: np.ndarray,
    triplets: np.ndarray,
    metric: str = "euclidean",
    dims: slice | None = None,
) -> float:
    """Fraction of triplets with d(a, p) < d(a, n) (Lee et al. 2020); ties count as misses.

    Args:
        embeddings: (N, D).
        triplets: (M, 3) int rows (anchor, positive, negative).
        metric: ``"euclidean"`` or ``"cosine"`` (1 - cos), both on L2-normalised vectors
            (they order pairs identically up to rounding).
        dims: optional facet slice: the sub-space accuracy uses ``embeddings[:, dims]``,
            normalised on its own.
    """
    t = np.asarray(triplets)
    if t.ndim != 2 or t.shape[1] != 3 or t.shape[0] == 0:
        raise ValueError(f"triplets must be a non-empty (M, 3) array, got shape {t.shape}")
    x = np.asarray(embeddings, dtype=np.float64)
    x = _l2_normalize(x if dims is None else x[:, dims]).astype(np.float64)
    a, p, n = x[t[:, 0]], x[t[:, 1]], x[t[:, 2]]
    if metric == "euclidean":
        d_ap, d_an = np.linalg.norm(a - p, axis=1), np.linalg.norm(a - n, axis=1)
    elif metric == "cosine":
        d_ap, d_an = 1.0 - (a * p).sum(axis=1), 1.0 - (a * n).sum(axis=1)
    else:
        raise ValueError(f"unknown metric '{metric}'; valid: euclidean, cosine")
    return float((d_ap < d_an).mean())


def _draw_from_rows(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly drawn True column per row of a (R, N) bool mask (each row has one)."""
    counts = mask.sum(axis=1)
    r = (rng.random(mask.shape[0]) * counts).astype(np.int64)  # in [0, count)
    return np.argmax(np.cumsum(mask, axis=1) > r[:, None], axis=1)


def make_concept_triplets(
    labels: np.ndarray,
    concept_columns: Sequence[int],
    n: int,
    seed: int,
    *,
    negatives_need_tag: bool = True,
    chunk: int = 1024,
) -> np.ndarray:
    """Fixed, seeded evaluation triplets along one concept (Lee et al. 2020).

    An anchor carries at least one of the concept's tags; the positive (another track)
    shares at least one of them; the negative shares none (and, with ``negatives_need_tag``,
    carries at least one tag of the concept, the same rule as
    :class:`model.losses.miners.TagTripletMiner`). Anchors are drawn uniformly with replacement
    among the tracks that have a positive and a negative, then the positive and the negative
    uniformly.

    Args:
        labels: (N, T) multi-hot tags.
        concept_columns: the concept's tag columns.
        n: number of triplets.
        seed: seed of ``numpy.random.default_rng``.
        negatives_need_tag: see above.
        chunk: anchors processed at once (memory is chunk x N).

    Returns:
        (n, 3) int64 (anchor, positive, negative).

    Raises:
        ValueError: no track can anchor a triplet.
    """
    y = np.asarray(labels)[:, list(concept_columns)] > 0  # (N, T_c)
    yf = y.astype(np.float32)
    has = np.asarray(y.any(axis=1))
    rng = np.random.default_rng(seed)
    cand = np.flatnonzero(has)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        if cand.size == 0:
            raise ValueError(f"no track can anchor a triplet for columns {list(concept_columns)}")
        anchors: np.ndarray = rng.choice(cand, size=min(chunk, n - got), replace=True)
        shared = (yf[anchors] @ yf.T) > 0  # (R, N)
        pos = shared.copy()
        pos[np.arange(anchors.size), anchors] = False
        neg = ~shared
        if negatives_need_tag:
            neg &= has[None, :]
        ok: np.ndarray = pos.any(axis=1) & neg.any(axis=1)
        if not ok.all():  # drop anchors that cannot form a triplet, and never draw them again
            cand = np.setdiff1d(cand, anchors[~ok])
            anchors, pos, neg = anchors[ok], pos[ok], neg[ok]
        if anchors.size:
            rows = np.stack([anchors, _draw_from_rows(pos, rng), _draw_from_rows(neg, rng)], 1)
            out.append(rows)
            got += anchors.size
    return np.concatenate(out).astype(np.int64)


def make_track_triplets(track_ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Fixed, seeded track triplets (Lee et al. 2020): anchor and positive are two different
    windows of one track, the negative a window of another track.

    Args:
        track_ids: (N,) track id of each window.
        n: number of triplets.
        seed: seed of ``numpy.random.default_rng``.

    Returns:
        (n, 3) int64 window indices.
    """
    ids = np.asarray(track_ids)
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    cand = np.flatnonzero(counts[inverse] > 1)
    if cand.size == 0 or counts.size < 2:
        raise ValueError("track triplets need a track with two windows and a second track")
    rng = np.random.default_rng(seed)
    anchors = rng.choice(cand, size=n, replace=True)
    order = np.argsort(inverse, kind="stable")  # window indices grouped by track
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])  # group start in ``order``
    rank = np.empty_like(order)
    rank[order] = np.arange(ids.size) - starts[inverse[order]]  # position inside its group
    g = inverse[anchors]
    # positive: uniform over the group's other windows, skipping the anchor's own position
    r = (rng.random(n) * (counts[g] - 1)).astype(np.int64)
    positives = order[starts[g] + r + (r >= rank[anchors])]
    # negative: uniform over the windows outside the group, skipping the group's block
    r = (rng.random(n) * (ids.size - counts[g])).astype(np.int64)
    negatives = order[r + np.where(r >= starts[g], counts[g], 0)]
    return np.stack([anchors, positives, negatives], axis=1).astype(np.int64)
