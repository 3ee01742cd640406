"""Ingest's engines without a cluster: the spec's refusals, analyses as bytes, Ray optional."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.embed import TrackEmbedding
from model.fingerprint import Fingerprint
from service.catalog.recordings import Analysis
from service.cli import main
from service.ingest_engines import EngineSpec, EngineUnavailable
from service.ingest_wire import pack, unpack

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("spec", "message"), [
    (EngineSpec("bogus"), "unknown engine 'bogus': valid engines are local, ray"),
    (EngineSpec("local", workers=0), "workers must be at least 1, got 0"),
    (EngineSpec("local", address="h:1"), "an address is for the ray engine, not 'local'"),
])
def test_the_spec_refuses_what_cannot_run(spec: EngineSpec, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        spec.checked()


def analysis(seed: int, *, embedding: bool, fingerprint: bool) -> Analysis:
    rng = np.random.default_rng(seed)
    emb = TrackEmbedding(windows=rng.standard_normal((3, 8)).astype(np.float32),
                         vector=rng.standard_normal(8).astype(np.float32),
                         tag_probs=rng.random(5).astype(np.float32), window_seconds=3.0,
                         hop_seconds=1.5) if embedding else None
    fp = Fingerprint(hashes=rng.integers(0, 2**20, 40, dtype=np.int32),
                     times=np.arange(40, dtype=np.int32), version=7) if fingerprint else None
    return Analysis(duration=12.25, embedding=emb, fingerprint=fp, embed_seconds=0.5)


@pytest.mark.parametrize(("embedding", "fingerprint"), [(True, True), (True, False),
                                                        (False, True)])
def test_an_analysis_survives_bytes_exactly(embedding: bool, fingerprint: bool) -> None:
    want = analysis(3, embedding=embedding, fingerprint=fingerprint)
    got = unpack(pack(want))
    assert (got.duration, got.embed_seconds) == (12.25, 0.5)
    assert (got.embedding is None, got.fingerprint is None) == (not embedding, not fingerprint)
    if want.embedding is not None and got.embedding is not None:
        for name in ("windows", "vector", "tag_probs"):
            a, b = getattr(want.embedding, name), getattr(got.embedding, name)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)
        assert (got.embedding.window_seconds, got.embedding.hop_seconds) == (3.0, 1.5)
    if want.fingerprint is not None and got.fingerprint is not None:
        np.testing.assert_array_equal(got.fingerprint.hashes, want.fingerprint.hashes)
        np.testing.assert_array_equal(got.fingerprint.times, want.fingerprint.times)
        assert got.fingerprint.hashes.dtype == np.int32 and got.fingerprint.version == 7


def test_without_ray_the_engine_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from service.ingest_ray import import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(EngineUnavailable, match=r"pip install 'musicprism\[ray\]'"):
        import_ray()


def test_serving_never_imports_ray() -> None:
    """The app, the command line and ingest's local engines load without Ray."""
    code = ("import sys; import service.app, service.cli, service.ingest, "
            "service.ingest_engines, service.ingest_pool; "
            "from service.cli import build_parser; build_parser(); "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


@pytest.mark.parametrize(("flags", "message"), [
    (["--engine", "bogus"], "invalid choice: 'bogus' (choose from 'local', 'ray')"),
    (["--address", "h:1"], "--address is for --engine ray"),
])
def test_the_command_line_refuses_a_bad_engine(tmp_path: Path, capsys, flags: list[str],
                                               message: str) -> None:
    """Usage errors (exit 2) before anything is loaded; no Ray needed."""
    code = None
    try:
        code = main(["ingest", str(tmp_path), *flags])
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err
