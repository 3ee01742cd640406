"""GET /tracks/{id}/vectors on SQLite and PostgreSQL: the served vectors, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from tests.service.conftest import Catalogue


def test_the_vectors_are_the_stored_ones(catalogue: Catalogue) -> None:
    track_id = catalogue.ids["gamma"]
    body = catalogue.client.get(f"/tracks/{track_id}/vectors",
                                params={"windows": "true"}).json()
    catalog = catalogue.client.app.state.catalog  # type: ignore[attr-defined]
    stored = catalog.queries.windows_of(track_id)
    np.testing.assert_array_equal(np.array(body["vector"], np.float32), stored.vector)
    np.testing.assert_array_equal(np.array(body["vector"], np.float32),
                                  catalog.queries.vector_of(track_id))  # what the index serves
    np.testing.assert_array_equal(np.array(body["windows"], np.float32), stored.windows)
    assert body["model"] == catalog.model.version and body["dim"] == len(body["vector"])
    assert np.linalg.norm(body["vector"]) == pytest.approx(1.0, abs=1e-5)
    joined = np.concatenate([body["facets"][f.name] for f in catalog.schema.facets])
    np.testing.assert_array_equal(joined, body["vector"])
    assert body["hop_seconds"] == stored.hop_seconds
    assert catalogue.client.get(f"/tracks/{track_id}/vectors").json()["windows"] is None


@pytest.mark.parametrize(("url", "status", "detail"), [
    ("/tracks/999/vectors", 404, "track 999 not found"),
    ("/tracks/-1/vectors", 422, "greater than or equal to 1"),
    ("/tracks/1/vectors?windows=many", 422, "windows"),
    ("/tracks/1/vectors?format=npy", 422, "unknown query parameter 'format'"),
])
def test_bad_requests(catalogue: Catalogue, url: str, status: int, detail: str) -> None:
    r = catalogue.client.get(url)
    assert r.status_code == status and detail in r.json()["detail"], r.text
