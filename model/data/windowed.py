"""A torch ``Dataset`` of fixed-length audio windows over a :class:`MusicDataset`.

Windowing rules (``n = round(window_seconds * sample_rate)`` samples per window):

- **train** mode, one item per clip: ``views`` windows (1, or 2 for self-supervised pairs),
  each starting at a uniformly drawn sample offset in ``[0, L - n]`` of the clip's ``L``
  samples. The draw comes from ``numpy.random.default_rng((seed, epoch, index))``, so an
  item is the same in any DataLoader worker and replays from ``(seed, epoch, index)``; call
  :meth:`WindowDataset.set_epoch` each epoch for fresh crops. With ``max_view_overlap``
  the second view's offset is drawn from the positions overlapping the first by at most
  that fraction (if the clip is too short for that, the farthest position is taken).
- **eval** mode, one item per clip: every non-overlapping window, starting at ``0, n, 2n,
  ...``; a tail shorter than ``n`` is dropped. ``max_windows`` keeps that many, evenly
  spaced.
- A clip shorter than ``n`` gives one window, zero-padded at the end (in both modes).

The optional :class:`AudioCache` holds decoded clips in memory (LRU, bounded in bytes).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from model.data import base
from model.data.base import DatasetError, MusicDataset

logger = logging.getLogger(__name__)

Mode = Literal["train", "eval"]


class AudioCache:
    """In-memory LRU of decoded arrays, bounded by ``max_bytes`` of stored data.

    Arrays are stored as ``dtype`` (``float16`` halves memory; values come back as float32).
    An array larger than ``max_bytes`` is returned but not kept. Each process (each
    DataLoader worker) holds its own cache: total memory is up to workers x ``max_bytes``.
    At 16 kHz a 30-s clip takes 1.9 MB in float32, a 4-minute track 15 MB.

    Args:
        max_bytes: budget for stored arrays.
        dtype: storage type, ``np.float32`` or ``np.float16``.
    """

    def __init__(self, max_bytes: int, dtype: type[np.floating] = np.float32) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if np.dtype(dtype) not in (np.dtype(np.float32), np.dtype(np.float16)):
            raise TypeError(f"cache dtype must be float32 or float16, got {np.dtype(dtype)}")
        self.max_bytes = max_bytes
        self.dtype = np.dtype(dtype)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get_or_load(self, key: Hashable, load: Callable[[], np.ndarray]) -> np.ndarray:
        """The cached array for ``key`` (float32), calling ``load()`` on a miss."""
        hit = self._items.get(key)
        if hit is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return hit.astype(np.float32, copy=False)
        self.misses += 1
        x = load()
        stored = x.astype(self.dtype, copy=False)
        if stored.nbytes <= self.max_bytes:
            self._items[key] = stored
            self.nbytes += stored.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.nbytes -= old.nbytes
        return x


class WindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Fixed-length windows of each clip of a :class:`MusicDataset` (rules: module doc).

    Args:
        dataset: the clips.
        sample_rate: model sample rate, Hz.
        window_seconds: window length, seconds.
        mode: ``train`` (random windows) or ``eval`` (all non-overlapping windows).
        views: windows per item in train mode (2 for self-supervised pairs).
        seed: seed of the window draws.
        max_view_overlap: in train mode with 2 views, the largest allowed overlap of the two
            windows as a fraction of the window (Lee et al. 2020 use 0.5); ``None``: any.
        cache: decoded-clip cache; ``None`` decodes on every access (in train mode, only
            the drawn windows once the clip length is known).
        max_windows: eval mode, keep at most this many evenly spaced windows per clip.

    Items (dict of tensors; ``V = views`` in train mode, ``W`` windows in eval mode):
        ``audio``: float32 ``(V, n)`` or ``(W, n)``; ``offsets``: float32 ``(V,)``/``(W,)``,
        window starts in seconds from the clip start; ``tags``: float32 ``(num_tags,)``
        multi-hot (zeros if unlabelled); ``labelled``: bool ``()``; ``index``: int64 ``()``,
        the clip's position in ``dataset``; ``group``: int64 ``()``, its track id as an int
        (``dataset.groups``). Train items batch with the default collate; eval items with
        :func:`collate_windows`.
    """

    def __init__(
        self,
        dataset: MusicDataset,
        *,
        sample_rate: int,
        window_seconds: float,
        mode: Mode = "train",
        views: int = 1,
        seed: int = 0,
        max_view_overlap: float | None = None,
        cache: AudioCache | None = None,
        max_windows: int | None = None,
    ) -> None:
        if mode not in ("train", "eval"):
            raise DatasetError(f"mode must be 'train' or 'eval', got {mode!r}")
        if views not in (1, 2):
            raise DatasetError(f"views must be 1 or 2, got {views}")
        if max_view_overlap is not None and not 0.0 <= max_view_overlap <= 1.0:
            raise DatasetError(f"max_view_overlap must be in [0, 1], got {max_view_overlap}")
        self.n = int(round(window_seconds * sample_rate))
        if self.n <= 0 or sample_rate <= 0:
            raise DatasetError(f"bad window: {window_seconds} s at {sample_rate} Hz")
        if max_windows is not None and max_windows < 1:
            raise DatasetError(f"max_windows must be >= 1, got {max_windows}")
        self.dataset = dataset
        self.sample_rate = sample_rate
        self.window_seconds = window_seconds
        self.mode = mode
        self.views = views
        self.seed = seed
        self.max_view_overlap = max_view_overlap
        self.cache = cache
        self.max_windows = max_windows
        self.epoch = 0
        self._groups = dataset.groups
        self._lengths: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def set_epoch(self, epoch: int) -> None:
        """Select the window draws of ``epoch`` (train mode)."""
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if self.mode == "train":
            audio, offsets = self._train_windows(i)
        else:
            audio, offsets = self._eval_windows(i)
        return {
            "audio": torch.from_numpy(audio),
            "offsets": torch.from_numpy(offsets),
            "tags": torch.from_numpy(self.dataset.multi_hot(i)),
            "labelled": torch.tensor(self.dataset[i].labelled),
            "index": torch.tensor(i, dtype=torch.int64),
            "group": torch.tensor(int(self._groups[i]), dtype=torch.int64),
        }

    # --- decoding ---------------------------------------------------------------------------
    def _clip(self, i: int) -> np.ndarray:
        t = self.dataset[i]
        key = (str(t.path), t.start, t.duration, self.sample_rate)

        def load() -> np.ndarray:
            return base._load(t.path, self.sample_rate, t.start, t.duration)

        x = self.cache.get_or_load(key, load) if self.cache is not None else load()
        self._lengths[i] = x.size
        return x

    def _known_length(self, i: int) -> int | None:
        if i in self._lengths:
            return self._lengths[i]
        d = self.dataset[i].duration
        return None if d is None else int(round(d * self.sample_rate))

    def _window(self, x: np.ndarray, offset: int) -> np.ndarray:
        w = x[offset: offset + self.n]
        if w.size < self.n:
            w = np.pad(w, (0, self.n - w.size))
        return w

    # --- train ------------------------------------------------------------------------------
    def _train_windows(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng((self.seed, self.epoch, i))
        length = None if self.cache is not None else self._known_length(i)
        if length is None:
            x = self._clip(i)
            offs = draw_offsets(rng, x.size, self.n, self.views, self.max_view_overlap)
            audio = np.stack([self._window(x, o) for o in offs])
        else:
            offs = draw_offsets(rng, length, self.n, self.views, self.max_view_overlap)
            t = self.dataset[i]
            sr = self.sample_rate
            audio = np.stack([
                self._window(base._load(t.path, sr, t.start + o / sr, self.n / sr), 0)
                for o in offs
            ])
        return audio.astype(np.float32, copy=False), np.asarray(offs, np.float32) / self.sample_rate

    # --- eval -------------------------------------------------------------------------------
    def _eval_windows(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        x = self._clip(i)
        offs = eval_offsets(x.size, self.n, self.max_windows)
        audio = np.stack([self._window(x, o) for o in offs]).astype(np.float32, copy=False)
        return audio, np.asarray(offs, np.float32) / self.sample_rate


def draw_offsets(
    rng: np.random.Generator,
    length: int,
    n: int,
    views: int,
    max_overlap: float | None = None,
) -> list[int]:
    """Sample offsets of ``views`` windows of ``n`` samples in a clip of ``length`` samples.

    The first is uniform over ``[0, max(0, length - n)]``. The second, with ``max_overlap``,
    is uniform over the offsets ``o`` with ``|o - first| >= ceil((1 - max_overlap) * n)``;
    if there is none, the farthest possible offset from the first.
    """
    top = max(0, length - n)
    first = int(rng.integers(0, top + 1))
    offsets = [first]
    if views == 2:
        gap = 0 if max_overlap is None else int(np.ceil((1.0 - max_overlap) * n))
        if gap <= 0:
            offsets.append(int(rng.integers(0, top + 1)))
        else:
            left = first - gap + 1  # allowed: [0, left) and [first + gap, top]
            right = top - (first + gap) + 1
            choices = max(0, left) + max(0, right)
            if choices == 0:
                offsets.append(0 if first >= top - first else top)
            else:
                k = int(rng.integers(0, choices))
                offsets.append(k if k < max(0, left) else first + gap + k - max(0, left))
    return offsets


def eval_offsets(length: int, n: int, max_windows: int | None = None) -> list[int]:
    """Starts of the non-overlapping windows ``0, n, 2n, ...`` that fit in ``length``.

    At least one (offset 0, zero-padded if ``length < n``); with ``max_windows``, that many
    evenly spaced among them.
    """
    count = max(1, length // n)
    idx = np.arange(count)
    if max_windows is not None and count > max_windows:
        idx = np.unique(np.round(np.linspace(0, count - 1, max_windows)).astype(np.int64))
    return [int(k) * n for k in idx]


def collate_windows(batch: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Batch eval items with different window counts.

    Returns:
        ``audio`` ``(sum W, n)``, ``offsets`` ``(sum W,)``, ``window_item`` ``(sum W,)``
        int64 (position in the batch of each window's clip), and ``tags`` ``(B, num_tags)``,
        ``labelled``, ``index``, ``group`` ``(B,)`` stacked.
    """
    out: dict[str, Any] = {
        "audio": torch.cat([b["audio"] for b in batch]),
        "offsets": torch.cat([b["offsets"] for b in batch]),
        "window_item": torch.cat([
            torch.full((b["audio"].shape[0],), k, dtype=torch.int64) for k, b in enumerate(batch)
        ]),
    }
    for key in ("tags", "labelled", "index", "group"):
        out[key] = torch.stack([b[key] for b in batch])
    return out
