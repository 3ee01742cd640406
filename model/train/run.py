"""One training run end to end: data, caches, objectives, the loop, the shipped tag head, the
test evaluation and the self-describing checkpoint.

Files in the run directory: ``config.yaml`` (the resolved config), ``last.pt`` and
``best.pt`` (resumable training state), ``model.pt`` (the shipped checkpoint,
:func:`model.checkpoint.save_checkpoint`), ``metrics.json`` and ``metrics.md``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from layout.facets import to_full_space
from layout.tags import tag_cosines
from model.checkpoint import LoadedModel, save_checkpoint
from model.data.base import MusicDataset
from model.embed import Embedder
from model.encoder import Encoder
from model.evaluation.evaluate import (
    WindowOutputs,
    aggregate,
    concept_table,
    evaluate_window_fn,
    markdown_table,
)
from model.teacher.label import TEACHER_DIR
from model.train import tag_head
from model.train.builders import build_encoder, config_to_dict, dump_config, resolve_device
from model.train.config import TrainConfig
from model.train.data import Splits, load_splits
from model.train.features import ClipWindows, FeatureStore, LogMelCache, window_frames
from model.train.init_from import init_encoder, init_loss_head, load_init
from model.train.loop import LAST, Trainer
from model.train.objectives import SSLObjective, SupervisedObjective
from model.train.soft_targets import TeacherTargets, teacher_file

logger = logging.getLogger(__name__)

MODEL = "model.pt"


@dataclass
class RunResult:
    """checkpoint: path of ``model.pt``; metrics: test metrics; training: what the
    checkpoint records about the run."""

    run_dir: Path
    checkpoint: Path
    metrics: dict[str, Any]
    training: dict[str, Any]


def make_caches(splits: Splits, cfg: TrainConfig, progress: bool,
                store: FeatureStore | None = None) -> tuple[ClipWindows, ClipWindows | None]:
    """Log-mel caches of the train and val clips in one store (``data.cache_mb``)."""
    store = store if store is not None else FeatureStore(cfg.data.cache_mb << 20)
    width = window_frames(cfg.encoder)
    train_ds = splits.train if cfg.loss.ssl.enabled else _supervised_only(splits.train, cfg,
                                                                          splits)
    train_cache = LogMelCache(train_ds, cfg.encoder, store=store)
    skipped = set(train_cache.fill(progress, "log-mels (train)", skip_unlabelled_errors=True))
    if skipped:  # e.g. a recording of pure silence among the unlabelled ones
        train_ds = MusicDataset([t for i, t in enumerate(train_ds) if i not in skipped],
                                train_ds.schema, name=train_ds.name, card=train_ds.card)
        train_cache = LogMelCache(train_ds, cfg.encoder, store=store)
    train = ClipWindows(train_cache, width, cfg.seed, teacher=_teacher(train_ds, cfg, splits))
    val = None
    if len(splits.val) >= 2:
        val_cache = LogMelCache(splits.val, cfg.encoder, store=store)
        val_cache.fill(progress, "log-mels (val)")
        val = ClipWindows(val_cache, width, cfg.seed, teacher=_teacher(splits.val, cfg, splits))
    return train, val


def _teacher(ds: MusicDataset, cfg: TrainConfig, splits: Splits) -> TeacherTargets | None:
    if cfg.data.teacher is None:
        return None
    return TeacherTargets(ds, cfg.data.teacher, splits.root or Path(cfg.data.path))


def _supervised_only(ds: MusicDataset, cfg: TrainConfig, splits: Splits) -> MusicDataset:
    """The clips a supervised loss learns from: the labelled ones, and with teacher targets
    also the unlabelled clips the teacher has outputs for."""
    keep = [t.labelled for t in ds]
    if cfg.data.teacher is not None:
        folder = Path(cfg.data.teacher) / TEACHER_DIR
        root = splits.root or Path(cfg.data.path)
        keep = [k or teacher_file(t, folder, root) is not None for k, t in zip(keep, ds,
                                                                              strict=True)]
    return MusicDataset([t for k, t in zip(keep, ds, strict=True) if k], ds.schema,
                        name=ds.name, card=ds.card)


@torch.no_grad()
def cached_track_vectors(encoder: Encoder, clips: ClipWindows, batch: int = 64
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Track-level full-space vectors and labels of the labelled tracks of ``clips`` (every
    evaluation window of each clip, from the cache, encoder in eval mode)."""
    encoder.eval()
    device = next(encoder.parameters()).device
    vecs, owner = [], []
    for i in range(len(clips)):
        w = clips.eval_windows(i)
        for s in range(0, len(w), batch):
            z = encoder.embed_features(w[s: s + batch].to(device)).cpu().numpy()
            vecs.append(to_full_space(z, encoder.schema))
            owner.append(np.full(len(z), i, dtype=np.int64))
    ds = clips.cache.dataset
    v = np.concatenate(vecs)
    out = WindowOutputs(v, np.zeros((len(v), ds.schema.num_tags), np.float32),
                        np.concatenate(owner))
    tr = aggregate(out, ds, ds.schema)
    keep = tr.labelled & (tr.labels > 0).any(axis=1)
    return tr.vectors[keep], tr.labels[keep]


def finalize_head(encoder: Encoder, supervised: SupervisedObjective | None,
                  train: ClipWindows, val: ClipWindows | None) -> str:
    """Give the encoder its shipped cosine tag head; returns ``copied`` or ``fitted``."""
    loss = getattr(supervised, "loss", None)
    if supervised is not None and supervised.method in ("proxy", "classification",
                                                        "distillation") and (
            loss.head.normalize_embedding):  # type: ignore[union-attr]
        tag_head.copy_loss_head(loss, encoder)  # type: ignore[arg-type]
        return "copied"
    schema = encoder.schema
    tv, ty = cached_track_vectors(encoder, train)
    proxies = tag_head.fit_proxies(tv, ty, schema)
    vv, vy = cached_track_vectors(encoder, val) if val is not None else (tv[:0], ty[:0])
    cal = tag_head.calibrate(tag_cosines(vv, proxies, schema), vy,
                             tag_cosines(tv, proxies, schema), ty)
    tag_head.set_cosine_head(encoder, proxies, cal)
    logger.info("fitted tag head: calibration sources %s",
                {s: cal.source.count(s) for s in set(cal.source)})
    return "fitted"


def evaluate_encoder(encoder: Encoder, splits: Splits, cfg: TrainConfig, split: str = "test",
                     progress: bool = False) -> dict[str, float]:
    """Evaluate the in-memory encoder on a split exactly as a loaded checkpoint would be."""
    ds = {"train": splits.train, "val": splits.val, "test": splits.test}[split]
    encoder.cpu().eval()
    embedder = Embedder(LoadedModel(encoder=encoder, name=cfg.name, sha256=""))
    return evaluate_window_fn(embedder.embed_windows, ds, encoder.schema,
                              sample_rate=cfg.encoder.sample_rate,
                              window_seconds=cfg.encoder.clip_seconds,
                              triplets=cfg.eval_triplets, seed=cfg.seed, progress=progress)


def build_trainer(cfg: TrainConfig, splits: Splits, train_clips: ClipWindows,
                  val_clips: ClipWindows | None, run_dir: Path, device: torch.device,
                  progress: bool = False, start: LoadedModel | None = None,
                  init_report: dict[str, Any] | None = None) -> Trainer:
    """A seeded encoder (or one started from the checkpoint ``start``, whose report goes
    into ``init_report``), its objectives and the :class:`Trainer` over the cached clips."""
    encoder = build_encoder(cfg, splits.schema)
    generator = torch.Generator().manual_seed(cfg.seed)
    supervised = (SupervisedObjective(cfg.loss, splits.schema, generator)
                  if cfg.loss.method != "none" else None)
    if start is not None:  # before the SSL objective copies the encoder into an EMA target
        report = init_encoder(encoder, start)
        if supervised is not None:
            init_loss_head(supervised.loss, encoder, report["kept_tags"])
        if init_report is not None:
            init_report.update(report)
    steps = train_clips.num_batches(cfg.batch_size)
    ssl = (SSLObjective(cfg.loss.ssl, encoder, steps * (cfg.epochs + cfg.pretrain_epochs), steps)
           if cfg.loss.ssl.enabled else None)
    return Trainer(cfg, encoder, supervised, ssl, train_clips, val_clips, generator, run_dir,
                   device, progress)


def train(cfg: TrainConfig, run_dir: str | Path, *, resume: bool = True, progress: bool = False,
          command: str | None = None, data: str | Path | None = None,
          evaluate: bool = True, stop_after: int | None = None,
          store: FeatureStore | None = None) -> RunResult:
    """Train ``cfg`` into ``run_dir`` (resuming from its ``last.pt`` when ``resume``).

    Args:
        cfg: the run.
        run_dir: output directory.
        resume: continue from ``run_dir/last.pt`` if it exists.
        progress: tqdm bars.
        command: the command line, recorded in the checkpoint.
        data: dataset directory overriding ``cfg.data.path``.
        evaluate: evaluate on the test split and record the metrics.
        stop_after: stop after this many epochs of this call (an interruption, for tests);
            no checkpoint is written then.
        store: a log-mel store shared with other runs (default: a private one bounded by
            ``data.cache_mb``).

    Returns:
        :class:`RunResult` (``checkpoint`` does not exist after a ``stop_after`` stop).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(dump_config(cfg), encoding="utf-8")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    splits = load_splits(cfg, data)
    start = load_init(cfg, splits.schema)  # checked before the log-mels are computed
    t0 = time.perf_counter()
    train_clips, val_clips = make_caches(splits, cfg, progress, store)
    cache_seconds = time.perf_counter() - t0
    init: dict[str, Any] = {}
    trainer = build_trainer(cfg, splits, train_clips, val_clips, run_dir, device, progress,
                            start=start, init_report=init)
    encoder, supervised = trainer.encoder, trainer.supervised
    if resume and (run_dir / LAST).is_file():
        trainer.load(run_dir / LAST)
        logger.info("resumed %s at epoch %d", run_dir / LAST, trainer.state.epoch)
    state = trainer.fit(stop_after=stop_after)
    if state.epoch < trainer.total_epochs and not state.stopped:
        return RunResult(run_dir, run_dir / MODEL, {}, {"epochs_run": state.epoch})
    best = trainer.restore_best()
    encoder.cpu()
    head = finalize_head(encoder, supervised, train_clips, val_clips)
    main = [h for h in state.history if h["stage"] == "train"] or state.history
    training = {
        "command": command or "",
        "config": config_to_dict(cfg),
        "data": str(data if data is not None else cfg.data.path),
        "train_clips": len(train_clips), "val_clips": len(val_clips) if val_clips else 0,
        "labelled_train_clips": int(train_clips.labelled.sum()),
        "epochs_run": state.epoch, "best_epoch": best + 1, "stopped_early": state.stopped,
        "train_seconds": round(state.seconds, 1),
        "seconds_per_epoch": round(float(np.mean([h["seconds"] for h in main])), 2),
        "cache_seconds": round(cache_seconds, 1),
        "device": str(device), "threads": torch.get_num_threads(),
        "tag_head": head,
        "init_from": init or None,
        "history": [{k: v for k, v in h.items() if v is not None} for h in state.history],
    }
    metrics: dict[str, Any] = (evaluate_encoder(encoder, splits, cfg, "test", progress)
                               if evaluate else {})
    if metrics:
        metrics["train_seconds"] = training["train_seconds"]
    card = {**splits.train.card, "train": splits.train.summary()["splits"],
            "clips": {"train": len(splits.train), "val": len(splits.val),
                      "test": len(splits.test)}}
    path = save_checkpoint(run_dir / MODEL, encoder, name=cfg.name, data_card=card,
                           metrics=metrics, training=training)
    (run_dir / "metrics.json").write_text(json.dumps(
        {"metrics": metrics, "training": {k: v for k, v in training.items() if k != "config"}},
        indent=2), encoding="utf-8")
    if metrics:
        (run_dir / "metrics.md").write_text(
            markdown_table({cfg.name: metrics}) + "\n"
            + concept_table(metrics, list(splits.schema.concepts)), encoding="utf-8")
    return RunResult(run_dir, path, metrics, training)
