"""benchmarks/api_load.py: the synthetic catalogue, the store fill, request specs, verdicts;
benchmarks/pyspy.py: profile summaries."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch

from benchmarks import api_load
from benchmarks.pyspy import inclusive_shares, parse_raw
from layout.facets import mean_full_space
from service import store
from tests.utils.models import tiny_checkpoint


@pytest.fixture
def catalog(tmp_path):
    from service.app import build_catalog
    from service.db import upgrade
    from service.settings import Settings

    settings = Settings(data_dir=tmp_path, model_path=tiny_checkpoint(tmp_path / "m.pt"))
    upgrade(settings.resolved_database_url)
    cat = build_catalog(settings)
    cat.binding.register()  # the model version row the synthetic tracks belong to
    yield cat
    cat.close()


def test_synthetic_rows_are_what_ingest_would_store(catalog):
    rows = api_load.synthetic_rows(catalog.model, 5, seed=1)
    schema = catalog.schema
    assert rows["windows"].shape == (5, api_load.WINDOWS_PER_TRACK, schema.dim)
    for i in range(5):  # the track vector is the facet-wise mean of its windows
        np.testing.assert_allclose(rows["vectors"][i], mean_full_space(rows["windows"][i],
                                                                       schema), atol=1e-6)
    with torch.inference_mode():
        logits = catalog.model.encoder.head(torch.from_numpy(rows["vectors"]))
    np.testing.assert_allclose(rows["probs"], torch.sigmoid(logits).numpy(), atol=1e-6)
    assert np.allclose(np.linalg.norm(rows["vectors"], axis=1), 1.0, atol=1e-5)


def test_fill_synthetic_writes_tracks_vectors_and_tags(catalog):
    assert api_load.fill_synthetic(catalog, 4, seed=2) == 4
    assert api_load.fill_synthetic(catalog, 4, seed=2) == 0  # same content hashes: no dupes
    rows = api_load.synthetic_rows(catalog.model, 4, seed=2)
    with catalog.binding.session() as session:
        assert store.count_tracks(session) == 4
        ids, vectors = store.load_embeddings(
            session, model_version_id=catalog.binding.model_version_id
        )
        np.testing.assert_allclose(vectors, rows["vectors"], atol=1e-6)
        scores = store.tag_scores_for(session, track_ids=[int(ids[0])],
                                      tags=list(catalog.schema.tags),
                                      model_version_id=catalog.binding.model_version_id)
    assert list(scores[int(ids[0])].values()) == pytest.approx(rows["probs"][0].tolist(),
                                                               abs=1e-6)


def test_endpoint_requests():
    eps = api_load.endpoint_requests(list(range(1, 1001)), b"CLIP", seed=0)
    paths = [r["path"] for r in eps["GET /similar/{id}"]]
    assert len(paths) == 256 == len(set(paths))
    assert all(p.startswith("/similar/") and p.endswith("?k=10") for p in paths)
    post = eps["POST /similar"][0]
    assert b"CLIP" in base64.b64decode(post["body_b64"])
    assert post["content_type"].startswith("multipart/form-data; boundary=")


def _row(server, endpoint, c, p50, rps, errors=0, cpu=2.0):
    return {"server": server, "endpoint": endpoint, "concurrency": c, "p50_ms": p50,
            "req_per_s": rps, "errors": errors, "server_cpu_ms_per_req": cpu}


def test_verdict_checks_each_target():
    rows = [_row("s", "GET /similar/{id}", 1, 4.0, 300), _row("s", "GET /similar/{id}", 4, 9.0,
            400, cpu=2.5), _row("s", "POST /similar", 1, 100.0, 10, errors=2),
            _row("other", "GET /similar/{id}", 1, 1.0, 900, errors=5)]
    lines = api_load.verdict(rows, "s")
    assert lines[0].endswith("met (0.80x the target)")
    assert "400 req/s at best (4 clients) vs >= 500: missed (0.80x the target)" in lines[1]
    assert "at most 400 req/s and two at most 800" in lines[2]
    assert lines[3].endswith("missed (1.25x the target)")
    assert lines[4] == "s: 2 errors in all levels: missed (target: zero)"


def test_get_verdict_compares_with_the_one_thread_baseline():
    sim, tag = "GET /similar/{id}", "GET /search?tag=jazz"
    rows = [_row(api_load.DEMO, sim, 1, 0.5, 1800, cpu=0.5),
            _row(api_load.DEMO, sim, 4, 2.0, 2000, cpu=0.4),
            _row("musicprism 2 workers", sim, 1, 1.5, 700, cpu=0.7),
            _row("musicprism 2 workers", sim, 4, 3.0, 1600, cpu=0.8),
            _row("musicprism 2 workers", tag, 1, 2.5, 500, cpu=1.0)]
    lines = api_load.get_verdict(rows)
    assert lines[0] == (
        "musicprism 2 workers, GET /similar/{id}: server CPU per request 0.70 ms vs 0.50 ms "
        "(1.40x) at 1 client, 0.80 ms vs 0.40 ms (2.00x) at 4 clients against the one-thread "
        "baseline's GET /similar/{id}; <= 1.5x: missed (worst 2.00x)")
    assert lines[1] == ("musicprism 2 workers, GET /similar/{id}: p50 1.50 ms at 1 client vs "
                        "<= 2 ms: met")
    assert lines[2] == ("musicprism 2 workers, GET /similar/{id}: 1,600 req/s at best (4 clients) "
                        "vs >= 1,500: met (1.07x the target)")
    assert lines[3].endswith("(2.00x) at 1 client against the one-thread baseline's "
                             "GET /similar/{id}; <= 1.5x: missed (worst 2.00x)")
    assert lines[4].endswith("p50 2.50 ms at 1 client vs <= 2 ms: missed")
    assert api_load.get_verdict([r for r in rows if r["server"] != api_load.DEMO]) == []


def test_pyspy_inclusive_shares():
    raw = ["a (m.py:1);b (m.py:2);c (n.py:3) 6", "a (m.py:1);d (n.py:9) 3", "",
           "a (m.py:1);b (m.py:2);b (m.py:5) 1"]
    stacks = parse_raw(raw)
    assert stacks[1] == (["a (m.py:1)", "d (n.py:9)"], 3)
    shares = inclusive_shares(stacks, [("a", "a (m.py"), ("b", "b (m.py"), ("c", "c (")])
    assert shares == {"a": 1.0, "b": 0.7, "c": 0.6}  # recursion in b counted once
    with pytest.raises(ValueError, match="no samples"):
        inclusive_shares([], [("a", "a")])
