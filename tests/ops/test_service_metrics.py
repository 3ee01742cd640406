"""/metrics and request ids on the real app: real store (SQLite and PostgreSQL), a small real
encoder, real audio; the catalogue's hooks count ingests and time embeddings."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from support.audio import encode
from tests.service.conftest import SR, make_settings, song, upload


def integrated(tmp_path: Path) -> bool:
    return hasattr(create_app(make_settings(tmp_path, "sqlite://")).state, "metrics")


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(response.text) for s in f.samples}


def test_metrics_of_a_real_catalogue(tmp_path: Path, database_url: str) -> None:
    if not integrated(tmp_path):
        pytest.skip("create_app does not call install_observability yet")
    settings = make_settings(tmp_path, database_url)
    with TestClient(create_app(settings)) as client:
        flac = {k: encode(song(k), SR, "flac") for k in ("alpha", "beta")}
        first = upload(client, flac["alpha"], "alpha.flac", title="Alpha")
        assert first.status_code == 201
        assert upload(client, flac["beta"], "beta.flac").status_code == 201
        assert upload(client, flac["alpha"], "again.flac").status_code == 200
        assert upload(client, b"\x00not audio" * 400, "x.wav").status_code == 415
        track = first.json()["track"]["id"]
        similar = client.get(f"/similar/{track}?facet=mood&k=5",
                             headers={"X-Request-ID": "look-1"})
        assert similar.status_code == 200 and similar.headers["x-request-id"] == "look-1"
        clip = client.post("/similar", files={"file": ("q.flac", flac["beta"])})
        assert clip.status_code == 200
        got = scrape(client)
        facets = client.app.state.catalog.schema.facet_names
    assert len(facets) == 4
    sizes = {dict(k)["index"]: v for (n, k), v in got.items() if n == "musicprism_index_vectors"}
    assert sizes == {"full": 2.0, **{f: 2.0 for f in facets}}
    assert got[("musicprism_catalog_ready", ())] == 1.0
    ingests = {k: v for (n, k), v in got.items() if n == "musicprism_ingest_total"}
    assert ingests == {
        (("outcome", "added"), ("reason", "")): 2.0,
        (("outcome", "duplicate"), ("reason", "")): 1.0,
        (("outcome", "failed"), ("reason", "AudioDecodeError")): 1.0,
    }
    assert got[("musicprism_embedding_seconds_count", ())] == 3.0  # two ingests, one clip
    requests = {tuple(v for _, v in k): c for (n, k), c in got.items()
                if n == "musicprism_http_requests_total"}
    assert requests == {
        ("POST", "/tracks", "201"): 2.0,
        ("POST", "/tracks", "200"): 1.0,
        ("POST", "/tracks", "415"): 1.0,
        ("GET", "/similar/{track_id}", "200"): 1.0,
        ("POST", "/similar", "200"): 1.0,
    }
