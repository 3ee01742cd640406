"""Track, MusicDataset and the shared helpers of model.data.base."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from layout.schema import ConceptSchema
from model.audio import SilentAudio, decode
from model.data.base import (
    AudioLoadError,
    DatasetError,
    MissingAudioError,
    MusicDataset,
    Track,
    UnknownTagError,
    UnsafePathError,
    _load,
    check_files,
    hash_split,
    read_list,
    resolve_inside,
)
from support.audio import encode, synth_music

SCHEMA = ConceptSchema({"genre": ("rock", "jazz"), "mood": ("sad", "happy")}, facet_dim=4)


def _track(uid: str, tags: tuple[str, ...] = (), split: str = "train", track_id: str = "",
           labelled: bool | None = None) -> Track:
    return Track(uid=uid, track_id=track_id or uid, path=Path(f"/x/{uid}.wav"), tags=tags,
                 labelled=bool(tags) if labelled is None else labelled, split=split)


def test_multi_hot_labels_groups_and_splits() -> None:
    ds = MusicDataset([
        _track("a", ("rock", "sad"), track_id="t1"),
        _track("b", (), split="val", track_id="t2"),
        _track("c", ("happy",), split="test", track_id="t1"),
        _track("d", (), labelled=True, track_id="t3"),
    ], SCHEMA, name="toy")
    # schema order: rock, jazz, sad, happy
    np.testing.assert_array_equal(ds.multi_hot(0), [1, 0, 1, 0])
    np.testing.assert_array_equal(ds.labels(), [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1],
                                                [0, 0, 0, 0]])
    assert ds.labels().dtype == np.float32
    np.testing.assert_array_equal(ds.labelled, [True, False, True, True])
    np.testing.assert_array_equal(ds.groups, [0, 1, 0, 2])
    assert ds.split_leaks() == {"t1": ("test", "train")}
    assert [t.uid for t in ds.split("train")] == ["a", "d"]
    assert [t.uid for t in ds.split("val", "test")] == ["b", "c"]
    s = ds.summary()
    assert s["splits"] == {"train": 2, "val": 1, "test": 1}
    assert s["track_ids"] == 3 and s["labelled"] == 3
    assert s["tag_counts"] == {"rock": 1, "jazz": 0, "sad": 1, "happy": 1}


def test_dataset_refuses_unknown_tags_and_duplicate_uids() -> None:
    with pytest.raises(UnknownTagError) as e:
        MusicDataset([_track("a", ("rock", "polka")), _track("b", ("polka",))], SCHEMA)
    assert e.value.tags == {"polka": 2}
    assert "'polka' (2x)" in str(e.value)
    with pytest.raises(DatasetError, match="duplicate track uid"):
        MusicDataset([_track("a"), _track("a")], SCHEMA)
    with pytest.raises(DatasetError, match="unknown split"):
        MusicDataset([_track("a")], SCHEMA).split("dev")


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "dev"}, "split 'dev'"),
    ({"tags": ("rock",), "labelled": False}, "unlabelled but has tags"),
    ({"start": -1.0}, "negative start"),
    ({"duration": 0.0}, "non-positive duration"),
    ({"tags": ("rock", "rock"), "labelled": True}, "repeated tags"),
])
def test_track_validation(kwargs: dict, message: str) -> None:
    base = {"uid": "u", "track_id": "u", "path": Path("a.wav"), "tags": (), "labelled": False,
            "split": "train"}
    with pytest.raises(DatasetError, match=message):
        Track(**{**base, **kwargs})


def test_hash_split_is_deterministic_seeded_and_near_80_10_10() -> None:
    ids = [f"track-{i}" for i in range(10_000)]
    first = [hash_split(i, seed=3) for i in ids]
    assert first == [hash_split(i, seed=3) for i in ids]
    counts = Counter(first)
    assert abs(counts["train"] / 10_000 - 0.8) < 0.02
    assert abs(counts["val"] / 10_000 - 0.1) < 0.015
    assert abs(counts["test"] / 10_000 - 0.1) < 0.015
    other = [hash_split(i, seed=4) for i in ids]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 2000
    assert {hash_split(i, fractions=(0.0, 0.0, 1.0)) for i in ids[:50]} == {"test"}
    with pytest.raises(DatasetError, match="summing to 1"):
        hash_split("x", fractions=(0.5, 0.2, 0.2))


def test_resolve_inside_refuses_dotdot_absolute_and_symlink_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (tmp_path / "outside.wav").write_bytes(b"")
    (root / "link.wav").symlink_to(tmp_path / "outside.wav")
    (root / "a" / "in.wav").write_bytes(b"")
    assert resolve_inside(root, "a/in.wav") == (root / "a" / "in.wav").resolve()
    assert resolve_inside(root, root / "a" / "in.wav") == (root / "a/in.wav").resolve()
    assert resolve_inside(root, "a/../a/in.wav") == (root / "a/in.wav").resolve()
    for bad in ("../outside.wav", "link.wav", str(tmp_path / "outside.wav")):
        with pytest.raises(UnsafePathError) as e:
            resolve_inside(root, bad)
        assert e.value.path == bad
        assert resolve_inside(root, bad, allow_outside=True) == (tmp_path / "outside.wav")


def test_check_files_lists_every_missing_file(tmp_path: Path) -> None:
    (tmp_path / "here.wav").write_bytes(b"")
    tracks = [Track("a", "a", tmp_path / "here.wav", (), False, "train"),
              Track("b", "b", tmp_path / "gone1.wav", (), False, "train"),
              Track("c", "c", tmp_path / "gone2.wav", (), False, "test")]
    with pytest.raises(MissingAudioError) as e:
        check_files(tracks)
    assert e.value.paths == [tmp_path / "gone1.wav", tmp_path / "gone2.wav"]


def test_read_list_text_npy_and_refuses_pickles(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text("TRA\n\n  TRB  \nTRC\n")
    assert read_list(tmp_path / "ids.txt") == ["TRA", "TRB", "TRC"]
    np.save(tmp_path / "ids.npy", np.array(["0\tf/a.mp3", "1\tc/b.mp3"]))
    assert read_list(tmp_path / "ids.npy") == ["0\tf/a.mp3", "1\tc/b.mp3"]
    (tmp_path / "ids.cP").write_bytes(b"\x80\x02]q\x00.")
    with pytest.raises(DatasetError, match="pickle"):
        read_list(tmp_path / "ids.cP")


def test_load_segment_mono_and_resample(tmp_path: Path) -> None:
    sr = 8000
    t = np.arange(2 * sr) / sr
    left = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    right = np.full_like(left, 0.25)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), sr, subtype="FLOAT")
    x = _load(tmp_path / "s.wav", sr)
    np.testing.assert_allclose(x, (left + right) / 2, atol=1e-7)
    seg = _load(tmp_path / "s.wav", sr, start=0.5, duration=0.25)
    np.testing.assert_allclose(seg, ((left + right) / 2)[4000:6000], atol=1e-7)
    assert _load(tmp_path / "s.wav", sr, start=1.9, duration=1.0).size == 800
    assert _load(tmp_path / "s.wav", sr, start=5.0).size == 0
    up = _load(tmp_path / "s.wav", 16000)
    assert up.dtype == np.float32 and up.size == 32000
    spectrum = np.abs(np.fft.rfft(up - up.mean()))
    assert abs(np.argmax(spectrum) * 16000 / up.size - 440) < 1.0


def test_load_raises_typed_error_on_garbage(tmp_path: Path) -> None:
    (tmp_path / "bad.ogg").write_bytes(b"not audio at all" * 10)
    with pytest.raises(AudioLoadError) as e:
        _load(tmp_path / "bad.ogg", 16000)
    assert e.value.path == tmp_path / "bad.ogg"


def test_mp3_segments_match_the_full_decode(tmp_path: Path) -> None:
    """A low-bitrate MP3, where a bare seek gave ~0.3 s of wrong samples (bit reservoir)."""
    sr = 16000
    x = (0.2 * np.sin(np.arange(3 * sr) * 0.05)).astype(np.float32)
    sf.write(tmp_path / "s.mp3", x, sr, format="MP3")
    full = _load(tmp_path / "s.mp3", sr)
    for start in (0.3125, 0.77, 1.5, 2.2):
        first = int(round(start * sr))
        seg = _load(tmp_path / "s.mp3", sr, start=start, duration=0.5)
        np.testing.assert_allclose(seg, full[first:first + 8000], atol=1e-6)


def test_load_reads_what_ingest_reads_through_the_same_decoder(tmp_path: Path) -> None:
    """m4a (AAC) and Opus go through model.audio.decode, as they do at ingest."""
    x = synth_music(3.0, 44100, seed=3)
    for fmt in ("m4a", "opus"):
        path = tmp_path / f"s.{fmt}"
        path.write_bytes(encode(x, 44100, fmt))
        got = _load(path, 16000, start=1.0, duration=1.0)
        want = decode(path, sample_rate=16000, start=1.0, duration=1.0).samples
        np.testing.assert_array_equal(got, want)
        assert got.size == 16000


def test_load_keeps_silence_a_training_window_may_be_quiet(tmp_path: Path) -> None:
    sf.write(tmp_path / "quiet.wav", np.zeros(8000, np.float32), 8000)
    np.testing.assert_array_equal(_load(tmp_path / "quiet.wav", 8000), np.zeros(8000))
    with pytest.raises(SilentAudio):  # the serving path still refuses it
        decode(tmp_path / "quiet.wav", sample_rate=8000)
