"""model.audio_resample: block-wise resampling equals one torchaudio call."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
import torchaudio.functional as taf

from model.audio_resample import MAX_RATIO_TERM, StreamResampler, resample_ratio


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (44100, 16000),
        (8000, 16000),
        (48000, 16000),
        (192000, 16000),
        (16000, 16000),
        (11025, 22050),
        (22050, 16000),
    ],
)
def test_blocks_of_any_size_give_the_one_shot_result(source: int, target: int) -> None:
    rng = np.random.default_rng(source)
    x = rng.standard_normal(300_000).astype(np.float32)
    resampler = StreamResampler(source, target)
    cuts = np.sort(rng.integers(0, len(x), size=40))
    for block in np.split(x, cuts):  # includes empty blocks and a one-sample block or so
        resampler.push(block)
    out = resampler.finish()
    expected = taf.resample(torch.from_numpy(x), source, target).numpy()
    assert out.shape == expected.shape == (-(-len(x) * target // source),)
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 2, 999])
def test_tiny_inputs(n: int) -> None:
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    resampler = StreamResampler(44100, 16000)
    resampler.push(x)
    expected = taf.resample(torch.from_numpy(x), 44100, 16000).numpy() if n else np.zeros(0)
    np.testing.assert_allclose(resampler.finish(), expected, atol=1e-5)


@pytest.mark.parametrize(("source", "target"), [(22051, 16000), (767999, 16000), (1009, 48000)])
def test_awkward_ratios_are_approximated_with_small_terms(source: int, target: int) -> None:
    orig, new = resample_ratio(source, target)
    assert max(orig, new) <= MAX_RATIO_TERM
    exact = Fraction(target, source)
    assert abs(Fraction(new, orig) / exact - 1) < 1e-5


def test_awkward_ratio_output_length_and_tone() -> None:
    source = 22051
    t = np.arange(source * 2) / source
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    resampler = StreamResampler(source, 16000)
    resampler.push(x)
    y = resampler.finish()
    assert abs(len(y) - 32000) <= 1
    orig, new = resample_ratio(source, 16000)
    ty = np.arange(len(y)) * orig / (new * source)  # input time of each output sample
    # Away from the edges, the output is the same tone, at 16 kHz to within 1e-5.
    np.testing.assert_allclose(y[1000:-1000], np.sin(2 * np.pi * 440 * ty)[1000:-1000], atol=1e-3)
