"""Training objectives built from a :class:`~model.train.config.LossConfig`.

* :class:`SupervisedObjective`: Lee et al.'s triplet (plain / per-facet masked, optionally
  track-regularised), proxy and classification losses, each plain or disentangled, on the
  raw embeddings of every crop in the batch; unlabelled clips are masked out. Distillation
  learns each crop's teacher targets (masked per tag) when the batch has them.
* :class:`SSLObjective`: a self-supervised loss on the two crops of each clip (NT-Xent,
  BYOL, VICReg, Barlow Twins, DINO) with its projector, and for BYOL / DINO an EMA target
  (teacher) copy of the encoder.

Heads that live in a loss module (``ProxyLoss.head``, ``ClassificationLoss.head``) are
parameters of the objective: the optimiser trains them, ``last.pt`` saves them, and
:mod:`model.train.tag_head` moves them into the encoder's tag head at the end.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from layout.schema import ConceptSchema
from model.encoder import Encoder
from model.losses import TrackRegularized, byol_momentum, ema_update, loss_method
from model.train.config import LossConfig, SSLConfig


class SupervisedObjective(nn.Module):
    """``forward(z, tags, labelled, groups) -> scalar`` for the configured method.

    Args:
        cfg: the loss config (``method`` must not be ``none``).
        schema: concepts, tags and facets (disentangled or not).
        generator: the miners' random source (triplet methods).
    """

    def __init__(self, cfg: LossConfig, schema: ConceptSchema,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.method = cfg.method
        self.loss = loss_method(cfg.method, "supervised").build(cfg, schema, generator)
        self.track_reg = isinstance(self.loss, TrackRegularized)  # it also takes track ids

    def forward(self, z: torch.Tensor, tags: torch.Tensor, labelled: torch.Tensor,
                groups: torch.Tensor, soft: torch.Tensor | None = None,
                soft_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Args:
            z: (V * B, D) raw embeddings, view-major.
            tags: (B, T) multi-hot; labelled: (B,) bool; groups: (B,) int64 track ids.
            soft, soft_mask: (V * B, T) per-crop teacher targets and their mask
                (distillation only; without them it learns the hard tags).

        Returns:
            Scalar loss over every crop (the mean over views for the BCE losses).
        """
        if soft is not None:
            if self.method != "distillation":
                raise ValueError(f"soft targets go with loss.method 'distillation', not "
                                 f"'{self.method}'")
            return self.loss(z, soft, None, soft_mask)
        v = z.shape[0] // tags.shape[0]
        tags, labelled, groups = tags.repeat(v, 1), labelled.repeat(v), groups.repeat(v)
        if self.track_reg:
            return self.loss(z, tags, groups, labelled)
        return self.loss(z, tags, labelled)


def mlp(dims: list[int]) -> nn.Sequential:
    """Linear-BatchNorm-ReLU blocks between ``dims``, a plain Linear last."""
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-2], dims[1:-1], strict=True):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(dims[-2], dims[-1]))
    return nn.Sequential(*layers)


class SSLObjective(nn.Module):
    """Self-supervised loss on two crops: ``forward(encoder, z, x) -> scalar``.

    The projector maps the raw embedding z (D) through ``cfg.projector``. BYOL adds a
    predictor and an EMA target (encoder + projector); DINO adds ``out_dim`` prototypes
    after the projector and an EMA teacher. Targets are updated by :meth:`after_step`.

    Args:
        cfg: the SSL config (method not ``none``).
        encoder: the online encoder (copied for the EMA target / teacher).
        total_steps: optimisation steps of the run (EMA momentum schedule).
        steps_per_epoch: for DINO's teacher-temperature warm-up (fractional epochs).
    """

    def __init__(self, cfg: SSLConfig, encoder: Encoder, total_steps: int,
                 steps_per_epoch: int) -> None:
        super().__init__()
        self.method = cfg.method
        self.momentum = cfg.momentum
        self.total_steps = max(1, total_steps)
        self.steps_per_epoch = max(1, steps_per_epoch)
        method = loss_method(cfg.method, "self-supervised")
        dims = [encoder.schema.dim, *cfg.projector]
        self.loss: nn.Module = method.build(cfg)
        self.projector: nn.Module = mlp(dims)
        if method.prototypes:
            self.projector = nn.Sequential(mlp(dims), nn.Linear(dims[-1], cfg.out_dim, bias=False))
        self.predictor: nn.Module | None = None
        if method.predictor:
            self.predictor = mlp([dims[-1], dims[-2] if len(dims) > 2 else dims[-1], dims[-1]])
        self.target: nn.ModuleDict | None = self._ema_copy(encoder) if method.ema_target else None

    def _ema_copy(self, encoder: Encoder) -> nn.ModuleDict:
        target = nn.ModuleDict({"encoder": copy.deepcopy(encoder),
                                "projector": copy.deepcopy(self.projector)})
        for p in target.parameters():
            p.requires_grad_(False)
        return target

    def forward(self, encoder: Encoder, z: torch.Tensor, x: torch.Tensor,
                step: int) -> torch.Tensor:
        """Args:
            encoder: the online encoder (unused by the online-only methods).
            z: (2B, D) raw embeddings of the two views, view-major.
            x: (2B, n_mels, frames) the crops z came from (for the EMA target).
            step: the global optimisation step.

        Returns:
            Scalar loss.
        """
        b = z.shape[0] // 2
        h = self.projector(z)
        if self.target is None:
            return self.loss(h[:b], h[b:])
        target_encoder: Encoder = self.target["encoder"]  # type: ignore[assignment]
        with torch.no_grad():
            t = self.target["projector"](target_encoder.embed_features(x))
        if self.predictor is not None:
            p = self.predictor(h)
            return (self.loss(p[:b], t[b:]) + self.loss(p[b:], t[:b])) / 2
        return self.loss(h[:b], h[b:], t[:b], t[b:], epoch=step / self.steps_per_epoch)

    @torch.no_grad()
    def after_step(self, encoder: Encoder, step: int) -> None:
        """EMA update of the target / teacher (BYOL, DINO) after optimisation step ``step``."""
        if self.target is None:
            return
        m = byol_momentum(step, self.total_steps, base=self.momentum)
        ema_update(self.target["encoder"], encoder, m)
        ema_update(self.target["projector"], self.projector, m)
