"""Soft tag targets for distillation: the teacher's per-window probabilities, per crop.

``musicprism``'s teacher labelling (:mod:`model.teacher.label`) writes, for each manifest
row, ``<teacher dir>/teacher/<track_key(path)>.npz`` with ``probs`` (W, 50), the window
``starts`` (s) and the ``labels``. A training crop covers ``[t0, t0 + clip_seconds)`` of
its file; its target for a teacher tag is the mean of the probabilities of the teacher
windows it overlaps, weighted by the overlap (the nearest window when it overlaps none: the
teacher drops a partial last window).

Which entries are labelled (the mask): a schema tag whose name is one of the teacher's
labels (case-insensitive) is labelled by the teacher on every clip that has teacher
outputs. Every other (clip, tag) entry keeps the manifest's hard tag where the clip is
labelled and is masked where it is not, so a tag a source does not label is never a
negative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.data.base import MusicDataset, Track
from model.teacher.label import SAMPLE_RATE, TEACHER_DIR, track_key
from model.teacher.musicnn import N_FRAMES

logger = logging.getLogger(__name__)

#: Length of one teacher window, seconds (musicnn: 187 frames at hop 256, 16 kHz).
TEACHER_WINDOW_S = N_FRAMES * 256 / SAMPLE_RATE


class TeacherTargetsError(ValueError):
    """Teacher outputs that do not fit the dataset (missing folder, no shared tag)."""


@dataclass(frozen=True)
class ClipTeacher:
    """One clip's teacher windows: ``probs`` (W, T) float16 over the schema's tags (teacher
    columns filled, the others 0; float16 as the teacher stored them) and ``starts`` (W,) in
    seconds of the file."""

    probs: np.ndarray
    starts: np.ndarray


def manifest_path_candidates(track: Track, root: Path) -> list[str]:
    """The manifest ``path`` cells ``track`` may have come from (the teacher's key): the
    uid less its ``@start`` / ``+duration`` suffixes, and the path relative to ``root``."""
    raw = track.uid
    if track.duration is not None:
        raw = raw.removesuffix(f"+{track.duration:g}")
    out = [raw.removesuffix(f"@{track.start:g}"), raw]
    try:
        out.append(track.path.relative_to(root.resolve()).as_posix())
    except ValueError:
        pass
    return list(dict.fromkeys(out))


def teacher_file(track: Track, folder: Path, root: Path) -> Path | None:
    """``folder/<key>.npz`` of ``track`` (``folder`` is the ``teacher/`` folder), or ``None``
    when the teacher has no outputs for it."""
    for p in manifest_path_candidates(track, root):
        path = folder / f"{track_key(p)}.npz"
        if path.is_file():
            return path
    return None


def crop_weights(starts: np.ndarray, t0: float, length: float,
                 window: float = TEACHER_WINDOW_S) -> np.ndarray:
    """(W,) weights of the teacher windows for a crop ``[t0, t0 + length)``: overlap
    seconds, normalised to sum 1; the nearest window (by centre) gets 1 when none overlaps."""
    overlap = np.clip(np.minimum(starts + window, t0 + length) - np.maximum(starts, t0), 0, None)
    if overlap.sum() <= 0:
        overlap = np.zeros(len(starts))
        overlap[int(np.argmin(np.abs(starts + window / 2 - (t0 + length / 2))))] = 1.0
    return overlap / overlap.sum()


class TeacherTargets:
    """The teacher's windows for the clips of ``dataset``, mapped onto its schema's tags.

    Args:
        dataset: the clips (a generic manifest's tracks).
        teacher_dir: the teacher labelling's output folder (holding ``teacher/``).
        manifest_root: the manifest's folder (manifest paths are relative to it).

    Raises:
        TeacherTargetsError: no ``teacher/`` folder, or clips with teacher outputs but no
            schema tag among their labels.
    """

    def __init__(self, dataset: MusicDataset, teacher_dir: str | Path,
                 manifest_root: str | Path) -> None:
        self.dataset = dataset
        folder = Path(teacher_dir) / TEACHER_DIR
        if not folder.is_dir():
            raise TeacherTargetsError(f"no teacher outputs in '{folder}' (run the teacher "
                                      "labelling on the manifest first)")
        tags = dataset.schema.tags
        self.columns = np.zeros(len(tags), dtype=bool)
        self.clips: list[ClipTeacher | None] = []
        lower = {t.lower(): j for j, t in enumerate(tags)}
        for track in dataset:
            npz = teacher_file(track, folder, Path(manifest_root))
            self.clips.append(None if npz is None else self._read(npz, lower))
        found = sum(c is not None for c in self.clips)
        if found and not self.columns.any():
            raise TeacherTargetsError(f"none of the schema's tags is a teacher label in "
                                      f"'{folder}'; schema tags: {list(tags)[:10]}")
        if not found:
            logger.warning("teacher targets: none of %d clips has outputs in %s; they learn "
                           "their manifest tags", len(dataset), folder)
        logger.info("teacher targets: %d of %d clips, %d of %d tags", found, len(dataset),
                    int(self.columns.sum()), len(tags))

    def _read(self, path: Path, lower: dict[str, int]) -> ClipTeacher:
        with np.load(path, allow_pickle=False) as z:
            labels = [str(s) for s in z["labels"]]
            probs, starts = z["probs"], z["starts"].astype(np.float64)
        out = np.zeros((len(starts), len(self.columns)), np.float16)
        for k, name in enumerate(labels):
            j = lower.get(name.lower())
            if j is not None:
                out[:, j] = probs[:, k]
                self.columns[j] = True
        return ClipTeacher(out, starts)

    def targets(self, i: int, offset_s: float, length_s: float, hard: np.ndarray,
                labelled: bool) -> tuple[np.ndarray, np.ndarray]:
        """(T,) targets and (T,) bool mask of a crop of clip ``i`` starting ``offset_s``
        into the clip (the clip's own ``start`` is added here).

        Args:
            hard: (T,) the clip's multi-hot manifest tags.
            labelled: whether the manifest labels the clip.
        """
        target = hard.astype(np.float32).copy()
        mask = np.full(len(target), bool(labelled))
        clip = self.clips[i]
        if clip is not None and len(clip.starts):
            w = crop_weights(clip.starts, self.dataset[i].start + offset_s, length_s)
            target[self.columns] = (w @ clip.probs.astype(np.float64))[self.columns]
            mask[self.columns] = True
        return target, mask
