"""A served catalogue and a headless Chromium for the page's browser tests (session-wide:
built once, in about 20 s, the first time a browser test asks for them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Browser, Page

from support.server import Server, serve
from tests.web.browser import LAPTOP, Watch, chromium
from tests.web.catalogue import Piece, cut, ingest, write_pieces

API_KEY = "web-test-key-0123456789"


@dataclass
class Served:
    server: Server
    api: httpx2.Client
    pieces: list[Piece]
    ids: dict[str, int]  # title -> track id
    clip: Path  # 4 s cut from "Study 5", from 2.0 s
    shots: Path  # where the journeys' screenshots go


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("web")
    data = root / "data"
    env = {
        "MUSICPRISM_DATA_DIR": str(data),
        "MUSICPRISM_API_KEY": API_KEY,
        "MUSICPRISM_LOG_LEVEL": "warning",
    }
    pieces = write_pieces(root / "music")
    ingest(root / "music", env)
    clip = cut(pieces[4].samples, 2.0, 4.0, root / "clip-from-study-5.wav")
    with serve(env, root / "server.log") as server, httpx2.Client(
        base_url=server.base_url, timeout=30.0
    ) as api:
        tracks = api.get("/tracks").json()["tracks"]
        ids = {t["title"]: t["id"] for t in tracks}
        yield Served(server, api, pieces, ids, clip, root / "screenshots")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def watch(served: Served) -> Watch:
    return Watch(origin=served.server.base_url)


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (no cookies, no storage) at laptop size; after the test, the
    page must have logged no error and asked nothing of any other origin."""
    context = browser.new_context(viewport=LAPTOP)
    p = context.new_page()
    watch.attach(p)
    yield p
    context.close()
    assert watch.errors == [], f"the page logged errors: {watch.errors}"
    assert watch.foreign == [], f"the page reached past its server: {watch.foreign}"
