"""Initial schema: model versions, tracks, tags, tag scores, embeddings, index change log.

Hand-written. Constraint names follow service.models.NAMING_CONVENTION (given in full with
``op.f`` so the convention is not applied twice). See service/models.py for what each table
means and why sequence numbers come from ``store_state`` rather than an autoincrement.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created() -> sa.Column[object]:
    return sa.Column("created", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("checkpoint_sha256", sa.String(length=64), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("concept_schema", sa.JSON(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_model_versions_name")),
        sa.CheckConstraint("dim > 0", name=op.f("ck_model_versions_dim_positive")),
        sa.CheckConstraint(
            "length(checkpoint_sha256) = 64", name=op.f("ck_model_versions_sha256_length")
        ),
    )
    op.create_table(
        "tracks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("artist", sa.Text(), nullable=True),
        sa.Column("artist_key", sa.Text(), nullable=True),
        sa.Column("album", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
        sa.UniqueConstraint("external_id", name=op.f("uq_tracks_external_id")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_tracks_content_hash")),
        sa.CheckConstraint("duration_seconds >= 0", name=op.f("ck_tracks_duration_nonnegative")),
        sa.CheckConstraint("length(content_hash) = 64", name=op.f("ck_tracks_content_hash_length")),
        # Track ids are index ids: SQLite must never reuse the id of a deleted last row.
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_tracks_artist_key"), "tracks", ["artist_key"])
    op.create_table(
        "tags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("concept", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tags")),
        sa.UniqueConstraint("name", name=op.f("uq_tags_name")),
    )
    op.create_table(
        "track_tags",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "track_id", "tag_id", "model_version_id", name=op.f("pk_track_tags")
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_track_tags_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name=op.f("fk_track_tags_tag_id_tags")),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_track_tags_model_version_id_model_versions"),
        ),
    )
    # Serves "tracks whose score for tag T (model M) exceeds x".
    op.create_index(
        "ix_track_tags_tag_model_score", "track_tags", ["tag_id", "model_version_id", "score"]
    )
    op.create_table(
        "embeddings",
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("windows", sa.LargeBinary(), nullable=False),
        sa.Column("n_windows", sa.Integer(), nullable=False),
        sa.Column("window_seconds", sa.Float(), nullable=False),
        sa.Column("hop_seconds", sa.Float(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("track_id", "model_version_id", name=op.f("pk_embeddings")),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_embeddings_track_id_tracks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_embeddings_model_version_id_model_versions"),
        ),
        sa.CheckConstraint("n_windows > 0", name=op.f("ck_embeddings_n_windows_positive")),
        sa.CheckConstraint(
            "window_seconds > 0", name=op.f("ck_embeddings_window_seconds_positive")
        ),
        sa.CheckConstraint("hop_seconds > 0", name=op.f("ck_embeddings_hop_seconds_positive")),
    )
    op.create_index(op.f("ix_embeddings_seq"), "embeddings", ["seq"])
    op.create_table(
        "index_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=6), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_index_events")),
        sa.CheckConstraint("op IN ('add', 'remove')", name=op.f("ck_index_events_op_valid")),
    )
    store_state = op.create_table(
        "store_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_state")),
        sa.CheckConstraint("id = 1", name=op.f("ck_store_state_single_row")),
    )
    op.bulk_insert(store_state, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    op.drop_table("store_state")
    op.drop_table("index_events")
    op.drop_index(op.f("ix_embeddings_seq"), table_name="embeddings")
    op.drop_table("embeddings")
    op.drop_index("ix_track_tags_tag_model_score", table_name="track_tags")
    op.drop_table("track_tags")
    op.drop_table("tags")
    op.drop_index(op.f("ix_tracks_artist_key"), table_name="tracks")
    op.drop_table("tracks")
    op.drop_table("model_versions")
