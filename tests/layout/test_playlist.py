"""layout.playlist: slerped targets by hand and by angle, and the greedy choice against a
brute-force argmax over every vector, on seeded random catalogues."""

from __future__ import annotations

import numpy as np
import pytest

from layout.facets import facet_cosines, to_full_space, weighted_query
from layout.playlist import Step, choose_steps, fill_order, path_targets, positions
from layout.schema import ConceptSchema

SCHEMA = ConceptSchema({"a": ("x",), "b": ("y",)}, facet_dim=2)
BIG = ConceptSchema({"genre": ("g",), "mood": ("m",), "era": ("e",)}, facet_dim=8)
R = 1 / np.sqrt(2)


def full(*z: float) -> np.ndarray:
    return to_full_space(np.array(z, dtype=np.float32), SCHEMA)


def test_fill_order_goes_from_the_ends_inwards():
    assert fill_order(1) == [1]
    assert fill_order(4) == [1, 4, 2, 3]
    assert fill_order(5) == [1, 5, 2, 4, 3]
    assert sorted(fill_order(30)) == list(range(1, 31))


def test_positions_split_the_path_evenly():
    np.testing.assert_allclose(positions(3), [0.25, 0.5, 0.75])
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        positions(0)


def test_targets_hand_computed():
    # facet a turns from (1, 0) to (0, 1): at t = 1/2 it is (R, R); facet b: A and B agree
    a, b = full(1, 0, 0, 1), full(0, 1, 0, 1)
    np.testing.assert_allclose(path_targets(a, b, 1, SCHEMA)[0], np.array([R, R, 0, 1]) * R,
                               atol=1e-7)
    # opposite directions: no shortest arc, the straight line, zero half-way
    a, b = full(1, 0, 1, 0), full(-1, 0, 1, 0)
    got = path_targets(a, b, 3, SCHEMA)
    np.testing.assert_allclose(got[:, :2] / R, [[1, 0], [0, 0], [-1, 0]], atol=1e-6)
    np.testing.assert_allclose(got[:, 2:] / R, [[1, 0]] * 3, atol=1e-6)


def test_targets_turn_at_constant_speed_in_every_facet():
    rng = np.random.default_rng(3)
    a, b = to_full_space(rng.standard_normal((2, BIG.dim)).astype(np.float32), BIG)
    k = 7
    targets = path_targets(a, b, k, BIG)
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0, atol=1e-6)
    omega = np.arccos(facet_cosines(a, b[None], BIG)[0])  # (K,) angle A-B per facet
    angle_a = np.arccos(np.clip(facet_cosines(a, targets, BIG), -1, 1))  # (k, K)
    angle_b = np.arccos(np.clip(facet_cosines(b, targets, BIG), -1, 1))
    t = positions(k)[:, None]
    np.testing.assert_allclose(angle_a, t * omega, atol=1e-3)
    np.testing.assert_allclose(angle_b, (1 - t) * omega, atol=1e-3)


def exact_knn(xb: np.ndarray, ids: np.ndarray, weights: dict[str, float], schema=BIG):
    """A knn over every vector, best first, -1 past the end (as the index answers)."""

    def knn(targets: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
        s = weighted_query(targets, weights, schema) @ xb.T
        order = np.argsort(-s, axis=1, kind="stable")[:, :m]
        D = np.full((len(targets), m), -np.inf, dtype=np.float32)
        I = np.full((len(targets), m), -1, dtype=np.int64)  # noqa: E741 - FAISS's name
        n = order.shape[1]
        D[:, :n] = np.take_along_axis(s, order, axis=1)
        I[:, :n] = ids[order]
        return D, I

    return knn


def brute_force(targets, xb, ids, weights, artist, spacing, ends):
    """Step by step, from the ends inwards: the argmax over every track that is unused and
    not near its artist."""
    k = len(targets)
    placed = {0: ends[0], k + 1: ends[1]}
    used, out = set(), [None] * k
    for p in fill_order(k):
        s = xb @ weighted_query(targets[p - 1], weights, BIG)
        near = {a for q, a in placed.items() if a is not None and abs(q - p) <= spacing}
        ok = [j for j in range(len(ids))
              if ids[j] not in used and (artist[ids[j]] is None or artist[ids[j]] not in near)]
        if ok:
            j = max(ok, key=lambda j: s[j])
            out[p - 1] = Step(position=p, track_id=int(ids[j]), score=float(s[j]))
            used.add(int(ids[j]))
            placed[p] = artist[ids[j]]
    return out


@pytest.mark.parametrize("seed, n, k, spacing, artists, candidates, weights", [
    (0, 300, 10, 0, 40, 2, {"genre": 1 / 3, "mood": 1 / 3, "era": 1 / 3}),
    (1, 300, 10, 2, 6, 3, {"mood": 0.7, "genre": 0.3}),
    (2, 200, 25, 3, 5, 1, {"genre": 1.0}),
    (3, 120, 30, 1, 3, 4, {"genre": 0.5, "mood": -0.5}),
    (4, 40, 30, 2, 2, 2, {"era": 1.0}),  # artists run out: some steps stay empty
])
def test_greedy_choice_is_the_brute_force_argmax(seed, n, k, spacing, artists, candidates,
                                                 weights):
    rng = np.random.default_rng(seed)
    xb = to_full_space(rng.standard_normal((n + 2, BIG.dim)).astype(np.float32), BIG)
    ids = np.arange(100, 100 + n + 2, dtype=np.int64)
    artist = {int(i): (f"artist {rng.integers(artists)}" if rng.random() > 0.1 else None)
              for i in ids}
    a, b, xb, ids = xb[0], xb[1], xb[2:], ids[2:]  # A and B are left out of the search
    ends = (artist[100], artist[101])
    targets = path_targets(a, b, k, BIG)
    calls: list[int] = []

    def lookup(wanted):
        calls.append(len(wanted))
        return {i: artist[i] for i in wanted}

    got = choose_steps(targets, exact_knn(xb, ids, weights), candidates=candidates,
                       spacing=spacing, artists=lookup, ends=ends)
    want = brute_force(targets, xb, ids, weights, artist, spacing, ends)
    assert [s and s.track_id for s in got] == [s and s.track_id for s in want]
    np.testing.assert_allclose([s.score for s in got if s], [s.score for s in want if s],
                               atol=1e-5)
    chosen = [s.track_id for s in got if s]
    assert len(set(chosen)) == len(chosen)
    placed = [(0, ends[0]), *((s.position, artist[s.track_id]) for s in got if s),
              (k + 1, ends[1])]
    for p, x in placed:
        for q, y in placed:
            if p < q and x is not None and x == y:
                assert q - p > spacing, (p, q, x)
    if seed == 4:
        assert None in got


def test_no_spacing_needs_no_artists_and_takes_the_nearest_unused():
    rng = np.random.default_rng(9)
    xb = to_full_space(rng.standard_normal((50, BIG.dim)).astype(np.float32), BIG)
    ids = np.arange(50, dtype=np.int64)
    targets = np.repeat(xb[:1], 3, axis=0)  # one target three times: its 3 nearest, taken
    w = {"genre": 1.0}                          # by positions 1, 3, 2 in that order
    got = choose_steps(targets, exact_knn(xb, ids, w), candidates=1)
    best = np.argsort(-(xb @ weighted_query(xb[0], w, BIG)))[:3]
    assert [s.track_id for s in got if s] == best[[0, 2, 1]].tolist()
    assert [s.position for s in got if s] == [1, 2, 3]


def test_bad_arguments_are_refused():
    knn = exact_knn(np.zeros((1, BIG.dim), np.float32), np.zeros(1, np.int64), {"genre": 1})
    t = np.zeros((1, BIG.dim), np.float32)
    with pytest.raises(ValueError, match="need candidates >= 1 and spacing >= 0, got 0, 0"):
        choose_steps(t, knn, candidates=0)
    with pytest.raises(ValueError, match="spacing > 0 needs the artists"):
        choose_steps(t, knn, candidates=1, spacing=1)
    with pytest.raises(ValueError, match=r"a must have shape \(4,\), got \(3,\)"):
        path_targets(np.zeros(3), np.zeros(4), 2, SCHEMA)


def test_steps_leave_a_and_approach_b_in_a_dense_catalogue():
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((40, BIG.dim)).astype(np.float32)
    raw = centres[rng.integers(40, size=3000)] + 0.6 * rng.standard_normal((3000, BIG.dim))
    xb = to_full_space(raw.astype(np.float32), BIG)
    ids = np.arange(3000, dtype=np.int64)
    w = {"genre": 0.5, "mood": 0.3, "era": 0.2}
    rhos = []
    for a, b in rng.choice(3000, size=(10, 2), replace=False):
        keep = (ids != a) & (ids != b)
        got = choose_steps(path_targets(xb[a], xb[b], 10, BIG),
                           exact_knn(xb[keep], ids[keep], w), candidates=28)
        x = xb[[s.track_id for s in got if s]]
        to_a = x @ weighted_query(xb[a], w, BIG)
        to_b = x @ weighted_query(xb[b], w, BIG)
        t = np.arange(len(x))
        rhos.append((np.corrcoef(t, np.argsort(np.argsort(to_a)))[0, 1],
                     np.corrcoef(t, np.argsort(np.argsort(to_b)))[0, 1]))
    rho_a, rho_b = np.mean(rhos, axis=0)
    assert rho_a < -0.9 and rho_b > 0.9, rhos
