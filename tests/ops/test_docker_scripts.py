"""docker/healthcheck.py, run as the image runs it, against a real uvicorn server serving the
service's own /healthz route."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from service.api.routes import health
from tests.ops.files import ROOT

SCRIPTS = ROOT / "docker"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPTS / script), *args], capture_output=True,
                          text=True, timeout=30, cwd=ROOT, env=env)


# --- healthcheck.py against a real server --------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    app = FastAPI()
    app.include_router(health.router)

    @app.get("/broken")
    def broken() -> JSONResponse:
        return JSONResponse({"detail": "down"}, status_code=503)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
        sock.close()


def test_healthy_server_passes(server: str) -> None:
    done = run("healthcheck.py", f"{server}/healthz")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == f"{server}/healthz: 200"


def test_default_url_uses_musicprism_port(server: str) -> None:
    port = server.rsplit(":", 1)[1]
    assert run("healthcheck.py", env={"MUSICPRISM_PORT": port, "PATH": ""}).returncode == 0


def test_unhealthy_answers_fail(server: str) -> None:
    broken = run("healthcheck.py", f"{server}/broken")
    assert broken.returncode == 1 and broken.stderr.strip().endswith(": 503")
    missing = run("healthcheck.py", f"{server}/nope")
    assert missing.returncode == 1 and missing.stderr.strip().endswith(": 404")


def test_nothing_listening_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    done = run("healthcheck.py", env={"MUSICPRISM_PORT": str(port), "PATH": ""})
    assert done.returncode == 1 and "Connection refused" in done.stderr
