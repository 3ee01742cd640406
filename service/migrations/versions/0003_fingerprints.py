"""Landmark fingerprints, to identify the recording a query clip was cut from.

- ``track_fingerprints``: one row per fingerprinted track (its fingerprint version and hash
  count); deleted with the track.
- ``fingerprint_hashes``: one row per hash (value, track, anchor frame), indexed by value for
  lookup and by track for the cascade; deleted with the track's ``track_fingerprints`` row.

Tracks stored before this migration have no fingerprint: ``musicprism ingest`` over the same
files adds it (the audio is recognised by its content hash and not embedded again).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "track_fingerprints",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("n_hashes", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("n_hashes >= 0", name="ck_track_fingerprints_n_hashes_nonnegative"),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name="fk_track_fingerprints_track_id_tracks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("track_id", name="pk_track_fingerprints"),
    )
    op.create_table(
        "fingerprint_hashes",
        sa.Column("hash", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["track_fingerprints.track_id"],
            name="fk_fingerprint_hashes_track_id_track_fingerprints",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_fingerprint_hashes_hash", "fingerprint_hashes", ["hash"])
    op.create_index("ix_fingerprint_hashes_track_id", "fingerprint_hashes", ["track_id"])


def downgrade() -> None:
    op.drop_index("ix_fingerprint_hashes_track_id", table_name="fingerprint_hashes")
    op.drop_index("ix_fingerprint_hashes_hash", table_name="fingerprint_hashes")
    op.drop_table("fingerprint_hashes")
    op.drop_table("track_fingerprints")
