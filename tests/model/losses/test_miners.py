import math

import pytest
import torch

from model.losses.miners import TagTripletMiner, TrackTripletMiner, concept_masks, sample_triplets


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _batch(b=20, d=6, t=4, seed=0, p=0.35):
    g = _gen(seed)
    x = torch.randn(b, d, generator=g, dtype=torch.float64)
    labels = (torch.rand(b, t, generator=g) < p).to(torch.float32)
    return x, labels


def _shares(labels, i, j):
    return any(labels[i][k] > 0 and labels[j][k] > 0 for k in range(len(labels[i])))


def _brute_candidates(labels, valid, need_tag=True):
    """anchor -> (positives, negatives) by plain loops."""
    b = len(labels)
    out = {}
    for a in range(b):
        if not valid[a]:
            continue
        pos = [j for j in range(b) if j != a and valid[j] and _shares(labels, a, j)]
        neg = [
            j for j in range(b)
            if valid[j] and not _shares(labels, a, j) and (not need_tag or any(labels[j]))
        ]
        if pos and neg:
            out[a] = (pos, neg)
    return out


def _dist(x, i, j):
    a, b = x[i] / x[i].norm(), x[j] / x[j].norm()
    return (a - b).norm().item()


@pytest.mark.parametrize("mode", ["random", "semihard", "hard"])
@pytest.mark.parametrize("need_tag", [True, False])
def test_tag_triplets_are_valid_and_cover_every_anchor(mode, need_tag):
    x, labels = _batch()
    valid = [True] * 20
    valid[3] = valid[11] = False
    mask = torch.tensor(valid)
    miner = TagTripletMiner(mode, per_anchor=3, negatives_need_tag=need_tag, generator=_gen(1))
    a, p, n = miner(x, labels, mask)
    assert a.dtype == p.dtype == n.dtype == torch.int64
    lab = labels.tolist()
    cand = _brute_candidates(lab, valid, need_tag)
    assert set(a.tolist()) == set(cand)
    per = 1 if mode == "hard" else 3
    assert len(a) == per * len(cand)
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        assert pi in cand[ai][0] and ni in cand[ai][1]
        assert 3 not in (ai, pi, ni) and 11 not in (ai, pi, ni)


def test_hard_mode_matches_brute_force():
    x, labels = _batch(seed=2)
    a, p, n = TagTripletMiner("hard")(x, labels)
    cand = _brute_candidates(labels.tolist(), [True] * 20)
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        pos, neg = cand[ai]
        assert pi == max(pos, key=lambda j: _dist(x, ai, j))
        assert ni == min(neg, key=lambda j: _dist(x, ai, j))


def test_semihard_mode_matches_brute_force():
    x, labels = _batch(seed=3)
    a, p, n = TagTripletMiner("semihard", per_anchor=2, generator=_gen(4))(x, labels)
    cand = _brute_candidates(labels.tolist(), [True] * 20)
    fallbacks = 0
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        d_ap = _dist(x, ai, pi)
        neg = cand[ai][1]
        farther = [j for j in neg if _dist(x, ai, j) > d_ap]
        if farther:
            assert ni == min(farther, key=lambda j: _dist(x, ai, j))
        else:
            fallbacks += 1
            assert ni == max(neg, key=lambda j: _dist(x, ai, j))
    assert fallbacks < len(a)


def test_seeded_and_reproducible():
    x, labels = _batch(seed=5)
    first = TagTripletMiner(generator=_gen(7))(x, labels)
    again = TagTripletMiner(generator=_gen(7))(x, labels)
    other = TagTripletMiner(generator=_gen(8))(x, labels)
    assert all(torch.equal(u, v) for u, v in zip(first, again, strict=True))
    assert not all(torch.equal(u, v) for u, v in zip(first, other, strict=True))


def test_random_picks_are_uniform():
    # anchor 0 has tag 0; rows 1..5 share it, rows 6..9 carry only tag 1 (negatives)
    labels = torch.zeros(10, 2)
    labels[:6, 0] = 1
    labels[6:, 1] = 1
    x = torch.randn(10, 3, generator=_gen(0))
    a, p, n = TagTripletMiner(per_anchor=5000, generator=_gen(9))(x, labels)
    sel = a == 0
    pos_counts = torch.bincount(p[sel], minlength=10)[1:6].double()
    neg_counts = torch.bincount(n[sel], minlength=10)[6:10].double()
    for counts in (pos_counts, neg_counts):
        expected = 5000 / len(counts)
        chi2 = ((counts - expected) ** 2 / expected).sum().item()
        assert chi2 < 20.0  # far beyond the 0.999 quantile for 3-4 degrees of freedom
        assert counts.min() > 0


@pytest.mark.parametrize(
    "labels",
    [torch.zeros(6, 3), torch.ones(6, 3), torch.eye(6, 3)[:, :1].repeat(1, 2)],
    ids=["untagged", "all-share", "one-positive-no-pair"],
)
def test_no_valid_triplet_gives_empty_int64(labels):
    x = torch.randn(6, 4, generator=_gen(0))
    a, p, n = TagTripletMiner(generator=_gen(0))(x, labels)
    assert a.numel() == p.numel() == n.numel() == 0
    assert a.dtype == torch.int64


def test_negatives_need_tag_switch():
    # row 2 has no tag of the concept: a negative only when negatives_need_tag is False
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    x = torch.randn(3, 2, generator=_gen(0))
    assert TagTripletMiner()(x, labels)[0].numel() == 0
    a, p, n = TagTripletMiner(negatives_need_tag=False, generator=_gen(0))(x, labels)
    assert a.tolist() == [0, 1] and p.tolist() == [1, 0] and n.tolist() == [2, 2]


def test_track_triplets_valid():
    ids = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])
    x = torch.randn(8, 4, generator=_gen(1))
    for mode in ("random", "semihard", "hard"):
        a, p, n = TrackTripletMiner(mode, per_anchor=2, generator=_gen(2))(x, ids)
        assert set(a.tolist()) == {0, 1, 2, 3, 4, 6, 7}  # window 5 is its track's only one
        assert (ids[a] == ids[p]).all() and (a != p).all() and (ids[a] != ids[n]).all()


def test_track_miner_hard_matches_brute_force():
    ids = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2])
    x = torch.randn(8, 5, generator=_gen(3), dtype=torch.float64)
    a, p, n = TrackTripletMiner("hard")(x, ids)
    for ai, pi, ni in zip(a.tolist(), p.tolist(), n.tolist(), strict=True):
        same = [j for j in range(8) if j != ai and ids[j] == ids[ai]]
        other = [j for j in range(8) if ids[j] != ids[ai]]
        assert pi == max(same, key=lambda j: _dist(x, ai, j))
        assert ni == min(other, key=lambda j: _dist(x, ai, j))


def test_miner_runs_without_grad():
    x, labels = _batch()
    x = x.requires_grad_(True)
    triplets = TagTripletMiner("hard")(x, labels)
    assert not any(t.requires_grad for t in triplets)


def test_sample_triplets_per_anchor_and_order():
    pos = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
    neg = torch.tensor([[False, False, True], [False, False, True], [True, True, False]])
    a, p, n = sample_triplets(pos, neg, per_anchor=2, generator=_gen(0))
    assert a.tolist() == [0, 1, 0, 1] and p.tolist() == [1, 0, 1, 0] and n.tolist() == [2] * 4


def test_concept_masks_by_hand():
    labels = torch.tensor([[1, 0], [1, 1], [0, 1], [0, 0]])
    pos, neg = concept_masks(labels)
    assert pos.tolist() == [
        [False, True, False, False],
        [True, False, True, False],
        [False, True, False, False],
        [False, False, False, False],
    ]
    assert neg.tolist() == [
        [False, False, True, False],
        [False, False, False, False],
        [True, False, False, False],
        [True, True, True, False],
    ]


@pytest.mark.parametrize(
    ("kwargs", "call", "match"),
    [
        ({"mode": "hardest"}, None, "mining mode"),
        ({"per_anchor": 0}, None, "per_anchor"),
        ({}, (torch.randn(4, 2), torch.zeros(3, 2), None), "rows"),
        ({}, (torch.randn(4, 2), torch.zeros(4), None), r"\(B, T\)"),
        ({}, (torch.randn(4, 2), torch.zeros(4, 2), torch.ones(4)), "bool"),
    ],
)
def test_errors(kwargs, call, match):
    with pytest.raises(ValueError, match=match):
        miner = TagTripletMiner(**kwargs)
        assert call is not None
        miner(*call)


def test_track_miner_rejects_float_ids():
    with pytest.raises(ValueError, match="track ids"):
        TrackTripletMiner()(torch.randn(4, 2), torch.zeros(4))


def test_sqrt_two_distance_sanity():
    # the hard negative of e1 among {e2 (sqrt 2 away), -e1 (2 away)} is e2
    x = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    a, p, n = TagTripletMiner("hard")(x, labels)
    assert (a[0].item(), p[0].item(), n[0].item()) == (0, 1, 2)
    assert math.isclose(_dist(x, 0, 2), math.sqrt(2), rel_tol=1e-6)
