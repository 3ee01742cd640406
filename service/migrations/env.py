"""Alembic environment for the musicprism store.

The database URL is, in order: ``config.attributes["database_url"]`` (set by
service.db.upgrade), ``sqlalchemy.url`` in the config, else the service settings
(``DATABASE_URL``, or the SQLite file under ``MUSICPRISM_DATA_DIR``), so that
``alembic upgrade head`` in the deployment's migrate step targets the same database as the
service. SQLite gets batch mode, since it cannot ALTER most things in place.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from service.db import ensure_sqlite_parent
from service.models import Base
from service.settings import Settings

config = context.config
logger = logging.getLogger("alembic.env")

if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return str(url) if url else Settings().resolved_database_url


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def run_migrations_offline() -> None:
    """Write the SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    url = database_url()
    context.configure(
        url=url,
        literal_binds=True,
        target_metadata=target_metadata,
        render_as_batch=_is_sqlite(url),
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = database_url()
    ensure_sqlite_parent(url)
    # A plain engine: SQLite foreign keys stay off here, as batch mode's table copies need.
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=_is_sqlite(url),
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
