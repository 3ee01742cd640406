"""Typed training configuration (STYLE.md rule 4): ``TrainConfig`` holds a ``DataConfig``, the
encoder's own ``EncoderConfig``, a ``LossConfig`` (with its ``SSLConfig``), an
``AugmentConfig`` and an ``OptimConfig``. YAML is mapped onto these classes in one place,
:mod:`model.train.builders`; nothing else reads YAML or argparse.

Every class validates itself in ``__post_init__`` and raises :class:`ConfigError` (a
``ValueError``) naming the offending key and value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from model.config import ConfigError, EncoderConfig
from model.losses.registry import methods

Mining = Literal["random", "semihard", "hard"]

#: The methods a config may name come from the one list of losses (model.losses.registry).
METHODS: tuple[str, ...] = (*methods("supervised"), "none")
SSL_METHODS: tuple[str, ...] = ("none", *methods("self-supervised"))
MINING: tuple[str, ...] = ("random", "semihard", "hard")

__all__ = [
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "OptimConfig",
    "SSLConfig",
    "TrainConfig",
]


def _check(cond: bool, key: str, value: object, why: str) -> None:
    if not cond:
        raise ConfigError(f"{key}={value!r}: {why}")


@dataclass(frozen=True)
class DataConfig:
    """Where the clips come from and which of them train.

    Attributes:
        path: dataset directory (``manifest.csv`` + ``concepts.json``).
        label_fraction: share of training *tracks* (``track_id``) that keep their tags; the
            others are unlabelled and feed only the self-supervised loss. Drawn with
            ``label_seed``.
        label_seed: seed of that draw.
        max_train_clips: keep at most this many training clips (whole tracks, seeded by
            ``subset_seed``); ``None`` keeps all. Budgets use it.
        max_val_clips: the same for the validation split.
        subset_seed: seed of the subsets.
        cache_mb: bound of the float16 log-mel cache in RAM, MiB.
        unlabelled: further dataset directories (generic manifests, e.g. the real
            recordings of ``musicprism dataset real``) whose every track joins the training
            split *unlabelled*: they feed only the self-supervised loss, with views drawn
            anywhere in the whole recording. Tags in them are ignored.
        unlabelled_repeat: each of those tracks appears this many times per epoch (a long
            recording gives a fresh pair of random crops each time).
        teacher: the teacher labelling's output folder for this manifest (holding
            ``teacher/<key>.npz``): each crop's targets for the schema tags that are
            teacher labels become the teacher's probabilities over that crop
            (model.train.soft_targets); needs ``loss.method: distillation``.
    """

    path: str = "data/datasets/bench-full"
    label_fraction: float = 1.0
    label_seed: int = 0
    max_train_clips: int | None = None
    max_val_clips: int | None = None
    subset_seed: int = 0
    cache_mb: int = 2048
    unlabelled: tuple[str, ...] = ()
    unlabelled_repeat: int = 1
    teacher: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "unlabelled", tuple(str(u) for u in self.unlabelled))
        _check(self.unlabelled_repeat >= 1, "data.unlabelled_repeat", self.unlabelled_repeat,
               "must be >= 1")
        _check(0.0 < self.label_fraction <= 1.0, "data.label_fraction", self.label_fraction,
               "must be in (0, 1]")
        for key in ("max_train_clips", "max_val_clips"):
            v = getattr(self, key)
            _check(v is None or v >= 1, f"data.{key}", v, "must be >= 1 or null")
        _check(self.cache_mb >= 0, "data.cache_mb", self.cache_mb, "must be >= 0")


@dataclass(frozen=True)
class SSLConfig:
    """The self-supervised auxiliary loss on two crops of each clip.

    The auxiliary term is ``alpha / ratio * L_ssl`` (Akama et al. 2023: alpha = 1,
    ratio = 22), added to the supervised loss when ``joint`` (and alone during pretraining).

    Attributes:
        method: ``none``, ``ntxent``, ``byol``, ``vicreg``, ``barlow_twins`` or ``dino``.
        alpha, ratio: the weight ``alpha / ratio``.
        joint: keep the auxiliary loss in the supervised stage (joint training); with
            ``TrainConfig.pretrain_epochs > 0`` and ``joint=False`` it is pretrain-then-
            finetune.
        temperature: NT-Xent temperature (CLMR / Akama: 0.5; Deezer: 0.1).
        projector: hidden and output widths of the projection MLP on the embedding.
        out_dim: DINO prototypes.
        momentum: BYOL / DINO EMA momentum at step 0 (cosine schedule to 1).
        max_view_overlap: largest overlap of the two crops, fraction of a window.
    """

    method: str = "none"
    alpha: float = 1.0
    ratio: float = 22.0
    joint: bool = True
    temperature: float = 0.5
    projector: tuple[int, ...] = (256, 64)
    out_dim: int = 512
    momentum: float = 0.996
    max_view_overlap: float | None = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "projector", tuple(int(c) for c in self.projector))
        _check(self.method in SSL_METHODS, "loss.ssl.method", self.method,
               f"valid: {', '.join(SSL_METHODS)}")
        _check(self.alpha >= 0, "loss.ssl.alpha", self.alpha, "must be >= 0")
        _check(self.ratio > 0, "loss.ssl.ratio", self.ratio, "must be > 0")
        _check(self.temperature > 0, "loss.ssl.temperature", self.temperature, "must be > 0")
        _check(len(self.projector) >= 1 and min(self.projector) > 0, "loss.ssl.projector",
               self.projector, "needs at least one positive width")
        _check(self.out_dim > 0, "loss.ssl.out_dim", self.out_dim, "must be > 0")
        _check(0.0 <= self.momentum <= 1.0, "loss.ssl.momentum", self.momentum,
               "must be in [0, 1]")
        v = self.max_view_overlap
        _check(v is None or 0.0 <= v <= 1.0, "loss.ssl.max_view_overlap", v, "must be in [0, 1]")

    @property
    def enabled(self) -> bool:
        return self.method != "none" and self.alpha > 0

    @property
    def weight(self) -> float:
        return self.alpha / self.ratio


@dataclass(frozen=True)
class LossConfig:
    """The supervised objective (Lee et al. 2020) and its self-supervised companion.

    Attributes:
        method: ``triplet`` (concept triplets, masked per facet when the model is
            disentangled), ``proxy`` (normalised proxies, multi-label BCE),
            ``classification`` (dense layer, multi-label BCE), ``distillation`` (the same
            head trained to soft targets with a per-tag masked KL, model.losses.distillation)
            or ``none`` (self-supervised only).
        margin: triplet margin on L2-normalised embeddings (Lee et al.: 0.1).
        mining: triplet miner, ``random``, ``semihard`` or ``hard``.
        per_anchor: triplets per anchor (random / semi-hard mining).
        track_reg: lambda of the track-regularisation triplets (Lee et al.: 0.5); 0 is off.
        temperature: proxy and normalised-classification logits are cosines / temperature
            (NormSoftmax: 0.05). Unnormalised classification uses 1.
        normalize: classification and distillation: L2-normalise the embedding (per facet)
            first.
        ssl: the self-supervised auxiliary loss.
    """

    method: str = "proxy"
    margin: float = 0.1
    mining: Mining = "semihard"
    per_anchor: int = 1
    track_reg: float = 0.0
    temperature: float = 0.05
    normalize: bool = True
    ssl: SSLConfig = field(default_factory=SSLConfig)

    def __post_init__(self) -> None:
        _check(self.method in METHODS, "loss.method", self.method, f"valid: {', '.join(METHODS)}")
        _check(self.mining in MINING, "loss.mining", self.mining, f"valid: {', '.join(MINING)}")
        _check(self.margin >= 0, "loss.margin", self.margin, "must be >= 0")
        _check(self.per_anchor >= 1, "loss.per_anchor", self.per_anchor, "must be >= 1")
        _check(self.track_reg >= 0, "loss.track_reg", self.track_reg, "must be >= 0")
        _check(self.temperature > 0, "loss.temperature", self.temperature, "must be > 0")
        _check(self.track_reg == 0 or self.method == "triplet", "loss.track_reg",
               self.track_reg, "track regularisation goes with method 'triplet'")
        _check(self.method != "none" or self.ssl.enabled, "loss.method", self.method,
               "'none' needs a self-supervised loss (loss.ssl.method)")

    @property
    def views(self) -> int:
        """Crops per clip in a training batch: 2 for track regularisation or SSL."""
        return 2 if (self.track_reg > 0 or self.ssl.enabled) else 1


@dataclass(frozen=True)
class AugmentConfig:
    """Augmentations of a cached log-mel window (the random crop is the view itself).

    Attributes:
        gain_db: gain drawn uniformly in ``[-gain_db, gain_db]`` dB.
        freq_shift_bins: shift along the mel axis, uniform integer in ``[-k, k]`` bins.
        time_masks, time_mask_frames: number of time masks, each up to that many frames.
        freq_masks, freq_mask_bins: number of frequency masks, each up to that many bins.
        pretrain: augment the views of the self-supervised pretraining stage.
        finetune: augment during the supervised (joint) stage too (Akama et al.: better
            off).
    """

    gain_db: float = 6.0
    freq_shift_bins: int = 2
    time_masks: int = 1
    time_mask_frames: int = 24
    freq_masks: int = 1
    freq_mask_bins: int = 8
    pretrain: bool = True
    finetune: bool = False

    def __post_init__(self) -> None:
        for key in ("gain_db", "freq_shift_bins", "time_masks", "time_mask_frames",
                    "freq_masks", "freq_mask_bins"):
            v = getattr(self, key)
            _check(v >= 0, f"augment.{key}", v, "must be >= 0")


@dataclass(frozen=True)
class OptimConfig:
    """Adam with Lee et al.'s plateau rule: divide the learning rate by ``1 / lr_factor``
    when the validation loss has not improved for ``lr_patience`` epochs, at most
    ``max_lr_reductions`` times, then stop at the next plateau.

    Attributes:
        lr, weight_decay: Adam's.
        lr_factor: multiplier at each reduction (Lee et al.: 1/5).
        lr_patience: epochs without improvement before a reduction.
        max_lr_reductions: reductions before early stopping.
        grad_clip: clip the gradient norm to this (0: off).
    """

    lr: float = 1e-3
    weight_decay: float = 1e-6
    lr_factor: float = 0.2
    lr_patience: int = 4
    max_lr_reductions: int = 5
    grad_clip: float = 5.0

    def __post_init__(self) -> None:
        _check(self.lr > 0, "optim.lr", self.lr, "must be > 0")
        _check(self.weight_decay >= 0, "optim.weight_decay", self.weight_decay, "must be >= 0")
        _check(0 < self.lr_factor < 1, "optim.lr_factor", self.lr_factor, "must be in (0, 1)")
        _check(self.lr_patience >= 1, "optim.lr_patience", self.lr_patience, "must be >= 1")
        _check(self.max_lr_reductions >= 0, "optim.max_lr_reductions", self.max_lr_reductions,
               "must be >= 0")
        _check(self.grad_clip >= 0, "optim.grad_clip", self.grad_clip, "must be >= 0")


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    Attributes:
        name: run and checkpoint name.
        seed: seed of every draw (initialisation, batches, crops, augmentation, mining).
        epochs: epochs of the supervised (or joint) stage, at most.
        pretrain_epochs: epochs of self-supervised pretraining before it (0: none).
        batch_size: clips per batch (each gives ``loss.views`` crops).
        embedding_dim: D; split into one facet per concept when ``disentangled``.
        disentangled: fixed disjoint concept facets (Lee et al.) or one ``all`` facet.
        device: ``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda[:n]``.
        threads: torch CPU threads (``None``: torch's default).
        eval_triplets: triplets per concept in evaluation.
        init_from: a checkpoint to fine-tune: its encoder weights are the starting point,
            the tag head follows this run's schema (model.train.init_from); ``None``: a
            fresh, seeded initialisation.
        encoder, data, loss, augment, optim: the parts.
    """

    name: str = "musicprism"
    seed: int = 0
    epochs: int = 20
    pretrain_epochs: int = 0
    batch_size: int = 32
    embedding_dim: int = 256
    disentangled: bool = True
    device: str = "auto"
    threads: int | None = None
    eval_triplets: int = 2000
    init_from: str | None = None
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        _check(bool(self.name) and "/" not in self.name, "name", self.name,
               "must be a non-empty file name")
        _check(self.epochs >= 0, "epochs", self.epochs, "must be >= 0")
        _check(self.pretrain_epochs >= 0, "pretrain_epochs", self.pretrain_epochs, "must be >= 0")
        _check(self.epochs + self.pretrain_epochs >= 1, "epochs", self.epochs,
               "a run needs at least one epoch")
        _check(self.batch_size >= 2, "batch_size", self.batch_size, "must be >= 2")
        _check(self.embedding_dim >= 2, "embedding_dim", self.embedding_dim, "must be >= 2")
        _check(self.eval_triplets >= 1, "eval_triplets", self.eval_triplets, "must be >= 1")
        _check(self.threads is None or self.threads >= 1, "threads", self.threads, "must be >= 1")
        _check(self.device == "auto" or self.device == "cpu" or self.device.startswith("cuda"),
               "device", self.device, "must be auto, cpu or cuda[:n]")
        _check(self.encoder.head == "cosine", "encoder.head", self.encoder.head,
               "shipped models serve tags through cosine proxies; use 'cosine' (the plain "
               "classification variant is loss.method=classification, loss.normalize=false)")
        _check(self.pretrain_epochs == 0 or self.loss.ssl.enabled, "pretrain_epochs",
               self.pretrain_epochs, "pretraining needs a self-supervised loss (loss.ssl.method)")
        _check(self.loss.method != "none" or self.loss.ssl.joint or self.epochs == 0,
               "loss.ssl.joint", self.loss.ssl.joint,
               "with loss.method 'none' the self-supervised loss is all there is")
        _check(self.data.teacher is None or self.loss.method == "distillation",
               "data.teacher", self.data.teacher,
               "teacher targets are learnt by loss.method 'distillation'")
        _check(not self.data.unlabelled or self.loss.ssl.enabled, "data.unlabelled",
               list(self.data.unlabelled),
               "unlabelled tracks train only a self-supervised loss (loss.ssl.method)")

    def facet_dim(self, num_concepts: int) -> int:
        """Dimensions per facet for a schema of ``num_concepts`` concepts.

        Raises:
            ConfigError: ``embedding_dim`` does not split evenly.
        """
        if not self.disentangled:
            return self.embedding_dim
        _check(self.embedding_dim % num_concepts == 0, "embedding_dim", self.embedding_dim,
               f"must split evenly into {num_concepts} concept facets")
        return self.embedding_dim // num_concepts
