"""write_generic: a dataset round-trips through the generic manifest (splits, segments,
metadata), and what the format cannot hold is refused or counted."""

from dataclasses import replace
from pathlib import Path

import pytest

from layout.schema import ConceptSchema
from model.data.base import DatasetError, MissingAudioError, MusicDataset, Track
from model.data.generic_csv import load_manifest
from model.data.importer import write_generic


def _dataset(root: Path, concepts=None) -> MusicDataset:
    (root / "a").mkdir(parents=True)
    for name in ("x.wav", "y.wav", "z.wav"):
        (root / "a" / name).write_bytes(b"")
    schema = ConceptSchema(concepts or {"genre": ("rock", "pop")}, facet_dim=2)
    tracks = [
        Track("x", "song-1", root / "a" / "x.wav", ("rock",), True, "train", start=1.5,
              duration=3.0, metadata={"artist": "A, with comma", "split": "val"}),
        Track("y", "song-1", root / "a" / "y.wav", (), True, "train"),
        Track("z", "song-2", root / "a" / "z.wav", (), False, "test"),
    ]
    return MusicDataset(tracks, schema, name="toy", card={"source": "toy"})


def test_round_trip(tmp_path):
    report = write_generic(_dataset(tmp_path), tmp_path)
    assert report.written == {"train": 2, "test": 1}
    assert report.labelled_without_tags == 1 and report.missing_audio == 0
    ds = load_manifest(tmp_path)
    x, y, z = ds
    assert (x.track_id, x.tags, x.split, x.start, x.duration) == (
        "song-1", ("rock",), "train", 1.5, 3.0)
    assert x.metadata["artist"] == "A, with comma"
    assert not y.labelled and not z.labelled  # the format has no "labelled, no tag"
    assert z.split == "test"


def test_refusals(tmp_path):
    with pytest.raises(DatasetError, match="cannot be written to a manifest"):
        write_generic(_dataset(tmp_path / "s", {"genre": ("rock", "a;b")}), tmp_path / "s")
    ds = _dataset(tmp_path / "m")
    (tmp_path / "m" / "a" / "y.wav").unlink()
    with pytest.raises(MissingAudioError, match="1 audio file"):
        write_generic(ds, tmp_path / "m")
    assert write_generic(ds, tmp_path / "m", skip_missing=True).missing_audio == 1
    with pytest.raises(DatasetError, match="exists; pass overwrite"):
        write_generic(ds, tmp_path / "m", skip_missing=True)
    ds = _dataset(tmp_path / "p")
    (tmp_path / "p" / " x.wav").write_bytes(b"")  # the cell would lose its space
    spaced = replace(ds[0], path=tmp_path / "p" / " x.wav")
    with pytest.raises(DatasetError, match="begins or ends with a space"):
        write_generic(MusicDataset([spaced], ds.schema), tmp_path / "p")
    with pytest.raises(DatasetError, match="not inside the output folder"):
        write_generic(_dataset(tmp_path / "o"), tmp_path / "o" / "a" / "deeper")
