"""Alembic migrations on both backends: up, down, up again, and agreement with the models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from service.db import (
    MIGRATIONS_DIR,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)
from service.models import Base
from tests.utils.db import STORE_TABLES, table_names

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_head_is_the_fingerprint_lookup_index() -> None:
    assert head_revision() == "0005"
    assert MIGRATIONS_DIR == REPO_ROOT / "service" / "migrations"


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None
    upgrade(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()
    assert table_names(empty_database_url) == STORE_TABLES | {"alembic_version"}
    downgrade(empty_database_url, "base")
    assert current_revision(empty_database_url) is None
    assert table_names(empty_database_url) == {"alembic_version"}
    upgrade(empty_database_url)
    assert table_names(empty_database_url) == STORE_TABLES | {"alembic_version"}


def test_upgrade_twice_is_a_no_op(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()


def schema_diff(url: str) -> list[object]:
    """What ``alembic revision --autogenerate`` would do to bring ``url`` to the models."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_migrated_schema_matches_models(database_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations and service/models.py agree."""
    assert schema_diff(database_url) == []


def test_store_state_starts_at_zero(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, seq FROM store_state")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(1, 0)]


def test_alembic_cli_reads_database_url_from_environment(empty_database_url: str) -> None:
    """``alembic -c service/migrations/alembic.ini upgrade head`` with DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICPRISM_")}
    env["DATABASE_URL"] = empty_database_url
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "service/migrations/alembic.ini", "upgrade",
         "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert current_revision(empty_database_url) == head_revision()
    assert table_names(empty_database_url) == STORE_TABLES | {"alembic_version"}


def test_alembic_cli_defaults_to_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    """No DATABASE_URL: the settings' default, a SQLite file in MUSICPRISM_DATA_DIR."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUSICPRISM_")}
    env.pop("DATABASE_URL", None)
    env["MUSICPRISM_DATA_DIR"] = str(tmp_path / "new" / "data")
    result = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", "service/migrations/alembic.ini", "upgrade",
         "head"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    db_file = tmp_path / "new" / "data" / "musicprism.db"
    assert db_file.is_file()
    assert table_names(f"sqlite:///{db_file}") == STORE_TABLES | {"alembic_version"}
