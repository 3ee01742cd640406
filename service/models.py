"""ORM models of the store, the source of truth every index is rebuilt from.

Types are chosen to behave the same on SQLite and PostgreSQL: ``LargeBinary`` (blob / bytea)
for float32 little-endian vectors, ``JSON`` for the concept schema, ``Text`` for free text
(lengths are checked in service/store.py, since SQLite does not enforce ``VARCHAR(n)``) and
timestamps that are always timezone-aware UTC (:class:`UTCDateTime`).

Change tracking, so that an index snapshot can say exactly which store state it reflects:

- ``store_state`` is a single row holding the last allocated sequence number. Every write
  that changes what an index should contain increments it *inside its own transaction*.
  The row lock this takes (PostgreSQL) or the database write lock (SQLite) is held until the
  transaction ends, so sequence numbers are handed out in commit order, without gaps.
  A plain autoincrement column would not do: on PostgreSQL a transaction that drew seq 5
  can commit after one that drew seq 6, and a snapshot taken "up to 6" would miss 5.
- ``index_events`` logs one row per such change (``add``: the track's vector for some model
  version is new or replaced; ``remove``: the track is gone), keyed by that sequence number.
- ``embeddings.seq`` is the sequence number of the write that stored the vector, so a rebuild
  can read "every vector as of seq N" without a long-lived snapshot.

Schema changes go through Alembic (migrations/); the service never calls ``create_all``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Constraint names are fixed so that migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Release years accepted (the first recordings of sound are from the 1860s).
MIN_YEAR, MAX_YEAR = 1860, 2100

EVENT_ADD = "add"
EVENT_REMOVE = "remove"


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the zone (``timestamptz``); SQLite stores naive text, so the value is
    converted to UTC on the way in and tagged as UTC on the way out. Naive input is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ModelVersion(Base):
    """A trained checkpoint whose vectors and tag scores are in the store."""

    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint("dim > 0", name="dim_positive"),
        CheckConstraint("length(checkpoint_sha256) = 64", name="sha256_length"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    checkpoint_sha256: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    concept_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Track(Base):
    """One piece of audio in the catalogue. Ids are never reused (they are the index ids)."""

    __tablename__ = "tracks"
    __table_args__ = (
        CheckConstraint("duration_seconds >= 0", name="duration_nonnegative"),
        CheckConstraint("length(content_hash) = 64", name="content_hash_length"),
        CheckConstraint("length(isrc) = 12", name="isrc_length"),
        CheckConstraint(f"year >= {MIN_YEAR} AND year <= {MAX_YEAR}", name="year_range"),
        # Unique when present: several tracks may have no ISRC (NULLs never collide).
        Index("ix_tracks_isrc", "isrc", unique=True),
        # SQLite would otherwise hand the id of a deleted last row to the next insert.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(Text, unique=True)
    title: Mapped[str | None] = mapped_column(Text)
    artist: Mapped[str | None] = mapped_column(Text)
    # NFKC + casefold + strip of ``artist``, computed in Python so that matching is the same
    # on both backends (SQLite's lower() only folds ASCII).
    artist_key: Mapped[str | None] = mapped_column(Text, index=True)
    album: Mapped[str | None] = mapped_column(Text)
    duration_seconds: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # ISRC (ISO 3901), normalised: upper case, no hyphens, 12 characters (see store.codec).
    isrc: Mapped[str | None] = mapped_column(String(12))
    year: Mapped[int | None] = mapped_column(Integer)  # release year
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    embeddings: Mapped[list[Embedding]] = relationship(
        back_populates="track", cascade="all, delete-orphan", passive_deletes=True
    )
    tag_scores: Mapped[list[TrackTag]] = relationship(
        back_populates="track", cascade="all, delete-orphan", passive_deletes=True
    )


class Tag(Base):
    """A tag name and the concept (genre, mood, ...) it belongs to."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    concept: Mapped[str] = mapped_column(Text)


class TrackTag(Base):
    """A calibrated tag probability predicted for a track by one model version."""

    __tablename__ = "track_tags"
    __table_args__ = (
        Index("ix_track_tags_tag_model_score", "tag_id", "model_version_id", "score"),
    )

    track_id: Mapped[int] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)

    track: Mapped[Track] = relationship(back_populates="tag_scores")
    tag: Mapped[Tag] = relationship()


class Embedding(Base):
    """A track's vectors from one model version, as float32 little-endian bytes.

    ``vector`` is the full-space track vector (D,); ``windows`` the per-window full-space
    vectors (n_windows, D), window ``i`` starting at ``i * hop_seconds``.
    """

    __tablename__ = "embeddings"
    __table_args__ = (
        CheckConstraint("n_windows > 0", name="n_windows_positive"),
        CheckConstraint("window_seconds > 0", name="window_seconds_positive"),
        CheckConstraint("hop_seconds > 0", name="hop_seconds_positive"),
    )

    track_id: Mapped[int] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    windows: Mapped[bytes] = mapped_column(LargeBinary)
    n_windows: Mapped[int] = mapped_column(Integer)
    window_seconds: Mapped[float] = mapped_column(Float)
    hop_seconds: Mapped[float] = mapped_column(Float)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    track: Mapped[Track] = relationship(back_populates="embeddings")


class TrackFingerprint(Base):
    """That a track's landmark fingerprint is stored (model/fingerprint.py), and its version.

    The hashes themselves are rows of :data:`fingerprint_hashes`, looked up by hash value
    when a clip is identified; a track with no row here has not been fingerprinted (it was
    stored before migration 0003, or with fingerprints switched off).
    """

    __tablename__ = "track_fingerprints"
    __table_args__ = (CheckConstraint("n_hashes >= 0", name="n_hashes_nonnegative"),)

    track_id: Mapped[int] = mapped_column(
        ForeignKey("tracks.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(SmallInteger)
    n_hashes: Mapped[int] = mapped_column(Integer)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# One row per landmark hash: (hash value, track, anchor frame). No primary key: rows are only
# ever found by hash (identification) or by track (the cascade when a track is deleted). The
# look-up index holds all three columns, so identification reads the index and never the
# table (migration 0005).
fingerprint_hashes = Table(
    "fingerprint_hashes",
    Base.metadata,
    Column("hash", Integer, nullable=False),
    Column(
        "track_id",
        Integer,
        ForeignKey("track_fingerprints.track_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("time", Integer, nullable=False),
    Index("ix_fingerprint_hashes_lookup", "hash", "track_id", "time"),
    Index("ix_fingerprint_hashes_track_id", "track_id"),
)


class IndexEvent(Base):
    """One change an index must apply, in commit order (see the module docstring)."""

    __tablename__ = "index_events"
    __table_args__ = (CheckConstraint("op IN ('add', 'remove')", name="op_valid"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    track_id: Mapped[int] = mapped_column(Integer)  # no foreign key: removed tracks are gone
    op: Mapped[str] = mapped_column(String(6))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"IndexEvent(seq={self.seq}, track_id={self.track_id}, op={self.op!r})"


class StoreState(Base):
    """The single row holding the last allocated sequence number (0: nothing written yet)."""

    __tablename__ = "store_state"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)


# Jobs (migration 0004): uploads worked in the background, one row per job and per file.
JOB_STATES = ("queued", "running", "done", "failed")
ITEM_STATES = ("queued", "done", "failed")
WEBHOOK_STATES = ("none", "pending", "delivered", "failed")


class Job(Base):
    """Files to ingest, worked by whichever process claims the job first.

    A worker claims a queued job (or a running one whose lease ran out: its worker died) by
    one conditional UPDATE, so two workers never hold it at once; it renews ``lease_until``
    after each file. Files already ``done`` are not ingested again when a job is taken over,
    and ingest is idempotent by content hash besides. ``webhook_*`` follow the delivery of
    the job's outcome to ``callback_url`` (service/jobs/webhooks.py).
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES}", name="state_valid"),
        CheckConstraint(f"webhook_state IN {WEBHOOK_STATES}", name="webhook_state_valid"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index("ix_jobs_state_lease", "state", "lease_until"),
        Index("ix_jobs_webhook_due", "webhook_state", "webhook_next_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    callback_url: Mapped[str | None] = mapped_column(Text)
    webhook_state: Mapped[str] = mapped_column(String(9), default="none")
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0)
    webhook_next_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the job's state or lease last changed (set by each such write; webhook bookkeeping
    # leaves it alone, so the webhook body and GET /jobs/{id} agree).
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list[JobItem]] = relationship(
        order_by="JobItem.position", cascade="all, delete-orphan", passive_deletes=True
    )


class JobItem(Base):
    """One uploaded file of a job: where its bytes wait (``spool``, a name under the data
    directory's jobs folder), its metadata, and what ingesting it gave."""

    __tablename__ = "job_items"
    __table_args__ = (CheckConstraint(f"state IN {ITEM_STATES}", name="state_valid"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    filename: Mapped[str | None] = mapped_column(Text)
    spool: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    track_id: Mapped[int | None] = mapped_column(Integer)  # no foreign key: tracks come and go
    created_track: Mapped[bool | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    status: Mapped[int | None] = mapped_column(SmallInteger)  # the HTTP status of ``error``


class WebhookAttempt(Base):
    """One try at delivering a job's outcome to its callback URL."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
    delivered: Mapped[bool] = mapped_column()
