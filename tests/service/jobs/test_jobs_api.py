"""Background ingestion through HTTP on SQLite and PostgreSQL: POST /tracks?async=true and
POST /jobs answer 202 at once, a job worker ingests the spooled files, GET /jobs/{id} tells
each file's track or error (the one POST /tracks would give), jobs outlive a restart, and
bad requests are refused before anything is spooled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from support.audio import encode
from tests.service.conftest import API_KEY, SR, make_settings, song, upload

KEY = {"X-API-Key": API_KEY}


@contextmanager
def served(tmp_path: Path, database_url: str, **overrides: object) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, database_url, job_poll_seconds=0.05, **overrides)
    with TestClient(create_app(settings)) as client:
        yield client


def flac(name: str) -> bytes:
    return encode(song(name), SR, "flac")


def wait_done(client: TestClient, job_id: int, limit_s: float = 60.0) -> dict:
    deadline = time.monotonic() + limit_s
    while True:
        r = client.get(f"/jobs/{job_id}", headers=KEY)
        assert r.status_code == 200, r.text
        if r.json()["state"] in ("done", "failed"):
            return r.json()
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.05)


def spooled(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "data" / "jobs"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_an_async_upload_is_a_job_that_gives_the_track(tmp_path: Path, database_url: str
                                                       ) -> None:
    with served(tmp_path, database_url) as client:
        r = client.post("/tracks?async=true", headers=KEY,
                        files={"file": ("alpha.flac", flac("alpha"))},
                        data={"title": "Alpha", "artist": "Ann", "year": "1999"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert r.headers["location"] == f"/jobs/{job['id']}"
        assert job["state"] in ("queued", "running") and job["webhook"] is None
        assert [i["filename"] for i in job["items"]] == ["alpha.flac"]

        done = wait_done(client, job["id"])
        assert done["state"] == "done" and done["attempts"] == 1 and done["error"] is None
        (item,) = done["items"]
        assert item["state"] == "done" and item["created"] is True and item["error"] is None
        track = client.get(f"/tracks/{item['track_id']}").json()
        assert (track["title"], track["artist"], track["year"], track["source"]) == (
            "Alpha", "Ann", 1999, "alpha.flac")
        assert spooled(tmp_path) == []  # the upload is gone once its job ended

        # the same audio, uploaded the ordinary way, is that track
        again = upload(client, flac("alpha"), "again.flac")
        assert again.status_code == 200 and again.json()["track"]["id"] == item["track_id"]


def test_a_batch_reports_each_file_as_post_tracks_would(tmp_path: Path, database_url: str
                                                         ) -> None:
    with served(tmp_path, database_url) as client:
        noise = b"RIFF\x00\x00\x00\x00not audio at all" * 10
        direct = upload(client, noise, "noise.wav")
        r = client.post("/jobs", headers=KEY, files=[
            ("files", ("beta.flac", flac("beta"))),
            ("files", ("beta-again.flac", flac("beta"))),
            ("files", ("noise.wav", noise)),
            ("files", ("gamma.flac", flac("gamma"))),
        ])
        assert r.status_code == 202, r.text
        done = wait_done(client, r.json()["id"])
        assert done["state"] == "failed"  # a file failed; the others are in the catalogue
        beta, again, bad, gamma = done["items"]
        assert beta["created"] is True and again["created"] is False
        assert again["track_id"] == beta["track_id"] != gamma["track_id"]
        assert bad["state"] == "failed" and bad["track_id"] is None
        assert (bad["status"], bad["error"]) == (direct.status_code, direct.json()["detail"])
        assert client.get("/tracks", params={"limit": 10}).json()["total"] == 2
        assert spooled(tmp_path) == []


def test_jobs_outlive_a_restart(tmp_path: Path, database_url: str) -> None:
    with served(tmp_path, database_url, job_workers=0) as client:  # nobody works jobs
        r = client.post("/tracks?async=true", headers=KEY,
                        files={"file": ("delta.flac", flac("delta"))})
        job_id = r.json()["id"]
        time.sleep(0.3)
        assert client.get(f"/jobs/{job_id}", headers=KEY).json()["state"] == "queued"
        assert len(spooled(tmp_path)) == 1
    with served(tmp_path, database_url) as client:  # a new process with a worker
        done = wait_done(client, job_id)
        assert done["state"] == "done" and done["items"][0]["created"] is True


@pytest.mark.parametrize(("request_kw", "status", "detail"), [
    ({"url": "/jobs/999"}, 404, "job 999 not found"),
    ({"url": "/jobs/0"}, 422, "greater than or equal to 1"),
    ({"url": "/jobs/99999999999"}, 422, "less than or equal to"),
    ({"url": "/jobs/x1"}, 422, "job_id"),
    ({"url": "/jobs/1", "headers": {}}, 401, "missing X-API-Key header"),
    ({"url": "/jobs/1", "headers": {"X-API-Key": "wrong-key-0123456789"}}, 403, "API key"),
])
def test_reading_a_job(tmp_path: Path, database_url: str, request_kw: dict, status: int,
                       detail: str) -> None:
    with served(tmp_path, database_url) as client:
        r = client.get(request_kw["url"], headers=request_kw.get("headers", KEY))
        assert r.status_code == status and detail in r.json()["detail"], r.text


@pytest.mark.parametrize(("url", "kw", "status", "detail"), [
    ("/jobs", {"files": []}, 422, "files"),
    ("/jobs", {"files": [("files", ("a.flac", b""))], "headers": {}}, 401,
     "missing X-API-Key header"),
    ("/tracks?async=true", {"files": {"file": ("a.flac", b"x")}, "data": {"year": "1700"}},
     422, "year"),
    ("/tracks?async=true", {"files": {"file": ("a.flac", b"x")}, "data": {"isrc": "nope"}},
     422, "ISRC"),
    ("/tracks?async=maybe", {"files": {"file": ("a.flac", b"x")}}, 422, "async"),
    ("/tracks", {"files": {"file": ("a.flac", b"x")},
                 "data": {"callback_url": "http://127.0.0.1/h"}}, 422, "needs async=true"),
    ("/tracks?async=true", {"files": {"file": ("a.flac", b"x")},
                            "data": {"callback_url": "http://127.0.0.1/h"}},
     422, "no webhook hosts are allowed"),
    ("/jobs", {"files": [("files", ("a.flac", b"x"))],
               "data": {"callback_url": "x" * 2001}}, 422, "callback_url"),
])
def test_bad_submissions_spool_nothing(tmp_path: Path, database_url: str, url: str, kw: dict,
                                       status: int, detail: str) -> None:
    kw = dict(kw)  # the parameters are shared by both backends' runs
    with served(tmp_path, database_url) as client:
        headers = kw.pop("headers", KEY)
        r = client.post(url, headers=headers, **kw)
        assert r.status_code == status and detail in r.json()["detail"], r.text
        assert spooled(tmp_path) == []
        assert client.get("/jobs/1", headers=KEY).status_code == 404  # no job was made


def test_a_hostile_filename_is_only_a_name(tmp_path: Path, database_url: str) -> None:
    with served(tmp_path, database_url) as client:
        name = "../../../etc/passwd\x00.flac"
        r = client.post("/jobs", headers=KEY, files=[("files", (name, flac("eps")))])
        assert r.status_code == 202, r.text
        done = wait_done(client, r.json()["id"])
        assert done["state"] == "done"
        assert not (tmp_path / "etc").exists() and spooled(tmp_path) == []
