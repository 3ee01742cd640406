"""MTG-Jamendo (Bogdanov et al. 2019; github.com/MTG/mtg-jamendo-dataset).

Split files, tab-separated with a header line::

    TRACK_ID  ARTIST_ID  ALBUM_ID  PATH  DURATION  TAGS...
    track_0000214  artist_000014  album_000031  14/214.mp3  124.6  genre---punkrock ...

one tag per trailing cell, in ``data/splits/split-N/autotagging[_<subset>]-{train,validation,
test}.tsv``. Audio lives under an audio root as ``PATH`` (``14/214.mp3``), or ``14/214.low.mp3``
for the low-quality variant.

Tag prefixes map straight to concepts: ``genre---`` -> ``genre``, ``mood/theme---`` ->
``mood``, ``instrument---`` -> ``instrument``. Tag names lose their prefix (``genre---rock``
-> ``rock``). Concepts are ordered genre, mood, instrument; tags alphabetically within each.
A track's id is its ``TRACK_ID``; the split is the file it is listed in.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from layout.schema import ConceptSchema
from model.data.base import (
    DatasetError,
    MusicDataset,
    Track,
    UnknownTagError,
    check_files,
    resolve_inside,
)

logger = logging.getLogger(__name__)

SUBSETS = {
    "top50tags": "autotagging_top50tags",
    "genre": "autotagging_genre",
    "instrument": "autotagging_instrument",
    "moodtheme": "autotagging_moodtheme",
    "all": "autotagging",
}
SPLIT_FILES = {"train": "train", "val": "validation", "test": "test"}
PREFIX_CONCEPTS = {"genre": "genre", "mood/theme": "mood", "instrument": "instrument"}
HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION")


def split_files(splits_dir: Path, subset: str = "top50tags",
                split: str = "split-0") -> dict[str, Path]:
    """The three TSV files of a subset: ``{"train": ..., "val": ..., "test": ...}``.

    ``splits_dir`` is either the ``data/splits`` folder (holding ``split-0`` ...) or one
    ``split-N`` folder itself.
    """
    if subset not in SUBSETS:
        raise DatasetError(f"unknown Jamendo subset '{subset}'; valid: {sorted(SUBSETS)}")
    folder = Path(splits_dir) / split if (Path(splits_dir) / split).is_dir() else Path(splits_dir)
    files = {s: folder / f"{SUBSETS[subset]}-{name}.tsv" for s, name in SPLIT_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DatasetError(f"missing MTG-Jamendo split file(s): {missing}")
    return files


def parse_tag(raw: str) -> tuple[str, str]:
    """``"mood/theme---happy"`` -> ``("mood", "happy")``."""
    prefix, sep, name = raw.partition("---")
    if not sep or prefix not in PREFIX_CONCEPTS or not name:
        raise DatasetError(f"Jamendo tag '{raw}' is not '<genre|instrument|mood/theme>---<name>'")
    return PREFIX_CONCEPTS[prefix], name


@dataclass(frozen=True)
class JamendoRow:
    """One line of a split TSV; ``tags`` are raw (``genre---rock``)."""

    track_id: str
    artist_id: str
    album_id: str
    path: str
    duration: str
    tags: tuple[str, ...]


def read_split_file(path: Path) -> list[JamendoRow]:
    """Rows of one split TSV (format in the module docstring)."""
    with Path(path).open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or tuple(rows[0][:5]) != HEADER:
        raise DatasetError(f"{path}: header must start with {HEADER}, got {rows[:1]}")
    out = []
    for line, cells in enumerate(rows[1:], start=2):
        if not cells:
            continue
        if len(cells) < 5:
            raise DatasetError(f"{path}:{line}: expected >= 5 tab-separated cells, got {cells}")
        track_id, artist_id, album_id, path_, duration = cells[:5]
        out.append(JamendoRow(track_id, artist_id, album_id, path_, duration,
                              tuple(c for c in cells[5:] if c)))
    return out


def schema_from_tags(raw_tags: set[str], *, facet_dim: int = 64,
                     disentangled: bool = True) -> ConceptSchema:
    """A schema holding these Jamendo tags: concepts genre, mood, instrument (those present)."""
    by_concept: dict[str, set[str]] = {}
    for raw in raw_tags:
        concept, name = parse_tag(raw)
        by_concept.setdefault(concept, set()).add(name)
    names = Counter(n for tags in by_concept.values() for n in tags)
    clashes = sorted(n for n, k in names.items() if k > 1)
    if clashes:
        raise DatasetError(f"Jamendo tag names {clashes} occur under several prefixes")
    order = [c for c in ("genre", "mood", "instrument") if c in by_concept]
    return ConceptSchema({c: tuple(sorted(by_concept[c])) for c in order},
                         facet_dim=facet_dim, disentangled=disentangled)


def load_jamendo(
    splits_dir: Path,
    audio_root: Path,
    *,
    subset: str = "top50tags",
    split: str = "split-0",
    low_quality: bool = False,
    schema: ConceptSchema | None = None,
    unknown_tags: Literal["error", "ignore"] = "error",
    require_files: bool = True,
    facet_dim: int = 64,
    disentangled: bool = True,
) -> MusicDataset:
    """Load one MTG-Jamendo subset and split (format in the module docstring).

    Args:
        splits_dir: ``data/splits`` of the dataset repository, or one ``split-N`` folder.
        audio_root: folder holding ``00/`` ... ``99/``.
        subset: ``top50tags``, ``genre``, ``instrument``, ``moodtheme`` or ``all``.
        split: ``split-0`` ... ``split-4``.
        low_quality: use ``<id>.low.mp3`` files.
        schema: use this schema instead of the tags found in the files; tags it lacks raise
            :class:`UnknownTagError` unless ``unknown_tags="ignore"``.
        require_files: raise :class:`MissingAudioError` for missing audio.

    Returns:
        Clips = full tracks (``duration`` from the TSV), all labelled.
    """
    files = split_files(splits_dir, subset, split)
    rows = {s: read_split_file(p) for s, p in files.items()}
    raw_tags = Counter(t for rs in rows.values() for r in rs for t in r.tags)
    if schema is None:
        schema = schema_from_tags(set(raw_tags), facet_dim=facet_dim, disentangled=disentangled)
    known = set(schema.tags)
    unknown: Counter[str] = Counter()
    for raw, count in raw_tags.items():
        name = parse_tag(raw)[1]
        if name not in known:
            unknown[name] += count
    if unknown and unknown_tags == "error":
        raise UnknownTagError(unknown, where=f"MTG-Jamendo {subset}")
    tracks = [_track(r, s, Path(audio_root), low_quality, known)
              for s, rs in rows.items() for r in rs]
    if require_files:
        check_files(tracks)
    card = {"source": "MTG-Jamendo", "subset": subset, "split": split,
            "files": {s: str(p) for s, p in files.items()}, "ignored_tags": dict(unknown),
            "licence": "audio: Creative Commons (per track); metadata: CC BY-NC-SA 4.0"}
    return MusicDataset(tracks, schema, name=f"jamendo-{subset}-{split}", card=card)


def _track(row: JamendoRow, split: str, audio_root: Path, low_quality: bool,
           known: set[str]) -> Track:
    rel = row.path.removesuffix(".mp3") + ".low.mp3" if low_quality else row.path
    try:
        duration = float(row.duration)
    except ValueError:
        raise DatasetError(f"track {row.track_id}: bad DURATION {row.duration!r}") from None
    names = [parse_tag(t)[1] for t in row.tags]
    return Track(
        uid=row.track_id, track_id=row.track_id, path=resolve_inside(audio_root, rel),
        tags=tuple(n for n in names if n in known), labelled=True, split=split,
        duration=duration if duration > 0 else None,
        metadata={"artist_id": row.artist_id, "album_id": row.album_id,
                  "jamendo_path": row.path},
    )
