import math

import pytest
import torch

from model.losses import CosineDistance, NormalizedEuclidean, TripletLoss, check_triplets
from tests.model.losses.conftest import DTYPES, TOL, gen


def _norm(v):
    n = math.sqrt(sum(c * c for c in v))
    return [c / n for c in v]


def _brute_euclid(x, i, j):
    a, b = _norm(x[i]), _norm(x[j])
    return math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b, strict=True)))


def _brute_loss(x, triplets, margin):
    losses = [
        max(0.0, _brute_euclid(x, a, p) - _brute_euclid(x, a, n) + margin)
        for a, p, n in zip(*triplets, strict=True)
    ]
    return losses


def _triplets(b, m, seed):
    g = gen(seed)
    a = torch.randint(0, b, (m,), generator=g)
    p = (a + torch.randint(1, b, (m,), generator=g)) % b
    n = (a + torch.randint(1, b, (m,), generator=g)) % b
    return a, p, n


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("margin", [0.1, 0.5])
def test_matches_brute_force(dtype, margin, device):
    x = torch.randn(12, 6, generator=gen(1)).to(device, dtype)
    trip = tuple(t.to(device) for t in _triplets(12, 40, 2))
    got = TripletLoss(margin)(x, trip)
    expected = _brute_loss(x.double().cpu().tolist(), [t.tolist() for t in trip], margin)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(sum(expected) / len(expected), abs=TOL[dtype] * 5)
    per = TripletLoss(margin).per_triplet(x, trip).double().cpu()
    assert torch.allclose(per, torch.tensor(expected, dtype=torch.float64), atol=TOL[dtype] * 5)


def test_reductions():
    x = torch.randn(10, 4, generator=gen(3), dtype=torch.float64)
    trip = _triplets(10, 30, 4)
    per = _brute_loss(x.tolist(), [t.tolist() for t in trip], 0.3)
    nonzero = [v for v in per if v > 0]
    assert 0 < len(nonzero) < len(per)
    assert TripletLoss(0.3, reduction="sum")(x, trip).item() == pytest.approx(sum(per))
    got = TripletLoss(0.3, reduction="mean_nonzero")(x, trip).item()
    assert got == pytest.approx(sum(nonzero) / len(nonzero))


def test_known_value_by_hand():
    # a = e1, p at 90 degrees (d = sqrt 2), n = -e1 (d = 2): hinge = max(0, 1.414 - 2 + 0.1) = 0
    # swap p and n: 2 - 1.414 + 0.1 = 0.6858
    x = torch.tensor([[1.0, 0.0], [0.0, 3.0], [-2.0, 0.0]])
    one = (torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    swapped = (torch.tensor([0]), torch.tensor([2]), torch.tensor([1]))
    assert TripletLoss(0.1)(x, one).item() == pytest.approx(0.0)
    assert TripletLoss(0.1)(x, swapped).item() == pytest.approx(2 - math.sqrt(2) + 0.1, abs=1e-6)


def test_no_triplet_gives_graph_safe_zero():
    x = torch.randn(5, 3, requires_grad=True)
    empty = tuple(torch.empty(0, dtype=torch.int64) for _ in range(3))
    loss = TripletLoss()(x, empty)
    assert loss.item() == 0.0
    loss.backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients_finite_even_for_identical_pairs(dtype):
    x = torch.randn(4, 3, generator=gen(5))
    x[1] = x[0] * 2.0  # same direction: d(a, p) = 0, where sqrt is not differentiable
    x = x.to(dtype).requires_grad_(True)
    trip = (torch.tensor([0, 0]), torch.tensor([1, 2]), torch.tensor([2, 1]))
    loss = TripletLoss(0.1)(x, trip)
    loss.backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0
    # the first triplet alone: hinge = 0 - d(a, n) + 0.1 (n is far), so it is 0
    assert NormalizedEuclidean()(x[:1], x[1:2]).item() == 0.0


@pytest.mark.parametrize(
    ("triplets", "error"),
    [
        ((torch.tensor([0]), torch.tensor([1])), TypeError),
        ((torch.tensor([0.0]), torch.tensor([1]), torch.tensor([2])), TypeError),
        ((torch.tensor([0, 1]), torch.tensor([1]), torch.tensor([2])), ValueError),
        ((torch.tensor([0]), torch.tensor([1]), torch.tensor([5])), ValueError),
        ((torch.tensor([-1]), torch.tensor([1]), torch.tensor([2])), ValueError),
    ],
)
def test_bad_triplets_raise(triplets, error):
    with pytest.raises(error):
        check_triplets(triplets, batch=5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="margin"):
        TripletLoss(-0.1)
    with pytest.raises(ValueError, match="reduction"):
        TripletLoss(reduction="median")
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        TripletLoss()(torch.randn(4), (torch.tensor([0]),) * 3)


@pytest.mark.parametrize("distance", [NormalizedEuclidean(), CosineDistance()])
def test_distance_pairwise_matches_rowwise(distance):
    x = torch.randn(7, 5, generator=gen(6), dtype=torch.float64)
    i, j = torch.meshgrid(torch.arange(7), torch.arange(7), indexing="ij")
    rowwise = distance(x[i.flatten()], x[j.flatten()]).reshape(7, 7)
    assert torch.allclose(distance.pairwise(x), rowwise, atol=1e-6)
    for a in range(7):
        for b in range(7):
            xa, xb = x[a] / x[a].norm(), x[b] / x[b].norm()
            euclid = isinstance(distance, NormalizedEuclidean)
            expected = (xa - xb).norm() if euclid else 1 - xa @ xb
            assert rowwise[a, b].item() == pytest.approx(expected.item(), abs=1e-6)


def test_cosine_distance_in_triplet_loss():
    x = torch.randn(8, 4, generator=gen(7), dtype=torch.float64)
    trip = _triplets(8, 20, 8)
    got = TripletLoss(0.2, distance=CosineDistance())(x, trip)
    xn = torch.nn.functional.normalize(x, dim=1)
    a, p, n = trip
    cos_ap, cos_an = (xn[a] * xn[p]).sum(1), (xn[a] * xn[n]).sum(1)
    expected = torch.relu((1 - cos_ap) - (1 - cos_an) + 0.2).mean()
    assert got.item() == pytest.approx(expected.item())
