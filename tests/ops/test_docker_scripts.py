"""docker/requirements.py and docker/healthcheck.py, run as the image runs them; the health
check against a real uvicorn server serving the service's own /healthz route."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

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


# --- requirements.py -----------------------------------------------------------------------------
def test_requirements_lists_the_pyproject_dependencies() -> None:
    with open(ROOT / "pyproject.toml", "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    done = run("requirements.py", "--pyproject", str(ROOT / "pyproject.toml"))
    assert done.returncode == 0 and done.stdout.splitlines() == deps


def test_requirements_only_picks_by_canonical_name(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\ndependencies = ["Torch_Audio==2.*", "numpy>=2", '
                         '"uvicorn[standard]==0.54.*", "psycopg[binary] ; python_version>\'3\'"]\n')
    done = run("requirements.py", "--pyproject", str(pyproject),
               "--only", "uvicorn", "torch-audio", "PSYCOPG")
    assert done.stdout.splitlines() == ["uvicorn[standard]==0.54.*", "Torch_Audio==2.*",
                                        "psycopg[binary] ; python_version>'3'"]
    missing = run("requirements.py", "--pyproject", str(pyproject), "--only", "torch")
    assert missing.returncode == 1
    assert "not in [project].dependencies: torch" in missing.stderr
    assert "have: numpy, psycopg, torch-audio, uvicorn" in missing.stderr


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
