"""Dependencies run on the event loop: a plain ``def`` dependency would cost a thread-pool hop
per request (benchmarks/api_load.py measured two such hops at about a fifth of the CPU of
GET /similar/{id})."""

from __future__ import annotations

import fastapi.dependencies.utils
import fastapi.routing
import pytest

from tests.service.conftest import API_KEY, Catalogue


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the callables FastAPI hands to the thread pool, in order."""
    seen: list[str] = []
    real = fastapi.routing.run_in_threadpool

    async def counting(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(getattr(kwargs.get("function"), "__name__", getattr(func, "__name__", "?")))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "run_in_threadpool", counting)
    monkeypatch.setattr(fastapi.dependencies.utils, "run_in_threadpool", counting)
    return seen


def test_similar_by_id_hops_to_the_thread_pool_only_for_the_route(
    catalogue: Catalogue, hops: list[str]
):
    r = catalogue.client.get(f"/similar/{catalogue.ids['alpha']}?k=3")
    assert r.status_code == 200
    # The route itself only: no dependency, and no validation of its response (it returns
    # the serialised body, routes/common.py json_response).
    assert hops == ["similar_to_track"]


def test_tag_search_hops_to_the_thread_pool_only_for_the_route(
    catalogue: Catalogue, hops: list[str]
):
    r = catalogue.client.get("/search?tag=rock&k=3")
    assert r.status_code == 200
    assert hops == ["search"]


def test_write_access_still_checked_on_the_loop(catalogue: Catalogue, hops: list[str]):
    tid = catalogue.ids["beta"]
    assert catalogue.client.delete(f"/tracks/{tid}").status_code == 401
    r = catalogue.client.delete(f"/tracks/{tid}", headers={"X-API-Key": "wrong"})
    assert (r.status_code, r.json()["detail"]) == (403, "invalid API key")
    r = catalogue.client.delete(f"/tracks/{tid}", headers={"X-API-Key": API_KEY})
    assert r.status_code in (200, 204)
    assert "require_api_key" not in hops
