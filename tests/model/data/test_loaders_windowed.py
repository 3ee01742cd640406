"""WindowDataset windowing rules, AudioCache bounds, and the offset helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from layout.schema import ConceptSchema
from model.data.base import DatasetError, MusicDataset, Track
from model.data.windowed import (
    AudioCache,
    WindowDataset,
    collate_windows,
    draw_offsets,
    eval_offsets,
)

SR = 1000
SCHEMA = ConceptSchema({"genre": ("rock", "jazz")}, facet_dim=4)


def _ramp(path: Path, samples: int, first: int = 0) -> np.ndarray:
    # Below full scale (louder float audio is brought to a peak of 1.0 by the decoder).
    x = ((np.arange(samples) + first) * 1e-5).astype(np.float32)
    sf.write(path, x, SR, subtype="FLOAT")
    return x


@pytest.fixture
def ramps(tmp_path: Path) -> tuple[MusicDataset, list[np.ndarray]]:
    """Three clips: 2.3 s file, 0.3 s file (shorter than a window), and a 1.2-s segment
    starting at 0.5 s of a 3-s file (known duration)."""
    a = _ramp(tmp_path / "a.wav", 2300)
    b = _ramp(tmp_path / "b.wav", 300, first=50_000)
    c = _ramp(tmp_path / "c.wav", 3000, first=20_000)
    tracks = [
        Track("a", "A", tmp_path / "a.wav", ("rock",), True, "train"),
        Track("b", "B", tmp_path / "b.wav", (), False, "train"),
        Track("c", "A", tmp_path / "c.wav", ("jazz", "rock"), True, "train", start=0.5,
              duration=1.2),
    ]
    return MusicDataset(tracks, SCHEMA), [a, b, c[500:1700]]


@pytest.mark.parametrize("cached", [False, True])
def test_train_windows_are_exact_slices_and_replay(ramps, cached: bool) -> None:
    ds, clips = ramps
    cache = AudioCache(10_000_000) if cached else None
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, views=2, seed=7, cache=cache)
    for i, clip in enumerate(clips):
        for epoch in range(3):
            wd.set_epoch(epoch)
            item = wd[i]
            assert item["audio"].shape == (2, 500) and item["audio"].dtype == torch.float32
            for v in range(2):
                o = int(round(float(item["offsets"][v]) * SR))
                assert 0 <= o <= max(0, clip.size - 500)
                want = np.pad(clip[o:o + 500], (0, max(0, 500 - clip[o:].size)))
                np.testing.assert_array_equal(item["audio"][v].numpy(), want)
            again = wd[i]
            assert torch.equal(again["audio"], item["audio"])
    assert wd[1]["labelled"].item() is False and wd[0]["labelled"].item() is True
    np.testing.assert_array_equal(wd[2]["tags"].numpy(), [1, 1])
    assert [int(wd[i]["group"]) for i in range(3)] == [0, 1, 0]
    if cached:
        assert cache is not None and cache.misses == 3 and cache.hits > 0


def test_epochs_and_seeds_change_draws_but_not_between_instances(ramps) -> None:
    ds, _ = ramps
    one, two, other = (WindowDataset(ds, sample_rate=SR, window_seconds=0.5, seed=s)
                       for s in (1, 1, 2))
    assert float(one[0]["offsets"][0]) == float(two[0]["offsets"][0])
    draws = set()
    for epoch in range(8):
        one.set_epoch(epoch)
        draws.add(float(one[0]["offsets"][0]))
    assert len(draws) > 4
    assert any(float(other[i]["offsets"][0]) != float(one[i]["offsets"][0]) for i in (0, 2))


def test_uncached_known_duration_decodes_only_the_window(ramps) -> None:
    ds, clips = ramps
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, seed=0)
    wd[2]  # known duration: no full decode, so no length is learned
    assert 2 not in wd._lengths
    wd[0]  # unknown duration: full decode once, then the length is known
    assert wd._lengths[0] == clips[0].size


def test_max_view_overlap_is_respected(ramps) -> None:
    ds, _ = ramps
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, views=2, max_view_overlap=0.5)
    for epoch in range(40):
        wd.set_epoch(epoch)
        o = wd[0]["offsets"].numpy() * SR
        assert abs(o[0] - o[1]) >= 250 - 1e-3


def test_eval_windows_all_non_overlapping_and_collate(ramps) -> None:
    ds, clips = ramps
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, mode="eval")
    a = wd[0]
    assert a["audio"].shape == (4, 500)  # 2300 samples: 4 full windows, the tail dropped
    np.testing.assert_allclose(a["offsets"].numpy(), [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(a["audio"].numpy(), clips[0][:2000].reshape(4, 500))
    b = wd[1]
    assert b["audio"].shape == (1, 500)
    np.testing.assert_array_equal(b["audio"][0, :300].numpy(), clips[1])
    assert not b["audio"][0, 300:].any()
    c = wd[2]
    np.testing.assert_array_equal(c["audio"].numpy(), clips[2][:1000].reshape(2, 500))
    batch = next(iter(DataLoader(wd, batch_size=3, collate_fn=collate_windows)))
    assert batch["audio"].shape == (7, 500)
    assert batch["window_item"].tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert batch["tags"].shape == (3, 2) and batch["index"].tolist() == [0, 1, 2]
    capped = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, mode="eval", max_windows=2)
    np.testing.assert_allclose(capped[0]["offsets"].numpy(), [0.0, 1.5])


def test_train_items_batch_with_default_collate(ramps) -> None:
    ds, _ = ramps
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.25, views=2)
    batch = next(iter(DataLoader(wd, batch_size=3)))
    assert batch["audio"].shape == (3, 2, 250)
    assert batch["labelled"].tolist() == [True, False, True]
    assert batch["group"].tolist() == [0, 1, 0]


def test_draw_offsets_rules() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        first, second = draw_offsets(rng, 1000, 100, 2, max_overlap=0.25)
        assert 0 <= first <= 900 and 0 <= second <= 900 and abs(first - second) >= 75
    # too short for the gap: the farthest offset from the first
    for _ in range(20):
        first, second = draw_offsets(rng, 150, 100, 2, max_overlap=0.0)
        assert second == (0 if first >= 25 else 50)
    assert draw_offsets(rng, 50, 100, 2) == [0, 0]
    seen = {draw_offsets(rng, 103, 100, 1)[0] for _ in range(300)}
    assert seen == {0, 1, 2, 3}


def test_eval_offsets_rules() -> None:
    assert eval_offsets(999, 100) == [0, 100, 200, 300, 400, 500, 600, 700, 800]
    assert eval_offsets(30, 100) == [0]
    assert eval_offsets(1100, 100, max_windows=3) == [0, 500, 1000]
    assert eval_offsets(500, 100, max_windows=9) == [0, 100, 200, 300, 400]


def test_cache_is_lru_and_bounded_in_bytes() -> None:
    cache = AudioCache(max_bytes=1000)
    arrays = {k: np.full(100, k, dtype=np.float32) for k in range(4)}  # 400 B each
    loads = []

    def loader(k: int):
        return lambda: loads.append(k) or arrays[k]

    for k in (0, 1, 0, 2):  # 0 is recent when 2 arrives -> 1 is evicted
        cache.get_or_load(k, loader(k))
    assert loads == [0, 1, 2] and cache.nbytes == 800 and len(cache) == 2
    np.testing.assert_array_equal(cache.get_or_load(0, loader(0)), arrays[0])
    cache.get_or_load(1, loader(1))
    assert loads == [0, 1, 2, 1] and cache.hits == 2 and cache.misses == 4
    big = AudioCache(max_bytes=100)
    out = big.get_or_load("x", lambda: arrays[3])
    assert out is arrays[3] and len(big) == 0 and big.nbytes == 0
    half = AudioCache(max_bytes=1000, dtype=np.float16)
    half.get_or_load("h", lambda: np.linspace(0, 1, 100, dtype=np.float32))
    assert half.nbytes == 200
    got = half.get_or_load("h", lambda: np.zeros(1, np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.linspace(0, 1, 100), atol=1e-3)
    with pytest.raises(TypeError):
        AudioCache(10, dtype=np.int16)


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "test"}, "mode"), ({"views": 3}, "views"), ({"max_view_overlap": 1.5}, "overlap"),
    ({"window_seconds": 0.0}, "bad window"), ({"max_windows": 0}, "max_windows"),
])
def test_window_dataset_validates_arguments(ramps, kwargs: dict, message: str) -> None:
    ds, _ = ramps
    args = {"sample_rate": SR, "window_seconds": 0.5, **kwargs}
    with pytest.raises(DatasetError, match=message):
        WindowDataset(ds, **args)


def test_worker_processes_draw_the_same_windows(ramps) -> None:
    ds, _ = ramps
    wd = WindowDataset(ds, sample_rate=SR, window_seconds=0.5, views=2, seed=3)
    wd.set_epoch(2)
    serial = next(iter(DataLoader(wd, batch_size=3, num_workers=0)))
    parallel = next(iter(DataLoader(wd, batch_size=3, num_workers=2)))
    assert torch.equal(serial["audio"], parallel["audio"])
    assert torch.equal(serial["offsets"], parallel["offsets"])
