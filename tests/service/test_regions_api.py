"""Matching regions through the API (SQLite and PostgreSQL): a clip cut from a known offset of
a catalogue track is matched to that stretch of it; a track that is a part of another is
matched to where it sits in it."""

from __future__ import annotations

import numpy as np
import pytest

from support.audio import encode
from tests.service.conftest import SR, Catalogue, song, upload

KEY_TRACK_PARTS = ("p", "q", "r")  # 3 s each: the long track is 9 s, 9 windows of 1 s


@pytest.fixture
def medley(catalogue: Catalogue) -> tuple[Catalogue, np.ndarray, int, int]:
    parts = [song(name, seconds=3.0) for name in KEY_TRACK_PARTS]
    long = np.concatenate(parts)
    r = upload(catalogue.client, encode(long, SR, "flac"), "medley.flac")
    assert r.status_code == 201, r.text
    r2 = upload(catalogue.client, encode(parts[1], SR, "flac"), "q.flac")
    assert r2.status_code == 201, r2.text
    return catalogue, long, r.json()["track"]["id"], r2.json()["track"]["id"]


def region_of(body: dict, track_id: int) -> dict:
    (hit,) = [h for h in body["results"] if h["track"]["id"] == track_id]
    return hit["region"]


def test_a_clip_is_matched_where_it_was_cut(medley) -> None:
    catalogue, long, medley_id, _ = medley
    clip = long[4 * SR : 6 * SR]
    r = catalogue.client.post("/similar", files={"file": ("clip.flac", encode(clip, SR, "flac"))},
                              data={"k": "10", "identify": "false", "regions": "true"})
    assert r.status_code == 200, r.text
    region = region_of(r.json(), medley_id)
    assert (region["start"], region["duration"], region["end"]) == (4.0, 2.0, 6.0)
    assert region["score"] == pytest.approx(1.0, abs=1e-4)
    assert region["query"] == {"start": 0.0, "duration": 2.0, "end": 2.0}
    assert all(h["region"] is not None for h in r.json()["results"])

    # the same stretch asked for as a part of the whole file: the query region says where
    r = catalogue.client.post("/similar",
                              files={"file": ("long.flac", encode(long, SR, "flac"))},
                              data={"k": "10", "identify": "false", "regions": "true",
                                    "start": "4", "duration": "2"})
    region = region_of(r.json(), medley_id)
    assert (region["start"], region["query"]["start"]) == (4.0, 4.0)


def test_a_part_of_a_track_is_matched_where_it_sits(medley) -> None:
    catalogue, _, medley_id, part_id = medley
    r = catalogue.client.get(f"/similar/{part_id}", params={"k": 10, "regions": "true"})
    assert r.status_code == 200, r.text
    region = region_of(r.json(), medley_id)
    assert (region["start"], region["duration"]) == (3.0, 3.0)
    assert region["query"] == {"start": 0.0, "duration": 3.0, "end": 3.0}
    assert region["score"] == pytest.approx(1.0, abs=1e-4)


def test_regions_are_off_unless_asked_for(medley) -> None:
    catalogue, _, _, part_id = medley
    body = catalogue.client.get(f"/similar/{part_id}").json()
    assert body["results"] and all(h["region"] is None for h in body["results"])
    r = catalogue.client.get(f"/similar/{part_id}", params={"regions": "perhaps"})
    assert r.status_code == 422 and "regions" in r.json()["detail"]
