"""GET /tracks/{id}/audio: the ingested bytes, with byte ranges, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.cli import main
from support.audio import encode
from tests.service.conftest import API_KEY, SR, Catalogue, make_settings, song, upload


@pytest.fixture
def flac(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, str, bytes]]:
    """A client of a catalogue of one FLAC track, its audio URL and the bytes uploaded."""
    data = encode(song("alpha"), SR, "flac")
    with TestClient(create_app(make_settings(tmp_path, database_url))) as client:
        r = upload(client, data, "alpha.flac")
        assert r.status_code == 201, r.text
        yield client, f"/tracks/{r.json()['track']['id']}/audio", data


def test_the_whole_file(flac) -> None:
    client, url, data = flac
    r = client.get(url)
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "audio/flac"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["accept-ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]{64}"', r.headers["etag"])
    assert "content-range" not in r.headers


@pytest.mark.parametrize(
    "spec, part",
    [
        ("0-99", slice(0, 100)),  # first bytes
        ("-100", slice(-100, None)),  # suffix
        ("100-", slice(100, None)),  # open-ended
        ("0-", slice(0, None)),  # what an <audio> element asks first
    ],
)
def test_one_range(flac, spec: str, part: slice) -> None:
    client, url, data = flac
    r = client.get(url, headers={"Range": f"bytes={spec}"})
    assert r.status_code == 206
    assert r.content == data[part]
    start, stop, _ = part.indices(len(data))
    assert r.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(data)}"
    assert r.headers["content-length"] == str(stop - start)
    assert r.headers["content-type"] == "audio/flac"


def test_a_range_running_past_the_end_is_cut_at_the_end(flac) -> None:
    client, url, data = flac
    n = len(data)
    r = client.get(url, headers={"Range": f"bytes={n - 10}-{n + 500}"})
    assert (r.status_code, r.content) == (206, data[-10:])
    assert r.headers["content-range"] == f"bytes {n - 10}-{n - 1}/{n}"


def test_several_ranges_come_as_multipart_byteranges(flac) -> None:
    client, url, data = flac
    r = client.get(url, headers={"Range": "bytes=30-39, 0-9"})
    assert r.status_code == 206
    kind, boundary = r.headers["content-type"].split("; boundary=")
    assert kind == "multipart/byteranges"
    assert int(r.headers["content-length"]) == len(r.content)
    parts = r.content.split(f"--{boundary}".encode())
    assert parts[0] == b"" and parts[-1] == b"--\r\n"
    got = []
    for part in parts[1:-1]:
        head, body = part.split(b"\r\n\r\n", 1)
        assert body.endswith(b"\r\n")
        fields = dict(line.split(": ", 1) for line in head.decode().strip().splitlines())
        assert fields["Content-Type"] == "audio/flac"
        got.append((fields["Content-Range"], body[:-2]))
    n = len(data)
    assert got == [(f"bytes 0-9/{n}", data[:10]), (f"bytes 30-39/{n}", data[30:40])]


def test_overlapping_ranges_are_merged_into_one(flac) -> None:
    client, url, data = flac
    r = client.get(url, headers={"Range": "bytes=0-9,5-19"})
    assert (r.status_code, r.content) == (206, data[:20])
    assert r.headers["content-range"] == f"bytes 0-19/{len(data)}"


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=9-3", "items=0-9", "bytes=0-9,x"])
def test_a_malformed_range_is_ignored(flac, header: str) -> None:
    client, url, data = flac
    r = client.get(url, headers={"Range": header})
    assert (r.status_code, r.content) == (200, data)


@pytest.mark.parametrize("spec", ["{n}-", "{n}-{m}", "-0"])
def test_beyond_the_end_is_416_with_the_size(flac, spec: str) -> None:
    client, url, data = flac
    n = len(data)
    header = "bytes=" + spec.format(n=n, m=n + 9)
    r = client.get(url, headers={"Range": header})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{n}"
    assert r.json() == {"detail": f"range {header!r} is not satisfiable: the audio is {n} bytes"}


def test_head_sends_the_headers_only(flac) -> None:
    client, url, data = flac
    r = client.head(url)
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["content-type"] == "audio/flac"
    r = client.head(url, headers={"Range": "bytes=-10"})
    assert (r.status_code, r.content) == (206, b"")
    assert r.headers["content-range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
    assert r.headers["content-length"] == "10"


def test_if_range_with_another_validator_gets_the_whole_file(flac) -> None:
    client, url, data = flac
    etag = client.head(url).headers["etag"]
    r = client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert (r.status_code, r.content) == (206, data[:10])
    r = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (r.status_code, r.content) == (200, data)


def test_unknown_track_and_bad_ids(flac) -> None:
    client, _, _ = flac
    r = client.get("/tracks/999/audio")
    assert (r.status_code, r.json()) == (404, {"detail": "track 999 not found"})
    assert client.get("/tracks/0/audio").status_code == 422
    assert client.get("/tracks/abc/audio").status_code == 422
    r = client.get("/tracks/..%2F..%2Fetc/audio")  # no route: an id is all a path may hold
    assert (r.status_code, r.json()) == (404, {"detail": "Not Found"})


@pytest.mark.parametrize(
    "fmt, media_type",
    [("wav", "audio/wav"), ("mp3", "audio/mpeg"), ("ogg", "audio/ogg"), ("m4a", "audio/mp4"),
     ("opus", "audio/ogg")],
)
def test_content_type_follows_the_format(flac, fmt: str, media_type: str) -> None:
    client, _, _ = flac
    data = encode(song(f"type-{fmt}"), SR, fmt)
    r = upload(client, data, f"x.{fmt}")
    assert r.status_code == 201, r.text
    got = client.get(f"/tracks/{r.json()['track']['id']}/audio")
    assert (got.status_code, got.headers["content-type"], got.content) == (200, media_type, data)


def test_delete_removes_the_copy(catalogue: Catalogue) -> None:
    audio_dir = catalogue.settings.audio_dir
    assert len(list(audio_dir.rglob("*.flac"))) == len(catalogue.ids)
    track = catalogue.ids["beta"]
    r = catalogue.client.delete(f"/tracks/{track}", headers={"X-API-Key": API_KEY})
    assert r.status_code == 204
    assert len(list(audio_dir.rglob("*.flac"))) == len(catalogue.ids) - 1
    assert catalogue.client.get(f"/tracks/{track}/audio").status_code == 404


NO_COPY = ("track {id} has no stored audio: it was ingested before audio copies were kept, or "
           "with MUSICPRISM_KEEP_AUDIO=false; ingest its file again to add one")


def test_without_keep_audio_no_copy_is_kept_and_the_404_says_why(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url, keep_audio=False)
    data = encode(song("nocopy"), SR, "flac")
    with TestClient(create_app(settings)) as client:
        track = upload(client, data, "x.flac").json()["track"]["id"]
        r = client.get(f"/tracks/{track}/audio")
        assert (r.status_code, r.json()) == (404, {"detail": NO_COPY.format(id=track)})
        assert client.head(f"/tracks/{track}/audio").status_code == 404
    assert not settings.audio_dir.exists()
    # the same file again, with copies on, adds the copy the track lacked
    settings = make_settings(tmp_path, database_url)
    with TestClient(create_app(settings)) as client:
        r = upload(client, data, "x.flac")
        assert (r.status_code, r.json()["track"]["id"]) == (200, track)
        assert client.get(f"/tracks/{track}/audio").content == data


def test_musicprism_ingest_keeps_copies_too(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path, database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(settings.model_path))
    monkeypatch.setenv("MUSICPRISM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MUSICPRISM_MIN_AUDIO_SECONDS", "0.5")
    folder = tmp_path / "music"
    folder.mkdir()
    files = {name: encode(song(name), SR, "wav") for name in ("one", "two")}
    for name, data in files.items():
        (folder / f"{name}.wav").write_bytes(data)
    (folder / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    assert main(["ingest", str(folder), "--quiet"]) == 0
    kept = sorted(p.read_bytes() for p in settings.audio_dir.rglob("*.wav"))
    assert kept == sorted(files.values())  # the undecodable file left nothing behind
    with TestClient(create_app(settings)) as client:
        tracks = client.get("/tracks").json()["tracks"]
        assert sorted(client.get(f"/tracks/{t['id']}/audio").content for t in tracks) == kept
