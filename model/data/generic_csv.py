"""The generic dataset format: ``manifest.csv`` + ``concepts.json`` in one directory.

This is what a catalogue owner writes for their own music, and the format of the synthetic
benchmark and of the real-recordings set.

``manifest.csv`` (UTF-8, comma-separated, header row):

- ``path`` (required): audio file, relative to the manifest's directory (or absolute).
  A path that resolves outside that directory (``..``, absolute, or via a symlink) is
  refused unless ``allow_outside=True``.
- ``tags`` (required column): tag names separated by ``;``. An empty cell marks the row
  unlabelled (it feeds only the self-supervised loss).
- ``track_id`` (optional): rows cut from one recording share it; default: ``path``.
- ``split`` (optional): ``train``, ``val`` (``valid``/``validation`` accepted) or ``test``;
  an empty cell takes the explicit split of another clip of the same ``track_id`` if there
  is one, else :func:`model.data.base.hash_split` of ``track_id`` (80/10/10, seeded), so
  clips of one track never separate. Explicit splits that separate them are refused.
- ``start``, ``duration`` (optional): the clip's segment of the file, seconds.
- any other column (``title``, ``artist``, ``album``, ``licence``, ...) is metadata.

``concepts.json``: ``{"concept": ["tag", ...], ...}``; the order of concepts and tags is
the order of the tag head's outputs.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from layout.schema import ConceptSchema
from model.data.base import (
    DEFAULT_SPLIT_FRACTIONS,
    SPLITS,
    DatasetError,
    MusicDataset,
    Track,
    UnknownTagError,
    check_files,
    hash_split,
    resolve_inside,
)

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
CONCEPTS_NAME = "concepts.json"
RESERVED_COLUMNS = ("path", "tags", "track_id", "split", "start", "duration")
TAG_SEPARATOR = ";"
_SPLIT_ALIASES = {"train": "train", "val": "val", "valid": "val", "validation": "val",
                  "test": "test"}


class ManifestError(DatasetError):
    """A malformed manifest or concepts file; names the file and line."""


def read_concepts(path: Path) -> dict[str, tuple[str, ...]]:
    """Read ``concepts.json`` (concept -> list of tags), keeping the file's order."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ManifestError(f"cannot read concepts file '{path}': {e}") from e
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and all(isinstance(t, str) for t in v) for v in raw.values()
    ):
        raise ManifestError(f"'{path}' must map each concept to a list of tag strings")
    return {str(c): tuple(tags) for c, tags in raw.items()}


def write_concepts(path: Path, concepts: Mapping[str, Iterable[str]]) -> None:
    """Write ``concepts.json`` with the given order."""
    data = {c: list(tags) for c, tags in concepts.items()}
    Path(path).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def write_manifest(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write ``manifest.csv``: reserved columns first, then metadata columns in first-seen order.

    ``tags`` may be a string or an iterable of tag names (joined with ``;``); ``None`` values
    are written as empty cells. The file is written to a temporary name and renamed.

    Returns:
        The number of rows written.
    """
    rows = list(rows)
    columns = [c for c in RESERVED_COLUMNS if any(c in r for r in rows) or c in ("path", "tags")]
    for r in rows:
        columns += [c for c in r if c not in columns]
    tmp = Path(path).with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            out = {k: ("" if v is None else v) for k, v in r.items()}
            tags = r.get("tags")
            if tags is not None and not isinstance(tags, str):
                out["tags"] = TAG_SEPARATOR.join(tags)
            w.writerow(out)
    tmp.replace(path)
    return len(rows)


def load_manifest(
    manifest: Path,
    *,
    schema: ConceptSchema | None = None,
    concepts: Path | None = None,
    facet_dim: int = 64,
    disentangled: bool = True,
    unknown_tags: Literal["error", "ignore"] = "error",
    allow_outside: bool = False,
    require_files: bool = True,
    split_seed: int = 0,
    split_fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
    name: str | None = None,
) -> MusicDataset:
    """Load a generic manifest (format in the module docstring).

    Args:
        manifest: the CSV file, or the directory holding ``manifest.csv``.
        schema: the concept schema to use (e.g. a trained model's); default: built from
            ``concepts`` with ``facet_dim`` and ``disentangled``.
        concepts: the concepts file; default ``concepts.json`` next to the manifest.
        unknown_tags: ``error`` raises :class:`UnknownTagError` listing every tag the
            schema lacks (with counts); ``ignore`` drops them, logs them and counts them in
            ``card["ignored_tags"]`` (a row whose tags were all dropped stays labelled, with
            no positive tag).
        allow_outside: accept paths resolving outside the manifest's directory.
        require_files: raise :class:`MissingAudioError` if any audio file is missing.
        split_seed, split_fractions: the default split by hash of ``track_id``.

    Raises:
        ManifestError: missing columns, bad numbers, bad split names, a split that
            separates clips of one track.
        UnknownTagError, UnsafePathError, MissingAudioError.
    """
    manifest = Path(manifest)
    if manifest.is_dir():
        manifest = manifest / MANIFEST_NAME
    root = manifest.parent
    if schema is None:
        cpath = concepts if concepts is not None else root / CONCEPTS_NAME
        if not Path(cpath).is_file():
            raise ManifestError(f"no concepts file '{cpath}' and no schema given")
        schema = ConceptSchema(read_concepts(cpath), facet_dim=facet_dim,
                               disentangled=disentangled)
    if unknown_tags not in ("error", "ignore"):
        raise ValueError(f"unknown_tags must be 'error' or 'ignore', got {unknown_tags!r}")
    rows = _read_rows(manifest)
    known = set(schema.tags)
    unknown = Counter(t for _, r in rows for t in _split_tags(r["tags"]) if t not in known)
    if unknown and unknown_tags == "error":
        raise UnknownTagError(unknown, where=str(manifest))
    if unknown:
        logger.warning("%s: ignoring %d unknown tag(s): %s", manifest, len(unknown),
                       dict(unknown.most_common(10)))
    splits = _assign_splits(rows, split_seed, split_fractions, manifest)
    tracks = [_track(root, line, r, known, allow_outside, split, manifest)
              for (line, r), split in zip(rows, splits, strict=True)]
    if require_files:
        check_files(tracks)
    card = {"source": "manifest", "manifest": str(manifest), "rows": len(tracks),
            "ignored_tags": dict(unknown)}
    return MusicDataset(tracks, schema, name=name or root.name, card=card)


def _read_rows(manifest: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        with manifest.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in ("path", "tags") if c not in header]
            if missing:
                raise ManifestError(f"{manifest}: missing column(s) {missing}; found {header}")
            reader.fieldnames = header
            rows = []
            for r in reader:
                if None in r:
                    raise ManifestError(f"{manifest}:{reader.line_num}: more cells than columns")
                rows.append((reader.line_num, {k: (v or "").strip() for k, v in r.items()}))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ManifestError(f"cannot read manifest '{manifest}': {e}") from e
    return rows


def _split_tags(cell: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in cell.split(TAG_SEPARATOR) if t.strip()))


def _seconds(row: dict[str, str], key: str, where: str) -> float | None:
    raw = row.get(key, "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ManifestError(f"{where}: {key} '{raw}' is not a number") from None
    if not math.isfinite(value):
        raise ManifestError(f"{where}: {key} '{raw}' is not finite")
    return value


def _track(
    root: Path,
    line: int,
    r: dict[str, str],
    known: set[str],
    allow_outside: bool,
    split: str,
    manifest: Path,
) -> Track:
    where = f"{manifest}:{line}"
    if not r["path"]:
        raise ManifestError(f"{where}: empty path")
    path = resolve_inside(root, r["path"], allow_outside=allow_outside)
    start, duration = _seconds(r, "start", where), _seconds(r, "duration", where)
    track_id = r.get("track_id") or r["path"]
    uid = r["path"] + (f"@{start:g}" if start is not None else "") + (
        f"+{duration:g}" if duration is not None else "")
    try:
        return Track(
            uid=uid, track_id=track_id, path=path,
            tags=tuple(t for t in _split_tags(r["tags"]) if t in known),
            labelled=bool(_split_tags(r["tags"])), split=split, start=start or 0.0,
            duration=duration,
            metadata={k: v for k, v in r.items() if k not in RESERVED_COLUMNS},
        )
    except DatasetError as e:
        raise ManifestError(f"{where}: {e}") from e


def _assign_splits(rows: list[tuple[int, dict[str, str]]], seed: int,
                   fractions: tuple[float, float, float], manifest: Path) -> list[str]:
    """Each row's split: explicit, else its track's explicit split, else the track's hash."""
    explicit: list[str | None] = []
    by_track: dict[str, set[str]] = {}
    for line, r in rows:
        raw = r.get("split", "").lower()
        if raw and raw not in _SPLIT_ALIASES:
            raise ManifestError(f"{manifest}:{line}: split '{r['split']}' not in {SPLITS}")
        split = _SPLIT_ALIASES[raw] if raw else None
        explicit.append(split)
        if split is not None:
            by_track.setdefault(r.get("track_id") or r["path"], set()).add(split)
    leaks = {k: sorted(v) for k, v in by_track.items() if len(v) > 1}
    if leaks:
        shown = dict(list(leaks.items())[:5])
        raise ManifestError(f"{manifest}: clips of {len(leaks)} track(s) are in several "
                            f"splits: {shown}")
    out = []
    for (_, r), split in zip(rows, explicit, strict=True):
        track_id = r.get("track_id") or r["path"]
        known = by_track.get(track_id)
        out.append(split or (next(iter(known)) if known else
                             hash_split(track_id, seed, fractions)))
    return out
