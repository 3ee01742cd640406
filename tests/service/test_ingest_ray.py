"""The ``ray`` ingest engine (service/ingest_ray.py) on a local Ray cluster of 2 CPUs: the same
tracks, vectors and fingerprints as the local engine, re-runs and a crashed actor that add
nothing twice, refused audio reported, and the command line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from service import ingest_ray
from service.catalog import Catalog
from service.ingest import IngestReport, ingest_folder
from service.ingest_engines import EngineSpec
from support.audio import encode
from tests.service.conftest import SR, make_settings, song

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed (pip install "
                                        "'musicprism[ray]')")
pytestmark = [
    pytest.mark.slow,  # a Ray cluster and actors that load torch: tens of seconds
    # Ray 2.60's own DataContext sets fields that Ray deprecates (not ours to fix).
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]

ROOT = Path(__file__).resolve().parents[2]
SONGS = ("one", "two", "three", "four")


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """One local cluster of 2 CPUs for the module; the engine joins it (and leaves it up)."""
    from service.ingest_ray import import_ray

    import_ray().init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def library(root: Path) -> Path:
    """Four real files, a copy of one, and a file that does not decode."""
    lib = root / "library"
    (lib / "sub").mkdir(parents=True)
    for i, name in enumerate(SONGS):
        (lib / ("sub" if i % 2 else ".") / f"{name}.flac").write_bytes(
            encode(song(name), SR, "flac"))
    (lib / "sub" / "copy-of-one.wav").write_bytes((lib / "one.flac").read_bytes())
    (lib / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    return lib


def open_catalog(tmp_path: Path, url: str) -> Catalog:
    from service.app import build_catalog

    settings = make_settings(tmp_path, url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = build_catalog(settings)
    catalog.open()
    return catalog


def ingest(catalog: Catalog, lib: Path, engine: EngineSpec) -> IngestReport:
    return ingest_folder(catalog, lib, progress=False, engine=engine)


def stored(catalog: Catalog) -> dict[str, tuple[np.ndarray, list[tuple[int, int]], float]]:
    """Each track's vector, fingerprint hashes and duration, by source path."""
    _, tracks = catalog.queries.list_tracks(offset=0, limit=50)
    out = {}
    with catalog.binding.session() as session:
        for t in tracks:
            rows = session.execute(text("SELECT hash, time FROM fingerprint_hashes WHERE "
                                        "track_id = :id ORDER BY hash, time"), {"id": t.id})
            out[str(t.source)] = (catalog.queries.vector_of(t.id),
                                  [tuple(r) for r in rows], float(t.duration_seconds))
    return out


def test_ray_stores_what_the_local_engine_stores(cluster: None, tmp_path: Path,
                                                 database_url: str, other_url: str) -> None:
    lib = library(tmp_path)
    local, remote = open_catalog(tmp_path, database_url), open_catalog(tmp_path, other_url)
    on_ray = EngineSpec("ray", workers=2, model_path=tmp_path / "model.pt")  # make_settings'
    try:
        want = ingest(local, lib, EngineSpec())
        got = ingest(remote, lib, on_ray)
        assert got.summary() == want.summary() == (
            "4 added; 1 already in the catalogue; 1 skipped (1 AudioDecodeError)")
        assert got.skipped[0][0] == "broken.wav"
        assert got.skipped[0][1].startswith("AudioDecodeError: cannot decode audio")
        a, b = stored(local), stored(remote)
        assert len(remote.indexes) == 4 and a.keys() == b.keys()
        for source, (vector, hashes, duration) in a.items():
            np.testing.assert_allclose(b[source][0], vector, rtol=1e-5, atol=1e-6)
            assert b[source][1] == hashes and len(hashes) > 0, source
            assert b[source][2] == pytest.approx(duration)

        again = ingest(remote, lib, on_ray)  # a re-run adds nothing
        assert again.summary() == "0 added; 5 already in the catalogue; 1 skipped " \
                                  "(1 AudioDecodeError)"
        assert len(remote.indexes) == 4 and stored(remote).keys() == a.keys()
    finally:
        local.close()
        remote.close()


class CrashingOnce(ingest_ray.Analyser):
    """An actor whose process dies at its first file while the marker ``crashed``, beside the
    checkpoint, is missing (made first, so the restarted actor goes on). The actor is built in
    a worker from this module, not from the test's objects: the marker's place comes with the
    constructor's arguments."""

    def __init__(self, model_path: str, max_seconds: float, min_seconds: float) -> None:
        super().__init__(model_path, max_seconds, min_seconds)
        self.marker = Path(model_path).parent / "crashed"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return super().__call__(batch)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_crashed_actor_adds_nothing_twice(cluster: None, tmp_path: Path, database_url: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray restarts the dead actor and retries its file; each file is still stored once."""
    monkeypatch.setattr(ingest_ray, "Analyser", CrashingOnce)
    lib = library(tmp_path)
    catalog = open_catalog(tmp_path, database_url)
    try:
        report = ingest(catalog, lib, EngineSpec("ray", 2, tmp_path / "model.pt"))
        assert (tmp_path / "crashed").exists()
        assert report.summary() == ("4 added; 1 already in the catalogue; 1 skipped "
                                    "(1 AudioDecodeError)")
        assert len(catalog.indexes) == 4 and len(stored(catalog)) == 4
    finally:
        catalog.close()


@pytest.fixture
def env(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings = make_settings(tmp_path, database_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(settings.model_path))
    monkeypatch.setenv("MUSICPRISM_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("MUSICPRISM_MIN_AUDIO_SECONDS", "0.5")
    return tmp_path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``musicprism ARGS`` in a process of its own (the environment as the test set it)."""
    return subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=240)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_command_line_starts_a_cluster_and_ingests_on_it(env: Path) -> None:
    """The command as an operator runs it: a local cluster of 2 CPUs for the run, stopped
    afterwards, the report on stdout."""
    lib = library(env)
    proc = cli("ingest", str(lib), "--engine", "ray", "--processes", "2", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "4 added; 1 already in the catalogue; 1 skipped (1 AudioDecodeError)"
    assert out[1].startswith("  skipped broken.wav: AudioDecodeError:")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("backend", ["sqlite"])
def test_an_address_where_nothing_listens_is_a_clear_error(env: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = cli("ingest", str(library(env)), "--engine", "ray", "--address",
               f"127.0.0.1:{port}", "--quiet")
    assert proc.returncode == 1, proc.stderr
    assert f"musicprism: no Ray cluster at '127.0.0.1:{port}': Connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr
