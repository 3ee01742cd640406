"""How a catalogue runs: one typed config, built from the service settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.settings import Settings


@dataclass(frozen=True)
class CatalogConfig:
    """The catalogue's knobs (``Catalog`` takes nothing else but the model and the store).

    Attributes:
        index_dir: where index snapshots live (one folder per model version).
        index_factory: FAISS factory string for every index.
        max_audio_seconds, min_audio_seconds: decoded-duration limits of tracks and queries.
        sync_interval: seconds between checks for store events written by other processes.
        mmap: serve a memory-mapped snapshot (shared by worker processes) plus a private
            delta; swap to each new snapshot another process writes.
        delta_max: with ``mmap``, write a new snapshot (in the background) once the delta
            holds more changes than this.
        fingerprints: store a landmark fingerprint of each ingested track and identify the
            recordings a query clip was cut from (model/fingerprint.py).
        fingerprint_min_aligned: fewest hashes that must agree on one offset for such a match;
            the decision asks for more when chance or the share rule does
            (``model.fingerprint.required_aligned``).
        audio_dir: where copies of ingested audio are kept and found (None: nowhere).
        keep_audio: keep a copy of each track ingested (copies go when their track does).
    """

    index_dir: Path
    index_factory: str = "IDMap2,Flat"
    max_audio_seconds: float = 1800.0
    min_audio_seconds: float = 1.0
    sync_interval: float = 1.0
    mmap: bool = False
    delta_max: int = 10_000
    fingerprints: bool = True
    fingerprint_min_aligned: int = 8
    audio_dir: Path | None = None
    keep_audio: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogConfig:
        return cls(
            index_dir=settings.index_dir,
            index_factory=settings.index_factory,
            max_audio_seconds=settings.max_audio_seconds,
            min_audio_seconds=settings.min_audio_seconds,
            mmap=settings.use_index_mmap,
            delta_max=settings.index_delta_max,
            fingerprints=settings.fingerprints,
            fingerprint_min_aligned=settings.fingerprint_min_aligned,
            audio_dir=settings.audio_dir,
            keep_audio=settings.keep_audio,
        )
