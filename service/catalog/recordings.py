"""Audio that comes in: decode, embed, fingerprint, identify, ingest, delete.

Consistency: a track is committed to the store (row, vectors, tag scores, fingerprint and an
index event, in one transaction) before it reaches the served index; the expensive work
(decoding, embedding, fingerprinting) is done before the write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from model import audio
from model import fingerprint as fingerprints
from model.checkpoint import LoadedModel
from model.embed import Embedder, TrackEmbedding
from service import store
from service.audio_store import AudioStore
from service.catalog.binding import StoreBinding
from service.catalog.config import CatalogConfig
from service.catalog.lifecycle import IndexLifecycle
from service.errors import EmbeddingNotFound, IsrcConflict
from service.models import Track

log = logging.getLogger(__name__)
EXTENT_TTL = 30.0  # seconds a catalogue's fingerprinted length is reused (Recordings._extent)


@dataclass
class TrackMeta:
    """What a catalogue owner says about a track (none of it is required)."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    external_id: str | None = None
    source: str | None = None
    isrc: str | None = None
    year: int | None = None

    def checked(self) -> TrackMeta:
        """A copy with ``isrc`` normalised; raises InvalidValue on a malformed ISRC or year."""
        return replace(self, isrc=store.check_isrc(self.isrc), year=store.check_year(self.year))


@dataclass
class IngestOutcome:
    track: Track
    created: bool
    reembedded: bool = False


@dataclass(frozen=True)
class Needs:
    """What a file's ingest must compute."""

    embedding: bool
    fingerprint: bool


@dataclass(frozen=True)
class IngestPlan:
    content_hash: str
    meta: TrackMeta
    existing: Track | None
    needs: Needs


@dataclass(frozen=True)
class Analysis:
    """What decoding, embedding and fingerprinting a file gave (small: no samples)."""

    duration: float
    embedding: TrackEmbedding | None
    fingerprint: fingerprints.Fingerprint | None
    embed_seconds: float = 0.0


@dataclass(frozen=True)
class AudioAnalyser:
    """Decode, embed and fingerprint with a model alone (no store, no index): what
    :class:`Recordings` does to audio, and what ingest's worker processes do
    (service/ingest_pool.py)."""

    embedder: Embedder
    max_seconds: float
    min_seconds: float

    def decode(self, source: bytes | str | Path, *, start: float = 0.0,
               duration: float | None = None) -> audio.Decoded:
        """Audio at the model's rate, within the duration limits."""
        return audio.decode(source, sample_rate=self.embedder.sample_rate,
                            max_seconds=self.max_seconds, min_seconds=self.min_seconds,
                            start=start, duration=duration)

    def embed(self, samples: np.ndarray) -> TrackEmbedding:
        return self.embedder.embed(samples)

    def fingerprint(self, samples: np.ndarray, *, fan_out: int = fingerprints.FAN_OUT
                    ) -> fingerprints.Fingerprint:
        return fingerprints.fingerprint(samples, self.embedder.sample_rate, fan_out=fan_out)


def analyse(analyser: AudioAnalyser, source: bytes | str | Path, needs: Needs) -> Analysis:
    """Decode ``source`` and compute what ``needs`` asks for (no store, no index)."""
    decoded = analyser.decode(source)
    fp = analyser.fingerprint(decoded.samples) if needs.fingerprint else None
    emb, seconds = None, 0.0
    if needs.embedding:
        started = time.perf_counter()
        emb = analyser.embed(decoded.samples)
        seconds = time.perf_counter() - started
    return Analysis(duration=decoded.duration, embedding=emb, fingerprint=fp,
                    embed_seconds=seconds)


class Recordings:
    """Audio in: what a clip is (decoded, embedded, identified) and tracks added or removed.

    ``on_embed(seconds)`` and ``on_ingest(outcome, reason)`` are metric hooks the app sets
    (the catalogue does not import prometheus).

    Args:
        model: the loaded checkpoint.
        binding: the store and the model version row.
        indexes: the served index, which every write updates after its commit.
        config: duration limits, fingerprint settings, ``keep_audio``.
        audio: where copies of ingested audio go (None: none kept).
    """

    def __init__(self, model: LoadedModel, binding: StoreBinding, indexes: IndexLifecycle,
                 config: CatalogConfig, audio: AudioStore | None = None) -> None:
        self.model = model
        self.schema = model.schema
        self.embedder = Embedder(model)
        self.analyser = AudioAnalyser(self.embedder, config.max_audio_seconds,
                                      config.min_audio_seconds)
        self.binding = binding
        self.indexes = indexes
        self.config = config
        self.audio = audio if config.keep_audio else None
        self.on_embed: Callable[[float], None] | None = None
        self.on_ingest: Callable[[str, str | None], None] | None = None
        self._extent_cache: dict[int, tuple[float, tuple[int, float]]] = {}

    # --- what a clip is ---------------------------------------------------------------------
    def decode(
        self, source: bytes | str | Path, *, start: float = 0.0, duration: float | None = None
    ) -> audio.Decoded:
        """Audio at the model's rate, within the catalogue's duration limits."""
        return self.analyser.decode(source, start=start, duration=duration)

    def embed(self, samples: np.ndarray) -> TrackEmbedding:
        started = time.perf_counter()
        embedding = self.analyser.embed(samples)
        if self.on_embed is not None:
            self.on_embed(time.perf_counter() - started)
        return embedding

    def fingerprint(
        self, samples: np.ndarray, *, fan_out: int = fingerprints.FAN_OUT
    ) -> fingerprints.Fingerprint:
        return self.analyser.fingerprint(samples, fan_out=fan_out)

    def identify(self, samples: np.ndarray) -> list[fingerprints.RecordingMatch]:
        """The catalogue recordings ``samples`` (at the model's rate) were cut from, best
        first; empty when fingerprints are off or nothing matches."""
        if not self.config.fingerprints:
            return []
        query = self.fingerprint(samples, fan_out=fingerprints.QUERY_FAN_OUT)
        if len(query) == 0:
            return []
        with self.binding.session() as session:
            found = store.lookup_hashes(session, hashes=query.hashes, version=query.version)
            tracks, seconds = self._extent(session, query.version)

            def segment_hashes(track_id: int, start: int, stop: int) -> int:
                return store.count_hashes_between(session, track_id=track_id, start=start,
                                                  stop=stop)

            return fingerprints.identify(
                query, *found, catalogue_frames=round(seconds / fingerprints.FRAME_SECONDS),
                catalogue_tracks=tracks, floor=self.config.fingerprint_min_aligned,
                segment_hashes=segment_hashes,
            )

    def _extent(self, session: Session, version: int) -> tuple[int, float]:
        """``store.fingerprint_extent``, read again at most every ``EXTENT_TTL`` seconds: the
        catalogue's length changes slowly and the decision's chance bound moves with its
        logarithm, so one aggregate over every fingerprinted track per query is not needed."""
        now = time.monotonic()
        cached = self._extent_cache.get(version)
        if cached is None or now - cached[0] > EXTENT_TTL:
            cached = (now, store.fingerprint_extent(session, version=version))
            self._extent_cache[version] = cached
        return cached[1]

    # --- tracks in and out ------------------------------------------------------------------
    def ingest(self, source: bytes | Path, meta: TrackMeta) -> IngestOutcome:
        """:meth:`ingest_track`, then keep a copy of the audio (``keep_audio``). The copy
        follows the store commit, so a failed ingest leaves no file; ingesting the same audio
        again adds the copy a track lacks."""
        outcome = self.ingest_track(source, meta)
        self.keep_copy(source, outcome.track.content_hash)
        return outcome

    def keep_copy(self, source: bytes | Path, content_hash: str) -> None:
        """Keep the audio of a stored track (``keep_audio``), if its copy is missing."""
        if self.audio is not None:
            try:
                self.audio.put(source, content_hash)
            except OSError as exc:  # the track is stored and indexed; only playback is missing
                log.warning("no audio copy kept for %s: %s", content_hash, exc)

    def count_failure(self, reason: str) -> None:
        """Report a file whose audio was refused (analysed elsewhere) to the metrics hook."""
        self._count("failed", reason)

    def ingest_track(self, source: bytes | Path, meta: TrackMeta) -> IngestOutcome:
        """Decode, embed, store and index one track; the same audio twice gives one track.

        A track already stored but not yet embedded by this model (the catalogue was built
        with an earlier model) is embedded again and indexed: re-running ingest after a
        model upgrade re-embeds the catalogue. The three steps (:meth:`plan`, :func:`analyse`,
        :meth:`commit`) are public so that the analysis, the costly part, can run in other
        processes (service/ingest_pool.py).
        """
        plan = self.plan(source, meta)
        if isinstance(plan, IngestOutcome):
            return plan
        try:
            analysis = analyse(self.analyser, source, plan.needs)
        except audio.AudioError as exc:
            self._count("failed", type(exc).__name__)
            raise
        return self.commit(plan, analysis)

    def plan(self, source: bytes | Path, meta: TrackMeta) -> IngestPlan | IngestOutcome:
        """What ingesting ``source`` needs (an embedding, a fingerprint, both), or the
        outcome when it needs nothing (the same audio is stored, embedded and fingerprinted).

        Raises:
            InvalidValue: malformed metadata (refused before any costly work).
            IsrcConflict: another track has this ISRC.
        """
        meta = meta.checked()
        content_hash = audio.sha256_of(source)
        with self.binding.session() as session:
            existing = store.find_track_by_hash(session, content_hash=content_hash)
            embedded = existing is not None and self._has_embedding(session, existing.id)
            fingerprinted = not self.config.fingerprints or (
                existing is not None
                and store.fingerprint_version(session, track_id=existing.id)
                == fingerprints.VERSION
            )
            if existing is not None and embedded and fingerprinted:
                self._count("duplicate")
                return IngestOutcome(track=existing, created=False)
            if existing is None and meta.isrc is not None:
                other = store.find_track_by_isrc(session, isrc=meta.isrc)
                if other is not None:
                    raise IsrcConflict(meta.isrc, other.id)
        return IngestPlan(content_hash=content_hash, meta=meta, existing=existing,
                          needs=Needs(embedding=not embedded, fingerprint=not fingerprinted))

    def commit(self, plan: IngestPlan, analysis: Analysis) -> IngestOutcome:
        """Store what :func:`analyse` computed for ``plan`` and add it to the served index."""
        existing, meta, fp, emb = plan.existing, plan.meta, analysis.fingerprint, analysis.embedding
        if emb is None:
            # Stored before fingerprints (migration 0003) or with an older version: add it.
            assert existing is not None and fp is not None
            with self.binding.session() as session:
                store.put_fingerprint(session, track_id=existing.id, fingerprint=fp)
            self._count("duplicate")
            return IngestOutcome(track=existing, created=False)
        if self.on_embed is not None:
            self.on_embed(analysis.embed_seconds)
        record = self._record(emb)
        with self.indexes.lock, self.binding.session() as session:
            if existing is not None:
                store.put_embedding(session, track_id=existing.id, embedding=record)
                if fp is not None:
                    store.put_fingerprint(session, track_id=existing.id, fingerprint=fp)
                track, created, reembedded = existing, False, True
            else:
                track, created = store.create_track(
                    session,
                    content_hash=plan.content_hash,
                    title=meta.title,
                    artist=meta.artist,
                    album=meta.album,
                    external_id=meta.external_id,
                    isrc=meta.isrc,
                    year=meta.year,
                    source=meta.source or "upload",
                    duration_seconds=analysis.duration,
                    embedding=record,
                    fingerprint=fp,
                )
                reembedded = False
            if created or reembedded:
                self.indexes.index.add(np.array([track.id], dtype=np.int64), emb.vector[None, :])
                self.indexes.rows.forget([track.id])
            self._count("added" if created or reembedded else "duplicate")
            return IngestOutcome(track=track, created=created, reembedded=reembedded)

    def _record(self, emb: TrackEmbedding) -> store.EmbeddingRecord:
        """What the store keeps of ``emb``."""
        return store.EmbeddingRecord(
            model_version_id=self.binding.model_version_id,
            vector=emb.vector,
            windows=emb.windows,
            window_seconds=emb.window_seconds,
            hop_seconds=emb.hop_seconds,
            tag_scores=dict(zip(self.schema.tags, (float(p) for p in emb.tag_probs), strict=True)),
            tag_concepts={t: self.schema.concept_of_tag(t) for t in self.schema.tags},
        )

    def _has_embedding(self, session: Session, track_id: int) -> bool:
        try:
            store.get_embedding(
                session, track_id=track_id, model_version_id=self.binding.model_version_id
            )
        except EmbeddingNotFound:
            return False
        return True

    def delete(self, track_id: int) -> None:
        """Remove a track from the store and the served index, and its audio copy."""
        with self.indexes.lock, self.binding.session() as session:
            content_hash = store.get_track(session, track_id=track_id).content_hash
            store.delete_track(session, track_id=track_id)
            self.indexes.index.remove(np.array([track_id], dtype=np.int64))
            self.indexes.rows.forget([track_id])
        if self.audio is not None:
            self.audio.remove(content_hash)

    def refresh_statistics(self) -> None:
        """After a bulk ingest: let the database plan fingerprint lookups on current data."""
        with self.binding.session() as session:
            store.refresh_statistics(session)

    def _count(self, outcome: str, reason: str | None = None) -> None:
        if self.on_ingest is not None:
            self.on_ingest(outcome, reason)
