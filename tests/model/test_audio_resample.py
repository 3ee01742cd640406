"""model.audio_resample: block-wise resampling equals one soxr call, keeps what is below the
new Nyquist rate and removes what is above it."""

from __future__ import annotations

import numpy as np
import pytest

from model.audio_resample import StreamResampler, output_length
from support.audio import one_shot_resample as one_shot

RATES = [(44100, 16000), (8000, 16000), (48000, 16000), (192000, 16000), (16000, 16000),
         (11025, 22050), (22050, 16000), (22051, 16000), (767999, 16000), (1009, 48000)]


def pushed(x: np.ndarray, source: int, target: int, seed: int = 0) -> np.ndarray:
    resampler = StreamResampler(source, target)
    cuts = np.sort(np.random.default_rng(seed).integers(0, len(x), size=40))
    for block in np.split(x, cuts):  # includes empty blocks and a one-sample block or so
        resampler.push(block)
    return resampler.finish()


@pytest.mark.parametrize(("source", "target"), RATES)
def test_blocks_of_any_size_give_the_one_shot_result(source: int, target: int) -> None:
    x = np.random.default_rng(source).standard_normal(300_000).astype(np.float32)
    out = pushed(x, source, target, seed=source)
    assert out.dtype == np.float32
    assert out.shape == (-(-len(x) * target // source),)
    np.testing.assert_allclose(out, one_shot(x, source, target), atol=1e-6)


@pytest.mark.parametrize("n", [0, 1, 2, 999])
def test_tiny_inputs(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    resampler = StreamResampler(44100, 16000)
    resampler.push(x)
    out = resampler.finish()
    assert len(out) == output_length(n, 44100, 16000) == -(-n * 16000 // 44100)
    if n:
        np.testing.assert_allclose(out, one_shot(x, 44100, 16000), atol=1e-6)


def tone(freq: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.sin(2 * np.pi * freq * t).astype(np.float32)


@pytest.mark.parametrize(("source", "freq"), [(44100, 440.0), (48000, 3000.0), (22051, 6500.0),
                                              (8000, 1000.0), (767999, 5000.0)])
def test_a_tone_below_the_new_nyquist_keeps_its_frequency_and_level(source, freq) -> None:
    y = pushed(tone(freq, 2.0, source), source, 16000)
    want = tone(freq, len(y) / 16000, 16000)[: len(y)]
    inner = slice(1600, -1600)  # away from the filter's edges
    np.testing.assert_allclose(y[inner], want[inner], atol=2e-3)
    level_db = 20 * np.log10(np.sqrt(np.mean(y[inner] ** 2)) / np.sqrt(0.5))
    assert abs(level_db) < 0.01


@pytest.mark.parametrize(("source", "freq"), [(44100, 9000.0), (48000, 15000.0),
                                              (192000, 60000.0)])
def test_a_tone_above_the_new_nyquist_is_removed(source: int, freq: float) -> None:
    y = pushed(tone(freq, 2.0, source), source, 16000)
    rms = np.sqrt(np.mean(y[1600:-1600].astype(np.float64) ** 2))
    assert 20 * np.log10(rms / np.sqrt(0.5)) < -100  # aliasing below -100 dB


def test_identity_copies() -> None:
    x = np.arange(10, dtype=np.float32)
    resampler = StreamResampler(16000, 16000)
    resampler.push(x)
    x[:] = 0
    np.testing.assert_array_equal(resampler.finish(), np.arange(10, dtype=np.float32))


@pytest.mark.parametrize(("source", "target"), [(0, 16000), (16000, -1)])
def test_refuses_rates_that_are_not_positive(source: int, target: int) -> None:
    with pytest.raises(ValueError, match="rates must be positive"):
        StreamResampler(source, target)
