"""Tracks gain an ISRC, a release year and an ``updated`` timestamp.

- ``isrc``: the industry recording code, 12 characters (``CCXXXYYNNNNN``), stored upper-case
  without hyphens; unique when present (a unique index: several NULLs are allowed on both
  backends) and so indexed for ``GET /tracks?isrc=``.
- ``year``: release year, checked to lie in ``[1860, 2100]``.
- ``updated``: when the row last changed, NOT NULL. Existing rows are backfilled from
  ``created``: the column is added nullable, filled, then made NOT NULL.

On SQLite the NOT NULL change and the CHECK constraints need a table copy (batch mode). The
copy is described in full (``copy_from``) rather than reflected, so that the table keeps
``AUTOINCREMENT`` (track ids are index ids and must never be reused) and its named CHECK
constraints exactly as migration 0001 made them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIN_YEAR, MAX_YEAR = 1860, 2100
YEAR_CHECK = f"year >= {MIN_YEAR} AND year <= {MAX_YEAR}"
ISRC_CHECK = "length(isrc) = 12"


def _tracks_0001(metadata: sa.MetaData) -> sa.Table:
    """The tracks table as migration 0001 created it (what batch mode copies from)."""
    return sa.Table(
        "tracks",
        metadata,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("artist", sa.Text(), nullable=True),
        sa.Column("artist_key", sa.Text(), nullable=True),
        sa.Column("album", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tracks"),
        sa.UniqueConstraint("external_id", name="uq_tracks_external_id"),
        sa.UniqueConstraint("content_hash", name="uq_tracks_content_hash"),
        sa.CheckConstraint("duration_seconds >= 0", name="ck_tracks_duration_nonnegative"),
        sa.CheckConstraint("length(content_hash) = 64", name="ck_tracks_content_hash_length"),
        sa.Index("ix_tracks_artist_key", "artist_key"),
        sqlite_autoincrement=True,
    )


def _tracks_with_new_columns(metadata: sa.MetaData) -> sa.Table:
    """0001's table plus the three columns as added by step one (all nullable)."""
    table = _tracks_0001(metadata)
    table.append_column(sa.Column("isrc", sa.String(length=12), nullable=True))
    table.append_column(sa.Column("year", sa.Integer(), nullable=True))
    table.append_column(sa.Column("updated", sa.DateTime(timezone=True), nullable=True))
    return table


def _sqlite_sequence() -> int | None:
    """SQLite's AUTOINCREMENT high-water mark for tracks (None on other backends).

    A table copy restarts it from the largest id still there, so the ids of deleted last
    rows would be handed out again: it is read before the copy and restored after.
    """
    if op.get_bind().dialect.name != "sqlite":
        return None
    seq = op.get_bind().execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'tracks'"))
    return seq.scalar()


def _restore_sqlite_sequence(seq: int | None) -> None:
    if seq is not None:
        op.get_bind().execute(
            sa.text("UPDATE sqlite_sequence SET seq = max(seq, :seq) WHERE name = 'tracks'"),
            {"seq": seq},
        )


def upgrade() -> None:
    seq = _sqlite_sequence()
    with op.batch_alter_table("tracks", copy_from=_tracks_0001(sa.MetaData())) as batch:
        batch.add_column(sa.Column("isrc", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("year", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("updated", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE tracks SET updated = created")
    with op.batch_alter_table("tracks", copy_from=_tracks_with_new_columns(sa.MetaData())) as batch:
        batch.alter_column("updated", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_check_constraint(op.f("ck_tracks_isrc_length"), ISRC_CHECK)
        batch.create_check_constraint(op.f("ck_tracks_year_range"), YEAR_CHECK)
    op.create_index(op.f("ix_tracks_isrc"), "tracks", ["isrc"], unique=True)
    _restore_sqlite_sequence(seq)


def downgrade() -> None:
    seq = _sqlite_sequence()
    op.drop_index(op.f("ix_tracks_isrc"), table_name="tracks")
    metadata = sa.MetaData()
    table = _tracks_with_new_columns(metadata)
    table.c.updated.nullable = False
    table.append_constraint(sa.CheckConstraint(ISRC_CHECK, name="ck_tracks_isrc_length"))
    table.append_constraint(sa.CheckConstraint(YEAR_CHECK, name="ck_tracks_year_range"))
    with op.batch_alter_table("tracks", copy_from=table) as batch:
        batch.drop_constraint(op.f("ck_tracks_year_range"), type_="check")
        batch.drop_constraint(op.f("ck_tracks_isrc_length"), type_="check")
        batch.drop_column("updated")
        batch.drop_column("year")
        batch.drop_column("isrc")
    _restore_sqlite_sequence(seq)
