"""Read a catalogue file into this instance's store, without embedding anything again.

Order of work, so that bad input loses nothing and leaves nothing half done:

1. the header: the format, then the model. Vectors of different models are not comparable,
   so the file's checkpoint must be the serving one (same sha256); otherwise the import is
   refused and the audio must be ingested again;
2. the columns (names and types);
3. every row, checked as the store checks (vector sizes, finite values, text limits, ISRC,
   year...) and against the store and the rest of the file (an ISRC or external id that
   another track holds). Nothing has been written yet; the first problem refuses the import;
4. the writes, one track per transaction through ``store.create_track`` (the ingest commit
   path): a track lands whole (row, vectors, tag scores, fingerprint, change-log event) or
   not at all. Audio already stored (same content hash) is skipped, so importing a file again
   adds nothing, and an import stopped midway is finished by running it again;
5. the served index catches up from the change log, as after ``musicprism ingest``.

Tracks get this instance's own ids; :attr:`ImportReport.id_map` pairs each row's
``source_id`` with its id here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from service import store
from service.catalog import Catalog
from service.errors import EmbeddingNotFound, MusicprismError
from service.transfer.fileformat import Header, TransferError, check_columns, read_header
from service.transfer.reading import ImportRow, iter_rows

log = logging.getLogger(__name__)
BATCH = 256  # rows decoded at a time


@dataclass
class ImportReport:
    """What an import did.

    Attributes:
        rows: rows in the file.
        added: new tracks.
        embedded: tracks already stored (same audio) without vectors from the serving model,
            given the file's.
        present: tracks already stored with vectors from the serving model: left as they are.
        id_map: (source_id, track id here) for every row.
    """

    path: Path
    rows: int = 0
    added: int = 0
    embedded: int = 0
    present: int = 0
    id_map: list[tuple[int, int]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"imported {self.path}: {self.rows} rows; {self.added} tracks added, "
                f"{self.embedded} given vectors, {self.present} already in the catalogue")


def check_model(header: Header, catalog: Catalog, path: Path) -> None:
    """Refuse a file whose vectors come from another model than the one served."""
    model = catalog.model
    if header.checkpoint_sha256 != model.sha256:
        raise TransferError(
            f"{path} holds vectors of model {header.model_version} (checkpoint sha256 "
            f"{header.checkpoint_sha256[:12]}...), this instance serves {model.version} "
            f"(sha256 {model.sha256[:12]}...); vectors of different models are not comparable. "
            "Serve the same model, or ingest the audio again (musicprism ingest) to embed it "
            "with this one")
    if header.schema() != model.schema:
        raise TransferError(f"{path}: the concept schema in its header is not the one of "
                            f"model {model.version}")


class _Checker:
    """Row checks against the store and the rest of the file (no writes)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[str, dict[str, int]] = {"content hash": {}, "ISRC": {},
                                                "external id": {}}

    def check(self, row: ImportRow) -> None:
        where = f"row {row.row} (source track {row.source_id})"
        for what, value in (("content hash", row.content_hash), ("ISRC", row.meta["isrc"]),
                            ("external id", row.meta["external_id"])):
            if value is None:
                continue
            other = self.seen[what].setdefault(value, row.row)
            if other != row.row:
                raise TransferError(f"{where}: {what} '{value}' is also row {other}'s")
        if store.find_track_by_hash(self.session, content_hash=row.content_hash) is not None:
            return  # stored already: skipped, its metadata is not compared
        isrc, external = row.meta["isrc"], row.meta["external_id"]
        holder = None if isrc is None else store.find_track_by_isrc(self.session, isrc=isrc)
        if holder is not None:
            raise TransferError(f"{where}: ISRC '{isrc}' is already used by track {holder.id} "
                                "(other audio)")
        holder = None if external is None else store.find_track_by_external_id(
            self.session, external_id=external)
        if holder is not None:
            raise TransferError(f"{where}: external id '{external}' is already used by track "
                                f"{holder.id} (other audio)")


def _write(session: Session, row: ImportRow, catalog: Catalog) -> tuple[int, str]:
    """Store one row; returns (track id, "added" | "embedded" | "present")."""
    schema = catalog.schema
    record = store.EmbeddingRecord(
        model_version_id=catalog.binding.model_version_id, vector=row.vector,
        windows=row.windows, window_seconds=row.window_seconds, hop_seconds=row.hop_seconds,
        tag_scores=row.tag_scores,
        tag_concepts={t: schema.concept_of_tag(t) for t in row.tag_scores})
    track, created = store.create_track(
        session, content_hash=row.content_hash, duration_seconds=row.duration_seconds,
        embedding=record, fingerprint=row.fingerprint, **row.meta)
    if created:
        return track.id, "added"
    try:
        store.get_embedding(session, track_id=track.id, model_version_id=record.model_version_id)
    except EmbeddingNotFound:  # stored by an earlier model: the file's vectors replace a re-embed
        store.put_embedding(session, track_id=track.id, embedding=record)
        if row.fingerprint is not None and store.fingerprint_version(
                session, track_id=track.id) is None:
            store.put_fingerprint(session, track_id=track.id, fingerprint=row.fingerprint)
        return track.id, "embedded"
    return track.id, "present"


def _write_row(session: Session, row: ImportRow, catalog: Catalog, report: ImportReport
               ) -> None:
    try:
        track_id, outcome = _write(session, row, catalog)
    except MusicprismError as exc:  # written meanwhile by another process (checked before)
        raise TransferError(
            f"row {row.row} (source track {row.source_id}): {exc}; the {len(report.id_map)} "
            "rows before it are imported: once fixed, import again (they are skipped)") from exc
    report.id_map.append((row.source_id, track_id))
    setattr(report, outcome, getattr(report, outcome) + 1)


def import_catalog(
    catalog: Catalog,
    path: Path,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the catalogue file ``path`` into ``catalog`` (opened), then catch its index up.

    Args:
        batch: rows decoded and checked at a time.
        progress: called with the number of rows written after each batch.

    Raises:
        TransferError: the file is not a catalogue, is of another model, or a row is bad
            (nothing was imported).
        OSError: the file cannot be read.
    """
    path = Path(path)
    with catalog.binding.session() as session:
        try:
            pf, header = read_header(path)
            check_model(header, catalog, path)
            columns = check_columns(pf, header, path)
            tags = [t["name"] for t in header.tags]
            checker = _Checker(session)
            for rows in iter_rows(pf, columns, header.dim, tags, batch):
                for row in rows:
                    checker.check(row)
        except TransferError as exc:
            raise TransferError(f"{exc}; nothing was imported") from exc
        finally:
            session.rollback()  # end the read transaction before writing
        report = ImportReport(path, rows=pf.metadata.num_rows)
        for rows in iter_rows(pf, columns, header.dim, tags, batch):
            for row in rows:
                _write_row(session, row, catalog, report)
            if progress is not None:
                progress(len(report.id_map))
    catalog.indexes.sync(force=True)
    log.info("%s", report.summary())
    return report
