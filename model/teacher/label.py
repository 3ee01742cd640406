"""Label every track of a manifest with the musicnn teacher, window by window.

For each row of a generic ``manifest.csv`` (paths relative to its folder): decode with
:func:`model.audio.decode` at 16 kHz, cut musicnn's non-overlapping 187-frame windows
(2.992 s; a partial last window is dropped, as musicnn does), run the port a batch of
windows at a time (activations stay bounded whatever the track length; the decoded samples
are the only per-track memory), and write ``<out>/teacher/<key>.npz`` where ``key`` is
:func:`track_key` of the manifest path:

- ``probs``: (W, 50) float16 tag probabilities (labels in ``labels``, musicnn's order);
- ``penultimate``: (W, 200) float16 penultimate features;
- ``starts``: (W,) float32 window start times in seconds;
- ``path``, ``duration``, ``labels``.

Writes are atomic (temporary file, then rename) and a track whose ``.npz`` exists is
skipped, so a run resumes; several processes can share the work with ``shard=(i, n)``.
A track that cannot be decoded, or is shorter than one window, gets a ``<key>.skip.json``
with the reason instead (it is not retried). :func:`write_teacher_csv` then writes
``<out>/teacher.csv``: path, track_id, windows, seconds, ``tags`` (the top tags by mean
probability, ``;``-separated, like a manifest's tags column) and the 50 mean probabilities
(``mean:<tag>``); and ``<out>/teacher_skipped.csv``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from model.audio import AudioError, decode
from model.teacher.melspec import LogMel
from model.teacher.musicnn import MSD_LABELS, N_FRAMES, Musicnn, load_musicnn

__all__ = ["LabelConfig", "LabelReport", "label_manifest", "label_samples", "track_key",
           "write_teacher_csv"]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
TEACHER_DIR = "teacher"
TOP_TAGS = 5


@dataclass(frozen=True)
class LabelConfig:
    """Labelling settings.

    Attributes:
        max_seconds: longest track decoded (longer ones are skipped and reported).
        batch_windows: windows per forward pass (memory ~25 MB per window).
        shard: (i, n): this process takes rows i, i + n, i + 2n, ...
        limit: at most this many rows (after sharding); None for all.
    """

    max_seconds: float = 3600.0
    batch_windows: int = 8
    shard: tuple[int, int] = (0, 1)
    limit: int | None = None


@dataclass(frozen=True)
class LabelReport:
    """What one run did."""

    labelled: int
    already: int
    skipped: int
    audio_seconds: float
    wall_seconds: float


def track_key(path: str) -> str:
    """File name stem for a manifest path: the first 24 hex digits of its SHA-256."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:24]


@torch.no_grad()
def label_samples(model: Musicnn, logmel: LogMel, samples: np.ndarray,
                  batch_windows: int = 8) -> dict[str, np.ndarray]:
    """Teacher outputs for every window of one track.

    Args:
        model: the port, in eval mode.
        logmel: its front end.
        samples: (T,) float32 mono at 16 kHz.
        batch_windows: windows per forward pass.

    Returns:
        ``probs`` (W, 50) float16, ``penultimate`` (W, 200) float16, ``starts`` (W,) float32
        seconds; W = 0 when the track is shorter than one window.
    """
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    count = logmel.window_count(len(x), N_FRAMES)
    probs = np.zeros((count, len(MSD_LABELS)), np.float16)
    pen = np.zeros((count, 200), np.float16)
    if count:
        padded = logmel.pad(x)
        for first in range(0, count, batch_windows):
            n = min(batch_windows, count - first)
            out = model(logmel.windows(padded, first, n, N_FRAMES))
            probs[first:first + n] = out.probs.numpy()
            pen[first:first + n] = out.penultimate.numpy()
    hop_s = logmel.hop_length / SAMPLE_RATE
    starts = (np.arange(count, dtype=np.float64) * N_FRAMES * hop_s).astype(np.float32)
    return {"probs": probs, "penultimate": pen, "starts": starts}


def label_manifest(manifest: Path, out: Path, model: Musicnn,
                   config: LabelConfig = LabelConfig()) -> LabelReport:
    """Label the tracks of ``manifest`` into ``out/teacher`` (resumable, see module doc)."""
    manifest = Path(manifest)
    rows = _rows(manifest)[config.shard[0]::config.shard[1]][: config.limit]
    cache = Path(out) / TEACHER_DIR
    cache.mkdir(parents=True, exist_ok=True)
    logmel = LogMel()
    done = already = skipped = 0
    audio_s, t0 = 0.0, time.perf_counter()
    bar = tqdm(rows, desc=f"teacher {config.shard[0]}/{config.shard[1]}", unit="track",
               position=config.shard[0])
    for row in bar:
        key = track_key(row["path"])
        if (cache / f"{key}.npz").is_file() or (cache / f"{key}.skip.json").is_file():
            already += 1
            continue
        seconds = _label_one(manifest.parent / row["path"], row["path"], cache / key, model,
                             logmel, config)
        if seconds is None:
            skipped += 1
        else:
            done, audio_s = done + 1, audio_s + seconds
            bar.set_postfix(audio_h=f"{audio_s / 3600:.2f}")
    report = LabelReport(done, already, skipped, audio_s, time.perf_counter() - t0)
    logger.info("teacher labels: %s", report)
    return report


def _label_one(path: Path, rel: str, stem: Path, model: Musicnn, logmel: LogMel,
               config: LabelConfig) -> float | None:
    """Write ``stem.npz`` (returns the audio seconds) or ``stem.skip.json`` (returns None)."""
    try:
        decoded = decode(path, sample_rate=SAMPLE_RATE, max_seconds=config.max_seconds)
    except (AudioError, OSError) as e:
        _skip(stem, rel, f"{type(e).__name__}: {e}")
        return None
    result = label_samples(model, logmel, decoded.samples, config.batch_windows)
    if len(result["starts"]) == 0:
        _skip(stem, rel, f"shorter than one window ({decoded.duration:.2f} s < "
                         f"{N_FRAMES * logmel.hop_length / SAMPLE_RATE:.3f} s)")
        return None
    _atomic_npz(stem.with_suffix(".npz"), path=np.array(rel),
                duration=np.array(decoded.duration, np.float32), labels=np.array(MSD_LABELS),
                **result)
    return decoded.duration


def _skip(stem: Path, rel: str, reason: str) -> None:
    logger.warning("teacher: skipped %s: %s", rel, reason)
    _atomic_write(stem.with_suffix(".skip.json"),
                  json.dumps({"path": rel, "reason": reason}).encode("utf-8"))


def _atomic_npz(target: Path, **arrays: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)


def _rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_teacher_csv(manifest: Path, out: Path, top: int = TOP_TAGS) -> tuple[int, int]:
    """Write ``out/teacher.csv`` and ``out/teacher_skipped.csv`` from the cache.

    Returns:
        (tracks listed, tracks skipped). Rows not yet labelled are left out.
    """
    cache = Path(out) / TEACHER_DIR
    labelled, skipped = [], []
    for row in _rows(Path(manifest)):
        stem = cache / track_key(row["path"])
        if stem.with_suffix(".npz").is_file():
            with np.load(stem.with_suffix(".npz")) as z:
                mean = z["probs"].astype(np.float32).mean(axis=0)
                windows, seconds = len(z["starts"]), float(z["duration"])
            order = np.argsort(-mean)[:top]
            labelled.append({"path": row["path"], "track_id": row.get("track_id", row["path"]),
                             "windows": windows, "seconds": f"{seconds:.3f}",
                             "tags": ";".join(MSD_LABELS[i] for i in order),
                             **{f"mean:{t}": f"{m:.5f}" for t, m in zip(MSD_LABELS, mean,
                                                                          strict=True)}})
        elif stem.with_suffix(".skip.json").is_file():
            skipped.append(json.loads(stem.with_suffix(".skip.json").read_text("utf-8")))
    columns = ["path", "track_id", "windows", "seconds", "tags"] + [f"mean:{t}" for t in
                                                                    MSD_LABELS]
    _write_csv(Path(out) / "teacher.csv", columns, labelled)
    _write_csv(Path(out) / "teacher_skipped.csv", ["path", "reason"], skipped)
    return len(labelled), len(skipped)


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, object]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model.teacher.label MANIFEST OUT --wheel W [--shard i/n] [--threads k]``."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("manifest", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--wheel", type=Path, required=True, help="musicnn-0.1.0 wheel file")
    p.add_argument("--shard", default="0/1", help="i/n: rows i, i+n, ... (default 0/1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--batch-windows", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    p.add_argument("--limit", type=int, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(args.threads)
    i, n = (int(v) for v in args.shard.split("/"))
    config = LabelConfig(args.max_seconds, args.batch_windows, (i, n), args.limit)
    label_manifest(args.manifest, args.out, load_musicnn(args.wheel), config)
    listed, skipped = write_teacher_csv(args.manifest, args.out)
    logger.info("teacher.csv: %d tracks, %d skipped", listed, skipped)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
