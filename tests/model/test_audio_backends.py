"""model/audio_backends.py: the channel average of interleaved blocks."""

from __future__ import annotations

import numpy as np
import pytest

from model.audio_backends import downmix


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_downmix_equals_numpy_mean(channels: int):
    data = np.random.default_rng(channels).standard_normal((1000, channels)).astype(np.float32)
    out = downmix(data)
    assert out.dtype == np.float32 and out.shape == (1000,)
    np.testing.assert_array_equal(out, data.mean(axis=1))
    assert not np.shares_memory(out, data)


def test_downmix_hand_values():
    data = np.array([[1.0, 3.0], [0.5, -0.5], [-1.0, -1.0]], dtype=np.float32)
    np.testing.assert_array_equal(downmix(data), [2.0, 0.0, -1.0])
