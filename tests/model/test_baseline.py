import numpy as np
import pytest
import scipy.fft
import torch

from model.baseline import MFCCChroma, chroma_matrix, dct_matrix, evaluate_baseline
from model.data.generic_csv import load_manifest
from support.audio import tone
from tests.model.train.conftest import write_dataset


def test_chroma_matrix_maps_bins_to_pitch_classes():
    m = chroma_matrix(16_000, 2048)
    freqs = np.fft.rfftfreq(2048, 1 / 16_000)
    a440 = int(np.argmin(np.abs(freqs - 440)))
    c = int(np.argmin(np.abs(freqs - 261.63)))
    assert m[9, a440] == 1 and m[:, a440].sum() == 1  # A = 9 with C = 0
    assert m[0, c] == 1
    assert m[:, freqs < 55].sum() == 0 and m[:, freqs > 5000].sum() == 0
    assert torch.all(m.sum(dim=0) <= 1)


def test_features_of_a_tone():
    f = MFCCChroma(16_000)
    x = torch.from_numpy(np.stack([tone(440.0, 3.0, 16_000), tone(261.63, 3.0, 16_000)]))
    with torch.no_grad():
        out = f(x)
    assert out.shape == (2, 64) and f.dim == 64
    chroma_mean = out[:, 20:32]
    assert int(chroma_mean[0].argmax()) == 9 and int(chroma_mean[1].argmax()) == 0
    assert chroma_mean[0, 9] > 0.8  # a pure tone puts most energy in one class
    assert torch.all(out[:, 52:64] >= 0)  # standard deviations


@pytest.mark.slow
def test_baseline_evaluates_like_a_model(tmp_path):
    ds = load_manifest(write_dataset(tmp_path / "d"))
    res = evaluate_baseline(ds.split("train"), ds.split("val"), ds.split("test"),
                            window_seconds=1.0, triplets=50)
    for key in ("roc_auc", "pr_auc", "R@1", "R@2", "triplet_full", "triplet_sub",
                "same_clip_r1", "same_track_r1", "train_seconds"):
        assert key in res, key
    assert 0 <= res["roc_auc"] <= 1 and res["triplet_full"] == res["triplet_sub"]


def test_mfcc_is_the_orthonormal_dct_of_the_floored_log_mel():
    f = MFCCChroma(16_000)
    x = torch.from_numpy(np.stack([tone(440.0, 1.0, 16_000), 1e-3 * tone(3000.0, 1.0, 16_000)]))
    with torch.no_grad():
        power = f.front.power(x)
        got = f.mfcc(power).numpy()
    mel = np.einsum("bfn,fm->bmn", power.numpy().astype(np.float64), f.front.mel_fb.numpy())
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - 80.0)  # per window, not per batch
    want = scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, :20]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-2)
    with torch.no_grad():  # a window's features do not depend on the rest of the batch
        torch.testing.assert_close(f(x[1:]), f(x)[1:], rtol=1e-5, atol=1e-4)


def test_dct_matrix_hand_computed():
    d = dct_matrix(3, 4).numpy()
    k, n = np.arange(3)[:, None], np.arange(4)[None, :]
    want = np.sqrt(2 / 4) * np.cos(np.pi * k * (2 * n + 1) / 8)
    want[0] /= np.sqrt(2)
    np.testing.assert_allclose(d, want, atol=1e-6)
