"""The PyTorch port against the original musicnn under TensorFlow 2.21.

fixtures/musicnn_tf_stk_lava.npz: 2 windows (5.98 s, from 60 s in) of "Lava" by Kalsan
(SuperTuxKart, CC-BY-SA-3.0) at 16 kHz as int16, and the TF graph's outputs for exactly
those samples (fixtures/generate/musicnn_tf_reference.py: librosa 0.11 with reflect padding,
float16-rounded mel power, musicnn.models.define_model, is_training=False).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from model.teacher.melspec import LogMel
from model.teacher.musicnn import (
    MSD_LABELS,
    N_FRAMES,
    Musicnn,
    WeightMappingError,
    state_dict_from_tf,
    tf_variable_map,
)
from model.teacher.tf_bundle import read_bundle_from_zip

FIXTURE = Path(__file__).parent / "fixtures" / "musicnn_tf_stk_lava.npz"


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as z:
        return {k: z[k] for k in z.files}


def _port(model: Musicnn, ref: dict[str, np.ndarray], float16: bool) -> dict[str, np.ndarray]:
    lm = LogMel(float16=float16)
    x = torch.from_numpy(ref["pcm16"].astype(np.float32) / 32768.0)
    count = lm.window_count(len(x), N_FRAMES)
    with torch.no_grad():
        out = model(lm.windows(lm.pad(x), 0, count, N_FRAMES))
    return {k: getattr(out, k).numpy() for k in ("probs", "logits", "penultimate", "mean_pool",
                                                 "max_pool")}


def test_port_matches_tensorflow_on_real_audio(musicnn_model: Musicnn,
                                               ref: dict[str, np.ndarray]) -> None:
    got = _port(musicnn_model, ref, float16=True)
    assert got["probs"].shape == ref["probs"].shape == (2, 50)
    assert np.abs(got["probs"] - ref["probs"]).max() <= 1e-4
    assert np.abs(got["logits"] - ref["logits"]).max() <= 1e-3
    assert np.abs(got["penultimate"] - ref["penultimate"]).max() <= 5e-4
    for pool in ("mean_pool", "max_pool"):
        np.testing.assert_allclose(got[pool], ref[pool], rtol=1e-3, atol=1e-2)
    assert ref["probs"].max() > 0.5  # a real, confident prediction, not near-zero noise


def test_float32_front_end_matches_tensorflow_float32(musicnn_model: Musicnn,
                                                      ref: dict[str, np.ndarray]) -> None:
    got = _port(musicnn_model, ref, float16=False)
    assert np.abs(got["probs"] - ref["probs_f32"]).max() <= 1e-4


def test_top_tags_of_the_excerpt(musicnn_model: Musicnn, ref: dict[str, np.ndarray]) -> None:
    got = _port(musicnn_model, ref, float16=True)["probs"].mean(0)
    want = ref["probs"].mean(0)
    assert [MSD_LABELS[i] for i in np.argsort(-got)[:3]] == \
        [MSD_LABELS[i] for i in np.argsort(-want)[:3]]


def test_every_checkpoint_variable_is_mapped_or_training_only(musicnn_wheel: Path) -> None:
    variables = read_bundle_from_zip(musicnn_wheel, "musicnn/MSD_musicnn/")
    mapped = {tf for tf, _ in tf_variable_map().values()}
    assert len(mapped) == 64  # 11 batch norms x 4 + 8 convolutions x 2 + 2 dense x 2
    rest = set(variables) - mapped
    assert rest == {n for n in variables if n.endswith(("/Adam", "/Adam_1"))} | {
        "beta1_power", "beta2_power"}


def test_unknown_or_missing_variables_are_refused() -> None:
    model = Musicnn()
    fake = {tf: np.zeros(1, np.float32) for tf, _ in tf_variable_map().values()}
    with pytest.raises(WeightMappingError, match=r"unused: \['conv2d_8/kernel'\]"):
        state_dict_from_tf({**fake, "conv2d_8/kernel": np.zeros(1, np.float32)}, model)
    del fake["dense_1/bias"]
    with pytest.raises(WeightMappingError, match=r"missing: \['dense_1/bias'\]"):
        state_dict_from_tf(fake, model)


def test_wrong_shape_is_refused_by_name() -> None:
    model = Musicnn()
    fake = {}
    for key, (tf, transform) in tf_variable_map().items():
        shape = tuple(model.state_dict()[key].shape)
        if transform is not None:  # stored in TF layout
            shape = {4: lambda s: (s[2], s[3], s[1], s[0]),
                     3: lambda s: (s[2], s[1], 1, s[0]),
                     2: lambda s: (s[1], s[0])}[len(shape)](shape)
        fake[tf] = np.zeros(shape, np.float32)
    state_dict_from_tf(fake, model)  # the layouts above are the checkpoint's
    fake["conv2d_2/kernel"] = np.zeros((64, 1, 1, 51), np.float32)
    with pytest.raises(WeightMappingError, match="'conv2d_2/kernel' -> 'temporal.0.conv.weight'"):
        state_dict_from_tf(fake, model)


def test_output_shapes_and_probabilities(musicnn_model: Musicnn) -> None:
    with torch.no_grad():
        out = musicnn_model(torch.rand(3, N_FRAMES, 96) * 3)
    assert out.probs.shape == (3, 50) and out.penultimate.shape == (3, 200)
    assert out.mean_pool.shape == out.max_pool.shape == (3, 753)
    torch.testing.assert_close(out.probs, torch.sigmoid(out.logits))
    assert len(MSD_LABELS) == 50 and len(set(MSD_LABELS)) == 50
