"""musicnn's MSD_musicnn tagger (Pons & Serra, "musicnn: pre-trained convolutional neural
networks for music audio tagging", ISMIR 2019 LBD) as a PyTorch module, weights read from
the musicnn 0.1.0 wheel (ISC licence) without TensorFlow.

Input: 187-frame windows of musicnn's log-mel (:class:`model.teacher.melspec.LogMel`,
about 3 s at 16 kHz). The network, in TF's layout (time, frequency, channels):

- front end: batch norm of the input; two "timbral" convolutions spanning 7 frames and
  38 / 67 of the 96 mel bands (204 filters each, the time axis zero-padded by 3) and three
  "temporal" convolutions spanning 128 / 64 / 32 frames and one band (51 filters each,
  TF "same" padding); each is ReLU, batch norm, then max over frequency. 561 channels.
- mid end: three 1-D convolutions over time (7 frames, 64 filters, zero padding 3), each
  ReLU then batch norm; the 2nd and 3rd add their input (residual). The front-end output
  and the three mid-end outputs are concatenated: 753 channels.
- back end: max and mean over time, interleaved per channel as TF's flatten of
  (753, 2) orders them, batch norm, dense 200 + ReLU, batch norm (the "penultimate"
  features), dense 50 (logits of the 50 Last.fm tags; sigmoid gives musicnn's taggram).

Batch norm is inference-mode: ``x * g / sqrt(var + 1e-3) + (b - mean * g / sqrt(var + 1e-3))``
with the stored moving statistics, as the TF graph computes it with ``is_training=False``.
Dropout is inactive at inference and has no weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.teacher.tf_bundle import read_bundle_from_zip

__all__ = [
    "MSD_LABELS",
    "N_FRAMES",
    "Musicnn",
    "MusicnnOutput",
    "WeightMappingError",
    "load_musicnn",
    "tf_variable_map",
]

logger = logging.getLogger(__name__)

#: Window length in frames (musicnn's ``n_frames`` for 3 s: time_to_frames(3 s) + 1).
N_FRAMES = 187
N_MELS = 96
BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon
CHECKPOINT_PREFIX = "musicnn/MSD_musicnn/"
#: The 50 Last.fm tags of the Million Song Dataset split musicnn was trained on, in output
#: order.
MSD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)
#: Training-only variables in the checkpoint (Adam's moments and its beta powers).
IGNORED_SUFFIXES = ("/Adam", "/Adam_1")
IGNORED_NAMES = frozenset({"beta1_power", "beta2_power"})


class WeightMappingError(ValueError):
    """The checkpoint's variables do not match the port's parameters one to one."""


@dataclass(frozen=True)
class MusicnnOutput:
    """One forward pass over B windows.

    Attributes:
        logits: (B, 50) tag logits.
        probs: (B, 50) sigmoid of the logits (musicnn's taggram rows).
        penultimate: (B, 200) batch-normed dense features.
        mean_pool: (B, 753) mean over time of the mid-end features.
        max_pool: (B, 753) max over time of the mid-end features.
    """

    logits: torch.Tensor
    probs: torch.Tensor
    penultimate: torch.Tensor
    mean_pool: torch.Tensor
    max_pool: torch.Tensor


class FrozenBatchNorm(nn.Module):
    """Inference-mode batch norm over dimension 1 with TF's stored statistics."""

    gamma: torch.Tensor
    beta: torch.Tensor
    moving_mean: torch.Tensor
    moving_variance: torch.Tensor

    def __init__(self, channels: int, eps: float = BN_EPS) -> None:
        super().__init__()
        self.eps = eps
        for name, fill in (("gamma", 1.0), ("beta", 0.0), ("moving_mean", 0.0),
                           ("moving_variance", 1.0)):
            self.register_buffer(name, torch.full((channels,), fill))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, ...) -> (B, C, ...)."""
        scale = self.gamma * torch.rsqrt(self.moving_variance + self.eps)
        shift = self.beta - self.moving_mean * scale
        view = (1, -1) + (1,) * (x.dim() - 2)
        return x * scale.view(view) + shift.view(view)


class _FreqPooledConv(nn.Module):
    """Conv2d over (time, freq), ReLU, batch norm, max over frequency: (B,1,T,F) -> (B,C,T)."""

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int]) -> None:
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = FrozenBatchNorm(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x, (0, 0, *self.time_pad))  # zeros along time only
        return self.bn(torch.relu(self.conv(x))).amax(dim=3)


class _MidConv(nn.Module):
    """Conv1d over time (7 frames, zero padding 3), ReLU, batch norm: (B,C,T) -> (B,64,T)."""

    def __init__(self, channels: int, filters: int = 64) -> None:
        super().__init__()
        self.conv = nn.Conv1d(channels, filters, 7, padding=3)
        self.bn = FrozenBatchNorm(filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.relu(self.conv(x)))


def _same_pad(k: int) -> tuple[int, int]:
    """TF "same" padding for stride 1: the extra sample goes after."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


class Musicnn(nn.Module):
    """MSD_musicnn: (B, 187, 96) log-mel windows -> :class:`MusicnnOutput`.

    Args:
        n_mels: mel bands (96).
        n_classes: outputs (50).
    """

    def __init__(self, n_mels: int = N_MELS, n_classes: int = len(MSD_LABELS)) -> None:
        super().__init__()
        timbral, temporal = int(1.6 * 128), int(1.6 * 32)  # 204, 51
        self.input_bn = FrozenBatchNorm(1)
        self.timbral = nn.ModuleList(
            _FreqPooledConv(timbral, (7, int(share * n_mels)), (3, 3)) for share in (0.4, 0.7))
        self.temporal = nn.ModuleList(
            _FreqPooledConv(temporal, (k, 1), _same_pad(k)) for k in (128, 64, 32))
        front = 2 * timbral + 3 * temporal  # 561
        self.mid = nn.ModuleList([_MidConv(front), _MidConv(64), _MidConv(64)])
        pooled = front + 3 * 64  # 753
        self.pool_bn = FrozenBatchNorm(2 * pooled)
        self.dense = nn.Linear(2 * pooled, 200)
        self.dense_bn = FrozenBatchNorm(200)
        self.out = nn.Linear(200, n_classes)

    def forward(self, logmel: torch.Tensor) -> MusicnnOutput:
        """(B, 187, 96) log-mel windows (any length >= 1 frame works) -> outputs."""
        x = self.input_bn(logmel.unsqueeze(1))  # (B, 1, T, M)
        front = torch.cat([block(x) for block in (*self.timbral, *self.temporal)], 1)  # (B,561,T)
        m1 = self.mid[0](front)  # (B, 64, T)
        m2 = self.mid[1](m1) + m1
        m3 = self.mid[2](m2) + m2
        features = torch.cat([front, m1, m2, m3], 1)  # (B, 753, T)
        max_pool, mean_pool = features.amax(dim=2), features.mean(dim=2)  # (B, 753) each
        flat = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # (B, 1506) interleaved
        penultimate = self.dense_bn(torch.relu(self.dense(self.pool_bn(flat))))  # (B, 200)
        logits = self.out(penultimate)  # (B, 50)
        return MusicnnOutput(logits=logits, probs=torch.sigmoid(logits), penultimate=penultimate,
                             mean_pool=mean_pool, max_pool=max_pool)


# --- weights ------------------------------------------------------------------------------
def _conv2d(w: np.ndarray) -> np.ndarray:
    return w.transpose(3, 2, 0, 1)  # TF (kh, kw, in, out) -> torch (out, in, kh, kw)


def _conv1d(w: np.ndarray) -> np.ndarray:
    return w[:, :, 0, :].transpose(2, 1, 0)  # TF (7, C, 1, out) over (time, channel) -> (out, C, 7)


def _dense(w: np.ndarray) -> np.ndarray:
    return w.T  # TF (in, out) -> torch (out, in)


def tf_variable_map() -> dict[str, tuple[str, object]]:
    """{torch state_dict key: (TF variable name, transform)} for every parameter and buffer.

    The TF names follow the creation order of the ``tf.compat.v1.layers`` calls in musicnn
    (``conv2d``, ``conv2d_1``, ... and ``batch_normalization``, ``batch_normalization_1``...).
    """
    out: dict[str, tuple[str, object]] = {}

    def bn(key: str, tf: str) -> None:
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            out[f"{key}.{name}"] = (f"{tf}/{name}", None)

    def layer(key: str, tf: str, transform: object) -> None:
        out[f"{key}.weight"] = (f"{tf}/kernel", transform)
        out[f"{key}.bias"] = (f"{tf}/bias", None)

    bn("input_bn", "batch_normalization")
    convs = ["timbral.0", "timbral.1", "temporal.0", "temporal.1", "temporal.2",
             "mid.0", "mid.1", "mid.2"]
    for i, key in enumerate(convs):
        layer(f"{key}.conv", "conv2d" if i == 0 else f"conv2d_{i}",
              _conv1d if key.startswith("mid") else _conv2d)
        bn(f"{key}.bn", f"batch_normalization_{i + 1}")
    bn("pool_bn", "batch_normalization_9")
    layer("dense", "dense", _dense)
    bn("dense_bn", "batch_normalization_10")
    layer("out", "dense_1", _dense)
    return out


def state_dict_from_tf(variables: dict[str, np.ndarray], model: Musicnn) -> dict[str, torch.Tensor]:
    """Map TF variables onto ``model``'s state dict, checking names and shapes both ways.

    Raises:
        WeightMappingError: a TF variable neither mapped nor training-only, a mapped name
            missing from the checkpoint, or a shape that does not fit.
    """
    mapping = tf_variable_map()
    expected = model.state_dict()
    if set(mapping) != set(expected):
        raise WeightMappingError(f"map/model key mismatch: {sorted(set(mapping) ^ set(expected))}")
    used = {tf for tf, _ in mapping.values()}
    ignored = {n for n in variables if n in IGNORED_NAMES or n.endswith(IGNORED_SUFFIXES)}
    unused = sorted(set(variables) - used - ignored)
    missing = sorted(used - set(variables))
    if unused or missing:
        raise WeightMappingError(f"checkpoint variables unused: {unused}; missing: {missing}")
    state = {}
    for key, (tf, transform) in mapping.items():
        value = variables[tf] if transform is None else transform(variables[tf])  # type: ignore[operator]
        if tuple(value.shape) != tuple(expected[key].shape):
            raise WeightMappingError(f"'{tf}' -> '{key}': shape {variables[tf].shape} gives "
                                     f"{value.shape}, the port needs {tuple(expected[key].shape)}")
        state[key] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    return state


def load_musicnn(wheel_path: str | Path, prefix: str = CHECKPOINT_PREFIX) -> Musicnn:
    """Build MSD_musicnn from the musicnn wheel (a zip), in eval mode.

    Args:
        wheel_path: ``musicnn-0.1.0-py3-none-any.whl``
            (:func:`model.teacher.weights.ensure_wheel` fetches it).
        prefix: checkpoint prefix inside the wheel.

    Raises:
        MalformedBundleError, UnsupportedBundleError: the checkpoint cannot be read.
        WeightMappingError: its variables do not match the port.
    """
    model = Musicnn()
    variables = read_bundle_from_zip(wheel_path, prefix)
    model.load_state_dict(state_dict_from_tf(variables, model), strict=True)
    logger.info("musicnn: %d tensors from %s", len(model.state_dict()), wheel_path)
    return model.eval()
