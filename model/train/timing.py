"""Controlled training-time measurements for the benchmark's time-ratio column.

The seconds per epoch recorded by each benchmark run depend on whatever else the machine was
doing then. :func:`time_variants` measures every variant back to back on the same clips:
one warm-up epoch, then the fastest of ``repeats`` timed epochs of each stage (pretraining
and supervised), weighted by the variant's epochs, so the ratios compare methods rather than
moments.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from model.train.config import TrainConfig
from model.train.data import load_splits
from model.train.features import FeatureStore
from model.train.run import build_trainer, make_caches

logger = logging.getLogger(__name__)


def time_variant(cfg: TrainConfig, *, data: Path | None, store: FeatureStore,
                 clips: int = 500, repeats: int = 2) -> float:
    """Seconds per epoch of ``cfg`` on ``clips`` training clips (mean over its stages)."""
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, max_train_clips=clips))
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    splits = load_splits(cfg, data)
    train_clips, _ = make_caches(splits, cfg, progress=False, store=store)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(cfg, splits, train_clips, None, Path(tmp),
                                torch.device("cpu"))
        trainer.train_epoch(cfg.pretrain_epochs)  # warm-up (supervised stage)
        stages = [(cfg.pretrain_epochs, cfg.epochs)]
        if cfg.pretrain_epochs:
            stages.append((0, cfg.pretrain_epochs))
        total = 0.0
        for epoch, weight in stages:
            best = float("inf")
            for _ in range(repeats):
                t0 = time.perf_counter()
                trainer.train_epoch(epoch)
                best = min(best, time.perf_counter() - t0)
            total += best * weight
    return total / (cfg.epochs + cfg.pretrain_epochs)


def time_variants(cfgs: Sequence[TrainConfig], *, data: Path | None = None, clips: int = 500,
                  repeats: int = 2) -> dict[str, float]:
    """``{variant: seconds per epoch on `clips` clips}``, measured back to back."""
    store = FeatureStore(max(c.data.cache_mb for c in cfgs) << 20)
    out = {}
    for cfg in cfgs:
        out[cfg.name] = time_variant(cfg, data=data, store=store, clips=clips, repeats=repeats)
        logger.info("%s: %.2f s per epoch on %d clips", cfg.name, out[cfg.name], clips)
    return out
