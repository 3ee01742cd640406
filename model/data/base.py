"""One dataset interface for every source: a list of tracks (clips) with tags over a concept
schema, a track id for same-track positives, a split and free-form metadata.

Every loader (generic CSV manifest, MTG-Jamendo, MagnaTagATune, MSD, the real recordings)
returns a :class:`MusicDataset`. :mod:`model.data.windowed` turns one into a torch ``Dataset``
of fixed-length audio windows.

An entry is a *clip*: a file, or a ``[start, start + duration)`` segment of one. Clips cut
from the same recording share a ``track_id``; the split is assigned per ``track_id`` so the
clips of one piece never straddle train and test. A clip without tags is *unlabelled*
(``labelled=False``): it feeds only the self-supervised loss.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layout.schema import ConceptSchema
from model.audio import AudioError, InvalidRange, decode

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
DEFAULT_SPLIT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


# --- errors ---------------------------------------------------------------------------------
class DatasetError(ValueError):
    """A dataset description that cannot be loaded as given."""


class UnknownTagError(DatasetError):
    """Tags that the concept schema does not know. ``tags`` maps each to its count."""

    def __init__(self, tags: Mapping[str, int], where: str = "") -> None:
        self.tags = dict(tags)
        listed = ", ".join(f"'{t}' ({n}x)" for t, n in sorted(self.tags.items()))
        at = f" in {where}" if where else ""
        super().__init__(f"{len(self.tags)} unknown tag(s){at}: {listed}")


class UnsafePathError(DatasetError):
    """An audio path that resolves outside the directory it must stay in."""

    def __init__(self, path: str | Path, root: Path) -> None:
        self.path = str(path)
        self.root = root
        super().__init__(
            f"audio path '{path}' resolves outside '{root}' (via '..', an absolute path or a "
            "symlink); allow it explicitly (allow_outside=True) if this is intended"
        )


class MissingAudioError(DatasetError):
    """Audio files listed by a dataset that do not exist. ``paths`` lists them all."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        shown = ", ".join(str(p) for p in self.paths[:5])
        more = f" and {len(self.paths) - 5} more" if len(self.paths) > 5 else ""
        super().__init__(f"{len(self.paths)} audio file(s) missing: {shown}{more}")


class AudioLoadError(DatasetError):
    """An audio file that could not be decoded."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"cannot decode '{path}': {reason}")


# --- one entry ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Track:
    """One entry of a dataset: an audio file or a segment of one.

    Args:
        uid: unique key of this entry within its dataset.
        track_id: the recording this clip comes from; clips of one piece share it (they are
            same-track positives and always land in the same split).
        path: the audio file (absolute or relative to the working directory).
        tags: tag names, all in the dataset's concept schema; empty if unlabelled.
        labelled: whether the tags are known. ``False`` requires ``tags == ()``.
        split: one of ``train``, ``val``, ``test``.
        start: offset of the clip in the file, seconds.
        duration: clip length in seconds; ``None`` means to the end of the file.
        metadata: free-form strings (title, artist, album, licence, ...).
    """

    uid: str
    track_id: str
    path: Path
    tags: tuple[str, ...]
    labelled: bool
    split: str
    start: float = 0.0
    duration: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise DatasetError(f"track '{self.uid}': split '{self.split}' not in {SPLITS}")
        if not self.labelled and self.tags:
            raise DatasetError(f"track '{self.uid}' is unlabelled but has tags {self.tags}")
        if self.start < 0:
            raise DatasetError(f"track '{self.uid}': negative start {self.start}")
        if self.duration is not None and self.duration <= 0:
            raise DatasetError(f"track '{self.uid}': non-positive duration {self.duration}")
        if len(set(self.tags)) != len(self.tags):
            raise DatasetError(f"track '{self.uid}': repeated tags {self.tags}")


# --- the dataset ----------------------------------------------------------------------------
class MusicDataset:
    """A list of :class:`Track` with tags over one :class:`ConceptSchema`.

    Args:
        tracks: the entries; ``uid`` must be unique.
        schema: the concept schema every tag must belong to.
        name: a short name for logs and cards.
        card: provenance and licence information (free-form, JSON-serialisable).

    Raises:
        UnknownTagError: a track carries a tag the schema does not know.
        DatasetError: duplicate ``uid``.
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        schema: ConceptSchema,
        *,
        name: str = "dataset",
        card: Mapping[str, Any] | None = None,
    ) -> None:
        self.tracks: tuple[Track, ...] = tuple(tracks)
        self.schema = schema
        self.name = name
        self.card: dict[str, Any] = dict(card or {})
        uids = Counter(t.uid for t in self.tracks)
        dupes = sorted(u for u, n in uids.items() if n > 1)
        if dupes:
            raise DatasetError(f"{len(dupes)} duplicate track uid(s): {dupes[:5]}")
        known = set(schema.tags)
        unknown = Counter(tag for t in self.tracks for tag in t.tags if tag not in known)
        if unknown:
            raise UnknownTagError(unknown, where=f"dataset '{name}'")
        self._index = {tag: i for i, tag in enumerate(schema.tags)}

    def __len__(self) -> int:
        return len(self.tracks)

    def __getitem__(self, i: int) -> Track:
        return self.tracks[i]

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __repr__(self) -> str:
        return f"MusicDataset(name={self.name!r}, tracks={len(self)}, tags={self.schema.num_tags})"

    def split(self, *names: str) -> MusicDataset:
        """The tracks of the given split(s), same schema and card."""
        bad = [n for n in names if n not in SPLITS]
        if bad or not names:
            raise DatasetError(f"unknown split(s) {bad or names}; valid: {SPLITS}")
        kept = [t for t in self.tracks if t.split in names]
        return MusicDataset(kept, self.schema, name=f"{self.name}:{'+'.join(names)}",
                            card=self.card)

    def multi_hot(self, i: int) -> np.ndarray:
        """Tags of track ``i`` as a float32 multi-hot vector, shape ``(num_tags,)``."""
        y = np.zeros(self.schema.num_tags, dtype=np.float32)
        for tag in self.tracks[i].tags:
            y[self._index[tag]] = 1.0
        return y

    def labels(self) -> np.ndarray:
        """All multi-hot vectors, shape ``(N, num_tags)`` float32 (zeros where unlabelled)."""
        y = np.zeros((len(self), self.schema.num_tags), dtype=np.float32)
        for i, t in enumerate(self.tracks):
            for tag in t.tags:
                y[i, self._index[tag]] = 1.0
        return y

    @property
    def labelled(self) -> np.ndarray:
        """Shape ``(N,)`` bool: which tracks carry known tags."""
        return np.array([t.labelled for t in self.tracks], dtype=bool)

    @property
    def groups(self) -> np.ndarray:
        """Shape ``(N,)`` int64: ``track_id`` as consecutive ints, in order of first use."""
        ids: dict[str, int] = {}
        return np.array([ids.setdefault(t.track_id, len(ids)) for t in self.tracks],
                        dtype=np.int64)

    def split_leaks(self) -> dict[str, tuple[str, ...]]:
        """``track_id`` -> its splits, for every track id whose clips sit in several splits."""
        seen: dict[str, set[str]] = {}
        for t in self.tracks:
            seen.setdefault(t.track_id, set()).add(t.split)
        return {k: tuple(sorted(v)) for k, v in seen.items() if len(v) > 1}

    def summary(self) -> dict[str, Any]:
        """Counts per split, labelled share, distinct track ids and tag frequencies."""
        tag_counts = Counter(tag for t in self.tracks for tag in t.tags)
        return {
            "name": self.name,
            "clips": len(self),
            "track_ids": len({t.track_id for t in self.tracks}),
            "labelled": int(self.labelled.sum()),
            "splits": {s: sum(t.split == s for t in self.tracks) for s in SPLITS},
            "tag_counts": {tag: tag_counts.get(tag, 0) for tag in self.schema.tags},
        }


# --- helpers shared by the loaders ----------------------------------------------------------
def hash_split(
    track_id: str,
    seed: int = 0,
    fractions: tuple[float, float, float] = DEFAULT_SPLIT_FRACTIONS,
) -> str:
    """Deterministic split for a track id: a seeded SHA-256 of the id, cut at ``fractions``.

    The same id always gets the same split (so clips of one track never separate), and the
    assignment does not depend on which other tracks exist.
    """
    if len(fractions) != 3 or min(fractions) < 0 or abs(sum(fractions) - 1.0) > 1e-9:
        raise DatasetError(f"split fractions must be 3 non-negative numbers summing to 1, "
                           f"got {fractions}")
    digest = hashlib.sha256(f"{seed}\x00{track_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < fractions[0]:
        return "train"
    return "val" if u < fractions[0] + fractions[1] else "test"


def resolve_inside(root: Path, path: str | Path, *, allow_outside: bool = False) -> Path:
    """``path`` (relative to ``root``, or absolute) resolved, refusing escapes from ``root``.

    Symlinks are resolved before the check, so a link pointing out of ``root`` is refused
    like ``..`` is.

    Raises:
        UnsafePathError: the resolved path is not under ``root`` and ``allow_outside`` is
            false.
    """
    root = root.resolve()
    p = Path(path)
    resolved = (p if p.is_absolute() else root / p).resolve()
    if not allow_outside and not resolved.is_relative_to(root):
        raise UnsafePathError(path, root)
    return resolved


def read_list(path: Path) -> list[str]:
    """Entries of a split list: a text file (one per line, blank lines skipped) or a ``.npy``
    array of strings (loaded without pickle).

    Raises:
        DatasetError: a pickle (``.cP``/``.pkl``) file, which is refused because unpickling
            runs code; convert it to text first.
    """
    path = Path(path)
    if path.suffix.lower() in (".cp", ".pkl", ".pickle"):
        raise DatasetError(
            f"'{path}' is a pickle, which is not loaded (unpickling runs code); write it as "
            "text, one entry per line, e.g. with: python -c \"import pickle,sys; "
            "print(*pickle.load(open(sys.argv[1],'rb'),encoding='latin1'),sep='\\n')\" FILE"
        )
    try:
        if path.suffix.lower() == ".npy":
            return [str(x) for x in np.load(path, allow_pickle=False).ravel()]
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as e:
        raise DatasetError(f"cannot read list '{path}': {e}") from e
    return [ln.strip() for ln in lines if ln.strip()]


def check_files(tracks: Iterable[Track]) -> None:
    """Raise :class:`MissingAudioError` listing every track path that is not a file."""
    missing = sorted({t.path for t in tracks if not t.path.is_file()})
    if missing:
        raise MissingAudioError(missing)


def _load(path: Path, sample_rate: int, start: float = 0.0,
          duration: float | None = None) -> np.ndarray:
    """Decode ``[start, start + duration)`` of ``path`` to mono float32 at ``sample_rate``.

    The serving decoder (:func:`model.audio.decode`: soundfile, then PyAV for m4a/AAC and
    anything else ffmpeg reads; soxr resampling), so training reads what ingest reads, the
    same way. Silence is data here (a quiet intro is a valid training window).

    Returns:
        Shape ``(T,)`` float32; shorter than ``duration`` if the file ends first, empty if
        ``start`` is past the end.

    Raises:
        AudioLoadError: the file cannot be opened or decoded.
    """
    try:
        return decode(path, sample_rate=sample_rate, start=start, duration=duration,
                      reject_silence=False).samples
    except InvalidRange as e:
        if e.past_end:
            return np.zeros(0, dtype=np.float32)
        raise AudioLoadError(path, str(e)) from e
    except (AudioError, OSError) as e:
        raise AudioLoadError(path, str(e)) from e
