"""The generic manifest.csv + concepts.json format (tests/model/data/fixtures/generic)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from layout.schema import ConceptSchema
from model.data.base import (
    MissingAudioError,
    UnknownTagError,
    UnsafePathError,
    _load,
    hash_split,
)
from model.data.generic_csv import (
    ManifestError,
    load_manifest,
    read_concepts,
    write_concepts,
    write_manifest,
)
from model.data.windowed import WindowDataset

FIXTURE = Path(__file__).parent / "fixtures" / "generic"
SR = 8000
AUDIO = ["rock_piano.wav", "jazz.wav", "untagged.wav", "sub/strings.wav"]


def _tone(path: Path, seconds: float, freq: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "catalogue"
    shutil.copytree(FIXTURE, root)
    for k, name in enumerate(AUDIO):
        _tone(root / "audio" / name, 3.0, 220.0 * (k + 1))
    return root


def test_loads_tags_splits_segments_and_metadata(root: Path) -> None:
    ds = load_manifest(root)
    assert ds.schema.tags == ("rock", "jazz", "sad", "happy", "piano", "guitar", "strings")
    assert ds.schema.facet_names == ("genre", "mood", "instrument")
    assert len(ds) == 5 and ds.name == "catalogue"
    a, b, jazz, untagged, strings = ds.tracks
    assert a.path == (root / "audio/rock_piano.wav").resolve()
    assert (a.start, a.duration, b.start, b.duration) == (0.0, 1.5, 1.5, 1.5)
    assert a.uid == "audio/rock_piano.wav@0+1.5" and b.uid == "audio/rock_piano.wav@1.5+1.5"
    assert a.tags == b.tags == ("rock", "sad")
    # row 2 has no split: it follows row 1, another clip of the same track
    assert a.split == "train" and b.split == "train"
    assert jazz.track_id == "audio/jazz.wav" and jazz.split == "test"
    assert untagged.labelled is False and untagged.tags == ()
    assert untagged.split == hash_split("audio/untagged.wav")
    assert strings.split == "val"
    assert strings.metadata == {"title": "Strings, Op. 2", "artist": "Cy",
                                "album": "Third, Vol. 1"}
    np.testing.assert_array_equal(ds.multi_hot(2), [0, 1, 0, 1, 0, 1, 0])
    np.testing.assert_array_equal(ds.labelled, [True, True, True, False, True])
    np.testing.assert_array_equal(ds.groups, [0, 0, 1, 2, 3])
    assert ds.card["ignored_tags"] == {}


def test_segments_decode_to_their_part_of_the_file(root: Path) -> None:
    ds = load_manifest(root)
    full = _load(root / "audio/rock_piano.wav", SR)
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, mode="eval")
    second = wd[1]["audio"].numpy()
    assert second.shape == (3, 4000)
    np.testing.assert_allclose(second.reshape(-1), full[12000:24000], atol=1e-6)


def test_split_seed_and_fractions_drive_the_default_split(root: Path) -> None:
    ds = load_manifest(root, split_seed=5, split_fractions=(0.0, 0.0, 1.0))
    assert [t.split for t in ds] == ["train", "train", "test", "test", "val"]
    ds = load_manifest(root, split_fractions=(1.0, 0.0, 0.0))
    assert [t.split for t in ds] == ["train", "train", "test", "train", "val"]


def test_unknown_tags_error_lists_them_or_are_ignored_and_counted(root: Path) -> None:
    text = (root / "manifest.csv").read_text()
    (root / "manifest.csv").write_text(text.replace("jazz;happy;guitar", "jazz;polka;kazoo")
                                       .replace("strings;happy", "polka"))
    with pytest.raises(UnknownTagError) as e:
        load_manifest(root)
    assert e.value.tags == {"polka": 2, "kazoo": 1}
    ds = load_manifest(root, unknown_tags="ignore")
    assert ds.card["ignored_tags"] == {"polka": 2, "kazoo": 1}
    assert ds.tracks[2].tags == ("jazz",)
    assert ds.tracks[4].tags == () and ds.tracks[4].labelled  # annotated, none of ours


def test_schema_argument_replaces_concepts_json(root: Path) -> None:
    (root / "concepts.json").unlink()
    with pytest.raises(ManifestError, match="no concepts file"):
        load_manifest(root)
    schema = ConceptSchema({"all_tags": ("rock", "sad", "jazz", "happy", "guitar", "strings")},
                           facet_dim=8, disentangled=False)
    ds = load_manifest(root / "manifest.csv", schema=schema)
    assert ds.schema is schema
    np.testing.assert_array_equal(ds.multi_hot(0), [1, 1, 0, 0, 0, 0])


@pytest.mark.parametrize("bad", ["../outside.wav", "link.wav", "ABS"])
def test_paths_escaping_the_manifest_dir_are_refused(root: Path, bad: str) -> None:
    outside = root.parent / "outside.wav"
    _tone(outside, 1.0, 440.0)
    (root / "link.wav").symlink_to(outside)
    bad = str(outside) if bad == "ABS" else bad
    (root / "manifest.csv").write_text(f"path,tags\n{bad},rock\n")
    with pytest.raises(UnsafePathError) as e:
        load_manifest(root)
    assert e.value.path == bad
    ds = load_manifest(root, allow_outside=True)
    assert ds.tracks[0].path == outside.resolve()


@pytest.mark.parametrize("content, message", [
    ("file,tags\na.wav,rock\n", r"missing column\(s\) \['path'\]"),
    ("path,tags,start\naudio/jazz.wav,rock,soon\n", r"manifest.csv:2: start 'soon'"),
    ("path,tags,duration\naudio/jazz.wav,rock,-1\n", "non-positive duration"),
    ("path,tags,split\naudio/jazz.wav,rock,dev\n", "split 'dev'"),
    ("path,tags\n,rock\n", "empty path"),
    ("path,tags\naudio/jazz.wav,rock,extra\n", "more cells than columns"),
    ("path,tags,track_id,split\naudio/jazz.wav,rock,t,train\naudio/untagged.wav,,t,test\n",
     "clips of 1 track"),
])
def test_malformed_manifests_raise_with_location(root: Path, content: str,
                                                  message: str) -> None:
    (root / "manifest.csv").write_text(content)
    with pytest.raises(ManifestError, match=message):
        load_manifest(root)


def test_duplicates_and_missing_audio(root: Path) -> None:
    (root / "manifest.csv").write_text("path,tags\naudio/jazz.wav,jazz\naudio/jazz.wav,rock\n")
    with pytest.raises(Exception, match="duplicate track uid"):
        load_manifest(root)
    (root / "manifest.csv").write_text("path,tags\naudio/gone.wav,jazz\n")
    with pytest.raises(MissingAudioError):
        load_manifest(root)
    assert len(load_manifest(root, require_files=False)) == 1


def test_write_manifest_round_trip(tmp_path: Path) -> None:
    for name in ("x.wav", "y.wav"):
        _tone(tmp_path / name, 1.0, 330.0)
    write_concepts(tmp_path / "concepts.json", {"mood": ["calm"], "genre": ["ambient", "drone"]})
    assert read_concepts(tmp_path / "concepts.json") == {"mood": ("calm",),
                                                         "genre": ("ambient", "drone")}
    n = write_manifest(tmp_path / "manifest.csv", [
        {"path": "x.wav", "tags": ["calm", "drone"], "title": "X, the first", "split": "test"},
        {"path": "y.wav", "tags": "", "artist": "Ỳ", "duration": 0.5},
    ])
    assert n == 2
    assert (tmp_path / "manifest.csv").read_text().splitlines()[0] == \
        "path,tags,split,duration,title,artist"
    ds = load_manifest(tmp_path)
    assert ds.schema.tags == ("calm", "ambient", "drone")
    assert ds.tracks[0].tags == ("calm", "drone") and ds.tracks[0].split == "test"
    assert ds.tracks[0].metadata == {"title": "X, the first", "artist": ""}
    assert ds.tracks[1].duration == 0.5 and ds.tracks[1].metadata["artist"] == "Ỳ"
    assert not ds.tracks[1].labelled
