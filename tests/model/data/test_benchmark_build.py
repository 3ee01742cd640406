"""Tiny real builds: determinism, resumability, the missing-FluidSynth error, end to end.

The builds render real audio through FluidSynth, so all but the error test are marked slow
(they still run in CI).
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from model.data.benchmark.build import MANIFEST_COLUMNS, BuildConfig, build, verify_splits
from model.data.benchmark.synth import SynthConfig, SynthUnavailable
from service.cli import main

FOLK = frozenset({"essenFolksong"})  # quick to parse: keeps the tiny builds fast


def _config(out, cache, seed=0, n_clips=6, **kw) -> BuildConfig:
    return BuildConfig(out=out, seed=seed, n_clips=n_clips, workers=1, collections=FOLK,
                       cache_dir=cache, progress=False, **kw)


def _rows(out):
    with (out / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def first_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    report = build(_config(root / "a", root / "cache"))
    return root, report


@pytest.mark.slow  # three to four real builds: ~10 s each on a loaded machine
def test_tiny_build_writes_the_contract(first_build):
    root, report = first_build
    out = root / "a"
    rows = _rows(out)
    assert report.n_clips == len(rows) == 6 and report.rendered == 6 and not report.failures
    assert tuple(rows[0]) == MANIFEST_COLUMNS
    concepts = json.loads((out / "concepts.json").read_text())
    assert list(concepts) == ["genre", "mood", "instrument", "era"]
    vocab = {t for tags in concepts.values() for t in tags}
    assert {t for r in rows for t in r["tags"].split(";")} == vocab
    assert {r["kind"] for r in rows} == {"score", "arranged"}
    assert all((out / r["path"]).is_file() for r in rows)
    assert len({r["track_id"] for r in rows}) == 2  # three windows per track
    verify_splits(rows)
    card = (out / "card.md").read_text()
    assert "| jazz |" in card and "MIT" in card and "music21" in card


@pytest.mark.slow  # three to four real builds: ~10 s each on a loaded machine
def test_same_seed_same_manifest_other_seed_differs(first_build):
    root, _ = first_build
    build(_config(root / "b", root / "cache"))
    assert (root / "a" / "manifest.csv").read_bytes() == (root / "b" / "manifest.csv").read_bytes()
    build(_config(root / "c", root / "cache", seed=1))
    assert _rows(root / "c") != _rows(root / "a")


@pytest.mark.slow  # three to four real builds: ~10 s each on a loaded machine
def test_resume_renders_only_what_is_missing(first_build):
    root, _ = first_build
    out = root / "r"
    shutil.copytree(root / "a", out)
    before = (out / "manifest.csv").read_bytes()
    rows = _rows(out)
    (out / rows[2]["path"]).unlink()
    (out / rows[4]["path"]).write_bytes(b"truncated")  # a corrupt clip is rendered again
    (out / "manifest.csv").unlink()
    report = build(_config(out, root / "cache"))
    assert report.rendered == 2 and report.n_clips == 6
    assert (out / "manifest.csv").read_bytes() == before
    again = build(_config(out, root / "cache"))
    assert again.rendered == 0


def test_missing_fluidsynth_fails_before_any_work(tmp_path):
    cfg = _config(tmp_path / "out", tmp_path / "cache",
                  synth=SynthConfig(library=str(tmp_path / "libfluidsynth.so.3")))
    with pytest.raises(SynthUnavailable, match="apt-get install fluidsynth fluid-soundfont-gm"):
        build(cfg)
    assert not (tmp_path / "out").exists()
    code = main(["dataset", "build", "--out", str(tmp_path / "cli"), "--soundfont",
                 str(tmp_path / "missing.sf2"), "--no-progress"])
    assert code == 2 and not (tmp_path / "cli").exists()


@pytest.mark.slow
def test_end_to_end_cli_build_decodes(tmp_path):
    out = tmp_path / "bench"
    code = main(["dataset", "build", "--out", str(out), "--clips", "36", "--seed", "7",
                 "--workers", "2", "--no-progress"])
    assert code == 0
    rows = _rows(out)
    assert len(rows) >= 33  # a clip may be lost to a failure, never silently
    assert {r["split"] for r in rows} <= {"train", "val", "test"}
    verify_splits(rows)
    for r in rows:
        audio, sr = sf.read(out / r["path"], dtype="float32")
        assert sr == 16000 and audio.ndim == 1
        assert len(audio) == round(float(r["duration"]) * sr)
        assert 3.0 - 1e-6 <= float(r["duration"]) <= 10.0
        rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
        assert rms > 10 ** (-30 / 20)  # levels are drawn in -28..-14 dBFS
    concepts = json.loads((out / "concepts.json").read_text())
    assert len(concepts["genre"]) >= 8 and "contemporary" in concepts["era"]
