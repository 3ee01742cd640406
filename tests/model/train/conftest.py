"""A tiny generated dataset (manifest.csv + concepts.json + wav clips) and tiny configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from model.data.generic_csv import write_concepts, write_manifest
from model.train.builders import config_from_dict
from model.train.config import TrainConfig
from support.audio import synth_music

SR = 16_000
CONCEPTS = {"genre": ["jazz", "rock", "folk"], "mood": ["happy", "sad"]}
# track -> (split, tags); 2 clips per track
TRACKS = {
    "t0": ("train", "jazz;happy"), "t1": ("train", "rock;sad"), "t2": ("train", "folk;happy"),
    "t3": ("train", "jazz;sad"), "t4": ("train", "rock;happy"), "t5": ("train", "folk;sad"),
    "t6": ("train", "jazz;happy"), "t7": ("train", "rock;sad"),
    "v0": ("val", "jazz;happy"), "v1": ("val", "rock;sad"), "v2": ("val", "folk;happy"),
    "s0": ("test", "jazz;happy"), "s1": ("test", "rock;sad"), "s2": ("test", "folk;sad"),
    "s3": ("test", "jazz;sad"),
}


def write_dataset(root: Path, seconds: float = 2.2) -> Path:
    """Write the tiny dataset into ``root``; returns ``root``."""
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (track, (split, tags)) in enumerate(TRACKS.items()):
        for c in range(2):
            rel = f"audio/{track}-{c}.wav"
            sf.write(root / rel, synth_music(seconds, SR, seed=10 * k + c), SR)
            rows.append({"path": rel, "track_id": track, "split": split, "tags": tags})
    write_manifest(root / "manifest.csv", rows)
    write_concepts(root / "concepts.json", CONCEPTS)
    return root


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread (and do not fight other processes)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("tiny-data"))


def tiny_dict(data: Path | str = "unused", **top: object) -> dict:
    d: dict = {
        "name": "tiny", "seed": 0, "epochs": 2, "batch_size": 8, "embedding_dim": 16,
        "threads": 1, "device": "cpu", "eval_triplets": 50,
        "encoder": {"clip_seconds": 1.0, "n_mels": 32, "channels": [4, 8, 16]},
        "data": {"path": str(data), "cache_mb": 16},
        "loss": {"method": "proxy"},
    }
    d.update(top)
    return d


def tiny_config(data: Path | str = "unused", **top: object) -> TrainConfig:
    return config_from_dict(tiny_dict(data, **top))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
