"""The mel front end against librosa 0.11 (fixtures/librosa_mel.npz, made by
fixtures/generate/make_mel_fixture.py): filterbank, reflect- and zero-padded STFT."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.teacher.melspec import LogMel, hz_to_mel, mel_filterbank, mel_to_hz

FIXTURE = Path(__file__).parent / "fixtures" / "librosa_mel.npz"


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as z:
        return {k: z[k] for k in z.files}


def test_filterbank_equals_librosa(ref: dict[str, np.ndarray]) -> None:
    fb = mel_filterbank(16000, 512, 96)
    assert fb.shape == (96, 257) and fb.dtype == np.float32
    np.testing.assert_allclose(fb, ref["filterbank"], rtol=0, atol=1e-8)


def test_slaney_scale_values() -> None:
    np.testing.assert_allclose(hz_to_mel(np.array([0.0, 500.0, 1000.0, 6400.0])),
                               [0.0, 7.5, 15.0, 42.0], atol=1e-9)
    hz = np.array([10.0, 999.0, 1000.0, 7999.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_mel_power_equals_librosa(ref: dict[str, np.ndarray], pad_mode: str) -> None:
    lm = LogMel(pad_mode=pad_mode)
    x = torch.from_numpy(ref["signal"])
    got = lm.power_from_padded(lm.pad(x)).numpy()
    want = ref[f"mel_{pad_mode}"]
    assert got.shape == want.shape == (63, 96)  # 1 + 16000 // 256
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6 * want.max())


def test_pad_modes_differ_only_at_the_edges(ref: dict[str, np.ndarray]) -> None:
    diff = np.abs(ref["mel_reflect"] - ref["mel_constant"]).max(axis=1)
    assert diff[1:-1].max() == 0 and diff[0] > 0 and diff[-1] > 0


def test_log_compression_and_float16_rounding() -> None:
    mel = torch.tensor([0.0, 1e-4, 0.123456, 6.9, 1000.0])
    exact = LogMel(float16=False).compress(mel)
    np.testing.assert_allclose(exact.numpy(), np.log10(10000 * mel.numpy().astype(np.float64) + 1),
                               rtol=1e-6)
    rounded = LogMel(float16=True).compress(mel)
    want = np.log10(10000 * mel.numpy().astype(np.float16).astype(np.float32) + 1)
    np.testing.assert_allclose(rounded.numpy(), want, rtol=2e-7)  # finite: no float16 overflow
    assert rounded[2] != exact[2]  # 0.123456 is not a float16: the rounding shows
    assert np.isfinite(rounded.numpy()).all()


def test_windows_are_slices_of_the_whole_track_log_mel() -> None:
    lm = LogMel()
    x = torch.from_numpy(np.random.default_rng(1).standard_normal(3 * 187 * 256 + 900)
                         .astype(np.float32) * 0.1)
    whole = lm(x)  # (F, 96)
    assert lm.window_count(len(x), 187) == 3
    padded = lm.pad(x)
    got = lm.windows(padded, 1, 2, 187)
    np.testing.assert_allclose(got.numpy(), whole[187:561].reshape(2, 187, 96).numpy(),
                               rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="do not fit"):
        lm.windows(padded, 2, 2, 187)


@pytest.mark.parametrize(("n", "count"), [(0, 0), (186 * 256 - 1, 0), (186 * 256, 1),
                                          (2 * 187 * 256 - 257, 1), (2 * 187 * 256 - 256, 2)])
def test_window_count_follows_musicnn(n: int, count: int) -> None:
    assert LogMel().window_count(n, 187) == count  # frames = 1 + T // 256, windows = F // 187
