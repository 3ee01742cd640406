"""The OpenAPI answer examples (service/api/examples.py): each is shown on its route, is a valid
answer of the route's response model, and agrees with itself, so an example cannot drift from
what the route answers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from service.api import examples
from service.app import create_app
from service.schemas import ImportResult, SimilarResponse, TagTimelinePublic, TrackVectors
from service.settings import Settings

ROUTES = [
    ("/similar/{track_id}", "get", SimilarResponse, examples.SIMILAR_TO_TRACK),
    ("/similar/query", "post", SimilarResponse, examples.SIMILAR_TO_SEEDS),
    ("/tracks/{track_id}/tags/timeline", "get", TagTimelinePublic, examples.TAG_TIMELINE),
    ("/tracks/{track_id}/vectors", "get", TrackVectors, examples.TRACK_VECTORS),
    ("/admin/import", "post", ImportResult, examples.IMPORT_RESULT),
]


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))  # no lifespan
    return TestClient(app).get("/openapi.json").json()


@pytest.mark.parametrize(("path", "method", "model", "example"), ROUTES,
                         ids=[f"{m} {p}" for p, m, _, _ in ROUTES])
def test_each_route_shows_its_example_as_a_valid_answer(
    spec: dict[str, Any], path: str, method: str, model: type[BaseModel], example: dict
) -> None:
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": f"#/components/schemas/{model.__name__}"}
    assert content["example"] == without_nulls(example)  # FastAPI leaves nulls out of the spec
    # Every field the model has is in the example (nothing left to a default), and it parses.
    assert model.model_validate(example).model_dump(mode="json") == example


@pytest.mark.parametrize("example", [examples.SIMILAR_TO_TRACK, examples.SIMILAR_TO_SEEDS],
                         ids=["track", "seeds"])
def test_similarity_examples_score_as_the_api_does(example: dict[str, Any]) -> None:
    weights = example["facet_weights"]
    assert math.isclose(sum(abs(w) for w in weights.values()), 1.0)
    assert len(example["results"]) == example["k"]
    scores = [r["score"] for r in example["results"]]
    assert scores == sorted(scores, reverse=True)
    for result in example["results"]:
        expected = sum(w * result["facets"][f] for f, w in weights.items())
        assert result["score"] == pytest.approx(expected, abs=5e-4)
        for region in filter(None, [result["region"], (result["region"] or {}).get("query")]):
            assert region["end"] == pytest.approx(region["start"] + region["duration"])
            assert region["duration"] <= 15.0


def test_timeline_example_steps_by_its_hop() -> None:
    t = examples.TAG_TIMELINE
    assert [w["start"] for w in t["windows"]] == [i * t["hop_seconds"]
                                                  for i in range(len(t["windows"]))]
    assert all(w["duration"] == t["window_seconds"] for w in t["windows"])
    assert all(0.0 <= p <= 1.0 for w in t["windows"] for p in w["tags"].values())


def test_vectors_example_is_a_unit_vector_made_of_its_facet_slices() -> None:
    v = examples.TRACK_VECTORS
    assert len(v["vector"]) == v["dim"]
    assert [x for part in v["facets"].values() for x in part] == v["vector"]
    assert math.isclose(math.fsum(x * x for x in v["vector"]), 1.0)
    assert all(len(w) == v["dim"] for w in v["windows"])


def test_import_example_accounts_for_every_row() -> None:
    r = examples.IMPORT_RESULT
    assert r["added"] + r["embedded"] + r["present"] == r["rows"] == len(r["ids"])
    assert len({m["track_id"] for m in r["ids"]}) == r["rows"]

