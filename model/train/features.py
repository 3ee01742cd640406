"""Cached log-mels and window crops in log-mel frames.

Training never runs the front end per step: each clip is decoded once (``model.audio.decode``,
the serving decoder), turned into its dB log-mel by the encoder's own :class:`LogMel`, and
kept as float16 in a RAM cache bounded in bytes (LRU; an evicted clip is recomputed when
needed). A window of ``clip_seconds`` is then a crop of ``clip_samples // hop_length + 1``
frames (what the front end gives a window of that many samples, ``center=True``), drawn by
``model.data.windowed.draw_offsets`` from a seeded generator.

Serving computes the log-mel of each window on its own; a crop of the clip's log-mel differs
from it only in the reflect-padded edge frames.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from model.audio import decode
from model.audio_errors import AudioError
from model.config import EncoderConfig
from model.data.base import MusicDataset
from model.data.windowed import draw_offsets
from model.frontend import LogMel
from model.train.soft_targets import TeacherTargets

logger = logging.getLogger(__name__)


def window_frames(cfg: EncoderConfig) -> int:
    """Log-mel frames of one window: ``clip_samples // hop_length + 1``."""
    return cfg.clip_samples // cfg.hop_length + 1


def frame_starts(frames: int, width: int) -> list[int]:
    """Starts of a clip's evaluation windows, in frames: the rule of
    :func:`model.audio.windows` (non-overlapping from 0, plus one window ending at the end
    when the rest is at least half a window; one window if the clip is shorter)."""
    if frames <= width:
        return [0]
    starts = list(range(0, frames - width + 1, width))
    rest = frames - (starts[-1] + width)
    if 2 * rest >= width:
        starts.append(frames - width)
    return starts


def crop(x: torch.Tensor, start: int, width: int) -> torch.Tensor:
    """(n_mels, F) -> (n_mels, width) from ``start``; a clip shorter than ``width`` is
    looped (as :func:`model.audio.windows` loops short audio)."""
    if x.shape[1] < width:
        reps = -(-width // x.shape[1])
        x = x.repeat(1, reps)
    return x[:, start: start + width]


class FeatureStore:
    """float16 tensors by key in RAM, LRU-bounded by ``max_bytes``; shareable between runs
    (the benchmark trains every variant on the same clips)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, torch.Tensor] = OrderedDict()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def full(self) -> bool:
        return self.nbytes >= self.max_bytes

    def get(self, key: Hashable) -> torch.Tensor | None:
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
        return hit

    def put(self, key: Hashable, x: torch.Tensor) -> torch.Tensor:
        """Store ``x`` as float16 (if it fits the bound, evicting the oldest); returns the
        stored values."""
        stored = x.to(torch.float16)
        size = stored.numel() * stored.element_size()
        if size <= self.max_bytes and key not in self._items:
            self._items[key] = stored
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.nbytes -= old.numel() * old.element_size()
        return stored


class LogMelCache:
    """dB log-mels of a dataset's clips, float16 in RAM (a :class:`FeatureStore`).

    Args:
        dataset: the clips.
        cfg: the encoder config (rate, front-end parameters).
        max_bytes: bound of a private store (ignored when ``store`` is given).
        store: a shared store; keys include the clip and the front-end parameters.
    """

    def __init__(self, dataset: MusicDataset, cfg: EncoderConfig, max_bytes: int = 1 << 30,
                 store: FeatureStore | None = None) -> None:
        self.dataset = dataset
        self.cfg = cfg
        self.store = store if store is not None else FeatureStore(max_bytes)
        self.frontend = LogMel.from_config(cfg).eval()
        self.computed = 0
        self._frontend_key = (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels,
                              cfg.f_min, cfg.f_max)

    def __len__(self) -> int:
        return len(self.dataset)

    def key(self, i: int) -> Hashable:
        t = self.dataset[i]
        return (str(t.path), t.start, t.duration, self._frontend_key)

    @torch.no_grad()
    def compute(self, i: int) -> torch.Tensor:
        """(n_mels, F) float32 log-mel of clip ``i``, from the audio."""
        t = self.dataset[i]
        audio = decode(t.path, sample_rate=self.cfg.sample_rate, start=t.start,
                       duration=t.duration)
        self.computed += 1
        wave = torch.from_numpy(np.ascontiguousarray(audio.samples))[None, :]
        return self.frontend(wave)[0]

    def get(self, i: int) -> torch.Tensor:
        """(n_mels, F) float32 log-mel of clip ``i`` (stored as float16)."""
        key = self.key(i)
        hit = self.store.get(key)
        if hit is None:
            hit = self.store.put(key, self.compute(i))
        return hit.float()

    def fill(self, progress: bool = False, desc: str = "log-mels",
             skip_unlabelled_errors: bool = False) -> list[int]:
        """Compute every clip once (until the store is full).

        Args:
            skip_unlabelled_errors: an *unlabelled* clip whose audio cannot be used (silent,
                undecodable: :class:`AudioError`) is skipped and reported instead of raised;
                a labelled one always raises.

        Returns:
            The indices of the skipped clips.
        """
        skipped: list[int] = []
        for i in tqdm(range(len(self)), desc=desc, disable=not progress, leave=False):
            if self.store.full:
                logger.warning("log-mel store full at %d MiB after %d of %d clips",
                               self.store.max_bytes >> 20, i, len(self))
                return skipped
            try:
                self.get(i)
            except AudioError as exc:
                if not skip_unlabelled_errors or self.dataset[i].labelled:
                    raise
                logger.warning("skipping unlabelled clip %s: %s", self.dataset[i].uid, exc)
                skipped.append(i)
        return skipped


@dataclass
class Batch:
    """One training batch of B clips with V crops each.

    Attributes:
        x: (V * B, n_mels, frames) log-mel crops, view-major (rows ``v * B + b``).
        tags: (B, T) multi-hot. labelled: (B,) bool. groups: (B,) int64 track ids.
        index: (B,) clip indices. offsets: (B, V) crop starts in frames.
        soft, soft_mask: (V * B, T) float targets and bool mask of each crop, view-major,
            when the clips have teacher targets (distillation); else ``None``.
    """

    x: torch.Tensor
    tags: torch.Tensor
    labelled: torch.Tensor
    groups: torch.Tensor
    index: torch.Tensor
    offsets: torch.Tensor
    soft: torch.Tensor | None = None
    soft_mask: torch.Tensor | None = None

    @property
    def views(self) -> int:
        return self.x.shape[0] // self.tags.shape[0]

    def to(self, device: torch.device) -> Batch:
        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return Batch(self.x.to(device), self.tags.to(device), self.labelled.to(device),
                     self.groups.to(device), self.index.to(device), self.offsets.to(device),
                     move(self.soft), move(self.soft_mask))


class ClipWindows:
    """Random crops of cached clips, batched, reproducible from ``(seed, epoch)``.

    Args:
        cache: the clips' log-mels.
        window: crop width in frames.
        seed: seed of the batch order and the crops.
        labelled: (N,) bool override of the dataset's labelled flags (partial labels).
        teacher: per-crop soft targets of the clips (distillation); ``None``: none.
    """

    def __init__(self, cache: LogMelCache, window: int, seed: int,
                 labelled: np.ndarray | None = None,
                 teacher: TeacherTargets | None = None) -> None:
        ds = cache.dataset
        self.cache = cache
        self.teacher = teacher
        self.window = window
        self.seed = seed
        self.labelled = ds.labelled if labelled is None else np.asarray(labelled, dtype=bool)
        self.tags = ds.labels() * self.labelled[:, None]
        self.groups = ds.groups

    def __len__(self) -> int:
        return len(self.cache)

    def num_batches(self, batch_size: int) -> int:
        n = len(self)
        return n // batch_size + (1 if n % batch_size >= 2 else 0)

    def order(self, epoch: int, shuffle: bool) -> np.ndarray:
        if not shuffle:
            return np.arange(len(self))
        return np.random.default_rng((self.seed, epoch, 0)).permutation(len(self))

    def batches(
        self, epoch: int, batch_size: int, views: int, *, shuffle: bool = True,
        max_overlap: float | None = None,
    ) -> Iterator[Batch]:
        """The epoch's batches (a last batch of a single clip is dropped: BatchNorm and the
        contrastive losses need two)."""
        order = self.order(epoch, shuffle)
        for b in range(self.num_batches(batch_size)):
            idx = order[b * batch_size: (b + 1) * batch_size]
            rng = np.random.default_rng((self.seed, epoch, 1, b))
            yield self.make_batch(idx, views, rng, max_overlap)

    def make_batch(self, idx: np.ndarray, views: int, rng: np.random.Generator,
                   max_overlap: float | None = None) -> Batch:
        crops: list[list[torch.Tensor]] = [[] for _ in range(views)]
        offsets = np.zeros((len(idx), views), dtype=np.int64)
        for j, i in enumerate(idx):
            x = self.cache.get(int(i))
            offs = draw_offsets(rng, x.shape[1], self.window, views, max_overlap)
            for v, o in enumerate(offs):
                crops[v].append(crop(x, o, self.window))
                offsets[j, v] = o
        ii = torch.from_numpy(np.asarray(idx, dtype=np.int64))
        soft, soft_mask = self.soft_targets(idx, offsets)
        return Batch(
            x=torch.stack([c for view in crops for c in view]),
            tags=torch.from_numpy(self.tags[idx]),
            labelled=torch.from_numpy(self.labelled[idx]),
            groups=torch.from_numpy(self.groups[idx]),
            index=ii,
            offsets=torch.from_numpy(offsets),
            soft=soft,
            soft_mask=soft_mask,
        )

    def soft_targets(self, idx: np.ndarray, offsets: np.ndarray
                     ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(V * B, T) teacher targets and mask of the crops at ``offsets`` (B, V) frames,
        view-major; ``(None, None)`` without a teacher."""
        if self.teacher is None:
            return None, None
        cfg = self.cache.cfg
        rows = [self.teacher.targets(int(i), float(offsets[j, v]) * cfg.hop_length
                                     / cfg.sample_rate, cfg.clip_seconds, self.tags[i],
                                     bool(self.labelled[i]))
                for v in range(offsets.shape[1]) for j, i in enumerate(idx)]
        return (torch.from_numpy(np.stack([t for t, _ in rows])),
                torch.from_numpy(np.stack([m for _, m in rows])))

    def eval_windows(self, i: int) -> torch.Tensor:
        """(W, n_mels, window) every evaluation window of clip ``i`` (:func:`frame_starts`)."""
        x = self.cache.get(i)
        return torch.stack([crop(x, s, self.window)
                            for s in frame_starts(x.shape[1], self.window)])
