"""GET /tracks/{id}/tags/timeline on SQLite and PostgreSQL: each window's tag probabilities
are what the network gives that window of the audio, and their mean is the track's stored
tag score."""

from __future__ import annotations

import numpy as np
import pytest

from model.audio import decode
from model.audio import windows as frame_windows
from model.checkpoint import load_checkpoint
from model.embed import Embedder
from support.audio import encode
from tests.service.conftest import SR, Catalogue


def test_each_window_is_scored_as_the_network_scores_it(catalogue: Catalogue) -> None:
    track_id = catalogue.ids["alpha"]
    r = catalogue.client.get(f"/tracks/{track_id}/tags/timeline")
    assert r.status_code == 200, r.text
    body = r.json()
    model = load_checkpoint(catalogue.settings.model_path)
    embedder = Embedder(model)
    uploaded = decode(encode(catalogue.audio["alpha"], SR, "flac"), sample_rate=SR,
                      max_seconds=60).samples  # what the catalogue decoded (16-bit FLAC)
    frames = frame_windows(uploaded, SR, embedder.window_seconds, embedder.hop_seconds)
    _, probs = embedder.embed_windows(frames)  # (W, T) sigmoid(head(z)) of each window
    windows = body["windows"]
    assert body["track_id"] == track_id and len(windows) == len(frames) >= 2
    assert body["hop_seconds"] == embedder.hop_seconds
    assert [w["start"] for w in windows] == pytest.approx(
        [i * embedder.hop_seconds for i in range(len(frames))])
    tags = list(model.schema.tags)
    got = np.array([[w["tags"][t] for t in tags] for w in windows])
    np.testing.assert_allclose(got, probs, atol=2e-5)

    stored = catalogue.client.get(f"/tracks/{track_id}").json()["tags"]
    for concept_tags in stored.values():
        for entry in concept_tags:
            assert got[:, tags.index(entry["tag"])].mean() == pytest.approx(entry["score"],
                                                                            abs=2e-5)


def test_one_concept_only(catalogue: Catalogue) -> None:
    model = load_checkpoint(catalogue.settings.model_path)
    concept = next(iter(model.schema.concepts))
    r = catalogue.client.get(f"/tracks/{catalogue.ids['beta']}/tags/timeline",
                             params={"concept": concept})
    assert r.status_code == 200
    assert all(set(w["tags"]) == set(model.schema.concepts[concept])
               for w in r.json()["windows"])


@pytest.mark.parametrize(("url", "status", "detail"), [
    ("/tracks/999/tags/timeline", 404, "track 999 not found"),
    ("/tracks/0/tags/timeline", 422, "greater than or equal to 1"),
    ("/tracks/1/tags/timeline?concept=nope", 422, "valid concepts: "),
    ("/tracks/1/tags/timeline?concept=" + "x" * 101, 422, "at most 100 characters"),
    ("/tracks/1/tags/timeline?top=3", 422, "unknown query parameter 'top'"),
])
def test_bad_requests(catalogue: Catalogue, url: str, status: int, detail: str) -> None:
    r = catalogue.client.get(url)
    assert r.status_code == status and detail in r.json()["detail"], r.text
