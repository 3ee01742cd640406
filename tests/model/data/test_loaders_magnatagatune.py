"""MagnaTagATune annotations_final.csv (tests/model/data/fixtures/mtat: real quoting and layout,
10 of the 188 tag columns)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model.data.base import DatasetError, MissingAudioError
from model.data.magnatagatune import (
    MTAT_CONCEPTS,
    load_magnatagatune,
    read_annotations,
    song_id,
    top_tags,
)
from model.data.windowed import WindowDataset

FIXTURE = Path(__file__).parent / "fixtures" / "mtat"
SR = 16000


@pytest.fixture
def mtat(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "mtat"
    shutil.copytree(FIXTURE, root)
    _, _, _, paths = read_annotations(root / "annotations_final.csv")
    for k, rel in enumerate(paths):
        (root / "audio" / rel).parent.mkdir(parents=True, exist_ok=True)
        x = (0.2 * np.sin(np.arange(SR) * (0.02 + 0.01 * k))).astype(np.float32)
        sf.write(root / "audio" / rel, x, SR, format="MP3")
    return root / "annotations_final.csv", root / "audio"


def test_parse_and_top_k_by_frequency_with_column_order_ties(mtat) -> None:
    tags, labels, clip_ids, paths = read_annotations(mtat[0])
    assert tags[:3] == ["no voice", "singer", "duet"] and len(tags) == 10
    assert labels.shape == (10, 10) and labels.dtype == np.uint8
    assert clip_ids[:3] == ["2", "6", "10"]
    assert paths[-1] == "e/dj_x-night-02-drive-117-146.mp3"
    # counts: classical 4; no voice, guitar, slow 3; singer, female, piano, rock, techno 2
    assert top_tags(tags, labels, 6) == ["classical", "no voice", "guitar", "slow", "singer",
                                         "female"]


def test_folder_split_keeps_songs_together_and_drops_untagged(mtat) -> None:
    ds = load_magnatagatune(*mtat, top_k=4)
    assert ds.schema.concepts == {"genre": ("classical",), "mood": ("slow",),
                                  "instrument": ("guitar", "no voice")}
    assert [(t.uid, t.split) for t in ds] == [
        ("2", "train"), ("6", "train"), ("10", "train"), ("30", "val"), ("33", "test"),
        ("40", "test"), ("41", "test")]
    assert ds.tracks[0].track_id == ds.tracks[1].track_id == "bach_ensemble-cantatas-01-aria"
    assert ds.tracks[0].tags == ("classical", "slow")
    np.testing.assert_array_equal(ds.multi_hot(3), [0, 1, 1, 1])
    assert ds.split_leaks() == {}
    assert ds.tracks[2].path == (mtat[1] / "1/rockers-loud_album-02-anthem-88-117.mp3").resolve()
    full = load_magnatagatune(*mtat, top_k=4, keep_untagged=True)
    assert [t.uid for t in full if not t.tags] == ["15", "21", "55"]
    assert all(t.labelled for t in full)
    assert {t.uid: t.split for t in full}["55"] == "test"  # folder e


def test_split_files_standard_split(mtat, tmp_path: Path, caplog) -> None:
    ann, audio = mtat
    split = ann.parent / "split"
    np.save(tmp_path / "valid.npy", np.array(["0\tc/strummer-folk-04-calm-30-59.mp3"]))
    with caplog.at_level(logging.INFO, logger="model.data.magnatagatune"):
        ds = load_magnatagatune(ann, audio, top_k=4, split_files={
            "train": split / "train.txt", "val": tmp_path / "valid.npy",
            "test": split / "test.txt"})
    assert [(t.uid, t.split) for t in ds] == [
        ("2", "train"), ("10", "train"), ("30", "val"), ("33", "test"), ("40", "train"),
        ("41", "test")]
    assert ds.split_leaks() == {"quartet-strings-01-largo": ("test", "train")}
    assert "1 song(s) have clips in several splits" in caplog.text
    assert ds.card["split"] == "files"


def test_split_file_errors(mtat, tmp_path: Path) -> None:
    ann, audio = mtat
    (tmp_path / "t.txt").write_text("0/no-such-clip-0-29.mp3\n")
    with pytest.raises(DatasetError, match="not in the annotations"):
        load_magnatagatune(ann, audio, top_k=4, split_files={"train": tmp_path / "t.txt"})
    (tmp_path / "a.txt").write_text("2\n")
    with pytest.raises(DatasetError, match="listed in both"):
        load_magnatagatune(ann, audio, top_k=4,
                           split_files={"train": tmp_path / "a.txt", "test": tmp_path / "a.txt"})
    with pytest.raises(DatasetError, match="train/val/test"):
        load_magnatagatune(ann, audio, top_k=4, split_files={"valid": tmp_path / "a.txt"})
    (tmp_path / "train_list_pub.cP").write_bytes(b"\x80\x02]q\x00.")
    with pytest.raises(DatasetError, match="pickle"):
        load_magnatagatune(ann, audio, split_files={"train": tmp_path / "train_list_pub.cP"},
                           top_k=4)


def test_tags_without_concept_and_custom_grouping(mtat) -> None:
    with pytest.raises(DatasetError, match=r"no concept for MagnaTagATune tag\(s\) \['singer'\]"):
        load_magnatagatune(*mtat, top_k=6)
    concepts = {**MTAT_CONCEPTS, "instrument": (*MTAT_CONCEPTS["instrument"], "singer")}
    ds = load_magnatagatune(*mtat, top_k=6, concepts=concepts)
    assert set(ds.schema.tags) == {"classical", "no voice", "guitar", "slow", "singer", "female"}
    assert ds.schema.concepts["instrument"] == ("guitar", "female", "no voice", "singer")


def test_audio_decodes_and_missing_files(mtat) -> None:
    ann, audio = mtat
    ds = load_magnatagatune(ann, audio, top_k=4)
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.25, mode="eval")
    assert wd[0]["audio"].shape == (4, 4000)
    (audio / "c/strummer-folk-04-calm-30-59.mp3").unlink()
    with pytest.raises(MissingAudioError):
        load_magnatagatune(ann, audio, top_k=4)


def test_song_id_and_bad_header(tmp_path: Path) -> None:
    assert song_id("f/a_b-c_d-01-e_f-30-59.mp3") == "a_b-c_d-01-e_f"
    assert song_id("0/x-y-02-z-117-146.mp3") == "x-y-02-z"
    (tmp_path / "a.csv").write_text('"id"\t"rock"\t"path"\n')
    with pytest.raises(DatasetError, match="header must be clip_id"):
        read_annotations(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text('"clip_id"\t"rock"\t"mp3_path"\n"1"\t"yes"\t"0/a.mp3"\n')
    with pytest.raises(DatasetError, match="0/1"):
        read_annotations(tmp_path / "b.csv")
