"""Write a loaded dataset (MTG-Jamendo, MagnaTagATune, MSD, ...) as a generic manifest.

The loaders of :mod:`model.data.jamendo`, :mod:`model.data.magnatagatune` and
:mod:`model.data.msd` read each dataset's own layout into a :class:`MusicDataset`;
:func:`write_generic` writes that as ``manifest.csv`` + ``concepts.json``
(:mod:`model.data.generic_csv`), plus ``card.json`` (the loader's data card and what the
import did), so training, evaluation and the teacher labelling read every source one way.

Paths in a generic manifest are relative to its folder and may not leave it, so the output
folder must contain the audio (by default it is the audio root itself). Each row keeps the
loader's split, track id, segment and metadata.

What the generic format cannot say is reported, not hidden: a clip the loader marks
labelled but with none of the schema's tags is written with an empty ``tags`` cell, which the
format reads as unlabelled (``labelled_without_tags`` in the report and the card). Missing
audio raises :class:`~model.data.base.MissingAudioError` unless ``skip_missing``, which
leaves those clips out and counts them.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.data.base import DatasetError, MissingAudioError, MusicDataset, Track
from model.data.generic_csv import (
    CONCEPTS_NAME,
    MANIFEST_NAME,
    RESERVED_COLUMNS,
    TAG_SEPARATOR,
    write_concepts,
    write_manifest,
)

logger = logging.getLogger(__name__)

CARD_NAME = "card.json"


@dataclass(frozen=True)
class ImportReport:
    """What :func:`write_generic` wrote: the folder, clips written per split, clips left
    out for missing audio, and labelled clips written without a tag (see module doc)."""

    out: Path
    written: dict[str, int]
    missing_audio: int
    labelled_without_tags: int

    @property
    def total(self) -> int:
        return sum(self.written.values())


def check_tag_names(dataset: MusicDataset) -> None:
    """Raise unless every concept and tag survives the manifest round trip (no ``;``, no
    surrounding spaces, not empty)."""
    for concept, tags in dataset.schema.concepts.items():
        for name in (concept, *tags):
            if not name or name != name.strip() or TAG_SEPARATOR in name:
                raise DatasetError(
                    f"tag or concept {name!r} cannot be written to a manifest (empty, "
                    f"surrounding spaces, or the separator '{TAG_SEPARATOR}')")


def _relative(track: Track, out: Path) -> str:
    try:
        rel = track.path.resolve().relative_to(out).as_posix()
    except ValueError:
        raise DatasetError(
            f"'{track.path}' is not inside the output folder '{out}': write the manifest "
            "into the audio root or a folder that holds it") from None
    if rel != rel.strip():  # the manifest reader strips cells
        raise DatasetError(f"audio path {rel!r} begins or ends with a space; rename it")
    return rel


def _row(track: Track, out: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"path": _relative(track, out), "tags": list(track.tags),
                           "track_id": track.track_id, "split": track.split}
    if track.start:
        row["start"] = f"{track.start:g}"
    if track.duration is not None:
        row["duration"] = f"{track.duration:g}"
    row.update({k: v for k, v in track.metadata.items() if k not in RESERVED_COLUMNS})
    return row


def write_generic(dataset: MusicDataset, out: str | Path, *, skip_missing: bool = False,
                  overwrite: bool = False) -> ImportReport:
    """Write ``dataset`` as ``out/manifest.csv``, ``out/concepts.json`` and ``out/card.json``.

    Args:
        dataset: the loaded dataset (its tracks' paths must lie inside ``out``).
        out: the output folder (created if needed).
        skip_missing: leave out clips whose audio file does not exist (counted) instead of
            raising.
        overwrite: replace an existing ``manifest.csv``.

    Raises:
        DatasetError: an empty dataset, a path outside ``out``, a tag the format cannot
            hold, an existing manifest without ``overwrite``; MissingAudioError.
    """
    out = Path(out).resolve()
    if (out / MANIFEST_NAME).exists() and not overwrite:
        raise DatasetError(f"'{out / MANIFEST_NAME}' exists; pass overwrite to replace it")
    check_tag_names(dataset)
    tracks = list(dataset)
    missing = [t for t in tracks if not t.path.is_file()]
    if missing and not skip_missing:
        raise MissingAudioError([t.path for t in missing])
    if missing:
        logger.warning("import: leaving out %d clip(s) with missing audio, e.g. %s",
                       len(missing), missing[0].path)
        tracks = [t for t in tracks if t.path.is_file()]
    if not tracks:
        raise DatasetError(f"nothing to import: the {dataset.name} dataset has no clip with "
                           "audio")
    rows = [_row(t, out) for t in tracks]
    without = sum(t.labelled and not t.tags for t in tracks)
    written: dict[str, int] = {}
    for t in tracks:
        written[t.split] = written.get(t.split, 0) + 1
    report = ImportReport(out, written, len(missing), without)
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out / MANIFEST_NAME, rows)
    write_concepts(out / CONCEPTS_NAME, dataset.schema.concepts)
    card = {**dataset.card, "name": dataset.name,
            "import": {k: v for k, v in asdict(report).items() if k != "out"}}
    (out / CARD_NAME).write_text(json.dumps(card, indent=2, default=str) + "\n", "utf-8")
    if without:
        logger.warning("import: %d labelled clip(s) have none of the schema's tags; the "
                       "manifest lists them as unlabelled", without)
    return report
