"""A playlist path from track A to track B: target points between them, and the tracks
nearest those points, without repeats and with artist spacing.

**Targets.** For k steps, step i (1..k) sits at t_i = i / (k + 1) of the way from A to B. Its
target is A and B interpolated facet by facet on the unit sphere (spherical interpolation,
*slerp*): for every facet c, with u_c(x) the unit vector of x in facet c and
omega = arccos <u_c(A), u_c(B)>,

    u_c(t) = sin((1 - t) omega) / sin(omega) * u_c(A) + sin(t omega) / sin(omega) * u_c(B)

so each facet turns at a constant angular speed from A's direction to B's, and the facets are
then scaled by 1/sqrt(K) as any full-space vector's (``layout.facets``). A facet in which A
and B point the same way stays put; one in which they point exactly opposite ways has no
shortest arc: it moves along the straight line instead and is zero at t = 1/2 (every track's
cosine to that target in it is then 0). Facet weights do not change the targets; they rank
the tracks around them (``sum_c w_c cos_c``), as in any search.

**Choice.** Steps are filled from the ends inwards, alternately: 1, k, 2, k - 1, ... (see
:func:`fill_order`), so the steps next to A and B have the first pick (the first step is the
nearest track to the first target, the last the nearest to the last target) and the middle of
the path, the least constrained, takes what is left; filling 1 to k in order instead left the
steps near B with the tracks the earlier steps did not want. A step takes the best-ranked
track for its target that is (a) neither A, B nor a step filled before and (b) by no artist
placed within
``spacing`` positions of it, A at position 0 and B at position k + 1 included (positions of
one artist differ by more than ``spacing``; tracks without an artist are never in conflict).
That is the brute-force argmax under the constraints (ties aside): candidates come from a
k-nearest-neighbour search per target (``knn``, injected, so the index and its filters stay
outside this module), and a step whose list runs out of eligible tracks before the list
holds every qualifying one is searched again with a longer list. A step for which no
qualifying track is eligible stays empty (``None``); the others keep their positions, so
spacing holds between the steps as placed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from layout.facets import to_full_space
from layout.schema import ConceptSchema

#: Facets whose angle has a sine below this are treated as parallel (or opposite).
PARALLEL = 1e-6

#: knn(targets (n, D) full-space, m) -> (scores (n, m) best first, ids (n, m) int64), -1
#: where fewer than m tracks qualify.
Knn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]
#: artists(ids) -> {id: artist key or None} for those ids.
Artists = Callable[[Sequence[int]], Mapping[int, str | None]]


@dataclass(frozen=True)
class Step:
    """A chosen track at ``position`` (1..k) of the path, and its score for its target."""

    position: int
    track_id: int
    score: float


def positions(k: int) -> np.ndarray:
    """(k,) float64: t_i = i / (k + 1), i = 1..k: the steps' places between A (0) and B (1)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return np.arange(1, k + 1, dtype=np.float64) / (k + 1)


def fill_order(k: int) -> list[int]:
    """The positions 1..k in the order they are filled: from both ends inwards, 1, k, 2,
    k - 1, ..."""
    low, high = 1, k
    order = []
    while low <= high:
        order.append(low)
        if high != low:
            order.append(high)
        low, high = low + 1, high - 1
    return order


def path_targets(a: np.ndarray, b: np.ndarray, k: int, schema: ConceptSchema) -> np.ndarray:
    """(k, D) float32 full-space targets of the k steps from ``a`` to ``b`` (full-space (D,)
    vectors), slerped facet by facet (see the module docstring)."""
    t = positions(k)[:, None]
    n = len(schema.facets)
    a64 = _vector(a, schema.dim, "a") * np.sqrt(n)
    b64 = _vector(b, schema.dim, "b") * np.sqrt(n)
    out = np.zeros((k, schema.dim), dtype=np.float64)
    for f in schema.facets:
        ua, ub = a64[f.slice], b64[f.slice]
        cos = float(np.clip(ua @ ub, -1.0, 1.0))
        omega = np.arccos(cos)
        sin = np.sin(omega)
        if sin < PARALLEL:  # same or opposite direction: no unique arc, move straight
            out[:, f.slice] = (1 - t) * ua + t * ub
        else:
            out[:, f.slice] = (np.sin((1 - t) * omega) * ua + np.sin(t * omega) * ub) / sin
    return np.asarray(to_full_space(out.astype(np.float32), schema), dtype=np.float32)


def choose_steps(
    targets: np.ndarray,
    knn: Knn,
    *,
    candidates: int,
    spacing: int = 0,
    artists: Artists | None = None,
    ends: tuple[str | None, str | None] = (None, None),
) -> list[Step | None]:
    """Fill the steps of a path, in :func:`fill_order` (see the module docstring).

    Args:
        targets: (k, D) full-space targets (``path_targets``).
        knn: the search; its filters must already leave out A, B and unwanted tracks.
        candidates: how many tracks to ask ``knn`` for per target at first (>= 1).
        spacing: positions that must separate two tracks of one artist (0: no rule).
        artists: artist keys of track ids (needed when ``spacing`` > 0).
        ends: the artist keys of A and B.

    Returns:
        k entries, position 1..k: the chosen step, or None where no track is eligible.
    """
    if candidates < 1 or spacing < 0:
        raise ValueError(f"need candidates >= 1 and spacing >= 0, got {candidates}, {spacing}")
    if spacing and artists is None:
        raise ValueError("spacing > 0 needs the artists of the candidates")
    k = targets.shape[0]
    scores, ids = knn(targets, candidates)
    lists = [(scores[i], ids[i]) for i in range(k)]
    placed: dict[int, str | None] = {0: ends[0], k + 1: ends[1]}  # position -> artist key
    used: set[int] = set()
    known: dict[int, str | None] = {}
    if spacing and artists is not None:  # one look-up for every first list
        known.update(artists(sorted({int(x) for x in ids.ravel() if x >= 0})))
    steps: list[Step | None] = [None] * k
    for position in fill_order(k):
        i, m = position - 1, candidates
        while True:
            row_scores, row_ids = lists[i]
            if spacing and artists is not None:
                new = [int(x) for x in row_ids if x >= 0 and x not in known]
                known.update(artists(new) if new else {})
            banned = _nearby(placed, position, spacing)
            step = _first_eligible(position, row_scores, row_ids, used, banned, known)
            if step is not None or int((row_ids >= 0).sum()) < m:
                break  # found, or the list already holds every qualifying track
            m *= 4
            more_scores, more_ids = knn(targets[i : i + 1], m)
            lists[i] = (more_scores[0], more_ids[0])
        steps[i] = step
        if step is not None:
            used.add(step.track_id)
            placed[position] = known.get(step.track_id)
    return steps


def _nearby(placed: Mapping[int, str | None], position: int, spacing: int) -> set[str]:
    """Artist keys placed within ``spacing`` positions of ``position``."""
    return {a for p, a in placed.items() if a is not None and abs(p - position) <= spacing}


def _first_eligible(
    position: int,
    scores: np.ndarray,
    ids: np.ndarray,
    used: set[int],
    banned: set[str],
    artist_of: Mapping[int, str | None],
) -> Step | None:
    for score, track_id in zip(scores, ids, strict=True):
        tid = int(track_id)
        if tid < 0:
            break
        if tid in used or (banned and artist_of.get(tid) in banned):
            continue
        return Step(position=position, track_id=tid, score=float(score))
    return None


def _vector(x: np.ndarray, dim: int, name: str) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    if v.shape != (dim,):
        raise ValueError(f"{name} must have shape ({dim},), got {v.shape}")
    return v
