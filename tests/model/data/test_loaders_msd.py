"""MSD Last.fm-50 (tests/model/data/fixtures/msd: an msd_id,tags table and split id lists)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model.data.base import DatasetError, MissingAudioError, UnsafePathError
from model.data.msd import (
    DEFAULT_PATH_PATTERN,
    MSD50_CONCEPTS,
    MSD50_TAGS,
    load_msd,
    msd50_schema,
)
from model.data.windowed import WindowDataset

FIXTURE = Path(__file__).parent / "fixtures" / "msd"
IDS = ["TRAAAAK128F9318786", "TRAAAAV128F421A322", "TRAAAAW128F429D538", "TRAAACN128F9355673",
       "TRAAABD128F429CF47", "TRAAAEF128F4273421"]
SR = 16000


@pytest.fixture
def msd(tmp_path: Path) -> Path:
    root = tmp_path / "msd"
    shutil.copytree(FIXTURE, root)
    for msd_id in IDS:
        path = root / "audio" / DEFAULT_PATH_PATTERN.format(msd_id=msd_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.1 * np.sin(np.arange(SR // 2) * 0.03)).astype(np.float32), SR,
                 format="MP3")
    return root


def _splits(root: Path) -> dict[str, Path]:
    return {"trainval": root / "filtered_list_train.txt", "test": root / "filtered_list_test.txt"}


def test_schema_is_the_papers_grouping_of_the_50_tags() -> None:
    schema = msd50_schema()
    assert sorted(schema.tags) == sorted(MSD50_TAGS) and len(MSD50_TAGS) == 50
    assert {c: len(t) for c, t in MSD50_CONCEPTS.items()} == {
        "genre": 28, "mood": 12, "instrument": 5, "era": 5}
    assert schema.facet_names == ("genre", "mood", "instrument", "era") and schema.dim == 256


def test_loads_tags_splits_and_paths(msd: Path) -> None:
    ds = load_msd(msd / "lastfm_tags.csv", msd / "audio", split_files=_splits(msd),
                  train_count=3)
    by_id = {t.uid: t for t in ds}
    assert [t.uid for t in ds] == IDS
    assert [t.split for t in ds] == ["train", "train", "train", "val", "test", "test"]
    assert by_id[IDS[0]].tags == ("rock", "alternative rock", "90s", "male vocalists")
    # case-insensitive match to the canonical spelling; rows of one id merged
    assert by_id[IDS[2]].tags == ("Mellow", "chillout", "acoustic", "guitar", "female vocalist")
    assert by_id[IDS[4]].tags == ("jazz", "easy listening", "Mellow", "60s", "oldies")
    # in the table with none of the 50 tags: labelled, no positives; absent: unlabelled
    assert by_id[IDS[3]].labelled and by_id[IDS[3]].tags == ()
    assert not by_id[IDS[5]].labelled
    assert by_id[IDS[0]].path == (msd / "audio/A/A/A/TRAAAAK128F9318786.clip.mp3").resolve()
    assert ds.card["ignored_tags"] == {"seen live": 2, "favourites": 1}
    assert ds.card["not_in_splits"] == 1 and ds.card["unlabelled"] == 1
    y = ds.multi_hot(1)
    assert y.sum() == 4 and y[ds.schema.tag_index("Hip-Hop")] == 1
    assert y[ds.schema.tag_index("00s")] == 1
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.25, mode="eval")
    assert wd[0]["audio"].shape == (2, 4000)


def test_separate_train_and_val_lists_path_column_and_pattern(msd: Path) -> None:
    (msd / "train.txt").write_text("\n".join(IDS[:2]) + "\n")
    (msd / "val.txt").write_text(IDS[2] + "\n")
    (msd / "tags.tsv").write_text("msd_id\ttags\tpath\n"
                                  f"{IDS[0]}\trock;pop\tflat/{IDS[0]}.mp3\n"
                                  f"{IDS[1]}\tjazz\t\n")
    (msd / "audio/flat").mkdir()
    shutil.copy(msd / "audio/A/A/A/TRAAAAK128F9318786.clip.mp3", msd / f"audio/flat/{IDS[0]}.mp3")
    (msd / "audio/by7").mkdir()
    for i in IDS[1:3]:
        shutil.copy(msd / "audio/A/A/A/TRAAAAK128F9318786.clip.mp3", msd / f"audio/by7/{i}.mp3")
    ds = load_msd(msd / "tags.tsv", msd / "audio", path_pattern="by7/{msd_id}.mp3",
                  split_files={"train": msd / "train.txt", "val": msd / "val.txt"})
    assert [(t.uid, t.split, t.tags) for t in ds] == [
        (IDS[0], "train", ("rock", "pop")), (IDS[1], "train", ("jazz",)), (IDS[2], "val", ())]
    assert ds.tracks[0].path.name == f"{IDS[0]}.mp3" and ds.tracks[0].path.parent.name == "flat"
    assert ds.tracks[1].path.parent.name == "by7" and not ds.tracks[2].labelled


@pytest.mark.parametrize("splits, count, message", [
    ({"trainval": "filtered_list_train.txt"}, None, "either train"),
    ({"train": "filtered_list_train.txt", "trainval": "filtered_list_train.txt"}, 2, "either"),
    ({"validation": "filtered_list_test.txt"}, None, "train/val/test/trainval"),
    ({"trainval": "filtered_list_train.txt"}, 9, r"train_count 9 not in \[0, 4\]"),
    ({"train": "filtered_list_train.txt", "test": "filtered_list_train.txt"}, None,
     "in both train and test"),
])
def test_split_errors(msd: Path, splits: dict, count: int | None, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        load_msd(msd / "lastfm_tags.csv", msd / "audio", train_count=count,
                 split_files={k: msd / v for k, v in splits.items()})


def test_table_pattern_and_file_errors(msd: Path) -> None:
    (msd / "bad.csv").write_text("track,tags\nTRA,rock\n")
    with pytest.raises(DatasetError, match="needs columns msd_id and tags"):
        load_msd(msd / "bad.csv", msd / "audio", split_files=_splits(msd), train_count=3)
    with pytest.raises(DatasetError, match="path_pattern"):
        load_msd(msd / "lastfm_tags.csv", msd / "audio", split_files=_splits(msd),
                 train_count=3, path_pattern="{track}.mp3")
    with pytest.raises(UnsafePathError):
        load_msd(msd / "lastfm_tags.csv", msd / "audio", split_files=_splits(msd),
                 train_count=3, path_pattern="../{msd_id}.mp3")
    (msd / "audio/A/A/A/TRAAAAK128F9318786.clip.mp3").unlink()
    with pytest.raises(MissingAudioError):
        load_msd(msd / "lastfm_tags.csv", msd / "audio", split_files=_splits(msd),
                 train_count=3)
