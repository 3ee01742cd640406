"""The catalogue: one object that ties the model, the SQL store and the indexes together.

Routes and the command line call it; it owns the consistency rules:
- the store is the source of truth: a track is committed to the store (row, vectors, tag
  scores and an index event in one transaction) before it reaches the indexes;
- the indexes are derived: on start-up they are loaded from a snapshot that records the store
  event it reflects, then caught up by replaying later events (or rebuilt from the store);
- queries first catch up with events written by other processes (other workers, the CLI).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from index.errors import IndexNotReady, IndexSchemaMismatch, SnapshotCorrupt
from index.facet_set import FacetIndexSet
from index.layered import LayeredIndex
from index.snapshot import compaction_lock, current_snapshot
from model import audio
from model import fingerprint as fingerprints
from model.checkpoint import LoadedModel
from model.embed import Embedder, TrackEmbedding
from model.facets import facet_cosines, parse_weights, weighted_query
from service import store
from service.audio_store import AudioStore
from service.errors import EmbeddingNotFound, IsrcConflict, TrackNotFound, UnknownTag
from service.models import Track

log = logging.getLogger(__name__)

TAG_FILTER_THRESHOLD = 0.5


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
class Hit:
    track: Track
    score: float
    facets: dict[str, float]
    match: fingerprints.RecordingMatch | None = None  # the query was cut from this track


@dataclass
class IngestOutcome:
    track: Track
    created: bool
    reembedded: bool = False


class Catalog:
    """Model + store + indexes, safe to call from several threads.

    Args:
        model: the loaded checkpoint that embeds audio and defines the facets.
        sessions: a SQLAlchemy session factory bound to the store.
        index_dir: where index snapshots live.
        index_factory: FAISS factory string for every index.
        max_audio_seconds, min_audio_seconds: decoded-duration limits.
        sync_interval: seconds between checks for store events written by other processes.
        mmap: serve a memory-mapped snapshot (shared by worker processes) plus a private
            delta (``index.layered``); swap to each new snapshot another process writes.
        delta_max: with ``mmap``, write a new snapshot (in the background) once the delta
            holds more changes than this.
        fingerprints: store a landmark fingerprint of each ingested track and identify the
            recordings a query clip was cut from (model/fingerprint.py).
        fingerprint_min_aligned: hashes that must agree on one offset for such a match.
        audio_store: where copies of ingested audio are kept and found (None: nowhere).
        keep_audio: store a copy of each track ingested (copies go when their track does).
    """

    def __init__(
        self,
        *,
        model: LoadedModel,
        sessions: sessionmaker[Session],
        index_dir: Path,
        index_factory: str = "IDMap2,Flat",
        max_audio_seconds: float = 1800.0,
        min_audio_seconds: float = 1.0,
        sync_interval: float = 1.0,
        mmap: bool = False,
        delta_max: int = 10_000,
        fingerprints: bool = True,
        fingerprint_min_aligned: int = 12,
        on_embed: Callable[[float], None] | None = None,
        on_ingest: Callable[[str, str | None], None] | None = None,
        audio_store: AudioStore | None = None,
        keep_audio: bool = True,
    ) -> None:
        self.model = model
        self.schema = model.schema
        self.embedder = Embedder(model)
        self.sessions = sessions
        self.index_dir = Path(index_dir)
        self.index_factory = index_factory
        self.max_audio_seconds = max_audio_seconds
        self.min_audio_seconds = min_audio_seconds
        self.sync_interval = sync_interval
        self.on_embed = on_embed  # metrics hooks: the catalog does not import prometheus
        self.on_ingest = on_ingest
        self.mmap = mmap
        self.delta_max = delta_max
        self.fingerprints = fingerprints
        self.fingerprint_min_aligned = fingerprint_min_aligned
        self.audio_store = audio_store
        self.keep_audio = keep_audio and audio_store is not None
        self._lock = threading.RLock()
        self._swap_lock = threading.Lock()  # one reload or compaction at a time
        self._compacting: threading.Thread | None = None
        self._applied_seq = 0
        self._last_sync = 0.0
        with self.sessions() as session:
            mv = store.get_or_create_model_version(
                session,
                name=model.version,
                sha256=model.sha256,
                dim=self.schema.dim,
                schema=self.schema.to_dict(),
            )
            session.commit()
            self.model_version_id = mv.id
        self.index: FacetIndexSet | LayeredIndex = FacetIndexSet(self.schema, index_factory)

    # --- index life cycle -----------------------------------------------------------------
    @property
    def snapshot_dir(self) -> Path:
        return self.index_dir / self.model.version

    def open_indexes(self, *, mmap: bool | None = None) -> str:
        """Load the snapshot and catch up, or rebuild from the store. Returns what was done.

        ``mmap`` (default: the catalog's setting) maps the snapshot and layers a delta on it.
        """
        if mmap is not None:
            self.mmap = mmap
        with self._lock:
            how = "rebuilt"
            try:
                loaded = self._load_snapshot()
                if loaded is not None and self._ahead_of_store(int(loaded.state["seq"])):
                    loaded = None
                if loaded is not None:
                    self.index, self._applied_seq, how = loaded, int(loaded.state["seq"]), "loaded"
            except IndexNotReady:
                pass
            except (IndexSchemaMismatch, SnapshotCorrupt) as exc:
                log.warning("index snapshot unusable (%s): rebuilding", exc)
            if how == "rebuilt":
                self.rebuild()
            else:
                replayed = self.sync(force=True)
                how = f"loaded, {replayed} events replayed"
            log.info("indexes %s: %d tracks", how, len(self.index))
            return how

    def _ahead_of_store(self, seq: int) -> bool:
        """Whether a snapshot at ``seq`` reflects changes the store does not have: the store
        was restored from a backup older than the snapshot (or replaced). Catching up cannot
        undo those changes; the indexes must be rebuilt from the store."""
        with self.sessions() as session:
            latest = store.latest_seq(session)
        if seq > latest:
            log.warning(
                "index snapshot reflects store change %d but the store is at %d (restored from "
                "a backup?): rebuilding the indexes from the store",
                seq,
                latest,
            )
            return True
        return False

    def _load_snapshot(self) -> FacetIndexSet | LayeredIndex | None:
        """The live snapshot (mapped and layered when ``mmap``), or None if it was built by
        another model version. Raises what ``FacetIndexSet.load`` raises."""
        loaded = FacetIndexSet.load(self.snapshot_dir, self.schema, mmap=self.mmap)
        if loaded.state.get("model_version") != self.model.version:
            return None
        return LayeredIndex(loaded) if self.mmap else loaded

    def rebuild(self) -> int:
        """Rebuild every index from the vectors in the store; save a snapshot."""
        with self._lock:
            index, seq = self._build_from_store()
            index.save(self.snapshot_dir, state=self._state(seq))
            self.index, self._applied_seq = index, seq
        self.reload()  # mmap: serve the mapped snapshot, dropping the private copy
        return len(index)

    def _build_from_store(self) -> tuple[FacetIndexSet, int]:
        """A fresh in-memory index of every vector in the store, and the seq it reflects."""
        with self.sessions() as session:
            seq = store.latest_seq(session)
            ids, vectors = store.load_embeddings(
                session, model_version_id=self.model_version_id, max_seq=seq
            )
        index = FacetIndexSet(self.schema, self.index_factory)
        if len(ids):
            index.add(ids, vectors)
        return index, seq

    def save_snapshot(self) -> Path | None:
        """Save the indexes with the store state they reflect. Local writes do not advance
        that state, so catch up first: otherwise the snapshot would name an older state and
        every later open would replay (re-read) everything written since.

        With ``mmap`` this is :meth:`compact`. Returns the snapshot written (or served).
        """
        if self.mmap:
            return self.compact()
        with self._lock:
            self.sync(force=True)
            assert isinstance(self.index, FacetIndexSet)
            return self.index.save(self.snapshot_dir, state=self._state())

    def _state(self, seq: int | None = None) -> dict[str, object]:
        seq = self._applied_seq if seq is None else seq
        return {"model_version": self.model.version, "seq": seq}

    def sync(self, *, force: bool = False) -> int:
        """Apply store events newer than the indexes (written by other processes).

        With ``mmap``, first swap to a newer snapshot if another process wrote one, and
        start writing one in the background when the delta has grown past ``delta_max``.
        """
        now = time.monotonic()
        if not force and now - self._last_sync < self.sync_interval:
            return 0
        self._last_sync = now
        if self.mmap:
            self.reload()
        with self._lock:
            self._applied_seq, removed = self._catch_up(self.index, self._applied_seq)
        if isinstance(self.index, LayeredIndex) and self.index.pending > self.delta_max:
            self._compact_in_background()
        return removed

    def _catch_up(self, index: FacetIndexSet | LayeredIndex, seq: int) -> tuple[int, int]:
        """Apply to ``index`` the store events after ``seq``: (new seq, ids removed)."""
        with self.sessions() as session:
            changes = store.changes_since(
                session, after_seq=seq, model_version_id=self.model_version_id
            )
        if changes.to_seq == seq:
            return seq, 0
        index.remove(changes.remove_ids)
        if len(changes.add_ids):
            index.add(changes.add_ids, changes.add_vectors)
        return changes.to_seq, len(changes.remove_ids)

    # --- shared snapshots (mmap) ------------------------------------------------------------
    def reload(self) -> bool:
        """Swap to the live snapshot if it is newer than the one served; True if swapped.

        The new snapshot is mapped and caught up off to the side; only the last events and
        the reference swap happen under the lock, so queries wait for milliseconds at most.
        A snapshot that cannot be read yet (being replaced) is tried again at the next sync.
        """
        if not self.mmap or not self._swap_lock.acquire(blocking=False):
            return False
        try:
            try:
                served = isinstance(self.index, LayeredIndex) and self.index.snapshot
                if current_snapshot(self.snapshot_dir) == served:
                    return False
                fresh = self._load_snapshot()
            except (IndexNotReady, SnapshotCorrupt, OSError) as exc:
                log.warning("index snapshot not loadable yet (%s): keeping the one served", exc)
                return False
            if fresh is None:
                return False
            seq, _ = self._catch_up(fresh, int(fresh.state["seq"]))
            with self._lock:
                self._applied_seq, _ = self._catch_up(fresh, seq)
                self.index = fresh
            log.info("serving index snapshot %s (%d tracks)", fresh.snapshot, len(fresh))
            return True
        finally:
            self._swap_lock.release()

    def compact(self) -> Path | None:
        """Write a snapshot of the whole store (live snapshot + later events) and serve it.

        One process at a time (an exclusive ``flock`` on the snapshot folder); a process
        that finds the lock taken leaves the work to the holder and returns None. Memory: the
        writer holds one private copy of the indexes while it writes.
        """
        with compaction_lock(self.snapshot_dir) as acquired:
            if not acquired:
                return None
            path = self._write_fresh_snapshot()
        self.reload()
        return path

    def _write_fresh_snapshot(self) -> Path:
        """Under the compaction lock: the live snapshot caught up with the store, saved."""
        try:
            index: FacetIndexSet | None = FacetIndexSet.load(self.snapshot_dir, self.schema)
        except (IndexNotReady, IndexSchemaMismatch, SnapshotCorrupt) as exc:
            log.warning("rebuilding the index snapshot from the store (%s)", exc)
            index = None
        if index is None or index.state.get("model_version") != self.model.version:
            index, seq = self._build_from_store()
            return index.save(self.snapshot_dir, state=self._state(seq))
        seq = int(index.state["seq"])
        new_seq, _ = self._catch_up(index, seq)
        if new_seq == seq and index.snapshot is not None:
            return index.snapshot  # already up to date
        return index.save(self.snapshot_dir, state=self._state(new_seq))

    def _compact_in_background(self) -> None:
        if self._compacting is not None and self._compacting.is_alive():
            return
        self._compacting = threading.Thread(target=self.compact, name="compact", daemon=True)
        self._compacting.start()

    # --- writes ---------------------------------------------------------------------------
    def decode(
        self, source: bytes | str | Path, *, start: float = 0.0, duration: float | None = None
    ) -> audio.Decoded:
        """Audio at the model's rate, within the catalogue's duration limits."""
        return audio.decode(
            source,
            sample_rate=self.embedder.sample_rate,
            max_seconds=self.max_audio_seconds,
            min_seconds=self.min_audio_seconds,
            start=start,
            duration=duration,
        )

    def embed(self, samples: np.ndarray) -> TrackEmbedding:
        started = time.perf_counter()
        embedding = self.embedder.embed(samples)
        if self.on_embed is not None:
            self.on_embed(time.perf_counter() - started)
        return embedding

    def fingerprint(
        self, samples: np.ndarray, *, fan_out: int = fingerprints.FAN_OUT
    ) -> fingerprints.Fingerprint:
        return fingerprints.fingerprint(samples, self.embedder.sample_rate, fan_out=fan_out)

    def identify(self, samples: np.ndarray) -> list[fingerprints.RecordingMatch]:
        """The catalogue recordings ``samples`` (at the model's rate) were cut from, best
        first; empty when fingerprints are off or nothing matches."""
        if not self.fingerprints:
            return []
        query = self.fingerprint(samples, fan_out=fingerprints.QUERY_FAN_OUT)
        with self.sessions() as session:
            found = store.lookup_hashes(session, hashes=query.hashes, version=query.version)
        return fingerprints.align(
            query, *found, min_aligned=self.fingerprint_min_aligned,
            min_share=fingerprints.MIN_SHARE,
        )

    def ingest(self, source: bytes | Path, meta: TrackMeta) -> IngestOutcome:
        """:meth:`ingest_track`, then keep a copy of the audio (``keep_audio``). The copy
        follows the store commit, so a failed ingest leaves no file; ingesting the same audio
        again adds the copy a track lacks."""
        outcome = self.ingest_track(source, meta)
        self._keep_copy(source, outcome.track.content_hash)
        return outcome

    def _keep_copy(self, source: bytes | Path, content_hash: str) -> None:
        if not self.keep_audio or self.audio_store is None:
            return
        try:
            self.audio_store.put(source, content_hash)
        except OSError as exc:  # the track is stored and indexed; only playback is missing
            log.warning("no audio copy kept for %s: %s", content_hash, exc)

    def ingest_track(self, source: bytes | Path, meta: TrackMeta) -> IngestOutcome:
        """Decode, embed, store and index one track; the same audio twice gives one track.

        A track already stored but not yet embedded by this model (the catalogue was built
        with an earlier model) is embedded again and indexed: re-running ingest after a
        model upgrade re-embeds the catalogue.
        """
        meta = meta.checked()  # refuse bad metadata before the costly decode and embed
        content_hash = audio.sha256_of(source)
        with self.sessions() as session:
            existing = store.find_track_by_hash(session, content_hash=content_hash)
            embedded = existing is not None and self._has_embedding(session, existing.id)
            fingerprinted = not self.fingerprints or (
                existing is not None
                and store.fingerprint_version(session, track_id=existing.id)
                == fingerprints.VERSION
            )
            if existing is not None and embedded and fingerprinted:
                self._count_ingest("duplicate")
                return IngestOutcome(track=existing, created=False)
            if existing is None and meta.isrc is not None:
                other = store.find_track_by_isrc(session, isrc=meta.isrc)
                if other is not None:
                    raise IsrcConflict(meta.isrc, other.id)
        try:
            decoded = self.decode(source)
        except audio.AudioError as exc:
            self._count_ingest("failed", type(exc).__name__)
            raise
        fp = None if fingerprinted else self.fingerprint(decoded.samples)
        if existing is not None and embedded:
            # Stored before fingerprints (migration 0003) or with an older version: add it.
            assert fp is not None
            with self.sessions() as session:
                store.put_fingerprint(session, track_id=existing.id, fingerprint=fp)
            self._count_ingest("duplicate")
            return IngestOutcome(track=existing, created=False)
        emb, duration = self.embed(decoded.samples), decoded.duration
        vectors = self._stored_vectors(emb)
        with self._lock, self.sessions() as session:
            if existing is not None:
                store.put_embedding(session, track_id=existing.id, **vectors)
                if fp is not None:
                    store.put_fingerprint(session, track_id=existing.id, fingerprint=fp)
                track, created, reembedded = existing, False, True
            else:
                track, created = store.create_track(
                    session,
                    content_hash=content_hash,
                    title=meta.title,
                    artist=meta.artist,
                    album=meta.album,
                    external_id=meta.external_id,
                    isrc=meta.isrc,
                    year=meta.year,
                    source=meta.source or "upload",
                    duration_seconds=duration,
                    fingerprint=fp,
                    **vectors,
                )
                reembedded = False
            if created or reembedded:
                self.index.add(np.array([track.id], dtype=np.int64), emb.vector[None, :])
            self._count_ingest("added" if created or reembedded else "duplicate")
            return IngestOutcome(track=track, created=created, reembedded=reembedded)

    def _stored_vectors(self, emb: TrackEmbedding) -> dict[str, Any]:
        """The keyword arguments ``store.put_embedding`` / ``create_track`` take for ``emb``."""
        return dict(
            model_version_id=self.model_version_id,
            vector=emb.vector,
            windows=emb.windows,
            window_seconds=emb.window_seconds,
            hop_seconds=emb.hop_seconds,
            tag_scores=dict(zip(self.schema.tags, (float(p) for p in emb.tag_probs), strict=True)),
            tag_concepts={t: self.schema.concept_of_tag(t) for t in self.schema.tags},
        )

    def _has_embedding(self, session: Session, track_id: int) -> bool:
        try:
            store.get_embedding(session, track_id=track_id, model_version_id=self.model_version_id)
        except EmbeddingNotFound:
            return False
        return True

    def refresh_statistics(self) -> None:
        """After a bulk ingest: let the database plan fingerprint lookups on current data."""
        with self.sessions() as session:
            store.refresh_statistics(session)

    def _count_ingest(self, outcome: str, reason: str | None = None) -> None:
        if self.on_ingest is not None:
            self.on_ingest(outcome, reason)

    def delete(self, track_id: int) -> None:
        """Remove a track from the store and the indexes, and its audio copy."""
        with self._lock, self.sessions() as session:
            content_hash = store.get_track(session, track_id=track_id).content_hash
            store.delete_track(session, track_id=track_id)
            self.index.remove(np.array([track_id], dtype=np.int64))
        if self.audio_store is not None:
            self.audio_store.remove(content_hash)

    # --- reads ----------------------------------------------------------------------------
    def get_track(self, track_id: int) -> tuple[Track, dict[str, dict[str, float]]]:
        with self.sessions() as session:
            track = store.get_track(session, track_id=track_id)
            return track, store.tag_scores_by_concept(
                session, track_id=track_id, model_version_id=self.model_version_id
            )

    def vector_of(self, track_id: int) -> np.ndarray:
        self.sync()
        # Check and read under the lock: a delete in between would make the read fail, and
        # FAISS indexes are not safe to read while another thread changes them.
        for attempt in range(2):
            with self._lock:
                if track_id in self.index:
                    return self.index.get(track_id)
            with self.sessions() as session:
                store.get_track(session, track_id=track_id)  # raises TrackNotFound
            if attempt == 0:
                self.sync(force=True)  # stored by another process since the last sync
        raise TrackNotFound(track_id)

    def similar(
        self,
        query: np.ndarray,
        *,
        k: int,
        facet: str | None = None,
        exclude_ids: Iterable[int] = (),
        exclude_artist: str | None = None,
        tag_filter: Iterable[str] = (),
        matches: Sequence[fingerprints.RecordingMatch] = (),
    ) -> tuple[dict[str, float], list[Hit]]:
        """Tracks nearest to a full-space query vector under a facet mix, with explanations.

        ``matches`` (from :meth:`identify`): recordings the query was cut from. Those that
        pass the filters come first, in their order, whatever their score: the same
        recording is the most similar track in every facet.
        """
        weights = parse_weights(facet, self.schema)
        self.sync()
        with self.sessions() as session:
            allow, exclude = self._filters(session, exclude_ids, exclude_artist, tag_filter)
            with self._lock:
                if allow is not None and not allow:
                    return weights, []
                D, I = self.index.search(
                    query[None, :].astype(np.float32),
                    k,
                    weights=weights,
                    allow_ids=allow,
                    exclude_ids=exclude,
                )
                found = {int(i): float(d) for i, d in zip(I[0], D[0], strict=True) if i >= 0}
                pinned = {
                    m.track_id: m
                    for m in matches
                    if m.track_id not in exclude
                    and (allow is None or m.track_id in allow)
                    and m.track_id in self.index
                }
                ids = [*pinned, *(i for i in found if i not in pinned)][:k]
                vectors = np.stack([self.index.get(i) for i in ids]) if ids else None
            scores = self._scores(ids, found, query, vectors, weights)
            hits = self._hits(session, ids, scores, query, vectors)
        for hit in hits:
            hit.match = pinned.get(hit.track.id)
        return weights, hits

    def search_tags(
        self, tags: list[str], *, k: int, exclude_artist: str | None = None
    ) -> list[Hit]:
        """Tracks ranked by the mean cosine between their facets and the tags' proxies."""
        unknown = [t for t in tags if t not in self.schema.tags]
        if unknown:
            raise UnknownTag(unknown[0], self.schema.tags)
        query, weights = self._tag_query(tags)
        self.sync()
        with self.sessions() as session:
            _, exclude = self._filters(session, (), exclude_artist, ())
            with self._lock:
                D, I = self.index.search(query[None, :], k, weights=weights, exclude_ids=exclude)
                ids = [int(i) for i in I[0] if i >= 0]
                vectors = np.stack([self.index.get(i) for i in ids]) if ids else None
            return self._hits(session, ids, D[0][: len(ids)], query, vectors)

    def tag_scores(self, track_ids: list[int], tags: list[str]) -> dict[int, dict[str, float]]:
        with self.sessions() as session:
            return store.tag_scores_for(
                session, track_ids=track_ids, tags=tags, model_version_id=self.model_version_id
            )

    def count(self) -> int:
        return len(self.index)

    def list_tracks(
        self, *, offset: int, limit: int, isrc: str | None = None, q: str | None = None
    ) -> tuple[int, list[Track]]:
        """(how many tracks match, the page ``offset:offset+limit`` of them in id order)."""
        with self.sessions() as session:
            total = store.count_tracks(session, isrc=isrc, q=q)
            return total, store.list_tracks(session, offset=offset, limit=limit, isrc=isrc, q=q)

    def close(self) -> None:
        """Release the store's connections."""
        bind = self.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()

    # --- helpers --------------------------------------------------------------------------
    def _tag_query(self, tags: list[str]) -> tuple[np.ndarray, dict[str, float]]:
        """Full-space query whose facet slices hold the mean proxy of the tags in that facet,
        with facet weights n_f / n: <q_w, x> = mean over tags of cos(x_facet(t), p_t)."""
        proxies = self.model.encoder.head.proxy_vectors().numpy()
        k = len(self.schema.facets)
        query = np.zeros(self.schema.dim, dtype=np.float32)
        counts: dict[str, int] = {}
        for tag in dict.fromkeys(tags):
            f = self.schema.facet_of_concept(self.schema.concept_of_tag(tag))
            query[f.slice] += proxies[self.schema.tag_index(tag)]
            counts[f.name] = counts.get(f.name, 0) + 1
        n = sum(counts.values())
        for name, c in counts.items():
            query[self.schema.facet(name).slice] /= c * np.sqrt(k)
        return query, {name: c / n for name, c in counts.items()}

    def _filters(
        self,
        session: Session,
        exclude_ids: Iterable[int],
        exclude_artist: str | None,
        tag_filter: Iterable[str],
    ) -> tuple[set[int] | None, set[int]]:
        exclude = {int(i) for i in exclude_ids}
        if exclude_artist:
            exclude |= set(store.track_ids_by_artist(session, artist=exclude_artist).tolist())
        allow: set[int] | None = None
        for tag in tag_filter:
            if tag not in self.schema.tags:
                raise UnknownTag(tag, self.schema.tags)
            ids = set(
                store.track_ids_with_tag(
                    session,
                    tag=tag,
                    min_score=TAG_FILTER_THRESHOLD,
                    model_version_id=self.model_version_id,
                ).tolist()
            )
            allow = ids if allow is None else allow & ids
        if allow is not None:
            allow -= exclude
        return allow, exclude

    def _scores(
        self,
        ids: list[int],
        found: dict[int, float],
        query: np.ndarray,
        vectors: np.ndarray | None,
        weights: dict[str, float],
    ) -> np.ndarray:
        """The ranking score of each id: the index's, or for a track added from a match
        (not among the index's k), the same weighted sum of facet cosines."""
        if vectors is None:
            return np.zeros(0, dtype=np.float32)
        missing = [row for row, i in enumerate(ids) if i not in found]
        scores = np.array([found.get(i, 0.0) for i in ids], dtype=np.float32)
        if missing:
            scores[missing] = vectors[missing] @ weighted_query(query, weights, self.schema)
        return scores

    def _hits(
        self,
        session: Session,
        ids: list[int],
        scores: np.ndarray,
        query: np.ndarray,
        vectors: np.ndarray | None,
    ) -> list[Hit]:
        if not ids or vectors is None:
            return []
        tracks = {t.id: t for t in store.tracks_by_ids(session, track_ids=ids)}
        cos = facet_cosines(query, vectors, self.schema)
        names = self.schema.facet_names
        hits = []
        for row, (tid, score) in enumerate(zip(ids, scores, strict=True)):
            track = tracks.get(tid)
            if track is None:  # deleted by another process since the index last synced
                continue
            facets = {n: round(float(c), 6) for n, c in zip(names, cos[row], strict=True)}
            hits.append(Hit(track=track, score=round(float(score), 6), facets=facets))
        return hits
