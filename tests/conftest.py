"""Database fixtures shared by every test package.

``database_url`` is parametrized over SQLite (a copy of a migrated file in ``tmp_path``)
and PostgreSQL (a schema private to this test session in the database named by
``MUSICPRISM_TEST_POSTGRES_URL``, migrated once and emptied before each test); either way a
test starts from an empty store at the head revision. ``empty_database_url`` is the same
over a database that has not been migrated (a fresh schema per test on PostgreSQL).
The session's schemas are dropped at its end.

PostgreSQL params are skipped, with the reason, when the variable is unset; when it is set
and the server can't be reached they fail: CI must not go green without having tested
PostgreSQL.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from service.db import make_engine, make_session_factory, upgrade
from tests.utils.db import (
    POSTGRES_URL_ENV,
    check_postgres,
    create_schema,
    drop_schema,
    drop_schemas,
    empty_store,
    postgres_base_url,
    with_search_path,
)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo what a test's in-process CLI run did to logging (``dictConfig`` installs handlers
    on streams that pytest closes after the test; later log calls would then fail to write)."""
    manager = logging.Logger.manager
    before = {name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled)
              for name, lg in manager.loggerDict.items() if isinstance(lg, logging.Logger)}
    root = (logging.root.handlers[:], logging.root.level)
    yield
    logging.root.handlers[:], logging.root.level = root[0], root[1]
    for name, lg in list(manager.loggerDict.items()):
        if not isinstance(lg, logging.Logger):
            continue
        handlers, level, propagate, disabled = before.get(name, ([], logging.NOTSET, True,
                                                                 False))
        lg.handlers[:], lg.level, lg.propagate, lg.disabled = (handlers, level, propagate,
                                                                disabled)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_base() -> Iterator[tuple[str, str]]:
    """``(base URL, schema prefix)`` for this test session; drops its schemas at the end."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: PostgreSQL tests not run")
    try:
        check_postgres(base)
    except OperationalError as e:
        shown = make_url(base).render_as_string()  # password hidden
        pytest.fail(f"{POSTGRES_URL_ENV}={shown} is set but PostgreSQL can't be reached: {e}")
    prefix = f"mp_{uuid.uuid4().hex[:16]}_"
    yield base, prefix
    drop_schemas(base, prefix)


@pytest.fixture(scope="session")
def _schema_numbers() -> Iterator[int]:
    """0, 1, 2, ...: numbers the per-test PostgreSQL schemas."""
    return count()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgres"``."""
    return str(request.param)


@pytest.fixture
def empty_database_url(
    request: pytest.FixtureRequest, backend: str, tmp_path: Path, _schema_numbers: Iterator[int]
) -> Iterator[str]:
    """A URL to an empty database of ``backend``, not migrated, private to this test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base, prefix = request.getfixturevalue("postgres_base")
    schema = f"{prefix}{next(_schema_numbers)}"
    create_schema(base, schema)
    yield with_search_path(base, schema)
    drop_schema(base, schema)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per session; tests get copies (faster)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "store.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_migrated(postgres_base: tuple[str, str]) -> Iterator[tuple[str, Engine]]:
    """A schema migrated to head once per session, and an engine to empty it between tests.

    Emptying (TRUNCATE ... RESTART IDENTITY) costs a few ms; a fresh schema plus migration
    costs ~0.3 s per test.
    """
    base, prefix = postgres_base
    schema = f"{prefix}head"
    create_schema(base, schema)
    url = with_search_path(base, schema)
    upgrade(url)
    admin = make_engine(url)
    yield url, admin
    admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A URL to a database of ``backend`` migrated to head, empty at the start of the test.

    SQLite: a copy of a migrated file in ``tmp_path``. PostgreSQL: this session's private
    schema, emptied before the test (tests in one session run one after another).
    """
    if backend == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url, admin = request.getfixturevalue("_postgres_migrated")
    empty_store(admin)
    return str(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on ``database_url`` (service.db.make_engine), disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    """The service's session factory on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session on the test database, closed after the test."""
    with session_factory() as s:
        yield s
