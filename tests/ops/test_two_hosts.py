"""Two serving hosts on one PostgreSQL, run as processes with their own data directories (as
two machines behind a load balancer would be): a track uploaded through one is answered by
the other within a second, a delete likewise; each builds its own index snapshot from the
store's change log. docs/operations.md "More than one machine"."""

from __future__ import annotations

import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support.audio import encode, synth_music
from tests.ops.test_deploy import (
    API_KEY,
    SR,
    compose_env,
    free_port,
    multipart,
    musicprism,
    request,
    wait_healthy,
)

FOLLOW_S = 1.0  # Catalog's sync interval: how often a host follows the store


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def until(predicate, limit_s: float) -> float:
    """Seconds until ``predicate()`` holds (polling every 20 ms), failing after ``limit_s``."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit_s, "not within the limit"
        time.sleep(0.02)
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_two_hosts_answer_each_others_writes(tmp_path: Path, empty_database_url: str) -> None:
    migrate = musicprism("migrate", env=compose_env("migrate", tmp_path, empty_database_url,
                                                     free_port()))
    _, stderr = migrate.communicate(timeout=120)
    assert migrate.returncode == 0, stderr

    hosts = []
    for name in ("a", "b"):
        port = free_port()
        (tmp_path / name).mkdir()
        env = compose_env("app", tmp_path / name, empty_database_url, port)
        env.update(MUSICPRISM_WORKERS="1", MUSICPRISM_INDEX_MMAP="false",
                   MUSICPRISM_MODEL_PATH=str(tmp_path / "a" / "model.pt"))  # one model
        hosts.append((f"http://127.0.0.1:{port}", env,
                      musicprism("serve", "--host", "127.0.0.1", "--no-migrate", env=env)))
    (a, env_a, proc_a), (b, env_b, proc_b) = hosts
    try:
        wait_healthy(proc_a, env_a)
        wait_healthy(proc_b, env_b)
        assert env_a["MUSICPRISM_DATA_DIR"] != env_b["MUSICPRISM_DATA_DIR"]

        tracks = []
        for seed in (1, 2):
            body, content_type = multipart(
                "file", f"s{seed}.flac", encode(synth_music(3.0, SR, seed=seed), SR, "flac"))
            status, created = request(f"{a}/tracks", body,
                                      {"Content-Type": content_type, "X-API-Key": API_KEY})
            assert status == 201
            tracks.append(created["track"]["id"])
        first, second = tracks

        def b_finds_it() -> bool:
            if status_of(f"{b}/similar/{second}?k=5") != 200:
                return False
            _, found = request(f"{b}/similar/{first}?k=5")
            return [r["track"]["id"] for r in found["results"]] == [second]

        took = until(b_finds_it, limit_s=5.0)
        assert took <= FOLLOW_S + 0.5, f"host b answered after {took:.2f} s"
        _, same = request(f"{b}/tracks/{second}")
        assert same["source"] == "s2.flac"

        req = urllib.request.Request(f"{b}/tracks/{second}", method="DELETE",
                                     headers={"X-API-Key": API_KEY})
        with urllib.request.urlopen(req, timeout=30) as response:
            assert response.status == 204

        def a_forgets_it() -> bool:
            _, found = request(f"{a}/similar/{first}?k=5")
            return found["results"] == [] and status_of(f"{a}/tracks/{second}") == 404

        took = until(a_forgets_it, limit_s=5.0)
        assert took <= FOLLOW_S + 0.5, f"host a forgot after {took:.2f} s"
        for base in (a, b):
            _, ready = request(f"{base}/readyz")
            assert ready["status"] == "ready", ready
    finally:
        for _, _, proc in hosts:
            proc.send_signal(signal.SIGTERM)
        for _, _, proc in hosts:
            _, stderr = proc.communicate(timeout=60)
            # one uvicorn process shuts down cleanly, then re-raises the SIGTERM it caught
            assert proc.returncode in (0, -signal.SIGTERM), stderr
            assert "Application shutdown complete" in stderr
    for name in ("a", "b"):  # each host wrote its own snapshot
        snaps = list((tmp_path / name / "data" / "indexes").rglob("snap-*"))
        assert snaps, f"host {name} has no index snapshot"
