"""``musicprism dataset teacher``: the real musicnn port labels a tiny manifest window by
window, reports what it skipped, and its outputs are what distillation training reads."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from layout.schema import ConceptSchema
from model.data.generic_csv import load_manifest, write_concepts, write_manifest
from model.teacher.label import track_key
from model.teacher.weights import ensure_wheel
from model.train.soft_targets import TeacherTargets
from service.cli import main
from support.audio import synth_music

SR = 16_000


@pytest.fixture(scope="module")
def wheel() -> Path:
    default = Path.home() / ".cache" / "musicprism" / "wheels"
    return ensure_wheel(Path(os.environ.get("MUSICPRISM_TEST_TEACHER_WHEEL_DIR", default)))


def _data(root: Path) -> Path:
    (root / "audio").mkdir(parents=True)
    sf.write(root / "audio" / "long.wav", synth_music(6.5, SR, seed=1), SR)  # 2 windows
    sf.write(root / "audio" / "short.wav", synth_music(1.0, SR, seed=2), SR)  # < 1 window
    write_manifest(root / "manifest.csv", [{"path": "audio/long.wav", "tags": "rock"},
                                           {"path": "audio/short.wav", "tags": ""}])
    write_concepts(root / "concepts.json", {"genre": ["rock", "surf"], "mood": ["happy"]})
    return root


def test_labels_a_manifest_for_distillation(tmp_path, wheel, capsys):
    data = _data(tmp_path / "data")
    assert main(["dataset", "teacher", str(data), "--wheel", str(wheel), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "labelled 1, already done 0, skipped 1" in out and f"data.teacher: {data}" in out
    with np.load(data / "teacher" / f"{track_key('audio/long.wav')}.npz") as z:
        assert z["probs"].shape == (2, 50)
        assert z["starts"].tolist() == pytest.approx([0.0, 2.992])
        probs = z["probs"].astype(np.float32)
    assert ((probs >= 0) & (probs <= 1)).all()
    with (data / "teacher_skipped.csv").open() as f:
        (skipped,) = list(csv.DictReader(f))
    assert skipped["path"] == "audio/short.wav" and "shorter than one window" in skipped["reason"]
    # a second run resumes: nothing to do
    assert main(["dataset", "teacher", str(data), "--wheel", str(wheel)]) == 0
    assert "labelled 0, already done 2, skipped 0" in capsys.readouterr().out
    # training reads it: 'rock' and 'happy' are teacher labels, 'surf' is not
    ds = load_manifest(data, schema=ConceptSchema(
        {"genre": ("rock", "surf"), "mood": ("happy",)}, facet_dim=2))
    teacher = TeacherTargets(ds, data, data)
    assert teacher.columns.tolist() == [True, False, True]
    target, mask = teacher.targets(0, 0.0, 1.0, np.array([1, 0, 0]), True)
    rock = ["rock" == name for name in np.load(
        data / "teacher" / f"{track_key('audio/long.wav')}.npz")["labels"]].index(True)
    assert target[0] == pytest.approx(probs[0, rock]) and mask.all()


def test_refusals(tmp_path, wheel, capsys):
    assert main(["dataset", "teacher", str(tmp_path), "--wheel", str(wheel)]) == 1
    assert f"no manifest.csv in '{tmp_path}'" in capsys.readouterr().err
    data = _data(tmp_path / "data")
    assert main(["dataset", "teacher", str(data), "--shard", "2/2"]) == 2
    assert "--shard '2/2' must be i/n" in capsys.readouterr().err
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    assert main(["dataset", "teacher", str(data), "--wheel", str(tmp_path / "bad.whl")]) == 1
    assert "cannot load the teacher" in capsys.readouterr().err
