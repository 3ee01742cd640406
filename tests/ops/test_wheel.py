"""The wheel serves from any directory (issue: "a wheel that serves from any directory").

The project is built into a wheel, installed into a fresh virtual environment together with
the serving lock (requirements/serve.lock, hash-checked) and nothing else, and
``musicprism serve`` runs from an unrelated directory: the shipped model, the migrations and
their alembic.ini must come out of the installed package. Two tracks are added and queried.
Training-only packages (music21, scikit-learn) are not in that environment.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from support.audio import encode, synth_music
from support.server import REPO_ROOT, Server, start_server
from tests.service.conftest import API_KEY

pytestmark = pytest.mark.slow

TORCH_WHEELS = Path("/opt/wheels")


def run(*cmd: str | Path, cwd: Path = REPO_ROOT) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def torch_source() -> list[str]:
    """Where pip finds the CPU torch of the lock (as the Makefile decides)."""
    if any(TORCH_WHEELS.glob("torch-*+cpu-*.whl")):
        return []  # the machine's pip configuration already lists /opt/wheels
    return ["--find-links", "https://download.pytorch.org/whl/cpu/torch/"]


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
        "-w", root / "dist", ".")
    (wheel,) = (root / "dist").glob("musicprism-*.whl")
    run(sys.executable, "-m", "venv", root / "venv")
    python = root / "venv" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", "--require-hashes", *torch_source(),
        "-r", REPO_ROOT / "requirements" / "serve.lock")
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", wheel)
    run(python, "-m", "pip", "check")
    return root / "venv"


def test_the_serving_environment_holds_no_training_packages(venv: Path) -> None:
    names = run(venv / "bin" / "python", "-m", "pip", "list", "--format=freeze").lower()
    installed = {line.split("==")[0] for line in names.splitlines()}
    assert "musicprism" in installed and "torch" in installed and "soxr" in installed
    assert not installed & {"music21", "scikit-learn", "matplotlib", "pytest", "torchaudio"}


@pytest.fixture(scope="module")
def server(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # no checkout here, nothing on the path
    env = {"MUSICPRISM_API_KEY": API_KEY, "MUSICPRISM_ENVIRONMENT": "test"}
    s = start_server(env, elsewhere / "server.log", migrate=True,
                     args=("--data-dir", str(elsewhere / "data")),
                     executable=[str(venv / "bin" / "musicprism")], cwd=elsewhere)
    try:
        yield s
    finally:
        s.stop()


def test_serves_from_another_directory_with_the_packaged_model_and_migrations(
    server: Server, venv: Path
) -> None:
    with httpx2.Client(base_url=server.base_url, timeout=60.0) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        ids = []
        for seed in (1, 2):
            audio = encode(synth_music(6.0, 16_000, seed=seed), 16_000, "flac")
            r = client.post("/tracks", files={"file": (f"t{seed}.flac", audio)},
                            data={"title": f"track {seed}"}, headers={"X-API-Key": API_KEY})
            assert r.status_code == 201, r.text
            ids.append(r.json()["track"]["id"])
        similar = client.get(f"/similar/{ids[0]}", params={"k": 1})
        assert similar.status_code == 200, similar.text
        assert [hit["track"]["id"] for hit in similar.json()["results"]] == [ids[1]]
        # the page and its modules are package data too, and the upload's audio is kept
        assert "/web/app.js" in client.get("/").text
        assert client.get("/web/views/search.js").status_code == 200
        assert client.get(f"/tracks/{ids[0]}/audio", headers={"Range": "bytes=0-3"}).content \
            == b"fLaC"
    where = run(venv / "bin" / "python", "-c", "import model, service; print(model.__file__)",
                cwd=venv)
    assert where.startswith(str(venv))  # the installed package, not the checkout
