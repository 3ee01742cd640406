"""Identification reads its rows from the index alone: ``fingerprint_hashes`` is looked up by
``(hash, track_id, time)`` instead of ``(hash)``.

A clip's look-up returns every stored row that shares one of its ~800 hashes: 31,000 rows at
10,000 tracks of synthetic audio (benchmarks/results/post_similar_stages.md). With an index on
the hash alone each row is then fetched from the table, a random read apiece (SQLite: 96-140
ms for those rows); with the track and the time in the index the look-up never touches the
table (17-24 ms). The index grows by the two columns; the table stays as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_fingerprint_hashes_lookup", "fingerprint_hashes",
                    ["hash", "track_id", "time"])
    op.drop_index("ix_fingerprint_hashes_hash", table_name="fingerprint_hashes")


def downgrade() -> None:
    op.create_index("ix_fingerprint_hashes_hash", "fingerprint_hashes", ["hash"])
    op.drop_index("ix_fingerprint_hashes_lookup", table_name="fingerprint_hashes")
