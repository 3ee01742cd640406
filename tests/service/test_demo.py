"""`musicprism demo`: what `make serve` runs before serving."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from service.cli import main
from service.demo import ModelMissing, ensure_demo
from service.settings import Settings
from support.audio import encode
from tests.service.conftest import SR, song
from tests.utils.models import tiny_checkpoint


def corpus(data_dir: Path) -> Path:
    """A pre-built corpus in the benchmark's manifest format (so nothing is rendered)."""
    out = data_dir / "datasets" / "bench-ci"
    (out / "audio").mkdir(parents=True)
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "track_id", "split", "tags", "title", "artist", "album", "duration"])
        for i in range(3):
            (out / "audio" / f"c{i}.flac").write_bytes(encode(song(f"demo{i}"), SR, "flac"))
            w.writerow(
                [
                    f"audio/c{i}.flac",
                    f"p{i}",
                    "test",
                    "jazz;happy",
                    f"Clip {i}",
                    "J. S. Bach",
                    "bach",
                    "4.0",
                ]
            )
    return out


def test_demo_ingests_once(tmp_path: Path, database_url: str, capsys):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_path=tiny_checkpoint(tmp_path / "m.pt"),
    )
    corpus(settings.data_dir)
    message = ensure_demo(settings, progress=False)
    assert message.endswith("3 added; 0 already in the catalogue; 0 skipped")
    assert ensure_demo(settings, progress=False) == "demo catalogue present: 3 tracks"


def test_demo_without_a_model_says_how_to_get_one(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(tmp_path / "none.pt"))
    assert main(["demo", "--data-dir", str(tmp_path), "--quiet"]) == 1
    assert "no trained model at" in capsys.readouterr().err
    with pytest.raises(ModelMissing, match="musicprism train"):
        ensure_demo(Settings(model_path=tmp_path / "none.pt", data_dir=tmp_path))


def test_a_new_model_re_embeds_the_catalogue(tmp_path: Path, database_url: str):
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_path=tiny_checkpoint(tmp_path / "a.pt", seed=1),
    )
    corpus(settings.data_dir)
    ensure_demo(settings, progress=False)
    upgraded = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        model_path=tiny_checkpoint(tmp_path / "b.pt", seed=2),
    )
    message = ensure_demo(upgraded, progress=False)
    assert message.endswith(
        "0 added; 3 re-embedded with the current model; 0 already in the catalogue; 0 skipped"
    )
    assert ensure_demo(upgraded, progress=False) == "demo catalogue present: 3 tracks"
