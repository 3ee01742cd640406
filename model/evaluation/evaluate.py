"""Evaluate a model on a dataset split, the way the service embeds audio.

Every clip is decoded (``model.audio.decode``) and cut into the model's windows
(``model.audio.windows``: non-overlapping, plus one ending at the clip's end when the rest is
at least half a window). A *window function* maps the windows to full-space vectors and tag
probabilities (for a checkpoint: :class:`model.embed.Embedder`). Tracks are the manifest's
``track_id`` groups (``level="track"``, the default: the clips of one piece together, as Lee
et al. average a full song) or single clips (``level="clip"``); a track's vector is the
mean of its window vectors per facet, renormalised (``layout.facets``), its tag scores the
mean of its window probabilities.

Metrics (definitions in /work/shared/PAPERS.md, functions in :mod:`model.evaluation.metrics`):

* ``roc_auc``, ``pr_auc``: macro over tags, labelled tracks, from the calibrated tag head.
* ``R@K`` (K = 1, 2, 4, 8): Akama et al.'s tag coverage of the top-K cosine neighbours of
  each tagged track in the full space (a K needs more than K tagged tracks).
* ``triplet_full.<concept>``, ``triplet_sub.<concept>`` and their means ``triplet_full``,
  ``triplet_sub``: Lee et al.'s triplet accuracy on fixed seeded triplets along each concept,
  in the full space and in the concept's facet (for a model with one ``all`` facet both
  are the full space).
* ``track_triplet``: window triplets (two windows of one track vs another track's window).
* ``same_clip_r1``: a window's nearest other window comes from its clip.
* ``same_track_r1``: a window's nearest window *from another clip* comes from its track
  (windows of its own clip are excluded; only windows whose track has other clips query).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from layout.facets import to_full_space
from layout.schema import ConceptSchema
from model.audio import decode
from model.audio import windows as frame_windows
from model.data.base import MusicDataset
from model.evaluation.metrics import (
    exact_knn,
    macro_pr_auc,
    macro_roc_auc,
    make_concept_triplets,
    make_track_triplets,
    recall_at_k,
    same_track_recall_at_1,
    triplet_accuracy,
)

logger = logging.getLogger(__name__)

WindowFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(W, n) window samples -> ((W, D) full-space vectors, (W, T) tag probabilities)."""

KS = (1, 2, 4, 8)


@dataclass
class WindowOutputs:
    """vectors: (N_w, D) full-space; probs: (N_w, T); clip: (N_w,) clip index per window."""

    vectors: np.ndarray
    probs: np.ndarray
    clip: np.ndarray


@dataclass
class TrackOutputs:
    """vectors: (N, D) full-space track vectors; probs: (N, T) mean window probabilities;
    labels: (N, T) multi-hot (union over the clips); labelled: (N,) bool."""

    vectors: np.ndarray
    probs: np.ndarray
    labels: np.ndarray
    labelled: np.ndarray


def embed_clips(
    window_fn: WindowFn,
    dataset: MusicDataset,
    *,
    sample_rate: int,
    window_seconds: float,
    progress: bool = False,
) -> WindowOutputs:
    """Run ``window_fn`` over every window of every clip of ``dataset``."""
    vecs, probs, clips = [], [], []
    for i, t in enumerate(tqdm(dataset.tracks, desc="embedding", disable=not progress,
                               leave=False)):
        audio = decode(t.path, sample_rate=sample_rate, start=t.start, duration=t.duration)
        frames = frame_windows(audio.samples, sample_rate, window_seconds)
        v, p = window_fn(frames)
        vecs.append(v)
        probs.append(p)
        clips.append(np.full(len(v), i, dtype=np.int64))
    return WindowOutputs(np.concatenate(vecs).astype(np.float32),
                         np.concatenate(probs).astype(np.float32), np.concatenate(clips))


def group_ids(dataset: MusicDataset, level: str) -> np.ndarray:
    """(N_clips,) int64 track group of each clip: ``track_id`` or the clip itself."""
    if level == "track":
        return dataset.groups
    if level == "clip":
        return np.arange(len(dataset), dtype=np.int64)
    raise ValueError(f"unknown level '{level}'; valid: track, clip")


def aggregate(out: WindowOutputs, dataset: MusicDataset, schema: ConceptSchema,
              level: str = "track") -> TrackOutputs:
    """Window outputs -> one row per track (or clip), in order of first appearance."""
    clip_group = group_ids(dataset, level)
    n = int(clip_group.max()) + 1
    g = clip_group[out.clip]  # (N_w,)
    sums = np.zeros((n, out.vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, g, out.vectors)
    counts = np.bincount(g, minlength=n).astype(np.float64)
    probs = np.zeros((n, out.probs.shape[1]), dtype=np.float64)
    np.add.at(probs, g, out.probs)
    clip_labels = dataset.labels()
    labels = np.zeros((n, clip_labels.shape[1]), dtype=np.float32)
    np.maximum.at(labels, clip_group, clip_labels)
    labelled = np.zeros(n, dtype=bool)
    np.logical_or.at(labelled, clip_group, dataset.labelled)
    return TrackOutputs(
        vectors=to_full_space(sums.astype(np.float32), schema),
        probs=(probs / counts[:, None]).astype(np.float32),
        labels=labels,
        labelled=labelled,
    )


def _block_knn(blocks: np.ndarray) -> Callable[[np.ndarray, np.ndarray, int], Any]:
    """Exact kNN (queries == references) that never returns another row of the same block."""

    def knn(xq: np.ndarray, xb: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        sims = np.asarray(xq, np.float64) @ np.asarray(xb, np.float64).T
        same = blocks[:, None] == blocks[None, :]
        np.fill_diagonal(same, False)
        sims[same] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(sims, order, axis=1), order

    return knn


def window_metrics(out: WindowOutputs, dataset: MusicDataset, *, triplets: int,
                   seed: int) -> dict[str, float]:
    """same_clip_r1, same_track_r1 (across clips) and track_triplet over windows."""
    res: dict[str, float] = {}
    track = dataset.groups[out.clip]
    try:
        res["same_clip_r1"] = same_track_recall_at_1(out.vectors, out.clip, exact_knn)
    except ValueError as e:
        logger.info("same_clip_r1 not computed: %s", e)
    pairs = np.unique(np.stack([track, out.clip], axis=1), axis=0)  # distinct (track, clip)
    clips_per_track = np.bincount(pairs[:, 0], minlength=int(track.max()) + 1)
    other_clip = clips_per_track[track] > 1
    if other_clip.any():
        ids = np.where(other_clip, track, -1 - np.arange(len(track)))  # lone tracks: own ids
        res["same_track_r1"] = same_track_recall_at_1(out.vectors, ids, _block_knn(out.clip))
    try:
        res["track_triplet"] = triplet_accuracy(
            out.vectors, make_track_triplets(track, triplets, seed))
    except ValueError as e:
        logger.info("track triplets not computed: %s", e)
    return res


def track_metrics(tr: TrackOutputs, schema: ConceptSchema, *, triplets: int,
                  seed: int) -> dict[str, float]:
    """Tagging, R@K and per-concept triplet accuracy over labelled tracks."""
    res: dict[str, float] = {}
    y, v, p = tr.labels[tr.labelled], tr.vectors[tr.labelled], tr.probs[tr.labelled]
    for fn in (macro_roc_auc, macro_pr_auc):
        try:
            res.update({k: val for k, val in fn(y, p).items() if k in ("roc_auc", "pr_auc")})
        except ValueError as e:
            logger.info("%s not computed: %s", fn.__name__, e)
    tagged = int((y > 0).any(axis=1).sum())
    ks = [k for k in KS if k <= tagged - 1]
    if ks:
        r = recall_at_k(v, y, ks, exact_knn)
        res.update({f"R@{k}": r[f"R@{k}"] for k in ks})
    start = 0
    full, sub = [], []
    for i, (concept, tags) in enumerate(schema.concepts.items()):
        cols = list(range(start, start + len(tags)))
        start += len(tags)
        try:
            t = make_concept_triplets(y, cols, triplets, seed + i)
        except ValueError as e:
            logger.info("no %s triplets: %s", concept, e)
            continue
        res[f"triplet_full.{concept}"] = triplet_accuracy(v, t)
        res[f"triplet_sub.{concept}"] = triplet_accuracy(
            v, t, dims=schema.facet_of_concept(concept).slice)
        full.append(res[f"triplet_full.{concept}"])
        sub.append(res[f"triplet_sub.{concept}"])
    if full:
        res["triplet_full"], res["triplet_sub"] = float(np.mean(full)), float(np.mean(sub))
    return res


def evaluate_outputs(out: WindowOutputs, dataset: MusicDataset, schema: ConceptSchema, *,
                     level: str = "track", triplets: int = 2000, seed: int = 0
                     ) -> dict[str, float]:
    """Every metric of the module docstring from window outputs (flat ``{name: value}``)."""
    tr = aggregate(out, dataset, schema, level)
    res = track_metrics(tr, schema, triplets=triplets, seed=seed)
    res.update(window_metrics(out, dataset, triplets=triplets, seed=seed))
    res.update(tracks=float(len(tr.labelled)), labelled_tracks=float(tr.labelled.sum()),
               clips=float(len(dataset)), windows=float(len(out.clip)))
    return res


def evaluate_window_fn(window_fn: WindowFn, dataset: MusicDataset, schema: ConceptSchema, *,
                       sample_rate: int, window_seconds: float, level: str = "track",
                       triplets: int = 2000, seed: int = 0, progress: bool = False
                       ) -> dict[str, float]:
    """Embed ``dataset`` with ``window_fn`` and compute every metric."""
    out = embed_clips(window_fn, dataset, sample_rate=sample_rate,
                      window_seconds=window_seconds, progress=progress)
    return evaluate_outputs(out, dataset, schema, level=level, triplets=triplets, seed=seed)


def evaluate_checkpoint(path: str | Path, data: str | Path, *, split: str = "test",
                        level: str = "track", triplets: int = 2000, seed: int = 0,
                        progress: bool = False) -> dict[str, Any]:
    """Load a checkpoint, evaluate it on ``split`` of the dataset in ``data`` (a generic
    manifest directory whose tags the model's schema knows), and return the metrics plus
    the checkpoint's recorded training time."""
    from model.checkpoint import load_checkpoint
    from model.data.generic_csv import load_manifest
    from model.embed import Embedder

    model = load_checkpoint(path)
    dataset = load_manifest(Path(data), schema=model.schema).split(split)
    embedder = Embedder(model)
    res: dict[str, Any] = evaluate_window_fn(
        embedder.embed_windows, dataset, model.schema, sample_rate=model.config.sample_rate,
        window_seconds=model.config.clip_seconds, level=level, triplets=triplets, seed=seed,
        progress=progress,
    )
    seconds = model.info.get("training", {}).get("train_seconds")
    if seconds is not None:
        res["train_seconds"] = float(seconds)
    res.update(model=model.version, data=str(data), split=split, level=level)
    return res


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("R@1", "R@1", "{:.1f}"),
    ("R@2", "R@2", "{:.1f}"),
    ("R@4", "R@4", "{:.1f}"),
    ("R@8", "R@8", "{:.1f}"),
    ("triplet_full", "trip. full", "{:.3f}"),
    ("triplet_sub", "trip. sub", "{:.3f}"),
    ("track_triplet", "track trip.", "{:.3f}"),
    ("same_track_r1", "same-track R@1", "{:.3f}"),
    ("same_clip_r1", "same-clip R@1", "{:.3f}"),
    ("train_seconds", "train s", "{:.0f}"),
)


def markdown_table(rows: Mapping[str, Mapping[str, Any]],
                   columns: Sequence[tuple[str, str, str]] = COLUMNS) -> str:
    """One Markdown row per named result; a missing metric prints as ``-``."""
    head = "| model | " + " | ".join(c[1] for c in columns) + " |"
    rule = "|---|" + "|".join("---:" for _ in columns) + "|"
    lines = [head, rule]
    for name, res in rows.items():
        cells = [fmt.format(res[k]) if isinstance(res.get(k), int | float) else "-"
                 for k, _, fmt in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def concept_table(res: Mapping[str, Any], schema_concepts: Sequence[str]) -> str:
    """Per-concept triplet accuracy (full space and sub-space) of one result."""
    lines = ["| concept | full space | sub-space |", "|---|---:|---:|"]
    for c in schema_concepts:
        f, s = res.get(f"triplet_full.{c}"), res.get(f"triplet_sub.{c}")
        if f is not None:
            lines.append(f"| {c} | {f:.3f} | {s:.3f} |")
    return "\n".join(lines) + "\n"
