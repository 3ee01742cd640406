"""ISRC, release year and ``updated`` through the API, the store and the ingest CSV."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from service.catalog import TrackMeta
from service.ingest import InvalidMetadata, read_metadata
from support.audio import encode
from tests.service.conftest import SR, Catalogue, song, upload
from tests.service.test_api_errors import assert_unchanged, state

ISRC_FORMAT = "must be an ISRC: 12 characters"


def test_isrc_and_year_are_stored_normalised_and_returned(catalogue: Catalogue) -> None:
    c = catalogue.client
    r = upload(c, encode(song("isrc-1"), SR, "wav"), isrc="us-rc1-76-07839", year="1976")
    assert r.status_code == 201, r.text
    track = r.json()["track"]
    assert (track["isrc"], track["year"]) == ("USRC17607839", 1976)
    created = dt.datetime.fromisoformat(track["created"])
    assert dt.datetime.fromisoformat(track["updated"]) == created
    assert abs(created - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    got = c.get(f"/tracks/{track['id']}").json()
    assert (got["isrc"], got["year"], got["updated"]) == ("USRC17607839", 1976, track["updated"])
    listed = c.get("/tracks", params={"isrc": "USRC17607839"}).json()
    assert listed["total"] == 1 and [t["id"] for t in listed["tracks"]] == [track["id"]]
    assert listed["tracks"][0]["isrc"] == "USRC17607839"
    # any accepted spelling finds it; an unknown code finds nothing
    assert c.get("/tracks", params={"isrc": "US-RC1-76-07839"}).json()["total"] == 1
    assert c.get("/tracks", params={"isrc": "GBAYE0000001"}).json() == {
        "total": 0,
        "offset": 0,
        "tracks": [],
    }
    # the catalogue's other tracks have neither
    others = c.get(f"/tracks/{catalogue.ids['alpha']}").json()
    assert (others["isrc"], others["year"]) == (None, None)


def test_duplicate_isrc_is_a_conflict(catalogue: Catalogue) -> None:
    c = catalogue.client
    first = upload(c, encode(song("isrc-a"), SR, "wav"), isrc="GBAYE0601498")
    assert first.status_code == 201, first.text
    before = state(catalogue)
    r = upload(c, encode(song("isrc-b"), SR, "wav"), isrc="gb-aye-06-01498")
    assert r.status_code == 409, r.text
    first_id = first.json()["track"]["id"]
    assert r.json() == {"detail": f"ISRC 'GBAYE0601498' is already used by track {first_id}"}
    assert state(catalogue) == before
    # the same audio again is the same track (200), not a conflict
    again = upload(c, encode(song("isrc-a"), SR, "wav"), isrc="GBAYE0601498")
    assert again.status_code == 200 and again.json()["track"]["id"] == first_id


@pytest.mark.parametrize(
    "isrc",
    [
        "USRC1760783",  # 11 characters
        "USRC176078390",  # 13
        "U1RC17607839",  # digit in the country code
        "USRC1A607839",  # letter in the year
        "ＵＳRC17607839",  # full-width look-alikes
        "USRC17607839\x00",
        "'; DROP TABLE tracks; --",
        "US RC1 76 07839",
        "",
    ],
)
def test_malformed_isrc_is_refused(catalogue: Catalogue, isrc: str) -> None:
    before = state(catalogue)
    r = upload(catalogue.client, encode(song("bad-isrc"), SR, "wav"), isrc=isrc)
    if isrc == "":  # an empty form field is no ISRC at all
        assert r.status_code == 201 and r.json()["track"]["isrc"] is None
        return
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("invalid ISRC ") and ISRC_FORMAT in detail
    assert_unchanged(catalogue, before)
    r = catalogue.client.get("/tracks", params={"isrc": isrc})
    assert r.status_code == 422 and ISRC_FORMAT in r.json()["detail"]


def test_overlong_isrc_is_refused_before_reading_it(catalogue: Catalogue) -> None:
    r = upload(catalogue.client, encode(song("long-isrc"), SR, "wav"), isrc="U" * 5000)
    assert r.status_code == 422
    assert r.json()["detail"] == "isrc: String should have at most 40 characters"


@pytest.mark.parametrize(
    "year, detail",
    [
        ("1859", "year: Input should be greater than or equal to 1860"),
        ("2101", "year: Input should be less than or equal to 2100"),
        ("-1", "year: Input should be greater than or equal to 1860"),
        ("19x6", "year: '19x6' is not an integer in ASCII digits (e.g. 42)"),
        ("1976.5", "year: '1976.5' is not an integer in ASCII digits (e.g. 42)"),
        ("1e3", "year: '1e3' is not an integer in ASCII digits (e.g. 42)"),
        ("1_976", "year: '1_976' is not an integer in ASCII digits (e.g. 42)"),
        ("\u0661\u0669\u0667\u0666", "year: '\u0661\u0669\u0667\u0666' is not an integer in "
                                  "ASCII digits (e.g. 42)"),
    ],
)
def test_year_out_of_range_is_refused(catalogue: Catalogue, year: str, detail: str) -> None:
    before = state(catalogue)
    r = upload(catalogue.client, encode(song("bad-year"), SR, "wav"), year=year)
    assert r.status_code == 422, r.text
    assert r.json() == {"detail": detail}
    assert_unchanged(catalogue, before)


def test_catalog_checks_metadata_itself(catalogue: Catalogue) -> None:
    """The command line reaches the catalog without the API's form checks."""
    catalog = catalogue.client.app.state.catalog
    before = state(catalogue)
    wav = encode(song("cli-year"), SR, "wav")
    with pytest.raises(ValueError, match="invalid year 1700: must be between 1860 and 2100"):
        catalog.recordings.ingest(wav, TrackMeta(year=1700))
    with pytest.raises(ValueError, match="invalid ISRC 'nope'"):
        catalog.recordings.ingest(wav, TrackMeta(isrc="nope"))
    assert_unchanged(catalogue, before)


def test_ingest_csv_reads_isrc_and_year(tmp_path: Path) -> None:
    csv = tmp_path / "meta.csv"
    csv.write_text("path,title,isrc,year\na.wav,A,us-rc1-76-07839,1976\nb.wav,B,,\n")
    meta = read_metadata(csv, tmp_path)
    assert meta[tmp_path / "a.wav"] == TrackMeta(title="A", isrc="USRC17607839", year=1976)
    assert meta[tmp_path / "b.wav"] == TrackMeta(title="B")
    csv.write_text("path,title,isrc,year\na.wav,A,USRC17607839,1976\nb.wav,B,,nineteen\n")
    with pytest.raises(InvalidMetadata,
                       match="line 3: year 'nineteen' is not an integer in ASCII digits"):
        read_metadata(csv, tmp_path)
    csv.write_text("path,isrc\na.wav,XX\n")
    with pytest.raises(InvalidMetadata, match="line 2: invalid ISRC 'XX'"):
        read_metadata(csv, tmp_path)
