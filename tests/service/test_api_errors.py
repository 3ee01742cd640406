"""Bad input: every error is JSON with a clear message, and a refused write changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from support.audio import encode, flac_set_total_samples, tone
from tests.service.conftest import API_KEY, SR, Catalogue, song, upload

VALID_FACETS = "valid facets: genre, mood, instrument, era"


def state(cat: Catalogue) -> tuple[int, int]:
    """(tracks in the store, vectors in the index)."""
    catalog = cat.client.app.state.catalog
    return cat.client.get("/tracks").json()["total"], len(catalog.indexes.index)


def assert_unchanged(cat: Catalogue, before: tuple[int, int]) -> None:
    assert state(cat) == before == (len(cat.ids), len(cat.ids))


@pytest.mark.parametrize(
    "data, status, detail",
    [
        (b"", 415, "cannot decode audio"),
        (b"GIF89a" + bytes(range(256)) * 40, 415, "cannot decode audio"),
        (b"<html><body>not audio</body></html>", 415, "cannot decode audio"),
        ("truncated-flac", 415, "cannot decode audio"),
        ("silent", 422, "audio is silent"),
        ("short", 422, "audio is 0.200 s long; at least 0.500 s is needed"),
        ("long", 413, "the limit is 60.000 s"),
        ("long-declared", 413, "audio is 7200.000 s long (declared); the limit is 60.000 s"),
        ("bomb", 413, "longer than the limit of 60.000 s"),
    ],
)
def test_bad_audio_is_refused_and_changes_nothing(catalogue: Catalogue, data, status, detail):
    if data == "truncated-flac":
        data = encode(song("trunc", 3.0), SR, "flac")[:3000]
    elif data == "silent":
        data = encode(np.zeros(SR * 2, np.float32), SR, "wav")
    elif data == "short":
        data = encode(tone(440, 0.2, SR), SR, "wav")
    elif data == "long":  # 70 s of 8 kHz 8-bit audio: 560 kB, under the upload limit
        data = encode(tone(220, 70.0, 8000), 8000, "wav", "PCM_U8")
    elif data == "long-declared":  # 2 hours of a constant level compress to a 180 kB FLAC
        data = encode(np.full(8000 * 7200, 0.25, np.float32), 8000, "flac", "PCM_16")
        assert len(data) < 200_000
    elif data == "bomb":  # the same with its length hidden: decoding must stop at the limit
        data = encode(np.full(8000 * 7200, 0.25, np.float32), 8000, "flac", "PCM_16")
        data = flac_set_total_samples(data, 0)
    before = state(catalogue)
    r = upload(catalogue.client, data, "x.wav", title="bad")
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert "Traceback" not in r.text and "/tmp" not in r.text
    assert_unchanged(catalogue, before)
    r = catalogue.client.post("/similar", files={"file": ("q.wav", data)})
    assert r.status_code == status and detail in r.json()["detail"]


def test_upload_over_the_limit_is_refused_while_streaming(catalogue: Catalogue):
    limit = catalogue.settings.max_upload_bytes
    before = state(catalogue)
    big = b"\0" * (limit + 1)
    r = upload(catalogue.client, big)
    assert r.status_code == 413
    assert r.json() == {"detail": f"request body is larger than the limit of {limit} bytes"}

    r = upload(catalogue.client, b"\0" * (limit - 1000))  # under the limit: decoded, refused
    assert r.status_code == 415
    assert_unchanged(catalogue, before)


@pytest.mark.parametrize(
    "params, detail",
    [
        ({"facet": "tempo"}, f"unknown facet 'tempo'; {VALID_FACETS}"),
        ({"facet": "mood:0.7,genre"}, None),  # a bare name weighs 1: valid
        ({"facet": "mood:abc"}, "weight for facet 'mood' is not a number: 'abc'"),
        ({"facet": "mood:-1"}, None),  # unlike in mood: valid
        ({"facet": "mood:0,genre:0"}, "facet weights are all zero"),
        ({"facet": "mood:inf"}, "weight for facet 'mood' is not a number: 'inf'"),
        ({"facet": "mood:1_0"}, "weight for facet 'mood' is not a number: '1_0' (expected a plain"),
        ({"facet": "mood:\u0661"}, "weight for facet 'mood' is not a number: '\u0661'"),
        ({"facet": "mood:1e999"}, "within the range of a double"),
        ({"k": "1_0"}, "query.k: '1_0' is not an integer in ASCII digits (e.g. 42)"),
        ({"k": "\u0661"}, "query.k: '\u0661' is not an integer in ASCII digits"),
        ({"k": " 5"}, "query.k: ' 5' is not an integer in ASCII digits"),
        ({"exclude": "1_0"}, "query.exclude.0: '1_0' is not an integer"),
        ({"facet": "mood' OR '1'='1"}, "unknown facet \"mood' OR '1'='1\""),
        ({"k": 0}, "k must be between 1 and 50, got 0"),
        ({"k": 51}, "k must be between 1 and 50, got 51"),
        ({"k": -3}, "k must be between 1 and 50, got -3"),
        ({"k": "ten"}, "query.k: 'ten' is not an integer in ASCII digits"),
        ({"k": 10**40}, "k must be between 1 and 50"),
        ({"tag": "polka"}, "unknown tag 'polka'; valid tags: "),
        ({"tag": "jazz'; DROP TABLE tracks; --"}, "unknown tag 'jazz'; DROP TABLE tracks; --'"),
        ({"exclude": "x"}, "query.exclude.0: 'x' is not an integer in ASCII digits"),
    ],
)
def test_similar_by_id_parameters(catalogue: Catalogue, params, detail):
    r = catalogue.client.get(f"/similar/{catalogue.ids['alpha']}", params=params)
    if detail is None:
        assert r.status_code == 200
        return
    assert r.status_code == 422, r.text
    got = r.json()["detail"]
    assert detail.replace('"', "'") in got.replace('"', "'"), got
    assert state(catalogue) == (6, 6)


def test_unknown_ids(catalogue: Catalogue):
    c = catalogue.client
    assert c.get("/tracks/999999").json() == {"detail": "track 999999 not found"}
    assert c.get("/tracks/999999").status_code == 404
    assert c.get("/similar/999999").status_code == 404
    r = c.delete("/tracks/999999", headers={"X-API-Key": API_KEY})
    assert r.status_code == 404 and r.json() == {"detail": "track 999999 not found"}
    r = c.get("/tracks/abc")
    assert r.status_code == 422 and "track_id" in r.json()["detail"]
    r = c.get("/tracks/1%27%20OR%201=1")
    assert r.status_code == 422


def test_search_parameters(catalogue: Catalogue):
    c = catalogue.client
    r = c.get("/search")
    assert r.status_code == 422
    assert r.json()["detail"] == ("give at least one tag or a text, e.g. /search?tag=jazz or "
                                  "/search?q=calm+piano (see GET /tags)")
    r = c.get("/search", params={"tag": "Jazz"})
    assert r.status_code == 422 and r.json()["detail"].startswith("unknown tag 'Jazz'; valid tags:")
    assert "jazz" in r.json()["detail"]
    r = c.get("/search", params={"tag": "jazz", "k": 0})
    assert r.status_code == 422
    r = c.get("/search", params={"tag": "jazz", "exclude_artist": "x" * 501})
    assert r.status_code == 422


def test_write_routes_need_the_api_key(catalogue: Catalogue):
    c = catalogue.client
    data = encode(song("keyless"), SR, "wav")
    before = state(catalogue)
    r = c.post("/tracks", files={"file": ("a.wav", data)})
    assert r.status_code == 401 and r.json() == {"detail": "missing X-API-Key header"}
    r = c.post("/tracks", files={"file": ("a.wav", data)}, headers={"X-API-Key": "wrong"})
    assert r.status_code == 403 and r.json() == {"detail": "invalid API key"}
    r = c.delete(f"/tracks/{catalogue.ids['alpha']}", headers={"X-API-Key": API_KEY + "x"})
    assert r.status_code == 403
    r = c.delete(f"/tracks/{catalogue.ids['alpha']}")
    assert r.status_code == 401
    assert_unchanged(catalogue, before)


def test_bad_ranges_on_similar(catalogue: Catalogue):
    data = encode(song("range", 3.0), SR, "wav")
    c = catalogue.client
    r = c.post("/similar", files={"file": ("q.wav", data)}, data={"start": "10"})
    assert r.status_code == 422 and "invalid range start=10.0 s" in r.json()["detail"]
    r = c.post("/similar", files={"file": ("q.wav", data)}, data={"start": "-1"})
    assert r.status_code == 422
    r = c.post("/similar", files={"file": ("q.wav", data)}, data={"duration": "0"})
    assert r.status_code == 422
    r = c.post("/similar", files={"file": ("q.wav", data)}, data={"facet": "nope"})
    assert r.status_code == 422 and VALID_FACETS in r.json()["detail"]
    r = c.post("/similar", data={"k": "3"})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_metadata_that_the_store_refuses(catalogue: Catalogue):
    before = state(catalogue)
    r = upload(catalogue.client, encode(song("nul"), SR, "wav"), title="a\x00b")
    assert r.status_code == 422, r.text
    assert "title" in r.json()["detail"]
    r = upload(catalogue.client, encode(song("long-title"), SR, "wav"), title="t" * 501)
    assert r.status_code == 422
    assert_unchanged(catalogue, before)


def test_external_id_conflict(catalogue: Catalogue):
    c = catalogue.client
    r = upload(c, encode(song("one"), SR, "wav"), external_id="ISRC-1")
    assert r.status_code == 201
    r = upload(c, encode(song("two"), SR, "wav"), external_id="ISRC-1")
    assert r.status_code == 409
    assert r.json()["detail"].startswith("external id 'ISRC-1' is already used by track")
