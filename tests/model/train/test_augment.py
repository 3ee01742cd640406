import numpy as np
import torch

from model.train.augment import AugmentParams, apply_augment, draw_augment
from model.train.config import AugmentConfig


def _params(n, gain=0.0, shift=0, tmask=(0, 0), fmask=(0, 0)):
    return AugmentParams(
        gain_db=torch.full((n,), float(gain)),
        shift=torch.full((n,), shift, dtype=torch.int64),
        time_masks=torch.tensor([[list(tmask)]] * n, dtype=torch.int64),
        freq_masks=torch.tensor([[list(fmask)]] * n, dtype=torch.int64),
    )


def test_same_seed_replays_params_and_output():
    cfg = AugmentConfig()
    x = torch.randn(5, 16, 40)
    a = draw_augment(cfg, 5, 16, 40, np.random.default_rng(7))
    b = draw_augment(cfg, 5, 16, 40, np.random.default_rng(7))
    for ta, tb in zip((a.gain_db, a.shift, a.time_masks, a.freq_masks),
                      (b.gain_db, b.shift, b.time_masks, b.freq_masks), strict=True):
        assert torch.equal(ta, tb)
    assert torch.equal(apply_augment(x, a), apply_augment(x, b))
    c = draw_augment(cfg, 5, 16, 40, np.random.default_rng(8))
    assert not torch.equal(a.gain_db, c.gain_db)


def test_drawn_params_respect_the_config():
    cfg = AugmentConfig(gain_db=3.0, freq_shift_bins=1, time_masks=2, time_mask_frames=5,
                        freq_masks=1, freq_mask_bins=4)
    p = draw_augment(cfg, 500, 16, 40, np.random.default_rng(0))
    assert p.gain_db.abs().max() <= 3.0 and set(p.shift.tolist()) == {-1, 0, 1}
    assert p.time_masks.shape == (500, 2, 2) and p.freq_masks.shape == (500, 1, 2)
    for m, size, width in ((p.time_masks, 40, 5), (p.freq_masks, 16, 4)):
        assert m[..., 1].max() <= width and m[..., 0].min() >= 0
        assert (m[..., 0] + m[..., 1]).max() <= size


def test_gain_adds_decibels():
    x = torch.randn(2, 8, 10)
    torch.testing.assert_close(apply_augment(x, _params(2, gain=4.5)), x + 4.5)


def test_shift_moves_mel_bins_and_repeats_the_edge():
    x = torch.arange(6.0)[None, :, None].repeat(1, 1, 3)  # bin m holds value m
    up = apply_augment(x, _params(1, shift=2))
    assert up[0, :, 0].tolist() == [0, 0, 0, 1, 2, 3]
    down = apply_augment(x, _params(1, shift=-1))
    assert down[0, :, 0].tolist() == [1, 2, 3, 4, 5, 5]


def test_masks_fill_with_the_window_mean():
    x = torch.arange(24.0).reshape(1, 4, 6)
    y = apply_augment(x, _params(1, tmask=(2, 3), fmask=(1, 1)))
    mean = x.mean()
    assert torch.all(y[0, :, 2:5] == mean) and torch.all(y[0, 1, :] == mean)
    keep = torch.ones(4, 6, dtype=torch.bool)
    keep[:, 2:5] = False
    keep[1, :] = False
    assert torch.equal(y[0][keep], x[0][keep])


def test_zero_config_is_identity():
    cfg = AugmentConfig(gain_db=0, freq_shift_bins=0, time_masks=0, freq_masks=0)
    x = torch.randn(3, 8, 12)
    p = draw_augment(cfg, 3, 8, 12, np.random.default_rng(1))
    assert torch.equal(apply_augment(x, p), x)
