"""Queries racing ingests and deletes on a real server (``musicprism serve`` in its own
process), while a second process (``musicprism ingest``) writes the same store.

Every answer must be consistent with some moment of the run: no 5xx, every result id a track
that exists with a vector (or was deleted during the run), never one whose deletion had
completed before the query began; and the server ends up serving exactly what the store
holds, the CLI's tracks included (SQLite and PostgreSQL).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest

from service.catalog import TrackMeta
from service.errors import TrackNotFound
from support.audio import encode
from support.server import GRACEFUL, serve
from tests.reliability.helpers import (
    Deployment,
    assert_index_matches_store,
    log_tail,
    opened_catalog,
    start_cli,
    wait_until,
    write_library,
)
from tests.service.conftest import API_KEY, SR, song
from tests.utils.models import CONCEPTS

SEEDED, NEW, CLI_FILES = 6, 4, 4
READERS, QUERIES = 3, 30
RACE_TRACKS = 30
VICTIMS = 4  # deletes during the run: seeded tracks, then tracks added during the run
NEVER = 10**6  # an id no track has
FACETS = [None, "mood", "genre:0.5,era:0.5"]
TAGS = [t for tags in CONCEPTS.values() for t in tags]


@dataclass
class Call:
    kind: str
    track_id: int | None
    started: float
    finished: float
    status: int
    body: Any


@dataclass
class Journal:
    """What every thread did, with monotonic times."""

    seeded: set[int] = field(default_factory=set)
    created: dict[int, float] = field(default_factory=dict)  # id -> its POST returned
    delete_sent: dict[int, float] = field(default_factory=dict)
    deleted: dict[int, float] = field(default_factory=dict)  # id -> its DELETE returned 204
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def known_ids(self) -> list[int]:
        with self.lock:
            return sorted(self.seeded | set(self.created))

    def record(self, call: Call) -> Call:
        with self.lock:
            self.calls.append(call)
        return call


def timed(journal: Journal, client: httpx2.Client, kind: str, track_id: int | None,
          method: str, url: str, **kwargs: Any) -> Call:
    started = time.monotonic()
    r = client.request(method, url, **kwargs)
    body = r.json() if r.content else None
    return journal.record(Call(kind, track_id, started, time.monotonic(), r.status_code, body))


def reader(base_url: str, journal: Journal, seed: int, start: threading.Barrier) -> None:
    rng = np.random.default_rng(seed)
    with httpx2.Client(base_url=base_url, timeout=120) as client:
        start.wait()
        for _ in range(QUERIES):
            ids = journal.known_ids() + [NEVER]
            tid = int(rng.choice(ids))
            kind = str(rng.choice(["similar", "search", "track"]))
            if kind == "similar":
                facet = FACETS[int(rng.integers(len(FACETS)))]
                params = {"k": 10} | ({"facet": facet} if facet else {})
                timed(journal, client, kind, tid, "GET", f"/similar/{tid}", params=params)
            elif kind == "search":
                tags = list(rng.choice(TAGS, size=int(rng.integers(1, 3)), replace=False))
                timed(journal, client, kind, None, "GET", "/search", params={"tag": tags, "k": 10})
            else:
                timed(journal, client, kind, tid, "GET", f"/tracks/{tid}")


def ingester(base_url: str, journal: Journal, start: threading.Barrier) -> None:
    files = [encode(song(f"new-{i}", 1.5), SR, "wav") for i in range(NEW)]
    with httpx2.Client(base_url=base_url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        start.wait()
        for i, data in enumerate(files):
            call = timed(journal, client, "ingest", None, "POST", "/tracks",
                         files={"file": (f"new-{i}.wav", data)}, data={"title": f"new-{i}"})
            if call.status == 201:
                with journal.lock:
                    journal.created[call.body["track"]["id"]] = call.finished


def deleter(base_url: str, journal: Journal, seed: int, start: threading.Barrier) -> None:
    rng = np.random.default_rng(seed)
    victims = list(rng.permutation(sorted(journal.seeded))[: VICTIMS - 2])
    with httpx2.Client(base_url=base_url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        start.wait()
        for _ in range(2000):  # bounded: ends early once VICTIMS deletes were sent
            if len(journal.delete_sent) == VICTIMS:
                return
            time.sleep(rng.uniform(0.02, 0.15))  # spread the deletes over the readers' run
            with journal.lock:
                fresh = sorted(set(journal.created) - set(journal.delete_sent))
            if not victims and not fresh:
                continue
            tid = int(victims.pop()) if victims else fresh[0]
            journal.delete_sent[tid] = time.monotonic()
            call = timed(journal, client, "delete", tid, "DELETE", f"/tracks/{tid}")
            if call.status == 204:
                journal.deleted[tid] = call.finished


def seed_tracks(base_url: str, journal: Journal) -> None:
    with httpx2.Client(base_url=base_url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        for i in range(SEEDED):
            r = client.post("/tracks", files={"file": (f"seed-{i}.wav",
                            encode(song(f"seed-{i}", 1.5), SR, "wav"))})
            assert r.status_code == 201, r.text
            journal.seeded.add(r.json()["track"]["id"])


def result_ids(call: Call) -> list[int]:
    return [r["track"]["id"] for r in call.body["results"]]


def check_call(call: Call, journal: Journal, alive: set[int]) -> None:
    """One answer against the journal and the store's final content (``alive``)."""
    assert call.status < 500, call
    if call.status >= 400:
        assert isinstance(call.body, dict) and isinstance(call.body.get("detail"), str), call
    gone_before = {i for i, t in journal.deleted.items() if t < call.started}
    existed_before = journal.seeded | {i for i, t in journal.created.items() if t < call.started}
    if call.kind in ("similar", "search") and call.status == 200:
        for rid in result_ids(call):
            assert rid not in gone_before, f"result {rid} was deleted before the query: {call}"
            assert rid in alive or rid in journal.delete_sent, f"result {rid} has no row: {call}"
    if call.kind in ("similar", "track"):
        tid = call.track_id
        if call.status == 200:
            assert tid not in gone_before, call
        elif tid in existed_before - gone_before:  # it existed: only a delete explains a 404
            assert call.status == 404 and journal.delete_sent.get(tid, np.inf) < call.finished, call
        else:
            assert call.status == 404 and call.body == {"detail": f"track {tid} not found"}, call


def test_catalog_reads_racing_deletes_raise_only_track_not_found(deployment: Deployment):
    """Many deletes under readers of exactly those tracks: a read finds the track or raises
    TrackNotFound (a 404), never another error (a 500), and never returns a track whose
    deletion had completed before the read began."""
    with opened_catalog(deployment) as (catalog, _):
        ids = [
            catalog.recordings.ingest(
                encode(song(f"race-{i}", 1.0), SR, "wav"), TrackMeta()
            ).track.id
            for i in range(RACE_TRACKS)
        ]
        deleted: list[int] = []  # appended once each delete has returned
        failures: list[str] = []

        def read(seed: int, search: bool) -> None:
            rng = np.random.default_rng(seed)
            for _ in range(100_000):  # bounded; ends once every track is deleted
                gone = set(deleted)
                if len(gone) == len(ids):
                    return
                tid = int(rng.choice(ids))
                try:
                    vector = catalog.queries.vector_of(tid)  # what GET /similar/{id} does first
                    hits = catalog.queries.similar(vector, k=5)[1] if search else []
                except TrackNotFound:
                    continue
                except Exception as exc:  # noqa: BLE001 - any other error is the failure
                    failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                stale = ({tid} | {h.track.id for h in hits}) & gone
                if stale:
                    failures.append(f"deleted before the read began: {sorted(stale)}")

        readers = [threading.Thread(target=read, args=(i, i == 0)) for i in range(3)]
        for t in readers:
            t.start()
        for tid in ids:
            catalog.recordings.delete(tid)
            deleted.append(tid)
        for t in readers:
            t.join()
        assert failures == []
        assert len(catalog.indexes.index) == 0


@pytest.mark.slow
def test_queries_during_ingest_and_delete_with_a_second_writer(
    deployment: Deployment, tmp_path: Path
):
    cli_library = tmp_path / "cli-library"
    write_library(cli_library, "cli", CLI_FILES)
    journal = Journal()
    with serve(deployment.env, tmp_path / "server.log") as server:
        seed_tracks(server.base_url, journal)
        cli = start_cli(deployment, tmp_path / "cli.log", "ingest", "--quiet", str(cli_library))
        start = threading.Barrier(READERS + 2)
        threads = [
            threading.Thread(target=reader, args=(server.base_url, journal, 10 + i, start))
            for i in range(READERS)
        ]
        threads += [
            threading.Thread(target=ingester, args=(server.base_url, journal, start)),
            threading.Thread(target=deleter, args=(server.base_url, journal, 99, start)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert cli.wait() == 0, log_tail(tmp_path / "cli.log")
        assert "4 added" in (tmp_path / "cli.log").read_text()
        assert server.alive(), server.log()

        with opened_catalog(deployment.with_data_dir(tmp_path / "probe")) as (catalog, _):
            alive = set(assert_index_matches_store(catalog))
        assert len(journal.calls) == READERS * QUERIES + NEW + VICTIMS
        for call in journal.calls:
            check_call(call, journal, alive)
        assert set(journal.deleted) == set(journal.delete_sent)
        assert not alive & set(journal.deleted)
        assert (journal.seeded | set(journal.created)) - set(journal.deleted) <= alive
        cli_ids = alive - journal.seeded - set(journal.created)
        assert len(cli_ids) == CLI_FILES

        # The server catches up with the CLI's writes from the store's change log.
        with httpx2.Client(base_url=server.base_url, timeout=60) as client:
            probe = min(alive)

            def served_ids() -> set[int]:
                r = client.get(f"/similar/{probe}", params={"k": 50})
                assert r.status_code == 200, r.text
                return set(result_ids(Call("similar", probe, 0, 0, 200, r.json())))

            wait_until(lambda: served_ids() == alive - {probe}, "the server to sync", poll=0.2)
            assert client.get("/readyz").json()["tracks"] == len(alive)
            for tid in cli_ids:
                assert client.get(f"/similar/{tid}").status_code == 200
        assert server.stop() in GRACEFUL, server.log()

    with opened_catalog(deployment) as (catalog, how):  # the snapshot the server left
        assert how == "loaded, 0 events replayed"
        assert set(assert_index_matches_store(catalog)) == alive
