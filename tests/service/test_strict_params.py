"""Parameters that a route does not take, or values it cannot use, are a 422 that says why
(never silently ignored), on every API route; SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from service.api.strict import StrictRoute
from service.app import ROUTERS
from support.audio import encode
from tests.conftest import BACKENDS
from tests.service.conftest import API_KEY, SR, song
from tests.service.shelf import Shelf, open_shelf

SIMILAR_PARAMS = (
    "facet, k, regions, exclude, exclude_artist, artist, album, isrc, year_min, year_max, "
    "duration_min, duration_max, tag, tag_mode, tag_threshold"
)
CLIP_FIELDS = (
    "file, start, duration, facet, k, identify, regions, exclude, exclude_artist, artist, album, "
    "isrc, year_min, year_max, duration_min, duration_max, tag, tag_mode, tag_threshold"
)
NUMBER = "is not an integer in ASCII digits (e.g. 42)"
DECIMAL = "is not a plain decimal number in ASCII digits (e.g. 0.7 or 1e-3)"


@pytest.fixture(scope="module", params=BACKENDS)
def shelf(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    yield from open_shelf(request, tmp_path_factory)


def test_unknown_filter_is_refused_naming_the_valid_ones(shelf: Shelf):
    r = shelf.client.get(f"/similar/{shelf.ids['a1']}", params={"year": 1990})
    assert r.status_code == 422
    assert r.json() == {
        "detail": f"unknown query parameter 'year'; valid query parameters: {SIMILAR_PARAMS}"
    }


def test_every_api_route_refuses_unknown_query_parameters(shelf: Shelf):
    spec = shelf.client.get("/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    routes = [r for module in ROUTERS for r in module.router.routes]
    assert all(isinstance(r, StrictRoute) for r in routes)
    served = {(m, r.path) for r in routes for m in r.methods}
    assert documented <= served and len(served) >= 14
    tid = shelf.ids["b3"]
    for method, path in sorted(served):
        url = (path.replace("{track_id}", str(tid)).replace("{job_id}", "1")
               + "?Year=1990&tag_mod=any")
        r = shelf.client.request(method, url, headers={"X-API-Key": API_KEY})
        assert r.status_code == 422, (method, path, r.text)
        if method != "HEAD":
            detail = r.json()["detail"]
            assert detail.startswith("unknown query parameters 'Year', 'tag_mod'; "), detail
            assert "valid query parameters: " in detail or "takes no query" in detail
    assert shelf.client.get(f"/tracks/{tid}").status_code == 200  # nothing was deleted


def test_many_or_long_unknown_names_are_named_briefly(shelf: Shelf):
    tid = shelf.ids["a1"]
    r = shelf.client.get(f"/similar/{tid}?" + "&".join(f"p{i}=1" for i in range(2000)))
    assert r.status_code == 422
    assert r.json()["detail"].startswith(
        "unknown query parameters 'p0', 'p1', 'p2', 'p3', 'p4' (and 1995 more); valid query "
        "parameters: facet, k, "
    )
    r = shelf.client.get(f"/similar/{tid}?{'x' * 5000}=1")
    assert r.json()["detail"].startswith(f"unknown query parameter '{'x' * 40}...'; valid ")
    assert len(r.text) < 400


def test_unknown_form_field_is_refused(shelf: Shelf):
    data = encode(song("q", 1.0), SR, "wav")
    r = shelf.client.post("/similar", files={"file": ("q.wav", data)},
                          data={"year": "1990", "k": "3"})
    assert r.status_code == 422
    assert r.json() == {"detail": f"unknown form field 'year'; valid form fields: {CLIP_FIELDS}"}


def test_unknown_upload_field_is_refused_and_nothing_is_stored(shelf: Shelf):
    before = shelf.client.get("/tracks").json()["total"]
    r = shelf.client.post(
        "/tracks", files={"file": ("n.wav", encode(song("new", 1.0), SR, "wav"))},
        data={"title": "New", "genre": "jazz"}, headers={"X-API-Key": API_KEY},
    )
    assert r.status_code == 422
    assert r.json()["detail"].startswith("unknown form field 'genre'; valid form fields: file, ")
    assert shelf.client.get("/tracks").json()["total"] == before


@pytest.mark.parametrize(
    "query, detail",
    [
        ("k=5&k=6", "query parameter 'k' is given 2 times; it takes one value"),
        ("year_min=1990&year_min=1991",
         "query parameter 'year_min' is given 2 times; it takes one value"),
        ("year_min=abc", f"query.year_min: 'abc' {NUMBER}"),
        ("year_min=", f"query.year_min: '' {NUMBER}"),
        ("year_min=1800", "query.year_min: Input should be greater than or equal to 1860"),
        ("year_max=99999999999999999999",
         "query.year_max: Input should be less than or equal to 2100"),
        ("year_min=2000&year_max=1990", "invalid year_max 1990: is below year_min 2000"),
        ("duration_min=5&duration_max=1", "invalid duration_max 1.0: is below duration_min 5.0"),
        ("duration_min=-1", "query.duration_min: Input should be greater than or equal to 0"),
        ("duration_max=nan", f"query.duration_max: 'nan' {DECIMAL}"),
        ("duration_min=1e400", f"query.duration_min: '1e400' {DECIMAL}, within the range of a "
                               "double"),
        ("tag_mode=xor", "query.tag_mode: Input should be 'all' or 'any'"),
        ("tag_mode=", "query.tag_mode: Input should be 'all' or 'any'"),
        ("tag_threshold=1.5", "query.tag_threshold: Input should be less than or equal to 1"),
        ("tag=nope", "unknown tag 'nope'; valid tags: baroque, calm, chorale, drums, folk song, "
                     "happy, jazz, modern, piano, rock, sad, strings"),
        ("artist=", "query.artist.0: String should have at least 1 character"),
        ("album=" + "x" * 501, "query.album.0: String should have at most 500 characters"),
        ("isrc=", "query.isrc.0: String should have at least 1 character"),
        ("isrc=NOTANISRC", "invalid ISRC 'NOTANISRC': must be an ISRC: 12 characters"),
        ("&".join(["artist=a"] * 101),
         "query.artist: List should have at most 100 items after validation, not 101"),
        ("&".join(f"exclude={i}" for i in range(1, 102)),
         "query.exclude: List should have at most 100 items after validation, not 101"),
        ("exclude=abc", f"query.exclude.0: 'abc' {NUMBER}"),
    ],
)
def test_bad_filter_values_are_clear_422s(shelf: Shelf, query, detail):
    r = shelf.client.get(f"/similar/{shelf.ids['a1']}?{query}")
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith(detail), r.json()["detail"]
    if "tag" not in query:  # the same parameters on /search, from the same declaration
        r = shelf.client.get(f"/search?tag=jazz&{query}")
        assert r.status_code == 422 and r.json()["detail"].startswith(detail)


def test_bad_filter_values_in_a_form_are_clear_422s(shelf: Shelf):
    data = encode(song("q", 1.0), SR, "wav")
    r = shelf.client.post("/similar", files={"file": ("q.wav", data)},
                          data={"year_min": "2000", "year_max": "1990"})
    assert r.status_code == 422
    assert r.json() == {"detail": "invalid year_max 1990: is below year_min 2000"}
    r = shelf.client.post("/similar", files={"file": ("q.wav", data)}, data={"tag_mode": "or"})
    assert r.json() == {"detail": "tag_mode: Input should be 'all' or 'any'"}


@pytest.mark.parametrize("query", ["artist=a%00b", "album=%00", "artist=%ED%A0%80",
                                   "album=" + "%F0%9F%8E%B5" * 100])
def test_values_no_track_can_hold_match_nothing(shelf: Shelf, query):
    r = shelf.client.get(f"/similar/{shelf.ids['a1']}?{query}")
    assert r.status_code == 200, r.text
    assert r.json()["results"] == []
