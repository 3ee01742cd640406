"""Shared by the reliability tests: deployments (settings as a process sees them), audio
libraries, killing processes at chosen points, and the store-versus-index consistency check.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select, text

from service import store
from service.app import build_catalog
from service.catalog import Catalog
from service.models import Track
from service.settings import Settings
from support.audio import encode
from support.server import REPO_ROOT, musicprism_command, subprocess_env
from tests.service.conftest import API_KEY, SR, song
from tests.utils.models import tiny_checkpoint

# Guards against hangs only (a wedged process fails the test instead of blocking CI); no
# assertion depends on how fast anything is.
HANG_GUARD_S = 180.0


@dataclass(frozen=True)
class Deployment:
    """One musicprism installation: its settings and the same as environment variables."""

    settings: Settings
    env: dict[str, str]

    def with_data_dir(self, data_dir: Path) -> Deployment:
        """The same store and model with another data directory (indexes)."""
        settings = self.settings.model_copy(update={"data_dir": data_dir})
        return Deployment(settings, self.env | {"MUSICPRISM_DATA_DIR": str(data_dir)})


def make_deployment(root: Path, database_url: str, **overrides: object) -> Deployment:
    """A deployment under ``root`` on ``database_url`` with the tiny random encoder."""
    root.mkdir(parents=True, exist_ok=True)
    model = root / "model.pt"
    if not model.exists():
        tiny_checkpoint(model)
    values: dict[str, object] = dict(
        environment="test",
        data_dir=root / "data",
        database_url=database_url,
        model_path=model,
        api_key=API_KEY,
        max_upload_bytes=2_000_000,
        max_audio_seconds=60.0,
        min_audio_seconds=0.5,
        max_k=50,
    )
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    env = {"DATABASE_URL": database_url}
    for name, value in values.items():
        if name != "database_url":
            env[f"MUSICPRISM_{name.upper()}"] = str(value)
    return Deployment(settings, env)


# --- audio libraries ------------------------------------------------------------------------
def write_library(folder: Path, prefix: str, n: int, seconds: float = 1.0) -> dict[str, str]:
    """``n`` distinct synthetic pieces as wav / flac in two sub-folders.

    Returns:
        relative path -> sha256 of the file's bytes (what the store's content hash is).
    """
    out = {}
    for i in range(n):
        fmt = ("wav", "flac")[i % 2]
        rel = f"disc{i % 2 + 1}/{prefix}{i:02d}.{fmt}"
        data = encode(song(f"{prefix}-{i}", seconds), SR, fmt)
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(data)
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


# --- processes ------------------------------------------------------------------------------
def start_cli(deployment: Deployment, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``musicprism ARGS`` in its own process, output to ``log``."""
    with open(log, "ab") as fh:
        return subprocess.Popen(
            musicprism_command(*args),
            cwd=REPO_ROOT,
            env=subprocess_env(deployment.env),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def wait_until(condition: Callable[[], bool], what: str, poll: float = 0.01) -> None:
    """Poll ``condition`` until it holds; fail after HANG_GUARD_S."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(poll)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def count_tracks(engine) -> int:  # noqa: ANN001 - a SQLAlchemy Engine
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM tracks")).scalar_one())


# --- consistency ----------------------------------------------------------------------------
@contextmanager
def opened_catalog(deployment: Deployment) -> Iterator[tuple[Catalog, str]]:
    """A catalogue opened as the service opens it (``build_catalog`` + ``open_indexes``);
    yields it and what ``open_indexes`` said it did."""
    catalog = build_catalog(deployment.settings)
    try:
        how = catalog.open()
        yield catalog, how
    finally:
        catalog.close()


def assert_index_matches_store(catalog: Catalog) -> dict[int, Track]:
    """Every track row has a vector and is in every index; no index holds an id without a
    row; the indexed vectors are the stored ones. Returns the rows by id."""
    with catalog.binding.session() as session:
        rows = {t.id: t for t in session.scalars(select(Track).order_by(Track.id))}
        ids, vectors = store.load_embeddings(
            session, model_version_id=catalog.binding.model_version_id
        )
    assert ids.tolist() == sorted(rows), (
        f"tracks without a vector: {sorted(set(rows) - set(ids.tolist()))}"
    )
    held = catalog.indexes.index.ids()
    assert held.tolist() == ids.tolist(), (
        f"index holds {sorted(set(held.tolist()) - set(ids.tolist()))} without a row and "
        f"misses {sorted(set(ids.tolist()) - set(held.tolist()))}"
    )
    for facet in catalog.schema.facet_names:
        assert catalog.indexes.index.facet_index(facet).ids().tolist() == ids.tolist(), facet
    if len(ids):
        indexed = np.stack([catalog.indexes.index.get(int(i)) for i in ids])
        np.testing.assert_allclose(indexed, vectors, atol=1e-6)
    return rows


def snapshot_files(index_root: Path) -> dict[str, object]:
    """What lies in a snapshot root: live snapshot, snapshot dirs, leftovers of a crash."""
    if not index_root.exists():
        return {}
    names = sorted(p.name for p in index_root.iterdir())
    current = index_root / "CURRENT"
    return {
        "current": current.read_text().strip() if current.exists() else None,
        "entries": names,
        "state": json.loads((index_root / current.read_text().strip() / "meta.json").read_text())[
            "state"
        ]
        if current.exists()
        else None,
    }


# --- error bodies ---------------------------------------------------------------------------
# What must never reach a client: stack traces, source or file-system paths, SQL and driver
# errors. Each deployment adds its own private strings (its directories, its API key).
LEAK_MARKERS = (
    "Traceback",
    'File "',
    ".py\"",
    "site-packages",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "[SQL:",
    "Background on this error",
    "OperationalError",
    "IntegrityError",
    "ProgrammingError",
    "DataError",
)


def assert_clean_error(status: int, content_type: str, text: str, private: tuple[str, ...]) -> None:
    """An error answer is JSON ``{"detail": "<words>"}`` and gives nothing away."""
    assert 400 <= status < 500, f"{status}: {text[:500]}"
    assert content_type.startswith("application/json"), f"{status} {content_type}: {text[:500]}"
    body = json.loads(text)
    assert isinstance(body, dict) and list(body) == ["detail"], text[:500]
    assert isinstance(body["detail"], str) and body["detail"], text[:500]
    leaked = [m for m in (*LEAK_MARKERS, *private) if m in text]
    assert not leaked, f"error body gives away {leaked}: {text[:500]}"
