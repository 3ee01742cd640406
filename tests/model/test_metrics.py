import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from model.evaluation import (
    exact_knn,
    faiss_knn,
    macro_pr_auc,
    macro_roc_auc,
    make_concept_triplets,
    make_track_triplets,
    mapgtt_at_k,
    neighbours_excluding_self,
    recall_at_k,
    same_track_recall_at_1,
    triplet_accuracy,
)


def _at(*degrees):
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1).astype(np.float32)


# Four tagged tracks on the unit circle, tags A, B, C, plus an untagged one (dropped).
#   track 0 at   0 deg, {A, B}   neighbours by angle: 1 (10), 2 (30), 3 (100)
#   track 1 at  10 deg, {A}      neighbours: 0 (10), 2 (20), 3 (90)
#   track 2 at  30 deg, {B, C}   neighbours: 1 (20), 0 (30), 3 (70)
#   track 3 at 100 deg, {C}      neighbours: 2 (70), 1 (90), 0 (100)
#   track 4 at   5 deg, no tags: would be everyone's nearest neighbour, but is dropped.
# R@1: q0 1/2 (A of {A,B}), q1 1, q2 0 (top-1 is track 1, {A}), q3 1  -> 2.5/4 = 62.5
# R@2: q0 1, q1 1, q2 1/2 (tracks 1, 0 give {A, B}), q3 1          -> 3.5/4 = 87.5
# R@3: everyone covered                                             -> 100
EMB = _at(0, 10, 30, 100, 5)
LABELS = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0]])


@pytest.mark.parametrize("knn", [None, exact_knn, faiss_knn])
def test_recall_at_k_by_hand(knn):
    got = recall_at_k(EMB, LABELS, ks=(1, 2, 3), knn_func=knn)
    assert got["R@1"] == pytest.approx(62.5)
    assert got["R@2"] == pytest.approx(87.5)
    assert got["R@3"] == pytest.approx(100.0)
    assert got["queries"] == 4 and got["untagged"] == 1


def test_mapgtt_by_hand():
    # tag A, carriers 0, 1: hits of q0 [1,0,0], q1 [1,0,0]  -> AP@1 1, AP@2 (1 + 0) / 2 = .5
    # tag B, carriers 0, 2: hits of q0 [0,1,0], q2 [0,1,0]  -> AP@1 0, AP@2 (1/2) / 2 = .25
    # tag C, carriers 2, 3: q2 [0,0,1] -> 0, 0; q3 [1,0,0] -> 1, .5   -> mean .5, .25
    # MAPGTT@1 = (1 + 0 + .5) / 3 = 50; MAPGTT@2 = (.5 + .25 + .25) / 3 = 33.3
    got = mapgtt_at_k(EMB, LABELS, ks=(1, 2))
    assert got["MAPGTT@1"] == pytest.approx(50.0)
    assert got["MAPGTT@2"] == pytest.approx(100 / 3)


def _akama_loops(emb, labels, k):
    """Akama et al.'s evaluation loops, transcribed plainly (drop untagged, exact kNN)."""
    keep = labels.sum(1) > 0
    x, y = emb[keep], labels[keep].astype(int)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)
    order = [sorted((j for j in range(n) if j != i), key=lambda j: -float(x[i] @ x[j]))
             for i in range(n)]
    recall = np.zeros(k)
    for i in range(n):
        union = np.zeros(y.shape[1], dtype=int)
        for pos in range(k):
            union |= y[order[i][pos]]
            recall[pos] += (y[i] & union).sum() / y[i].sum()
    maps = []
    for t in range(y.shape[1]):
        rows = []
        for i in range(n):
            if not y[i, t]:
                continue
            hits, s, row = 0, 0.0, []
            for pos in range(k):
                if y[order[i][pos], t]:
                    hits += 1
                    s += hits / (pos + 1)
                row.append(s / (pos + 1))
            rows.append(row)
        if rows:
            maps.append(np.mean(rows, axis=0))
    return recall / n * 100, np.mean(maps, axis=0) * 100


def test_recall_and_mapgtt_match_reference_loops():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(40, 6)).astype(np.float32)
    labels = (rng.random((40, 7)) < 0.3).astype(int)
    rec, maps = _akama_loops(emb, labels, 8)
    got = recall_at_k(emb, labels, ks=range(1, 9))
    assert [got[f"R@{k}"] for k in range(1, 9)] == pytest.approx(rec.tolist(), abs=1e-9)
    got_map = mapgtt_at_k(emb, labels, ks=range(1, 9))
    assert [got_map[f"MAPGTT@{k}"] for k in range(1, 9)] == pytest.approx(maps.tolist(), abs=1e-9)


def test_macro_auc_by_hand():
    # scores .9 .8 .3 .1 for truth 1 0 1 0: 3 of the 4 (pos, neg) pairs are ordered -> .75;
    # AP: hits at ranks 1 and 3 -> (1/1 + 2/3) / 2
    y = np.array([[1], [0], [1], [0]])
    s = np.array([[0.9], [0.8], [0.3], [0.1]])
    assert macro_roc_auc(y, s)["roc_auc"] == pytest.approx(0.75)
    assert macro_pr_auc(y, s)["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)


def test_macro_auc_against_sklearn_and_skipping():
    rng = np.random.default_rng(1)
    y = (rng.random((60, 6)) < 0.3).astype(int)
    y[:, 2] = 0  # no positive
    y[:, 4] = 1  # no negative
    s = rng.random((60, 6)) + 0.5 * y
    usable = [0, 1, 3, 5]
    roc, pr = macro_roc_auc(y, s), macro_pr_auc(y, s)
    assert roc["roc_auc"] == pytest.approx(roc_auc_score(y[:, usable], s[:, usable]))
    assert pr["pr_auc"] == pytest.approx(average_precision_score(y[:, usable], s[:, usable]))
    assert roc["tags_used"] == pr["tags_used"] == 4
    assert roc["tags_skipped"] == pr["tags_skipped"] == 2


def test_macro_auc_errors():
    with pytest.raises(ValueError, match="no tag"):
        macro_roc_auc(np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(N, T\)"):
        macro_pr_auc(np.zeros((3, 2)), np.zeros((3, 3)))


def test_triplet_accuracy_by_hand():
    x = _at(0, 10, 90, 180) * np.array([[1.0], [3.0], [0.5], [2.0]], dtype=np.float32)
    # (0, 1, 2): 10 deg vs 90 deg -> hit; (0, 2, 1): miss; (2, 1, 3): 80 vs 90 -> hit;
    # (1, 0, 0): equal distances -> a tie counts as a miss
    trip = np.array([[0, 1, 2], [0, 2, 1], [2, 1, 3], [1, 0, 0]])
    assert triplet_accuracy(x, trip) == pytest.approx(0.5)
    assert triplet_accuracy(x, trip, metric="cosine") == pytest.approx(0.5)


def test_triplet_accuracy_in_a_sub_space():
    # dims 0-1 say anchor ~ positive, dims 2-3 say anchor ~ negative
    x = np.array([[1, 0, 1, 0], [1, 0.1, 0, 1], [0, 1, 1, 0.1]], dtype=np.float32)
    trip = np.array([[0, 1, 2]])
    assert triplet_accuracy(x, trip, dims=slice(0, 2)) == 1.0
    assert triplet_accuracy(x, trip, dims=slice(2, 4)) == 0.0
    with pytest.raises(ValueError, match="metric"):
        triplet_accuracy(x, trip, metric="manhattan")
    with pytest.raises(ValueError, match=r"\(M, 3\)"):
        triplet_accuracy(x, np.zeros((0, 3), dtype=int))


def _shares(y, i, j):
    return bool((y[i] & y[j]).any())


def test_make_concept_triplets_valid_seeded_and_covering():
    rng = np.random.default_rng(2)
    labels = (rng.random((30, 6)) < 0.25).astype(int)
    cols = [0, 1, 2]
    trip = make_concept_triplets(labels, cols, 400, seed=3, chunk=64)
    assert trip.shape == (400, 3) and trip.dtype == np.int64
    y = labels[:, cols] > 0
    eligible = set()
    for a in range(30):
        pos = [j for j in range(30) if j != a and _shares(y, a, j)]
        neg = [j for j in range(30) if y[j].any() and not _shares(y, a, j)]
        if y[a].any() and pos and neg:
            eligible.add(a)
    for a, p, n in trip:
        assert a in eligible and a != p and _shares(y, a, p)
        assert not _shares(y, a, n) and y[n].any()
    assert set(trip[:, 0].tolist()) == eligible
    assert np.array_equal(trip, make_concept_triplets(labels, cols, 400, seed=3, chunk=64))
    assert not np.array_equal(trip, make_concept_triplets(labels, cols, 400, seed=4, chunk=64))


def test_make_concept_triplets_without_anchor_raises():
    labels = np.array([[1, 0], [1, 0], [0, 0]])  # nobody has a negative carrying a tag
    with pytest.raises(ValueError, match="no track can anchor"):
        make_concept_triplets(labels, [0, 1], 5, seed=0)
    negatives_untagged = make_concept_triplets(labels, [0, 1], 5, 0, negatives_need_tag=False)
    assert (negatives_untagged[:, 2] == 2).all()


def test_make_track_triplets_valid_and_uniform():
    ids = np.array([7, 7, 7, 7, 3, 3, 9, 5, 5, 5])  # track 9 has a single window
    trip = make_track_triplets(ids, 6000, seed=1)
    a, p, n = trip.T
    assert (ids[a] == ids[p]).all() and (a != p).all() and (ids[a] != ids[n]).all()
    assert 6 not in set(a.tolist())
    assert set(n.tolist()) == set(range(10))
    # positives of anchor 0 are uniform over windows 1, 2, 3
    counts = np.bincount(p[a == 0], minlength=4)[1:4]
    expected = counts.sum() / 3
    assert ((counts - expected) ** 2 / expected).sum() < 15
    assert np.array_equal(trip, make_track_triplets(ids, 6000, seed=1))
    with pytest.raises(ValueError, match="two windows"):
        make_track_triplets(np.array([1, 2, 3]), 3, seed=0)


def test_same_track_recall_by_hand():
    # windows: A at 0 and 5 deg, B at 20 and 60 deg, C at 40 deg (alone: not a query)
    # w0 -> w1 (A) hit; w1 -> w0 hit; w2 (20) -> w1 (15 away; C is 20 away) miss;
    # w3 (60) -> w4 (C, 20 away) miss  => 2 / 4
    emb = _at(0, 5, 20, 60, 40)
    ids = np.array(["A", "A", "B", "B", "C"])
    assert same_track_recall_at_1(emb, ids) == pytest.approx(0.5)
    assert same_track_recall_at_1(emb, ids, knn_func=exact_knn) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="two windows"):
        same_track_recall_at_1(emb, np.arange(5))


def test_self_is_removed_wherever_it_appears():
    x = np.ones((3, 2), dtype=np.float32)  # three identical vectors: ties everywhere

    def self_last(xq, xb, k):
        ids = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])
        return np.zeros((3, k), dtype=np.float32), ids[:, :k]

    def self_missing(xq, xb, k):
        ids = np.array([[1, 2, 1], [0, 2, 0], [0, 1, 0]])
        return np.zeros((3, k), dtype=np.float32), ids[:, :k]

    assert neighbours_excluding_self(x, 2, self_last).tolist() == [[1, 2], [0, 2], [0, 1]]
    assert neighbours_excluding_self(x, 2, self_missing).tolist() == [[1, 2], [0, 2], [0, 1]]
    with pytest.raises(ValueError, match="k must be"):
        neighbours_excluding_self(x, 3)


def test_exact_and_faiss_knn_agree():
    rng = np.random.default_rng(5)
    xb = rng.normal(size=(200, 16)).astype(np.float32)
    xq = xb[:20]
    d1, i1 = exact_knn(xq, xb, 10)
    d2, i2 = faiss_knn(xq, xb, 10)
    assert np.array_equal(i1, i2)
    assert np.allclose(d1, d2, atol=1e-4)
    assert math.isclose(float(d1[0, 0]), float(xq[0] @ xq[0]), rel_tol=1e-5)
