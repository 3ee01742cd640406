import numpy as np
import pytest
import torch

from model.audio import windows
from model.config import EncoderConfig
from model.data.generic_csv import load_manifest
from model.frontend import LogMel
from model.train.features import (
    ClipWindows,
    FeatureStore,
    LogMelCache,
    crop,
    frame_starts,
    window_frames,
)

CFG = EncoderConfig(clip_seconds=1.0, n_mels=32, channels=(4, 8, 16))


@pytest.mark.parametrize("frames", [10, 11, 14, 15, 16, 17, 20, 29, 30, 31, 45, 3])
def test_frame_starts_follow_the_serving_window_rule(frames):
    width = 10
    ref = windows(np.arange(frames, dtype=np.float32) + 1, 1, width)[:, 0] - 1
    assert frame_starts(frames, width) == ref.astype(int).tolist()


def test_window_frames_is_what_the_front_end_gives_a_window():
    x = torch.randn(1, CFG.clip_samples)
    assert LogMel.from_config(CFG)(x).shape[2] == window_frames(CFG) == 16_000 // 256 + 1


def test_crop_of_clip_log_mel_matches_window_log_mel_inside():
    cfg = CFG
    wave = torch.randn(1, 3 * cfg.clip_samples)
    mel = LogMel.from_config(cfg)
    full = mel(wave)[0]
    w = window_frames(cfg)
    start = 2 * 62  # a frame boundary: 124 frames = 124 * 256 samples
    win = mel(wave[:, start * 256: start * 256 + cfg.clip_samples])[0]
    c = crop(full, start, w)
    # identical except the first and last few frames (reflect padding at the window edges)
    torch.testing.assert_close(c[:, 2:-2], win[:, 2:-2], rtol=1e-4, atol=1e-3)


def test_short_clips_loop():
    x = torch.arange(3.0)[None, :].repeat(2, 1)
    assert crop(x, 0, 7)[0].tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_cache_is_float16_bounded_and_recomputes(tiny_data):
    ds = load_manifest(tiny_data).split("val")
    cache = LogMelCache(ds, CFG, max_bytes=10**9)
    exact = cache.compute(0)
    got = cache.get(0)
    torch.testing.assert_close(got, exact.half().float())
    one = cache.store.nbytes
    assert one == exact.numel() * 2
    small = LogMelCache(ds, CFG, max_bytes=one * 2)  # room for two clips
    for i in range(len(ds)):
        small.get(i)
    assert len(small.store) == 2 and small.store.nbytes <= 2 * one
    assert small.computed == len(ds)
    small.get(0)  # evicted: computed again, same values
    assert small.computed == len(ds) + 1
    torch.testing.assert_close(small.get(0), got)


def test_a_shared_store_serves_other_datasets_of_the_same_clips(tiny_data):
    ds = load_manifest(tiny_data).split("val")
    store = FeatureStore(10**9)
    a = LogMelCache(ds, CFG, store=store)
    a.fill()
    b = LogMelCache(load_manifest(tiny_data).split("val", "test"), CFG, store=store)
    b.fill()
    assert a.computed == len(ds) and b.computed == len(b) - len(ds)
    other = LogMelCache(ds, EncoderConfig(clip_seconds=1.0, n_mels=16, channels=(4, 8)),
                        store=store)
    assert other.get(0).shape[0] == 16 and other.computed == 1


def test_batches_are_reproducible_and_cover_the_epoch(tiny_data):
    ds = load_manifest(tiny_data).split("train")
    cache = LogMelCache(ds, CFG, max_bytes=10**9)
    clips = ClipWindows(cache, window_frames(CFG), seed=3)
    assert len(ds) == 16
    # 16 clips in batches of 5: the last batch of a single clip is dropped
    assert [len(x.index) for x in clips.batches(0, 5, 1)] == [5, 5, 5]
    a = list(clips.batches(0, 6, 2, max_overlap=0.5))
    b = list(clips.batches(0, 6, 2, max_overlap=0.5))
    c = list(clips.batches(1, 6, 2, max_overlap=0.5))
    assert [len(x.index) for x in a] == [6, 6, 4]
    assert sorted(torch.cat([x.index for x in a]).tolist()) == list(range(len(ds)))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x.x, y.x) and torch.equal(x.offsets, y.offsets)
    assert not torch.equal(a[0].index, c[0].index)
    batch = a[0]
    assert batch.x.shape == (12, 32, window_frames(CFG)) and batch.views == 2
    # view-major rows: row v * B + j is view v of clip j, cropped at offsets[j, v]
    for j, i in enumerate(batch.index.tolist()):
        for v in range(2):
            ref = crop(cache.get(i), int(batch.offsets[j, v]), window_frames(CFG))
            assert torch.equal(batch.x[v * 6 + j], ref)
    w = window_frames(CFG)
    assert ((batch.offsets[:, 0] - batch.offsets[:, 1]).abs() >= w // 2).all()
