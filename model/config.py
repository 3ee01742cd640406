"""Typed encoder configuration (nanoGPT ``GPTConfig`` style): everything needed to rebuild the
network, stored inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

HeadKind = Literal["cosine", "linear"]


class ConfigError(ValueError):
    """A configuration with unknown keys or values out of range."""


@dataclass(frozen=True)
class EncoderConfig:
    """The log-mel CNN encoder.

    Attributes:
        sample_rate: model rate in Hz; audio is resampled to it before the front end.
        clip_seconds: window length; a track is embedded window by window.
        n_fft, hop_length, n_mels, f_min, f_max: the log-mel front end (model.frontend).
        channels: output channels of the conv blocks (each block halves time and frequency).
        head: "cosine" (tag proxies in each concept's facet; Lee et al. proxy /
            normalised classification) or "linear" (a plain dense layer on the raw
            embedding; the un-normalised classification baseline).
        init_logit_scale: initial scale of cosine logits (1 / temperature).
    """

    sample_rate: int = 16_000
    clip_seconds: float = 3.0
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float | None = None
    channels: tuple[int, ...] = (16, 32, 64, 128, 256)
    head: HeadKind = "cosine"
    init_logit_scale: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.sample_rate < 4000:
            raise ConfigError(f"sample_rate must be >= 4000 Hz, got {self.sample_rate}")
        if not 0.5 <= self.clip_seconds <= 30:
            raise ConfigError(f"clip_seconds must be in [0.5, 30], got {self.clip_seconds}")
        if not self.channels or min(self.channels) <= 0:
            raise ConfigError(f"channels must be positive, got {self.channels}")
        if self.head not in ("cosine", "linear"):
            raise ConfigError(f"head must be 'cosine' or 'linear', got '{self.head}'")
        if self.n_mels < 2 ** len(self.channels):
            raise ConfigError(
                f"n_mels={self.n_mels} is too small for {len(self.channels)} pooling blocks"
            )

    @property
    def clip_samples(self) -> int:
        return round(self.sample_rate * self.clip_seconds)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncoderConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown EncoderConfig keys: {sorted(unknown)}")
        return cls(**d)
