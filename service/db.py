"""Engines, sessions and migrations for the store (SQLite by default, PostgreSQL).

The schema is created and changed only by Alembic (:func:`upgrade`); nothing here calls
``create_all``. Both functions that take a URL accept any SQLAlchemy URL, including a
PostgreSQL one whose query string sets connection options (``?options=-csearch_path%3Dx``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

import service

logger = logging.getLogger(__name__)

# The migrations and their alembic.ini are package data of service/ (they ship in the wheel).
MIGRATIONS_DIR = Path(service.__file__).resolve().parent / "migrations"
ALEMBIC_INI = MIGRATIONS_DIR / "alembic.ini"

# How long a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings the store relies on.

    SQLite: foreign keys enforced (``ON DELETE CASCADE`` needs it), WAL journal for a file
    database (readers do not block the writer), usable from several threads; an in-memory
    database is one shared connection. PostgreSQL: connections are checked before use.
    The parent folder of a SQLite file is created if missing.

    Args:
        url: SQLAlchemy URL.
        **kwargs: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return create_engine(parsed, **kwargs)
    connect_args = dict(kwargs.pop("connect_args", {}))
    connect_args.setdefault("check_same_thread", False)
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
    in_memory = parsed.database in (None, "", ":memory:")
    if in_memory:
        kwargs.setdefault("poolclass", StaticPool)
    else:
        ensure_sqlite_parent(url)
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect(wal=not in_memory))
    return engine


def _sqlite_on_connect(*, wal: bool) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    return on_connect


def ensure_sqlite_parent(url: str) -> None:
    """Create the folder of a SQLite database file if it is missing (other URLs: no-op)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    """The Alembic config of the shipped migrations (``ALEMBIC_INI``), targeting ``url``.

    The URL travels in ``Config.attributes`` rather than through the ini parser, so a ``%``
    in it (URL-encoded options) needs no escaping; migrations/env.py reads it from there.

    Raises:
        FileNotFoundError: the migrations are missing from the package (a broken install).
    """
    if not (MIGRATIONS_DIR / "env.py").is_file() or not ALEMBIC_INI.is_file():
        raise FileNotFoundError(f"migrations not found at {MIGRATIONS_DIR}")
    cfg = Config(str(ALEMBIC_INI))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision`` (default: the latest)."""
    ensure_sqlite_parent(url)
    logger.info("migrating %s up to %s", make_url(url).render_as_string(), revision)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"``: drop everything)."""
    logger.info("migrating %s down to %s", make_url(url).render_as_string(), revision)
    command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The Alembic revision the database at ``url`` is at (``None``: not migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The latest revision in migrations/."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS_DIR}")
    return head


class DatabaseNotMigrated(RuntimeError):
    """The database is not at the latest schema revision."""

    def __init__(self, current: str | None, head: str) -> None:
        self.current, self.head = current, head
        super().__init__(
            f"the database is at revision {current or 'none (empty)'}, the code needs {head}: "
            "run `musicprism migrate` (or `alembic -c service/migrations/alembic.ini upgrade "
            "head`) first"
        )


def assert_at_head(engine: Engine) -> None:
    """Refuse to serve a database whose schema is not at the latest revision."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = head_revision()
    if current != head:
        raise DatabaseNotMigrated(current, head)
