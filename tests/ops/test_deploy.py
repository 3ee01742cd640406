"""The compose start order, run as processes against the test PostgreSQL: with the app
service's environment from docker-compose.yml, ``serve --no-migrate`` refuses a database nobody
migrated; ``musicprism migrate`` migrates it; ``serve`` (two workers) then passes
docker/healthcheck.py, takes an upload and answers queries from either worker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support.audio import encode, synth_music
from tests.ops.files import ROOT, interpolate_tree, load_compose
from tests.utils.models import tiny_checkpoint

API_KEY = "deploy-test-key-0123456789"
SECRETS = {"MUSICPRISM_API_KEY": API_KEY, "POSTGRES_PASSWORD": "unused"}
SR = 16_000
SYNC_INTERVAL_S = 1.0  # Catalog's default: how often a worker follows the store


def compose_env(service: str, tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    """The service's environment from docker-compose.yml, pointed at this test's database,
    folders and port (the image supplies MUSICPRISM_PORT and the model path)."""
    dropped = ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MUSICPRISM_") and k not in dropped}
    resolved = interpolate_tree(load_compose(), SECRETS)["services"][service]["environment"]
    env.update({k: str(v) for k, v in resolved.items()})
    env.update(
        DATABASE_URL=database_url,
        MUSICPRISM_DATA_DIR=str(tmp_path / "data"),
        MUSICPRISM_MODEL_PATH=str(tiny_checkpoint(tmp_path / "model.pt")),
        MUSICPRISM_PORT=str(port),
        MUSICPRISM_MIN_AUDIO_SECONDS="0.5",
    )
    if "PROMETHEUS_MULTIPROC_DIR" in env:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prometheus")
    return env


def musicprism(*args: str, env: dict[str, str], **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(proc: subprocess.Popen[str], env: dict[str, str], limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while True:
        check = subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py")],
                               env=env, capture_output=True, text=True, timeout=30)
        if check.returncode == 0:
            return
        assert proc.poll() is None, f"serve exited {proc.returncode}: {proc.communicate()[1]}"
        assert time.monotonic() < deadline, "not healthy in time"
        time.sleep(0.25)


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            ) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, json.loads(response.read())


def multipart(field: str, filename: str, payload: bytes) -> tuple[bytes, str]:
    boundary = "musicprism-deploy-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_serve_refuses_until_migrated_then_serves(tmp_path: Path, empty_database_url: str) -> None:
    port = free_port()
    env = compose_env("app", tmp_path, empty_database_url, port)
    assert env["MUSICPRISM_ENVIRONMENT"] == "production" and env["MUSICPRISM_WORKERS"] == "2"

    early = musicprism("serve", "--host", "127.0.0.1", "--no-migrate",
                       env={**env, "MUSICPRISM_WORKERS": "1"})
    _, stderr = early.communicate(timeout=120)
    assert early.returncode != 0  # what depends_on: service_completed_successfully prevents
    assert ("the database is at revision none (empty)" in stderr
            and "run `musicprism migrate` (or `alembic -c service/migrations/alembic.ini "
                "upgrade head`) first" in stderr)

    migrate = musicprism("migrate", env=compose_env("migrate", tmp_path, empty_database_url, port))
    _, stderr = migrate.communicate(timeout=120)
    assert migrate.returncode == 0, stderr

    serve = musicprism("serve", "--host", "127.0.0.1", "--no-migrate", env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(serve, env)
        audio = encode(synth_music(3.0, SR, seed=1), SR, "flac")
        body, content_type = multipart("file", "a.flac", audio)
        status, created = request(f"{base}/tracks", body,
                                  {"Content-Type": content_type, "X-API-Key": API_KEY})
        assert status == 201 and created["created"] is True
        track = created["track"]["id"]
        status, found = request(f"{base}/tracks/{track}")
        assert status == 200 and found["source"] == "a.flac"
        for _ in range(4):  # whichever worker answers
            status, similar = request(f"{base}/similar/{track}?facet=mood")
            assert status == 200 and similar["results"] == []  # the only track is excluded
            status, ready = request(f"{base}/readyz")
            assert status == 200 and ready["status"] == "ready"
    finally:
        serve.send_signal(signal.SIGTERM)
        _, stderr = serve.communicate(timeout=60)
    assert serve.returncode == 0, stderr
