"""The build plan: which pieces become which tracks, and the split of every piece.

Deterministic from the seed. Splits are drawn per piece (stratified by its form), never per
clip, so every clip of a piece, as written or arranged, lands in the same split.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from model.data.benchmark.catalog import Piece
from model.data.benchmark.labels import FORMS, STYLES

PLAN_VERSION = "bench-v1"  # part of every track id: bump when rendering changes
SIZES = {"ci": 200, "small": 1500, "full": 6000}
SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)
WINDOWS_PER_TRACK = 3
ARRANGED_SHARE = 0.45
MAX_RENDITIONS = 4


class PlanError(ValueError):
    """A plan that cannot be made (unknown size, nothing to draw from ...)."""


@dataclass(frozen=True)
class TrackPlan:
    """One rendition to render: ``style`` None renders the score as written."""

    track_id: str
    piece: Piece
    style: str | None
    rendition: int
    seed: int
    n_windows: int
    split: str


def size_to_clips(size: str) -> int:
    try:
        return SIZES[size]
    except KeyError:
        raise PlanError(f"unknown size '{size}'; valid: {', '.join(SIZES)}") from None


def assign_splits(pieces: list[Piece], seed: int) -> dict[str, str]:
    """Split of every piece, stratified by its form ("" for pieces without one).

    In each stratum of n pieces (in a seeded order), round(n/10) go to val and as many to
    test (at least one each once n >= 3), the rest to train.
    """
    strata: dict[str, list[str]] = defaultdict(list)
    for p in pieces:
        strata[p.genre[0] if p.genre else ""].append(p.key)
    splits: dict[str, str] = {}
    for name, keys in sorted(strata.items()):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        order = [keys[i] for i in rng.permutation(len(keys))]
        n = len(order)
        n_held = max(1, round(n * SPLIT_FRACTIONS[1])) if n >= 3 else 0
        for i, key in enumerate(order):
            splits[key] = "val" if i < n_held else "test" if i < 2 * n_held else "train"
    return splits


def form_quotas(available: dict[str, int], n_tracks: int) -> dict[str, int]:
    """Tracks per form: equal shares, each capped at MAX_RENDITIONS per piece, the rest
    spread over the other forms (water-filling); remainders go to forms in FORMS order."""
    cap = {f: n * MAX_RENDITIONS for f, n in available.items() if n > 0}
    quota = dict.fromkeys(cap, 0)
    left, open_forms = n_tracks, sorted(cap, key=FORMS.index)
    while left > 0 and open_forms:
        share = max(1, left // len(open_forms))
        for f in list(open_forms):
            take = min(share, cap[f] - quota[f], left)
            quota[f] += take
            left -= take
            if quota[f] >= cap[f]:
                open_forms.remove(f)
            if left == 0:
                break
    return quota


def _track_id(kind: str, piece: Piece, style: str | None, rendition: int, seed: int) -> str:
    text = f"{PLAN_VERSION}|{seed}|{piece.key}|{style}|{rendition}"
    return f"{kind}-{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def make_plan(pieces: list[Piece], n_clips: int, seed: int) -> list[TrackPlan]:
    """Tracks for about ``n_clips`` clips (WINDOWS_PER_TRACK windows each).

    ARRANGED_SHARE of the tracks arrange folk melodies in duple metre, the styles in turn;
    the rest render scores as written, balanced over forms by :func:`form_quotas`.

    Raises:
        PlanError: ``n_clips`` < 1, or no piece to draw from.
    """
    if n_clips < 1:
        raise PlanError(f"n_clips must be at least 1, got {n_clips}")
    rng = np.random.default_rng(seed)
    splits = assign_splits(pieces, seed)
    n_tracks = math.ceil(n_clips / WINDOWS_PER_TRACK)
    n_arranged = round(n_tracks * ARRANGED_SHARE)
    by_form: dict[str, list[Piece]] = defaultdict(list)
    for p in pieces:
        if p.genre and p.genre[0] in FORMS:
            by_form[p.genre[0]].append(p)
    melodies = [p for p in pieces if p.arrangeable]
    if not melodies and n_arranged:
        n_arranged = 0
    if not by_form and n_tracks - n_arranged:
        raise PlanError("no corpus piece with a form to render")
    chosen: list[tuple[Piece, str | None, int]] = []
    order = rng.permutation(len(melodies)) if melodies else np.empty(0, dtype=np.int64)
    for i in range(n_arranged):
        k = int(order[i % len(melodies)])
        chosen.append((melodies[k], STYLES[i % len(STYLES)], i // len(melodies)))
    quotas = form_quotas({f: len(v) for f, v in by_form.items()}, n_tracks - n_arranged)
    for form in sorted(quotas, key=FORMS.index):
        group = by_form[form]
        perm = rng.permutation(len(group))
        for j in range(quotas[form]):
            chosen.append((group[int(perm[j % len(group)])], None, j // len(group)))
    seeds = rng.integers(0, 2**31 - 1, size=len(chosen))
    return [
        TrackPlan(_track_id("score" if style is None else style, piece, style, r, seed),
                  piece, style, r, int(s), WINDOWS_PER_TRACK, splits[piece.key])
        for (piece, style, r), s in zip(chosen, seeds, strict=True)
    ]
