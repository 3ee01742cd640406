"""MTG-Jamendo split TSVs (tests/model/data/fixtures/jamendo, real header and tag format)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from layout.schema import ConceptSchema
from model.data.base import DatasetError, MissingAudioError, UnknownTagError
from model.data.jamendo import load_jamendo, parse_tag, read_split_file, split_files
from model.data.windowed import WindowDataset

FIXTURE = Path(__file__).parent / "fixtures" / "jamendo"
SR = 16000


@pytest.fixture
def jamendo(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture splits, plus mp3 (and .low.mp3) files of each listed duration."""
    splits = tmp_path / "splits"
    shutil.copytree(FIXTURE / "splits", splits)
    audio = tmp_path / "audio"
    for tsv in (splits / "split-0").glob("*.tsv"):
        for row in read_split_file(tsv):
            n = int(float(row.duration) * SR)
            x = (0.2 * np.sin(np.arange(n) * 0.05)).astype(np.float32)
            (audio / row.path).parent.mkdir(parents=True, exist_ok=True)
            sf.write(audio / row.path, x, SR, format="MP3")
            sf.write(audio / row.path.replace(".mp3", ".low.mp3"), x[::2], SR // 2, format="MP3")
    return splits, audio


def test_loads_split_0_top50_with_prefix_concepts(jamendo) -> None:
    splits, audio = jamendo
    ds = load_jamendo(splits, audio)
    assert ds.schema.concepts == {
        "genre": ("electronic", "folk", "pop", "punkrock", "rock"),
        "mood": ("energetic", "happy", "relaxing"),
        "instrument": ("drums", "guitar", "piano", "synthesizer"),
    }
    assert [t.uid for t in ds] == ["track_0000214", "track_0000948", "track_0001049",
                                   "track_0002634", "track_0006719", "track_0007041"]
    assert [t.split for t in ds] == ["train", "train", "train", "val", "test", "test"]
    t = ds.tracks[1]
    assert t.tags == ("rock", "guitar", "drums") and t.labelled
    assert t.path == (audio / "48/948.mp3").resolve() and t.duration == 2.5
    assert t.metadata == {"artist_id": "artist_000087", "album_id": "album_000149",
                          "jamendo_path": "48/948.mp3"}
    np.testing.assert_array_equal(ds.multi_hot(1), [0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    assert ds.summary()["tag_counts"]["relaxing"] == 2
    assert ds.card["subset"] == "top50tags" and ds.name == "jamendo-top50tags-split-0"


def test_split_folder_given_directly_and_low_quality(jamendo) -> None:
    splits, audio = jamendo
    ds = load_jamendo(splits / "split-0", audio, low_quality=True)
    assert ds.tracks[0].path == (audio / "14/214.low.mp3").resolve()
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=1.0, mode="eval")
    assert wd[0]["audio"].shape == (2, SR)  # 2.0 s track at 8 kHz, resampled to 16 kHz


def test_decoded_windows_come_from_the_listed_file(jamendo) -> None:
    splits, audio = jamendo
    ds = load_jamendo(splits, audio)
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, mode="train", views=2, seed=1)
    item = wd[3]  # 3.0-s folk track, known duration: windows decoded by seeking
    assert item["audio"].shape == (2, 8000)
    full, _ = sf.read(audio / "34/2634.mp3", dtype="float32")
    for v in range(2):
        o = int(round(float(item["offsets"][v]) * SR))
        np.testing.assert_allclose(item["audio"][v].numpy(), full[o:o + 8000], atol=1e-4)


def test_given_schema_and_unknown_tags(jamendo) -> None:
    splits, audio = jamendo
    schema = ConceptSchema({"genre": ("rock", "pop", "electronic", "folk"),
                            "mood": ("happy", "relaxing")}, facet_dim=8)
    with pytest.raises(UnknownTagError) as e:
        load_jamendo(splits, audio, schema=schema)
    assert e.value.tags == {"punkrock": 1, "energetic": 1, "guitar": 2, "drums": 1,
                            "synthesizer": 1, "piano": 1}
    ds = load_jamendo(splits, audio, schema=schema, unknown_tags="ignore")
    assert ds.tracks[1].tags == ("rock",) and ds.card["ignored_tags"]["guitar"] == 2


def test_errors(jamendo, tmp_path: Path) -> None:
    splits, audio = jamendo
    with pytest.raises(DatasetError, match="unknown Jamendo subset"):
        load_jamendo(splits, audio, subset="decades")
    with pytest.raises(DatasetError, match="missing MTG-Jamendo split file"):
        load_jamendo(splits, audio, subset="genre")
    (audio / "41/7041.mp3").unlink()
    with pytest.raises(MissingAudioError) as e:
        load_jamendo(splits, audio)
    assert e.value.paths == [(audio / "41/7041.mp3").resolve()]
    bad = splits / "split-0" / "autotagging_top50tags-test.tsv"
    bad.write_text("ID\tPATH\ntrack_1\t1/1.mp3\n")
    with pytest.raises(DatasetError, match="header must start with"):
        load_jamendo(splits, audio)
    with pytest.raises(DatasetError, match="genre|instrument|mood/theme"):
        parse_tag("decade---80s")
    assert parse_tag("mood/theme---happy") == ("mood", "happy")
    assert split_files(splits, "top50tags")["val"].name == "autotagging_top50tags-validation.tsv"
