"""The run's clips: the dataset's splits, budget subsets and partial labels.

Both choices are made per ``track_id`` (all clips of a piece together) with seeded
generators, so they are reproducible and never split a piece.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from layout.schema import ConceptSchema
from model.data.base import MusicDataset, Track
from model.data.generic_csv import load_manifest, read_concepts
from model.train.builders import build_schema
from model.train.config import TrainConfig

logger = logging.getLogger(__name__)


@dataclass
class Splits:
    """train (partial labels applied), val, test, the schema the model uses, and the
    manifest's folder."""

    train: MusicDataset
    val: MusicDataset
    test: MusicDataset
    schema: ConceptSchema
    root: Path | None = None


def _track_order(ds: MusicDataset, seed: int) -> list[str]:
    ids = sorted({t.track_id for t in ds})
    order = np.random.default_rng(seed).permutation(len(ids))
    return [ids[i] for i in order]


def subset_by_track(ds: MusicDataset, max_clips: int | None, seed: int) -> MusicDataset:
    """Whole tracks in a seeded order until ``max_clips`` clips (at least one track)."""
    if max_clips is None or len(ds) <= max_clips:
        return ds
    per_track: dict[str, int] = {}
    for t in ds:
        per_track[t.track_id] = per_track.get(t.track_id, 0) + 1
    keep: set[str] = set()
    count = 0
    for tid in _track_order(ds, seed):
        if keep and count + per_track[tid] > max_clips:
            continue
        keep.add(tid)
        count += per_track[tid]
    return MusicDataset([t for t in ds if t.track_id in keep], ds.schema, name=ds.name,
                        card=ds.card)


def partial_labels(ds: MusicDataset, fraction: float, seed: int) -> MusicDataset:
    """Keep the tags of ``ceil(fraction * n)`` of the n labelled tracks (seeded choice by
    ``track_id``); the clips of the others become unlabelled (no tags)."""
    if fraction >= 1.0:
        return ds
    labelled = MusicDataset([t for t in ds if t.labelled], ds.schema)
    order = _track_order(labelled, seed)
    keep = set(order[: math.ceil(fraction * len(order))])
    tracks = [t if (t.track_id in keep or not t.labelled)
              else dataclasses.replace(t, tags=(), labelled=False) for t in ds]
    out = MusicDataset(tracks, ds.schema, name=ds.name, card=ds.card)
    logger.info("partial labels: %d of %d labelled tracks keep their tags (fraction %.2f)",
                len(keep), len(order), fraction)
    return out


def unlabelled_tracks(paths: tuple[str, ...], schema: ConceptSchema, repeat: int = 1
                      ) -> list[Track]:
    """Every track of the datasets in ``paths`` as unlabelled *training* clips, ``repeat``
    times each (uids ``<dataset>:<uid>#<k>``, track ids ``<dataset>:<track_id>``, so they
    never collide with the main dataset's)."""
    out: list[Track] = []
    for path in paths:
        root = Path(path)
        ds = load_manifest(root, schema=schema, unknown_tags="ignore")
        for t in ds:
            for k in range(repeat):
                out.append(dataclasses.replace(
                    t, uid=f"{root.name}:{t.uid}#{k}", track_id=f"{root.name}:{t.track_id}",
                    tags=(), labelled=False, split="train"))
        logger.info("unlabelled: %d tracks from %s (x%d)", len(ds), root, repeat)
    return out


def load_splits(cfg: TrainConfig, path: str | Path | None = None) -> Splits:
    """Read the manifest in ``path`` (default ``cfg.data.path``) with the model's schema,
    then apply the config's subsets and partial labels to the training split."""
    root = Path(path if path is not None else cfg.data.path)
    concepts = read_concepts(root / "concepts.json")
    schema = build_schema(cfg, concepts)
    ds = load_manifest(root, schema=schema)
    d = cfg.data
    train = subset_by_track(ds.split("train"), d.max_train_clips, d.subset_seed)
    train = partial_labels(train, d.label_fraction, d.label_seed)
    if d.unlabelled:
        extra = unlabelled_tracks(d.unlabelled, schema, d.unlabelled_repeat)
        train = MusicDataset([*train, *extra], schema, name=train.name, card=train.card)
    val = subset_by_track(ds.split("val"), d.max_val_clips, d.subset_seed)
    return Splits(train=train, val=val, test=ds.split("test"), schema=schema, root=root)
