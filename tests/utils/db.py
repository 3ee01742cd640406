"""Test databases (a SQLite file, or a private PostgreSQL schema) and store factories.

PostgreSQL tests share one database (``test``) with other runs, so each test gets its own
schema, ``mp_<session hex>_<n>``, selected through the connection's ``search_path`` carried
in the URL itself (``?options=-csearch_path%3D...``): any code given the URL, Alembic and
the service included, then works inside that schema and nowhere else.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

import numpy as np
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from service import store
from service.db import head_revision
from service.models import ModelVersion

POSTGRES_URL_ENV = "MUSICPRISM_TEST_POSTGRES_URL"
# DDL on a schema waits at most this long for a lock (a leaked open transaction) and fails.
LOCK_TIMEOUT = "10s"

STORE_TABLES = {
    "model_versions",
    "tracks",
    "tags",
    "track_tags",
    "embeddings",
    "index_events",
    "jobs",
    "job_items",
    "webhook_attempts",
    "store_state",
    "track_fingerprints",
    "fingerprint_hashes",
}


def postgres_base_url() -> str | None:
    """The PostgreSQL URL tests may use, or None when the variable is unset or empty."""
    return os.environ.get(POSTGRES_URL_ENV) or None


def with_search_path(url: str, schema: str) -> str:
    """``url`` with every connection's ``search_path`` set to ``schema`` (only).

    Commits are also made asynchronous (``synchronous_commit=off``): a test database need
    not survive a power cut, and waiting for the disk on every commit makes tests slow.
    """
    options = f"-csearch_path={schema} -csynchronous_commit=off"
    return (
        make_url(url).update_query_dict({"options": options}).render_as_string(hide_password=False)
    )


def _admin_engine(base_url: str) -> Engine:
    return create_engine(base_url, poolclass=NullPool, connect_args={"connect_timeout": 10})


def check_postgres(base_url: str) -> None:
    """Connect once; raises the driver's OperationalError if the server can't be reached."""
    engine = _admin_engine(base_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def create_schema(base_url: str, schema: str) -> None:
    engine = _admin_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()


def drop_schema(base_url: str, schema: str) -> None:
    """Drop (CASCADE) one schema, if it exists."""
    engine = _admin_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def drop_schemas(base_url: str, prefix: str) -> list[str]:
    """Drop (CASCADE) every schema whose name starts with ``prefix``; returns their names."""
    engine = _admin_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
            names = conn.scalars(
                text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :p)"),
                {"p": prefix},
            ).all()
            for name in names:
                conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        return list(names)
    finally:
        engine.dispose()


def empty_store(engine: Engine) -> None:
    """Delete every row and restart id sequences: a just-migrated store (PostgreSQL).

    Raises:
        RuntimeError: the schema is not at the head revision (a test changed it).
    """
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if version != head_revision():
            raise RuntimeError(f"test schema is at revision {version}, not {head_revision()}")
        # DELETE, not TRUNCATE: on tables this small it is several times faster.
        for table in ("webhook_attempts", "job_items", "jobs", "fingerprint_hashes",
                      "track_fingerprints", "track_tags", "embeddings", "index_events", "tracks",
                      "tags"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM model_versions"))
        for table in ("tracks", "tags", "model_versions", "jobs", "webhook_attempts"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1, false)"))
        conn.execute(text("UPDATE store_state SET seq = 0"))


def table_names(url: str) -> set[str]:
    """Tables in the database (PostgreSQL: in the URL's schema)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def count_rows(session: Session, table: str, **where: Any) -> int:
    """``SELECT count(*) FROM table WHERE k = :k ...`` (table and keys are test constants)."""
    clause = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    return int(
        session.execute(text(f"SELECT count(*) FROM {table} WHERE {clause}"), where).scalar_one()
    )


# --- factories ------------------------------------------------------------------------------
DIM = 8
SCHEMA = {"concepts": {"genre": ["rock", "jazz"], "mood": ["calm"]}, "facet_dim": 4}
TAG_CONCEPTS = {"rock": "genre", "jazz": "genre", "calm": "mood"}


def content_hash(n: int | str) -> str:
    """A distinct, valid sha256 hex digest per ``n``."""
    return hashlib.sha256(f"audio-{n}".encode()).hexdigest()


def model_version(session: Session, *, name: str = "test-v1", dim: int = DIM) -> ModelVersion:
    return store.get_or_create_model_version(
        session,
        name=name,
        sha256=hashlib.sha256(name.encode()).hexdigest(),
        dim=dim,
        schema=SCHEMA,
    )


EMBEDDING_KEYS = ("model_version_id", "vector", "windows", "window_seconds", "hop_seconds",
                  "tag_scores", "tag_concepts")


def split_embedding(fields: dict[str, Any]) -> dict[str, Any]:
    """Flat test fields -> ``store.create_track`` / ``put_embedding`` keyword arguments, the
    embedding keys gathered into one ``store.EmbeddingRecord``."""
    record = {k: fields[k] for k in EMBEDDING_KEYS if k in fields}
    rest = {k: v for k, v in fields.items() if k not in EMBEDDING_KEYS}
    return rest | {"embedding": store.EmbeddingRecord(**record)}


def create_track(session: Session, **fields: Any) -> tuple[Any, bool]:
    """``store.create_track`` from flat fields (see :func:`track_fields`)."""
    return store.create_track(session, **split_embedding(fields))


def put_embedding(session: Session, *, track_id: int, **fields: Any) -> int:
    """``store.put_embedding`` from flat fields."""
    return store.put_embedding(session, track_id=track_id, **split_embedding(fields))


def track_fields(
    n: int, model_version_id: int, *, dim: int = DIM, n_windows: int = 3, seed: int | None = None
) -> dict[str, Any]:
    """Flat fields of a track for :func:`create_track`: seeded random vectors, tags, metadata."""
    rng = np.random.default_rng(n if seed is None else seed)
    windows = rng.standard_normal((n_windows, dim)).astype(np.float32)
    return {
        "content_hash": content_hash(n),
        "source": f"/music/{n}.flac",
        "duration_seconds": 3.0 * n_windows,
        "model_version_id": model_version_id,
        "vector": windows.mean(axis=0),
        "windows": windows,
        "window_seconds": 3.0,
        "title": f"Track {n}",
        "artist": f"Artist {n % 3}",
        "album": "Album",
        "tag_scores": {"rock": float(rng.random()), "jazz": float(rng.random()), "calm": 0.5},
        "tag_concepts": TAG_CONCEPTS,
    }
