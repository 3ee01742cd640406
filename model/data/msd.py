"""Million Song Dataset with the Last.fm top-50 tags (Choi et al. 2017 / Lee et al. 2020).

Inputs, all provided by the user (MSD audio is not redistributable):

- a tags table, CSV (or TSV if the name ends in ``.tsv``) with a header holding ``msd_id``
  and ``tags`` (``;``-separated Last.fm tags); an id may repeat over rows (tags are
  merged). An optional ``path`` column gives the audio path under ``audio_root`` and
  overrides ``path_pattern``. Tags outside the 50 are ignored and counted; matching is
  case-insensitive (``mellow`` -> ``Mellow``).
- split lists (text, one id per line, or ``.npy`` string arrays): ``train``, ``val``,
  ``test``; or ``trainval`` plus ``train_count``: the first ``train_count`` ids are train,
  the rest validation (the Lee & Nam 2017 split: 201,680 of ``filtered_list_train`` train,
  11,774 validation; 28,435 test).
- ``audio_root`` and ``path_pattern``, a :meth:`str.format` pattern over ``msd_id``
  (default ``{msd_id[2]}/{msd_id[3]}/{msd_id[4]}/{msd_id}.clip.mp3``, the MSD per-letter
  layout).

An id listed in a split but absent from the tags table is unlabelled; ids in no split list
are left out. Concepts: :data:`MSD50_CONCEPTS` (PAPERS.md; the grouping is inferred).
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

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

MSD50_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)
# 28 genre + 12 mood + 5 instrument + 5 era (Lee et al. 2020 ISMIR); membership of oldies,
# acoustic and instrumental is the least certain [inferred, PAPERS.md].
MSD50_CONCEPTS: dict[str, tuple[str, ...]] = {
    "genre": ("rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock",
              "jazz", "metal", "classic rock", "soul", "indie rock", "electronica", "folk",
              "punk", "blues", "hard rock", "ambient", "experimental", "Hip-Hop", "country",
              "funk", "electro", "heavy metal", "Progressive rock", "rnb", "indie pop",
              "House"),
    "mood": ("beautiful", "chillout", "Mellow", "chill", "party", "easy listening", "sexy",
             "catchy", "sad", "happy", "oldies", "acoustic"),
    "instrument": ("female vocalists", "male vocalists", "female vocalist", "guitar",
                   "instrumental"),
    "era": ("60s", "70s", "80s", "90s", "00s"),
}
DEFAULT_PATH_PATTERN = "{msd_id[2]}/{msd_id[3]}/{msd_id[4]}/{msd_id}.clip.mp3"


def msd50_schema(facet_dim: int = 64, disentangled: bool = True) -> ConceptSchema:
    """The MSD Last.fm-50 schema: genre, mood, instrument, era."""
    return ConceptSchema(dict(MSD50_CONCEPTS), facet_dim=facet_dim, disentangled=disentangled)


def read_tags_table(path: Path) -> tuple[dict[str, list[str]], dict[str, str]]:
    """``msd_id -> raw tags`` (merged over rows) and ``msd_id -> path`` (if a path column)."""
    delimiter = "\t" if Path(path).suffix.lower() == ".tsv" else ","
    tags: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        header = reader.fieldnames or []
        if "msd_id" not in header or "tags" not in header:
            raise DatasetError(f"{path}: needs columns msd_id and tags; found {header}")
        for r in reader:
            msd_id = (r["msd_id"] or "").strip()
            if not msd_id:
                raise DatasetError(f"{path}:{reader.line_num}: empty msd_id")
            cell = r["tags"] or ""
            tags.setdefault(msd_id, []).extend(t.strip() for t in cell.split(";") if t.strip())
            if r.get("path"):
                paths[msd_id] = r["path"].strip()
    return tags, paths


def read_msd_splits(split_files: Mapping[str, Path], train_count: int | None) -> dict[str, str]:
    """``msd_id -> split`` from the split lists (rules in the module docstring)."""
    keys = set(split_files)
    if not keys <= {"train", "val", "test", "trainval"} or not keys:
        raise DatasetError(f"split_files keys must be train/val/test/trainval, got {sorted(keys)}")
    if ("trainval" in keys) != (train_count is not None) or ("trainval" in keys and (
            "train" in keys or "val" in keys)):
        raise DatasetError("use either train+val lists, or trainval with train_count")
    out: dict[str, str] = {}
    for key, path in split_files.items():
        ids = read_list(path)
        if key == "trainval":
            assert train_count is not None
            if not 0 <= train_count <= len(ids):
                raise DatasetError(f"train_count {train_count} not in [0, {len(ids)}]")
            named = [(i, "train" if k < train_count else "val") for k, i in enumerate(ids)]
        else:
            named = [(i, key) for i in ids]
        for msd_id, split in named:
            if out.setdefault(msd_id, split) != split:
                raise DatasetError(f"MSD id '{msd_id}' is in both {out[msd_id]} and {split}")
    return out


def load_msd(
    tags_table: Path,
    audio_root: Path,
    *,
    split_files: Mapping[str, Path],
    train_count: int | None = None,
    path_pattern: str = DEFAULT_PATH_PATTERN,
    schema: ConceptSchema | None = None,
    require_files: bool = True,
    facet_dim: int = 64,
    disentangled: bool = True,
) -> MusicDataset:
    """Load MSD with Last.fm-50 tags (inputs and rules in the module docstring).

    Args:
        tags_table: the ``msd_id, tags[, path]`` table.
        audio_root: folder the audio paths are relative to.
        split_files: ``{"train", "val", "test"}`` lists, or ``{"trainval", "test"}``.
        train_count: with ``trainval``: how many leading ids are train.
        path_pattern: ``str.format`` pattern with field ``msd_id``.
        schema: default :func:`msd50_schema`.
        require_files: raise :class:`MissingAudioError` for missing audio.
    """
    schema = schema or msd50_schema(facet_dim, disentangled)
    canonical = {t.lower(): t for t in schema.tags}
    raw, paths = read_tags_table(tags_table)
    splits = read_msd_splits(split_files, train_count)
    ignored: Counter[str] = Counter()
    tracks = []
    for msd_id, split in splits.items():
        tags = raw.get(msd_id)
        kept = [canonical[t.lower()] for t in tags or [] if t.lower() in canonical]
        ignored.update(t for t in tags or [] if t.lower() not in canonical)
        rel = paths.get(msd_id) or _format(path_pattern, msd_id)
        tracks.append(Track(
            uid=msd_id, track_id=msd_id, path=resolve_inside(Path(audio_root), rel),
            tags=tuple(dict.fromkeys(kept)), labelled=tags is not None, split=split,
        ))
    unlabelled = sum(not t.labelled for t in tracks)
    if unlabelled:
        logger.warning("MSD: %d listed id(s) have no row in %s (unlabelled)", unlabelled,
                       tags_table)
    if require_files:
        check_files(tracks)
    card = {"source": "MSD Last.fm-50", "tags_table": str(tags_table),
            "split_files": {k: str(v) for k, v in split_files.items()},
            "unlabelled": unlabelled, "not_in_splits": len(set(raw) - set(splits)),
            "ignored_tags": dict(ignored.most_common(100))}
    return MusicDataset(tracks, schema, name="msd-lastfm50", card=card)


def _format(pattern: str, msd_id: str) -> str:
    try:
        return pattern.format(msd_id=msd_id)
    except (IndexError, KeyError, ValueError) as e:
        raise DatasetError(f"path_pattern {pattern!r} fails for id '{msd_id}': {e}") from None
