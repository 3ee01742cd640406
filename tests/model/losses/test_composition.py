import math

import pytest
import torch

from model.losses import (
    MinedTripletLoss,
    PerConcept,
    SliceLoss,
    TrackRegularized,
    TripletLoss,
)
from model.losses.composition import build_concept_triplet, build_triplet_track_reg
from model.losses.miners import TagTripletMiner, TrackTripletMiner
from tests.model.losses.conftest import DTYPES, TOL, gen

COLUMNS = {"genre": [0, 1, 2], "mood": [3, 4]}
SLICES = {"genre": slice(0, 4), "mood": slice(4, 8)}


def _data(b=16, seed=0):
    g = gen(seed)
    x = torch.randn(b, 8, generator=g, dtype=torch.float64)
    labels = (torch.rand(b, 5, generator=g) < 0.4).to(torch.float32)
    return x, labels


def _d(v, w):
    nv, nw = math.sqrt(sum(c * c for c in v)), math.sqrt(sum(c * c for c in w))
    return math.sqrt(sum((a / nv - b / nw) ** 2 for a, b in zip(v, w, strict=True)))


def _brute_hard_concept(x, labels, cols, dims, margin, valid):
    """Batch-hard triplet loss of one concept, by loops: mean over anchors."""
    rows = [[x[i][k] for k in range(dims.start, dims.stop)] for i in range(len(x))]
    tags = [[labels[i][c] > 0 for c in cols] for i in range(len(x))]
    share = [[any(a and b for a, b in zip(tags[i], tags[j], strict=True)) for j in range(len(x))]
             for i in range(len(x))]
    losses = []
    for a in range(len(x)):
        if not valid[a]:
            continue
        pos = [j for j in range(len(x)) if j != a and valid[j] and share[a][j]]
        neg = [j for j in range(len(x)) if valid[j] and not share[a][j] and any(tags[j])]
        if pos and neg:
            d_ap = max(_d(rows[a], rows[j]) for j in pos)
            d_an = min(_d(rows[a], rows[j]) for j in neg)
            losses.append(max(0.0, d_ap - d_an + margin))
    return sum(losses) / len(losses) if losses else 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("disentangled", [True, False])
def test_per_concept_matches_brute_force(dtype, disentangled, device):
    x, labels = _data()
    loss = PerConcept(
        MinedTripletLoss(TripletLoss(0.3), TagTripletMiner("hard")),
        COLUMNS,
        SLICES if disentangled else None,
    )
    got = loss(x.to(device, dtype), labels.to(device))
    full = slice(0, 8)
    per = [
        _brute_hard_concept(x.tolist(), labels.tolist(), COLUMNS[c],
                            SLICES[c] if disentangled else full, 0.3, [True] * 16)
        for c in COLUMNS
    ]
    assert got.item() == pytest.approx(sum(per) / 2, abs=TOL[dtype])
    terms = loss.terms(x, labels)
    assert list(terms) == ["genre", "mood"]
    assert [t.item() for t in terms.values()] == pytest.approx(per, abs=1e-9)


def test_disentangled_concept_sees_only_its_slice():
    x, labels = _data(seed=1)
    loss = PerConcept(MinedTripletLoss(TripletLoss(0.3), TagTripletMiner("hard")), COLUMNS, SLICES)
    x = x.requires_grad_(True)
    loss.terms(x, labels)["genre"].backward()
    assert x.grad[:, 4:].abs().sum() == 0 and x.grad[:, :4].abs().sum() > 0


def test_unlabelled_rows_contribute_nothing():
    x, labels = _data(seed=2)
    labelled = torch.ones(16, dtype=torch.bool)
    labelled[[0, 5, 9]] = False
    loss = PerConcept(MinedTripletLoss(TripletLoss(0.3), TagTripletMiner("hard")), COLUMNS, SLICES)
    base = loss(x, labels, labelled)
    x2 = x.clone()
    x2[[0, 5, 9]] = torch.randn(3, 8, generator=gen(3), dtype=torch.float64)
    labels2 = labels.clone()
    labels2[[0, 5, 9]] = 1.0 - labels2[[0, 5, 9]]
    x2.requires_grad_(True)
    changed = loss(x2, labels2, labelled)
    assert changed.item() == pytest.approx(base.item(), abs=1e-12)
    changed.backward()
    assert x2.grad[[0, 5, 9]].abs().sum() == 0
    expected = sum(
        _brute_hard_concept(x.tolist(), labels.tolist(), COLUMNS[c], SLICES[c], 0.3,
                            labelled.tolist())
        for c in COLUMNS
    ) / 2
    assert base.item() == pytest.approx(expected, abs=1e-9)


def test_all_unlabelled_is_graph_safe_zero():
    x, labels = _data()
    x.requires_grad_(True)
    loss = build_concept_triplet(concept_columns=COLUMNS, concept_slices=SLICES)
    out = loss(x, labels, torch.zeros(16, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_track_regularized_is_category_plus_half_track():
    x, labels = _data(seed=4)
    ids = torch.arange(8).repeat_interleave(2)
    category = PerConcept(MinedTripletLoss(TripletLoss(), TagTripletMiner("hard")), COLUMNS, SLICES)
    track = MinedTripletLoss(TripletLoss(), TrackTripletMiner("hard"))
    got = TrackRegularized(category, track)(x, labels, ids)
    cat = sum(
        _brute_hard_concept(x.tolist(), labels.tolist(), COLUMNS[c], SLICES[c], 0.1, [True] * 16)
        for c in COLUMNS
    ) / 2
    xs = x.tolist()
    track_terms = []
    for a in range(16):
        p = a ^ 1  # the other window of the same track
        d_an = min(_d(xs[a], xs[j]) for j in range(16) if ids[j] != ids[a])
        track_terms.append(max(0.0, _d(xs[a], xs[p]) - d_an + 0.1))
    assert got.item() == pytest.approx(cat + 0.5 * sum(track_terms) / 16, abs=1e-9)


def test_track_regularized_composition_runs_and_is_seeded():
    x, labels = _data(seed=5)
    ids = torch.arange(8).repeat_interleave(2)

    def run(seed):
        loss = build_triplet_track_reg(concept_columns=COLUMNS, concept_slices=SLICES,
                                       generator=gen(seed))
        return loss(x, labels, ids).item()

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_slice_loss_passes_the_right_parts():
    seen = {}

    class Probe(torch.nn.Module):
        def forward(self, emb, lab, labelled):
            seen.update(emb=emb, lab=lab, labelled=labelled)
            return emb.sum()

    x = torch.arange(12.0).reshape(2, 6)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    out = SliceLoss(Probe(), slice(2, 5), [2, 0])(x, labels, None)
    assert torch.equal(seen["emb"], x[:, 2:5])
    assert torch.equal(seen["lab"], labels[:, [2, 0]])
    assert out.item() == x[:, 2:5].sum().item()


def test_composition_errors():
    base = MinedTripletLoss(TripletLoss(), TagTripletMiner())
    with pytest.raises(ValueError, match="same concepts"):
        PerConcept(base, COLUMNS, {"genre": slice(0, 4)})
    with pytest.raises(ValueError, match="at least one"):
        PerConcept(base, {})
    with pytest.raises(ValueError, match="do not fit"):
        SliceLoss(base, slice(0, 2), [7])(torch.randn(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="empty"):
        SliceLoss(base, slice(8, 9))(torch.randn(3, 4), torch.zeros(3, 5))
    with pytest.raises(ValueError, match="labelled"):
        base(torch.randn(3, 4), torch.zeros(3, 2), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="weight"):
        TrackRegularized(base, base, weight=-1)
