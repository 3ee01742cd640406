"""benchmarks/baseline_app.py answers what exact search answers, on a tiny catalogue."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from benchmarks.baseline_app import DEFAULT_MODEL, create_baseline_app
from layout.facets import to_full_space
from model.audio import decode
from model.checkpoint import load_checkpoint
from model.embed import Embedder
from support.audio import encode, synth_music


@pytest.fixture(scope="module")
def model():
    return load_checkpoint(DEFAULT_MODEL)


@pytest.fixture
def tiny(model):
    rng = np.random.default_rng(7)
    x = to_full_space(rng.standard_normal((12, model.schema.dim), dtype=np.float32), model.schema)
    ids = np.arange(100, 112, dtype=np.int64)
    titles = [f"t{i}" for i in ids]
    with TestClient(create_baseline_app(model, ids, x, titles)) as client:
        yield client, ids, x


def exact(x: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    """Rows by descending inner product (the catalogue has no ties)."""
    return list(np.argsort(-(x @ q), kind="stable")[:k])


def test_similar_by_id_is_exact_search_without_the_track(tiny):
    client, ids, x = tiny
    r = client.get("/similar/103?k=4")
    assert r.status_code == 200
    got = r.json()["results"]
    rows = [j for j in exact(x, x[3], 5) if j != 3][:4]
    assert [h["id"] for h in got] == [int(ids[j]) for j in rows]
    assert [h["title"] for h in got] == [f"t{ids[j]}" for j in rows]
    assert [h["score"] for h in got] == pytest.approx([float(x[j] @ x[3]) for j in rows],
                                                      abs=1e-5)


def test_similar_by_id_unknown_is_404(tiny):
    client, _, _ = tiny
    r = client.get("/similar/999")
    assert (r.status_code, r.json()["detail"]) == (404, "track 999 not found")


def test_similar_by_clip_embeds_and_searches_exactly(tiny, model):
    client, ids, x = tiny
    data = encode(synth_music(4.0, 22_050, seed=3), 22_050, "wav")
    r = client.post("/similar?k=3", files={"file": ("q.wav", data, "audio/wav")})
    assert r.status_code == 200
    q = Embedder(model).embed(decode(data, sample_rate=16_000).samples).vector
    assert [h["id"] for h in r.json()["results"]] == [int(ids[j]) for j in exact(x, q, 3)]
