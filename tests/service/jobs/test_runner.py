"""Job workers on SQLite and PostgreSQL: one holder per job however many workers race for it,
a dead worker's job taken over when its lease runs out (the files it finished are not
ingested again, its late report is refused), and ``musicprism worker --drain``."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app, job_parts
from service.cli import main as cli_main
from service.jobs import JobRunner
from service.store import jobs as job_store
from tests.service.conftest import API_KEY, make_settings
from tests.service.jobs.test_jobs_api import flac
from tests.utils.db import count_rows

KEY = {"X-API-Key": API_KEY}


@pytest.fixture
def idle(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    """An app whose own worker is off: the tests drive runners by hand."""
    settings = make_settings(tmp_path, database_url, job_workers=0)
    with TestClient(create_app(settings)) as client:
        yield client


def runner(client: TestClient, name: str, lease_s: float = 60.0) -> JobRunner:
    app = client.app
    _, r = job_parts(app.state.settings, app.state.catalog)  # type: ignore[attr-defined]
    r.name = name
    r.config = type(r.config)(**{**r.config.__dict__, "lease_s": lease_s})
    return r


def submit(client: TestClient, *names: str) -> int:
    r = client.post("/jobs", headers=KEY,
                    files=[("files", (f"{n}.flac", flac(n))) for n in names])
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def test_racing_workers_hold_each_job_once(idle: TestClient) -> None:
    ids = [submit(idle, "alpha") for _ in range(6)]
    workers = [runner(idle, f"w{i}") for i in range(4)]
    claims: dict[str, list[int]] = {w.name: [] for w in workers}
    start = threading.Barrier(len(workers))

    def claim_all(w: JobRunner) -> None:
        start.wait()
        while True:
            with w.sessions() as session:
                got = job_store.claim_job(session, worker=w.name, lease=w.config.lease)
            if got is None:
                return
            claims[w.name].append(got)

    threads = [threading.Thread(target=claim_all, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = sorted(j for js in claims.values() for j in js)
    assert taken == sorted(ids)  # every job once, none twice


def test_a_dead_workers_job_is_taken_over(idle: TestClient) -> None:
    job_id = submit(idle, "beta", "gamma")
    dead, alive = runner(idle, "dead"), runner(idle, "alive")
    with dead.sessions() as session:
        assert job_store.claim_job(session, worker="dead", lease=dead.config.lease) == job_id
        # it ingests the first file, then dies before the second
        item = job_store.get_job(session, job_id=job_id).items[0]
    dead._ingest_item(job_id, 0, item.spool, item.filename, dict(item.meta))
    with alive.sessions() as session:  # the lease still runs: nothing to take
        assert job_store.claim_job(session, worker="alive", lease=alive.config.lease) is None
        later = job_store.utcnow() + dead.config.lease + dt.timedelta(seconds=1)
        assert job_store.claim_job(session, worker="alive", lease=alive.config.lease,
                                   now=later) == job_id
    alive.work(job_id)
    with dead.sessions() as session:
        assert not job_store.finish_job(session, job_id=job_id, worker="dead")  # too late
        assert count_rows(session, "tracks") == 2  # beta once, gamma once
    job = idle.get(f"/jobs/{job_id}", headers=KEY).json()
    assert job["state"] == "done" and job["attempts"] == 2
    assert [i["created"] for i in job["items"]] == [True, True]
    assert not list((Path(idle.app.state.settings.jobs_dir)).iterdir())  # type: ignore[attr-defined]


def test_worker_drain_works_the_queue(idle: TestClient, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    settings = idle.app.state.settings  # type: ignore[attr-defined]
    job_id = submit(idle, "delta")
    monkeypatch.setenv("MUSICPRISM_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(settings.model_path))
    monkeypatch.setenv("MUSICPRISM_ENVIRONMENT", "test")
    monkeypatch.setenv("MUSICPRISM_MIN_AUDIO_SECONDS", "0.5")
    assert cli_main(["worker", "--drain", "--data-dir", str(settings.data_dir)]) == 0
    assert "worked 1 jobs and webhooks; none left" in capsys.readouterr().out
    job = idle.get(f"/jobs/{job_id}", headers=KEY).json()
    assert job["state"] == "done" and job["items"][0]["track_id"] is not None
