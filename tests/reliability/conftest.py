"""Fixtures of the reliability tests: a deployment on the parametrized store, and a real
server per backend shared by the hostile-input and security tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine

from service.db import make_engine, upgrade
from support.audio import encode
from support.server import REPO_ROOT, Server, serve
from tests.reliability.helpers import Deployment, count_tracks, make_deployment
from tests.service.conftest import API_KEY, SR, song
from tests.utils.db import create_schema, with_search_path

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Deployment:
    """A fresh deployment (empty, migrated store; tiny encoder) under ``tmp_path``."""
    return make_deployment(tmp_path / "site", database_url)


@dataclass
class Served:
    """A running ``musicprism serve`` and what the tests need to look behind it."""

    server: Server
    deployment: Deployment
    engine: Engine  # the same store, read directly: the source of truth
    root: Path  # every file of this deployment lies under it

    @property
    def private(self) -> tuple[str, ...]:
        """Strings no answer may contain: the code's and the data's paths, the API key."""
        return (str(REPO_ROOT), str(self.root.parent), API_KEY)

    def client(self, *, key: bool = False) -> httpx2.Client:
        headers = {"X-API-Key": API_KEY} if key else {}
        return httpx2.Client(base_url=self.server.base_url, timeout=120, headers=headers)

    def state(self) -> tuple[int, int]:
        """(tracks in the store, tracks in the server's indexes)."""
        with self.client() as c:
            served = c.get("/readyz").json()["tracks"]
        return count_tracks(self.engine), served

    def ensure_tracks(self, n: int) -> list[int]:
        """Ids of at least ``n`` tracks, uploading distinct songs when there are fewer."""
        with self.client(key=True) as c:
            for i in range(n):
                r = c.get("/tracks", params={"limit": 1000})
                ids = [t["id"] for t in r.json()["tracks"]]
                if len(ids) >= n:
                    return ids
                data = encode(song(f"served-{i}-{len(ids)}", 1.5), SR, "wav")
                r = c.post("/tracks", files={"file": (f"s{i}.wav", data)}, data={"artist": "S"})
                assert r.status_code in (200, 201), r.text
            return [t["id"] for t in c.get("/tracks", params={"limit": 1000}).json()["tracks"]]


def _store_url(request: pytest.FixtureRequest, root: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'store.db'}"
    else:
        base, prefix = request.getfixturevalue("postgres_base")  # drops the schema at the end
        schema = f"{prefix}served"
        create_schema(base, schema)
        url = with_search_path(base, schema)
    upgrade(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """One server per backend for the session, with a few tracks."""
    root = tmp_path_factory.mktemp(f"served-{request.param}")
    deployment = make_deployment(root, _store_url(request, root))
    engine = make_engine(deployment.settings.resolved_database_url)
    try:
        with serve(deployment.env, root / "server.log") as server:
            served = Served(server, deployment, engine, root)
            served.ensure_tracks(4)
            yield served
            assert server.alive(), server.log()
    finally:
        engine.dispose()
