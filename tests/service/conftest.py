"""A real app over a real store (SQLite and PostgreSQL), a small real encoder and real audio."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.db import upgrade
from service.settings import Settings
from support.audio import encode, synth_music
from tests.utils.db import create_schema, drop_schema, with_search_path
from tests.utils.models import tiny_checkpoint

API_KEY = "test-key-0123456789abcdef"
SR = 16_000


@dataclass
class Catalogue:
    client: TestClient
    settings: Settings
    ids: dict[str, int]
    audio: dict[str, np.ndarray]


def song(name: str, seconds: float = 4.0) -> np.ndarray:
    """A reproducible synthetic piece per name (the seed is derived from the name)."""
    seed = zlib.crc32(name.encode())
    return synth_music(seconds, SR, seed=seed)


SONGS = {
    "alpha": ("Alpha", "Ann"),
    "beta": ("Beta", "Ann"),
    "gamma": ("Gamma", "Bob"),
    "delta": ("Delta", "Bob"),
    "eps": ("Epsilon", "Cy"),
    "zeta": ("Zeta", "O'Brien; DROP TABLE tracks; --"),
}


def make_settings(tmp_path: Path, database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_path=tiny_checkpoint(tmp_path / "model.pt"),
        api_key=API_KEY,
        max_upload_bytes=2_000_000,
        max_audio_seconds=60.0,
        min_audio_seconds=0.5,
        max_k=50,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def upload(client: TestClient, data: bytes, name: str = "clip.wav", **form: str):
    return client.post(
        "/tracks",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers={"X-API-Key": API_KEY},
    )


@pytest.fixture
def catalogue(tmp_path: Path, database_url: str) -> Iterator[Catalogue]:
    settings = make_settings(tmp_path, database_url)
    with TestClient(create_app(settings)) as client:
        ids, audio = {}, {}
        for key, (title, artist) in SONGS.items():
            audio[key] = song(key)
            r = upload(
                client, encode(audio[key], SR, "flac"), f"{key}.flac", title=title, artist=artist
            )
            assert r.status_code == 201, r.text
            ids[key] = r.json()["track"]["id"]
        yield Catalogue(client=client, settings=settings, ids=ids, audio=audio)


_numbers = itertools.count()


@pytest.fixture
def other_url(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[str]:
    """A second migrated, empty store of the same backend (another file or schema)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'other.db'}"
        upgrade(url)
        yield url
        return
    base, prefix = request.getfixturevalue("postgres_base")
    schema = f"{prefix}other_{next(_numbers)}"
    create_schema(base, schema)
    url = with_search_path(base, schema)
    upgrade(url)
    yield url
    drop_schema(base, schema)
