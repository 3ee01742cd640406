"""A small catalogue for the page's browser tests: a dozen generated pieces that differ in
tempo, register, timbre and percussion, ingested with the shipped model by
``musicprism ingest`` (so the audio copies the page plays are made as in production).

Building it takes seconds, against a minute or two for the demo catalogue (service/demo.py),
and every piece is known: the tests cut their query clip from one of them.
"""

from __future__ import annotations

import csv
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from support.server import musicprism_command, subprocess_env

SR = 22_050
SECONDS = 8.0
ARTISTS = ("Ada Quartet", "Brass Union", "Cello Club", "Drum Society")
# major, pentatonic and minor, in semitones
SCALES = ((0, 2, 4, 5, 7, 9, 11), (0, 3, 5, 7, 10), (0, 2, 3, 5, 7, 8, 10))


@dataclass(frozen=True)
class Piece:
    path: Path
    title: str
    artist: str
    samples: np.ndarray  # (T,) float32 at SR


def piece(seed: int, seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """Notes drawn from ``seed``: notes per second, register, number of harmonics (timbre),
    decay, and a noise burst on every beat or not (drums). (T,) float32, peak 0.8."""
    rng = np.random.default_rng(seed)
    n = round(seconds * sr)
    t = np.arange(n) / sr
    rate = rng.choice([1.0, 2.0, 4.0, 8.0])
    base = rng.choice([55.0, 110.0, 220.0, 440.0])
    harmonics = int(rng.integers(1, 9))
    decay = rng.uniform(1.0, 8.0)
    scale = SCALES[int(rng.integers(0, len(SCALES)))]
    out = np.zeros(n)
    for onset in np.arange(0.0, seconds, 1.0 / rate):
        f0 = base * 2 ** ((rng.choice(scale) + 12 * rng.integers(0, 2)) / 12)
        env = np.where(t >= onset, np.exp(-(t - onset) * decay), 0.0)
        for k in range(1, harmonics + 1):
            if k * f0 < sr / 2:
                out += env * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 6.3)) / k
    if rng.random() < 0.5:  # drums: a decaying noise burst on every beat
        beat = np.zeros(n)
        for onset in np.arange(0.0, seconds, 0.5):
            i = round(onset * sr)
            m = min(n - i, sr // 8)
            beat[i : i + m] = rng.standard_normal(m) * np.exp(-np.arange(m) / (sr / 40))
        out += 0.8 * beat * np.max(np.abs(out))
    out += 0.003 * rng.standard_normal(n)
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def write_pieces(folder: Path, count: int = 12) -> list[Piece]:
    """``count`` FLAC files and a metadata CSV in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces = []
    for i in range(count):
        samples = piece(1000 + i)
        path = folder / f"piece-{i + 1:02d}.flac"
        sf.write(path, samples, SR, format="FLAC", subtype="PCM_16")
        pieces.append(Piece(path, f"Study {i + 1}", ARTISTS[i % len(ARTISTS)], samples))
    with open(folder / "metadata.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "title", "artist", "album"])
        for p in pieces:
            w.writerow([p.path.name, p.title, p.artist, "Generated studies"])
    return pieces


def ingest(folder: Path, env: dict[str, str]) -> str:
    """``musicprism ingest`` of ``folder`` with its metadata; returns its summary line."""
    done = subprocess.run(
        musicprism_command("ingest", str(folder), "--metadata", str(folder / "metadata.csv"),
                           "--quiet"),
        env=subprocess_env(env), capture_output=True, text=True, timeout=600, check=True,
    )
    return done.stdout.splitlines()[0]


def cut(samples: np.ndarray, start: float, seconds: float, path: Path) -> Path:
    """A WAV clip of ``seconds`` from ``start`` (s) of a piece: the query a person drops."""
    i = round(start * SR)
    sf.write(path, samples[i : i + round(seconds * SR)], SR, format="WAV", subtype="PCM_16")
    return path
