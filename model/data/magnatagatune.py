"""MagnaTagATune (Law et al. 2009), 50 most frequent tags.

``annotations_final.csv`` is tab-separated with a quoted header, ``"clip_id"``, 188 tag
columns (``"no voice"``, ``"singer"``, ...) and ``"mp3_path"`` last; each row is a clip id,
188 ``0``/``1`` cells and the clip's path (``f/<artist>-<album>-<nn>-<song>-30-59.mp3``)
under the audio root, whose folders are ``0/`` ... ``f/``.

Tags: the ``top_k`` (50) columns with most positive clips over the whole file (ties: column
order), grouped into concepts by :data:`MTAT_CONCEPTS`.

Split, in this order of preference:

1. ``split_files``, the standard split of Lee et al. 2017 (jongpillee/music_dataset_split,
   15,244 / 1,529 / 4,332 clips; as distributed in minzwon/sota-music-tagging-models
   ``split/mtat/{train,valid,test}.npy``, entries ``"<index>\\t<mp3_path>"``): each file a
   text list or a ``.npy`` string array of mp3 paths, ``index<TAB>mp3_path`` entries, or
   clip ids. Clips in no list are left out.
2. otherwise the folder convention of Dieleman & Schrauwen 2014: folders ``0``-``b`` train,
   ``c`` validation, ``d``-``f`` test. Clips with none of the ``top_k`` tags are left out
   (as the standard split does) unless ``keep_untagged``.

Clips of one song share a ``track_id``: the file name without its ``-<start>-<end>.mp3``
segment suffix. The standard split is by clip and does not keep songs together; loading it
logs how many songs straddle splits. The folder split keeps them together.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from layout.schema import ConceptSchema
from model.data.base import (
    DatasetError,
    MusicDataset,
    Track,
    check_files,
    read_list,
    resolve_inside,
)

logger = logging.getLogger(__name__)

# Grouping of the standard top-50 tags [inferred: no published grouping exists; vocal-type
# tags count as instrument, as Lee et al. 2020 do with MSD's "female vocalists"].
MTAT_CONCEPTS: dict[str, tuple[str, ...]] = {
    "genre": ("classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop",
              "classic", "new age", "dance", "country", "metal"),
    "mood": ("slow", "fast", "loud", "quiet", "soft", "weird"),
    "instrument": ("guitar", "strings", "drums", "piano", "beat", "violin", "vocal", "synth",
                   "female", "male", "singing", "vocals", "no vocals", "harpsichord", "flute",
                   "woman", "male vocal", "no vocal", "sitar", "solo", "man", "choir", "voice",
                   "male voice", "female vocal", "beats", "harp", "cello", "no voice",
                   "female voice", "choral"),
}
FOLDER_SPLITS = {**dict.fromkeys("0123456789ab", "train"), "c": "val",
                 **dict.fromkeys("def", "test")}
_SEGMENT = re.compile(r"-\d+-\d+\.mp3$")


def read_annotations(path: Path) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """Parse ``annotations_final.csv``.

    Returns:
        ``(tag_names, labels, clip_ids, mp3_paths)``; ``labels`` is ``(N, T)`` uint8.
    """
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r]
    if not rows or rows[0][0] != "clip_id" or rows[0][-1] != "mp3_path":
        raise DatasetError(f"{path}: header must be clip_id, <tags...>, mp3_path; "
                           f"got {rows[0][:2] if rows else []} ... {rows[0][-1:] if rows else []}")
    tags = rows[0][1:-1]
    width = len(rows[0])
    bad = [i + 2 for i, r in enumerate(rows[1:]) if len(r) != width]
    if bad:
        raise DatasetError(f"{path}: lines {bad[:5]} do not have {width} cells")
    try:
        labels = np.array([[int(c) for c in r[1:-1]] for r in rows[1:]], dtype=np.uint8)
    except ValueError as e:
        raise DatasetError(f"{path}: tag cells must be 0/1: {e}") from None
    labels = labels.reshape(len(rows) - 1, len(tags))
    return tags, labels, [r[0] for r in rows[1:]], [r[-1] for r in rows[1:]]


def top_tags(tags: Sequence[str], labels: np.ndarray, k: int) -> list[str]:
    """The ``k`` tags with most positives, most frequent first (ties: column order)."""
    counts = labels.sum(axis=0, dtype=np.int64)
    order = sorted(range(len(tags)), key=lambda j: (-counts[j], j))
    return [tags[j] for j in order[:k]]


def song_id(mp3_path: str) -> str:
    """``f/a-b-01-song-30-59.mp3`` -> ``a-b-01-song`` (the clips of one song share it)."""
    return _SEGMENT.sub("", mp3_path.rsplit("/", 1)[-1])


def load_magnatagatune(
    annotations: Path,
    audio_root: Path,
    *,
    split_files: Mapping[str, Path] | None = None,
    top_k: int = 50,
    concepts: Mapping[str, Sequence[str]] | None = None,
    keep_untagged: bool = False,
    require_files: bool = True,
    facet_dim: int = 64,
    disentangled: bool = True,
) -> MusicDataset:
    """Load MagnaTagATune (format, tags and split rules in the module docstring).

    Args:
        annotations: ``annotations_final.csv``.
        audio_root: folder holding ``0/`` ... ``f/``.
        split_files: ``{"train": p, "val": p, "test": p}``; ``None``: folder convention.
        top_k: number of most frequent tags kept.
        concepts: concept -> tags grouping covering the kept tags; default
            :data:`MTAT_CONCEPTS`.
        keep_untagged: folder split only: keep clips with none of the kept tags (labelled,
            no positive tag).
        require_files: raise :class:`MissingAudioError` for missing audio.

    Raises:
        DatasetError: malformed files, a kept tag with no concept, a split entry that is
            not in the annotations.
    """
    tag_names, labels, clip_ids, mp3_paths = read_annotations(annotations)
    kept = top_tags(tag_names, labels, top_k)
    schema = _schema(kept, concepts or MTAT_CONCEPTS, facet_dim, disentangled)
    columns = [tag_names.index(t) for t in schema.tags]
    if split_files is not None:
        splits = _listed_splits(split_files, clip_ids, mp3_paths)
    else:
        splits = {i: FOLDER_SPLITS.get(p[:1], "") for i, p in enumerate(mp3_paths)}
        unknown = sorted({mp3_paths[i] for i, s in splits.items() if not s})
        if unknown:
            raise DatasetError(f"mp3 paths outside folders 0-f: {unknown[:5]}")
        if not keep_untagged:
            splits = {i: s for i, s in splits.items() if labels[i, columns].any()}
    tracks = [
        Track(uid=clip_ids[i], track_id=song_id(mp3_paths[i]),
              path=resolve_inside(Path(audio_root), mp3_paths[i]),
              tags=tuple(schema.tags[j] for j, c in enumerate(columns) if labels[i, c]),
              labelled=True, split=s, metadata={"mp3_path": mp3_paths[i]})
        for i, s in sorted(splits.items())
    ]
    if require_files:
        check_files(tracks)
    ds = MusicDataset(tracks, schema, name="magnatagatune",
                      card={"source": "MagnaTagATune", "annotations": str(annotations),
                            "split": "files" if split_files else "folders 0-b/c/d-f",
                            "licence": "CC BY-NC-SA 1.0 (Magnatune)"})
    leaks = ds.split_leaks()
    if leaks:
        logger.info("MagnaTagATune: %d song(s) have clips in several splits", len(leaks))
    return ds


def _schema(kept: Sequence[str], concepts: Mapping[str, Sequence[str]], facet_dim: int,
            disentangled: bool) -> ConceptSchema:
    grouped = {c: tuple(t for t in tags if t in kept) for c, tags in concepts.items()}
    covered = {t for tags in grouped.values() for t in tags}
    orphans = [t for t in kept if t not in covered]
    if orphans:
        raise DatasetError(f"no concept for MagnaTagATune tag(s) {orphans}; pass concepts=")
    return ConceptSchema({c: t for c, t in grouped.items() if t}, facet_dim=facet_dim,
                         disentangled=disentangled)


def _listed_splits(split_files: Mapping[str, Path], clip_ids: list[str],
                   mp3_paths: list[str]) -> dict[int, str]:
    bad = sorted(set(split_files) - {"train", "val", "test"})
    if bad:
        raise DatasetError(f"split_files keys must be train/val/test, got {bad}")
    by_key = {p: i for i, p in enumerate(mp3_paths)} | {c: i for i, c in enumerate(clip_ids)}
    splits: dict[int, str] = {}
    for split, path in split_files.items():
        entries = [e.rsplit("\t", 1)[-1] for e in read_list(path)]
        missing = [e for e in entries if e not in by_key]
        if missing:
            raise DatasetError(f"{path}: {len(missing)} entries not in the annotations: "
                               f"{missing[:5]}")
        for e in entries:
            i = by_key[e]
            if splits.setdefault(i, split) != split:
                raise DatasetError(f"clip '{e}' is listed in both {splits[i]} and {split}")
    return splits
