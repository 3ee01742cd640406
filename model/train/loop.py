"""The training loop: epochs over cached log-mel crops, Lee et al.'s plateau schedule and early
stopping on the validation loss, and ``last.pt`` / ``best.pt`` files that resume exactly.

Reproducibility: the batch order, the crops and the augmentation of epoch e are drawn from
generators seeded by ``(seed, e, ...)`` and the miners' generator is reseeded at the start of
every epoch, so a run resumed from ``last.pt`` (written after each epoch) continues exactly
as the uninterrupted run would have.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from model.encoder import Encoder
from model.train.augment import apply_augment, draw_augment
from model.train.config import TrainConfig
from model.train.features import Batch, ClipWindows
from model.train.objectives import SSLObjective, SupervisedObjective

logger = logging.getLogger(__name__)

LAST, BEST = "last.pt", "best.pt"
_VAL_EPOCH = 1_000_003  # the fixed "epoch" of the validation crops


@dataclass
class Plateau:
    """Lee et al.'s schedule: after ``patience`` epochs without improvement divide the
    learning rate (``factor``), at most ``max_reductions`` times; the plateau after that
    stops the run."""

    best: float = math.inf
    bad_epochs: int = 0
    reductions: int = 0

    def update(self, value: float, patience: int, max_reductions: int) -> str:
        """Record one validation value; returns ``improved``, ``wait``, ``reduce`` or
        ``stop``."""
        if value < self.best:
            self.best, self.bad_epochs = value, 0
            return "improved"
        self.bad_epochs += 1
        if self.bad_epochs < patience:
            return "wait"
        if self.reductions < max_reductions:
            self.reductions += 1
            self.bad_epochs = 0
            return "reduce"
        return "stop"


@dataclass
class TrainState:
    """What ``last.pt`` records besides the weights: the next epoch, the step count, the
    plateau, whether the run stopped early, the history and the seconds spent."""

    epoch: int = 0
    step: int = 0
    plateau: Plateau = field(default_factory=Plateau)
    best_epoch: int = -1
    stopped: bool = False
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


class Trainer:
    """Trains ``encoder`` with the objectives on cached crops (one run, one device).

    Args:
        cfg: the run's config.
        encoder: the model (its tag head is not trained here; see model.train.tag_head).
        supervised: the supervised objective, or ``None`` (self-supervised only).
        ssl: the self-supervised objective, or ``None``.
        train: training crops; val: validation crops (``None``: no early stopping).
        generator: the miners' generator (reseeded each epoch).
        run_dir: where ``last.pt`` and ``best.pt`` go.
        device: where the model runs.
        progress: show a tqdm bar per epoch.
    """

    def __init__(self, cfg: TrainConfig, encoder: Encoder, supervised: SupervisedObjective | None,
                 ssl: SSLObjective | None, train: ClipWindows, val: ClipWindows | None,
                 generator: torch.Generator, run_dir: Path, device: torch.device,
                 progress: bool = False) -> None:
        self.cfg, self.encoder, self.supervised, self.ssl = cfg, encoder, supervised, ssl
        self.train_data, self.val_data, self.generator = train, val, generator
        self.run_dir, self.device, self.progress = Path(run_dir), device, progress
        self.objective = nn.ModuleDict({k: m for k, m in (("supervised", supervised),
                                                         ("ssl", ssl)) if m is not None})
        self.encoder.to(device)
        self.objective.to(device)
        head = {id(p) for p in encoder.head.parameters()}
        params = [p for p in encoder.parameters() if id(p) not in head]
        params += [p for p in self.objective.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=cfg.optim.lr,
                                          weight_decay=cfg.optim.weight_decay)
        self.state = TrainState()

    # --- stages -------------------------------------------------------------------------
    @property
    def total_epochs(self) -> int:
        return self.cfg.pretrain_epochs + self.cfg.epochs

    def stage(self, epoch: int) -> str:
        return "pretrain" if epoch < self.cfg.pretrain_epochs else "train"

    def views(self, stage: str) -> int:
        if stage == "pretrain":
            return 2
        joint = self.ssl is not None and self.cfg.loss.ssl.joint
        return 2 if (joint or self.cfg.loss.track_reg > 0) else 1

    def augmenting(self, stage: str) -> bool:
        return self.cfg.augment.pretrain if stage == "pretrain" else self.cfg.augment.finetune

    # --- one batch ----------------------------------------------------------------------
    def batch_loss(self, batch: Batch, stage: str, rng: np.random.Generator | None
                   ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one batch; ``rng`` draws the augmentation (``None``: none)."""
        batch = batch.to(self.device)
        x = batch.x
        if rng is not None:
            params = draw_augment(self.cfg.augment, x.shape[0], x.shape[1], x.shape[2], rng)
            x = apply_augment(x, params.to(self.device))
        z = self.encoder.embed_features(x)  # (V * B, D)
        terms: dict[str, torch.Tensor] = {}
        if stage == "train" and self.supervised is not None:
            terms["supervised"] = self.supervised(z, batch.tags, batch.labelled, batch.groups,
                                                  batch.soft, batch.soft_mask)
        if self.ssl is not None and (stage == "pretrain" or self.cfg.loss.ssl.joint):
            weight = 1.0 if stage == "pretrain" else self.cfg.loss.ssl.weight
            terms["ssl"] = weight * self.ssl(self.encoder, z, x, self.state.step)
        loss = torch.stack(list(terms.values())).sum()
        return loss, {k: float(v.detach()) for k, v in terms.items()}

    # --- epochs -------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict[str, float]:
        stage = self.stage(epoch)
        self.encoder.train()
        self.objective.train()
        self.generator.manual_seed(self.cfg.seed * 1_000_003 + epoch)
        views, bs = self.views(stage), self.cfg.batch_size
        total, sums = 0, {"loss": 0.0}
        max_overlap = self.cfg.loss.ssl.max_view_overlap if views == 2 else None
        bar = tqdm(self.train_data.batches(epoch, bs, views, max_overlap=max_overlap),
                   total=self.train_data.num_batches(bs), disable=not self.progress,
                   desc=f"epoch {epoch + 1}/{self.total_epochs} ({stage})", leave=False)
        for b, batch in enumerate(bar):
            rng = (np.random.default_rng((self.cfg.seed, epoch, 2, b))
                   if self.augmenting(stage) else None)
            loss, terms = self.batch_loss(batch, stage, rng)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"non-finite loss {float(loss.detach())} at epoch {epoch}, batch {b}: {terms}")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.cfg.optim.grad_clip > 0:
                nn.utils.clip_grad_norm_(
                    [p for g in self.optimizer.param_groups for p in g["params"]],
                    self.cfg.optim.grad_clip)
            self.optimizer.step()
            self.state.step += 1
            if self.ssl is not None:
                self.ssl.after_step(self.encoder, self.state.step)
            n = batch.tags.shape[0]
            total += n
            sums["loss"] += float(loss.detach()) * n
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * n
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        return {k: v / max(total, 1) for k, v in sums.items()}

    @torch.no_grad()
    def validate(self, epoch: int) -> float | None:
        """Mean validation loss (fixed crops, no augmentation, eval mode); ``None`` without
        validation data."""
        if self.val_data is None or len(self.val_data) < 2:
            return None
        stage = self.stage(epoch)
        self.encoder.eval()
        self.objective.eval()
        self.generator.manual_seed(self.cfg.seed * 1_000_003 + _VAL_EPOCH)
        views = self.views(stage)
        max_overlap = self.cfg.loss.ssl.max_view_overlap if views == 2 else None
        total, s = 0, 0.0
        for batch in self.val_data.batches(_VAL_EPOCH, self.cfg.batch_size, views,
                                           shuffle=False, max_overlap=max_overlap):
            loss, _ = self.batch_loss(batch, stage, None)
            n = batch.tags.shape[0]
            s, total = s + float(loss) * n, total + n
        return s / max(total, 1)

    def fit(self, stop_after: int | None = None) -> TrainState:
        """Train until the last epoch, early stopping, or ``stop_after`` more epochs (to
        simulate an interruption); writes ``last.pt`` after every epoch and ``best.pt`` at
        every improvement of the supervised stage (or at the end of pretraining-only runs).
        """
        done = 0
        o = self.cfg.optim
        while self.state.epoch < self.total_epochs and not self.state.stopped:
            if stop_after is not None and done >= stop_after:
                break
            epoch = self.state.epoch
            t0 = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch + 1, "stage": self.stage(epoch),
                                   "lr": self.optimizer.param_groups[0]["lr"]}
            row.update({f"train_{k}": v for k, v in self.train_epoch(epoch).items()})
            val = self.validate(epoch)
            row["val_loss"] = val
            row["seconds"] = time.perf_counter() - t0
            self.state.seconds += row["seconds"]
            self.state.epoch = epoch + 1
            self._after_validation(epoch, val, o.lr_patience, o.max_lr_reductions, o.lr_factor)
            self.state.history.append(row)
            logger.info("epoch %d/%d %s: %s", epoch + 1, self.total_epochs, row["stage"],
                        {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            self.save(self.run_dir / LAST)
            done += 1
        return self.state

    def _after_validation(self, epoch: int, val: float | None, patience: int,
                          max_reductions: int, factor: float) -> None:
        last_pretrain = self.stage(epoch) == "pretrain" and epoch + 1 == self.cfg.pretrain_epochs
        if self.stage(epoch) == "pretrain":
            if last_pretrain and self.cfg.epochs == 0:
                self._mark_best(epoch)
            return
        if val is None:
            self._mark_best(epoch)
            return
        verdict = self.state.plateau.update(val, patience, max_reductions)
        if verdict == "improved":
            self._mark_best(epoch)
        elif verdict == "reduce":
            for g in self.optimizer.param_groups:
                g["lr"] *= factor
            logger.info("validation plateau: learning rate -> %.3g",
                        self.optimizer.param_groups[0]["lr"])
        elif verdict == "stop":
            logger.info("early stop after epoch %d (best epoch %d)", epoch + 1,
                        self.state.best_epoch + 1)
            self.state.stopped = True

    def _mark_best(self, epoch: int) -> None:
        self.state.best_epoch = epoch
        torch.save({"encoder": self.encoder.state_dict(),
                    "objective": self.objective.state_dict(), "epoch": epoch},
                   self.run_dir / BEST)

    # --- persistence --------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Everything needed to resume: weights, objective heads and targets, optimiser,
        plateau, epoch, step, RNG, history."""
        s = self.state
        payload = {
            "encoder": self.encoder.state_dict(),
            "objective": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "state": {"epoch": s.epoch, "step": s.step, "plateau": asdict(s.plateau),
                      "best_epoch": s.best_epoch, "stopped": s.stopped, "seconds": s.seconds,
                      "history": s.history},
            "torch_rng": torch.get_rng_state(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    def load(self, path: Path) -> None:
        """Restore a ``last.pt`` written by :meth:`save`."""
        payload = torch.load(path, map_location=self.device, weights_only=True)
        self.encoder.load_state_dict(payload["encoder"], strict=True)
        self.objective.load_state_dict(payload["objective"], strict=True)
        self.optimizer.load_state_dict(payload["optimizer"])
        st = payload["state"]
        self.state = TrainState(epoch=st["epoch"], step=st["step"],
                                plateau=Plateau(**st["plateau"]), best_epoch=st["best_epoch"],
                                stopped=st["stopped"], seconds=st["seconds"],
                                history=list(st["history"]))
        torch.set_rng_state(payload["torch_rng"].cpu())

    def restore_best(self) -> int:
        """Load ``best.pt`` into the encoder and objectives; returns its epoch (or -1 and
        keeps the last weights when there is none)."""
        path = self.run_dir / BEST
        if not path.is_file():
            return -1
        payload = torch.load(path, map_location=self.device, weights_only=True)
        self.encoder.load_state_dict(payload["encoder"], strict=True)
        self.objective.load_state_dict(payload["objective"], strict=True)
        return int(payload["epoch"])
