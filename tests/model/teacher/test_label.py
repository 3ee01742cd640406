"""Teacher labelling for real (the port from the musicnn wheel) on a tiny manifest: two
synthetic tracks, one too short for a window, one that is not audio."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from model.teacher.label import (
    LabelConfig,
    label_manifest,
    label_samples,
    track_key,
    write_teacher_csv,
)
from model.teacher.melspec import LogMel
from model.teacher.musicnn import MSD_LABELS, N_FRAMES, Musicnn

SR = 16000


def _music(seconds: float, seed: int, rate: int = SR) -> np.ndarray:
    """Seeded chords with a pulse and noise: enough structure for confident tags."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    notes = rng.choice([110.0, 146.8, 196.0, 261.6, 329.6], size=3, replace=False)
    x = sum(np.sin(2 * np.pi * f * t) for f in notes) / 3
    pulse = (np.sin(2 * np.pi * 2 * t) > 0.9).astype(float)
    return (0.3 * x + 0.2 * pulse * rng.standard_normal(len(t))).astype(np.float32)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture()
def manifest(tmp_path: Path) -> Path:
    audio = tmp_path / "data" / "audio"
    audio.mkdir(parents=True)
    sf.write(audio / "a.flac", _music(7.0, 1), SR)  # 438 frames: 2 windows
    sf.write(audio / "b.wav", _music(3.5, 2, 22050), 22050)  # resampled: 1 window
    sf.write(audio / "short.wav", _music(2.0, 3), SR)
    (audio / "broken.ogg").write_bytes(b"OggS not really")
    rows = ["path,tags,track_id", "audio/a.flac,,a", "audio/b.wav,,b", "audio/short.wav,,s",
            "audio/broken.ogg,,x"]
    (tmp_path / "data" / "manifest.csv").write_text("\n".join(rows) + "\n")
    return tmp_path / "data" / "manifest.csv"


def test_labels_every_window_and_reports_skips(musicnn_model: Musicnn, manifest: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = label_manifest(manifest, out, musicnn_model, LabelConfig(batch_windows=1))
    assert (report.labelled, report.already, report.skipped) == (2, 0, 2)
    assert report.audio_seconds == pytest.approx(10.5, abs=0.01)

    with np.load(out / "teacher" / f"{track_key('audio/a.flac')}.npz") as z:
        probs, pen, starts = z["probs"], z["penultimate"], z["starts"]
        assert str(z["path"]) == "audio/a.flac" and tuple(z["labels"]) == MSD_LABELS
    assert probs.shape == (2, 50) and probs.dtype == np.float16
    assert pen.shape == (2, 200) and pen.dtype == np.float16
    np.testing.assert_allclose(starts, [0.0, N_FRAMES * 256 / SR])

    lm = LogMel()  # the same windows straight through the port
    x = torch.from_numpy(sf.read(manifest.parent / "audio/a.flac", dtype="float32")[0])
    with torch.no_grad():
        direct = musicnn_model(lm(x)[: 2 * N_FRAMES].reshape(2, N_FRAMES, 96))
    np.testing.assert_allclose(probs, direct.probs.numpy(), atol=1e-3)  # float16 storage

    assert not (out / "teacher_skipped.csv").exists()  # written by write_teacher_csv
    assert write_teacher_csv(manifest, out) == (2, 2)
    skipped = {r["path"]: r["reason"] for r in _read_csv(out / "teacher_skipped.csv")}
    assert skipped["audio/short.wav"].startswith("shorter than one window (2.00 s < 2.992 s)")
    assert skipped["audio/broken.ogg"].startswith("AudioDecodeError: ")

    rows = {r["path"]: r for r in _read_csv(out / "teacher.csv")}
    assert sorted(rows) == ["audio/a.flac", "audio/b.wav"]
    a = rows["audio/a.flac"]
    mean = probs.astype(np.float32).mean(0)
    assert a["windows"] == "2" and a["track_id"] == "a"
    assert a["tags"].split(";") == [MSD_LABELS[i] for i in np.argsort(-mean)[:5]]
    assert float(a[f"mean:{MSD_LABELS[0]}"]) == pytest.approx(mean[0], abs=1e-5)


def test_rerun_resumes_and_shards_split_the_rows(musicnn_model: Musicnn, manifest: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = label_manifest(manifest, out, musicnn_model, LabelConfig(shard=(1, 2)))
    assert (first.labelled, first.skipped) == (1, 1)  # rows b.wav and broken.ogg
    again = label_manifest(manifest, out, musicnn_model, LabelConfig())
    assert (again.labelled, again.already, again.skipped) == (1, 2, 1)
    assert not list((out / "teacher").glob("*.tmp"))


def test_batching_does_not_change_outputs(musicnn_model: Musicnn) -> None:
    x = _music(3 * 2.992 + 0.5, 4)
    lm = LogMel()
    one = label_samples(musicnn_model, lm, x, batch_windows=1)
    three = label_samples(musicnn_model, lm, x, batch_windows=3)
    assert one["probs"].shape == (3, 50)
    np.testing.assert_allclose(one["probs"].astype(np.float32),
                               three["probs"].astype(np.float32), atol=2e-3)
    empty = label_samples(musicnn_model, lm, x[:1000])
    assert empty["probs"].shape == (0, 50) and empty["starts"].shape == (0,)
