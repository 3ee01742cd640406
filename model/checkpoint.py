"""Self-describing checkpoints (DESIGN.md "The embedding contract", STYLE.md rule 7).

A checkpoint file holds the encoder config, the concept schema (concept -> tags, facet
slices), the weights (tag proxies and calibration included), a training data card, metrics
and the code version. Loading needs nothing else and is ``strict=True``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layout.schema import ConceptSchema
from model.config import EncoderConfig
from model.encoder import Encoder

#: The model musicprism ships and serves by default (package data: it is in the wheel).
SHIPPED_MODEL = Path(__file__).resolve().parent / "weights" / "musicprism-default.pt"

FORMAT = "musicprism-checkpoint"
#: 2: the front end's window and mel filterbank are no longer stored (they follow from the
#: config, model.frontend). 1: they were, under torchaudio's names; such files still load.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
#: Format 1's front-end buffers (torchaudio's MelSpectrogram) and what replaces each.
_V1_FRONTEND = {
    "frontend.mel.spectrogram.window": "window",
    "frontend.mel.mel_scale.fb": "mel_fb",
}
#: How far a stored front-end buffer may be from the one computed now. Both are computed the
#: same way in float32 and were measured equal; the margin allows for a last-bit difference in
#: another CPU's vectorised pow.
_FRONTEND_ATOL = 1e-6


class CheckpointError(ValueError):
    """A file that is not a musicprism checkpoint, or one from an incompatible format."""


@dataclass
class LoadedModel:
    """An encoder in eval mode plus everything its checkpoint says about itself."""

    encoder: Encoder
    name: str
    sha256: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> ConceptSchema:
        return self.encoder.schema

    @property
    def config(self) -> EncoderConfig:
        return self.encoder.cfg

    @cached_property
    def tag_proxies(self) -> np.ndarray:
        """(T, d) float32 unit tag proxies, row t in the facet of tag t's concept (a cosine
        head; :mod:`layout.tags` does the tag maths with them)."""
        return self.encoder.head.proxy_vectors().numpy().astype(np.float32)

    @cached_property
    def tag_calibration(self) -> tuple[np.ndarray, np.ndarray]:
        """((T,), (T,)) float32 scale and bias of the cosine head: a tag's probability is
        sigmoid(scale * cosine + bias) (:func:`layout.tags.tag_probabilities`)."""
        head = self.encoder.head
        if head.kind != "cosine":
            raise TypeError("a linear tag head has no per-tag calibration")
        return (head.scale.detach().numpy().astype(np.float32),
                head.bias.detach().numpy().astype(np.float32))

    @property
    def version(self) -> str:
        """A stable name for the model version: ``<name>-<first 12 hex of sha256>``."""
        return f"{self.name}-{self.sha256[:12]}"


def code_version() -> str:
    try:
        return metadata.version("musicprism")
    except metadata.PackageNotFoundError:
        return "unknown"


def save_checkpoint(
    path: str | Path,
    encoder: Encoder,
    *,
    name: str,
    data_card: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write ``encoder`` and its description to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "code_version": code_version(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "encoder_config": encoder.cfg.to_dict(),
        "schema": encoder.schema.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "data_card": data_card or {},
        "metrics": metrics or {},
        "training": training or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_checkpoint(path: str | Path, *, map_location: str = "cpu") -> LoadedModel:
    """Rebuild the encoder from a checkpoint file alone.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: not a musicprism checkpoint, or an unsupported format version.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # torch raises several types for a file that is not a checkpoint
        raise CheckpointError(f"{path.name} is not a readable checkpoint: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path.name} is not a musicprism checkpoint")
    version = payload.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path.name} has format version {version}, this code reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    cfg = EncoderConfig.from_dict(payload["encoder_config"])
    schema = ConceptSchema.from_dict(payload["schema"])
    encoder = Encoder(cfg, schema)
    state = dict(payload["state_dict"])
    if version == 1:
        _check_v1_frontend(state, encoder, path.name)
    encoder.load_state_dict(state, strict=True)
    encoder.eval()
    info = {k: v for k, v in payload.items() if k != "state_dict"}
    return LoadedModel(
        encoder=encoder, name=str(payload["name"]), sha256=file_sha256(path), info=info
    )


def _check_v1_frontend(state: dict[str, torch.Tensor], encoder: Encoder, name: str) -> None:
    """Removes format 1's stored front-end buffers from ``state`` after checking that each
    equals the one the front end now computes from the config.

    Raises:
        CheckpointError: a buffer is missing or differs (the file's front end is not ours).
    """
    for old, new in _V1_FRONTEND.items():
        stored = state.pop(old, None)
        computed = getattr(encoder.frontend, new)
        if stored is None or stored.shape != computed.shape or not torch.allclose(
            stored.float(), computed, rtol=0.0, atol=_FRONTEND_ATOL
        ):
            raise CheckpointError(
                f"{name}: its stored front end ({old}) is not the one its config describes"
            )
