import math

import pytest
import torch

from model.losses import VICRegLoss
from tests.model.losses.conftest import DTYPES, TOL, gen


def _col(z, j):
    return [row[j] for row in z]


def _mean(v):
    return sum(v) / len(v)


def _brute_terms(z, gamma, eps, mode):
    b, d = len(z), len(z[0])
    cols = [_col(z, j) for j in range(d)]
    means = [_mean(c) for c in cols]
    var_u = [sum((v - m) ** 2 for v in c) / (b - 1) for c, m in zip(cols, means, strict=True)]
    var_term = _mean([max(0.0, gamma - math.sqrt(v + eps)) for v in var_u])
    off = []
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            cov = sum((cols[i][k] - means[i]) * (cols[j][k] - means[j]) for k in range(b))
            if mode == "correlation":
                var_bi = sum((v - means[i]) ** 2 for v in cols[i]) / b + eps
                var_bj = sum((v - means[j]) ** 2 for v in cols[j]) / b + eps
                off.append((cov / b / math.sqrt(var_bi * var_bj)) ** 2)
            else:
                off.append((cov / (b - 1)) ** 2)
    cov_term = _mean(off) if mode == "correlation" else sum(off) / d
    return var_term, cov_term


def _brute(z1, z2, w=(1.0, 1.0, 1.0), gamma=1.0, eps=1e-4, mode="correlation"):
    inv = _mean([(a - b) ** 2 for r1, r2 in zip(z1, z2, strict=True)
                 for a, b in zip(r1, r2, strict=True)])
    v1, c1 = _brute_terms(z1, gamma, eps, mode)
    v2, c2 = _brute_terms(z2, gamma, eps, mode)
    return w[0] * inv + w[1] * (v1 + v2) / 2 + w[2] * (c1 + c2) / 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["correlation", "covariance"])
def test_matches_brute_force(dtype, mode, device):
    g = gen(0)
    z1 = 0.8 * torch.randn(10, 4, generator=g, dtype=torch.float64)
    z2 = z1 + 0.3 * torch.randn(10, 4, generator=g, dtype=torch.float64)
    loss = VICRegLoss(25.0, 25.0, 1.0, cov_mode=mode) if mode == "covariance" else VICRegLoss()
    got = loss(z1.to(device, dtype), z2.to(device, dtype))
    w = (25.0, 25.0, 1.0) if mode == "covariance" else (1.0, 1.0, 1.0)
    expected = _brute(z1.tolist(), z2.tolist(), w, mode=mode)
    assert got.item() == pytest.approx(expected, abs=TOL[dtype] * 10, rel=TOL[dtype] * 4)


def _decorrelated(scale=2.0):
    # columns 1..4 of the 8x8 Hadamard matrix: zero mean, mutually orthogonal, std > 1
    h = torch.tensor([[1.0]], dtype=torch.float64)
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return scale * h[:, 1:5]


@pytest.mark.parametrize("mode", ["correlation", "covariance"])
def test_identical_decorrelated_wide_views_cost_nothing(mode):
    z = _decorrelated()
    assert VICRegLoss(cov_mode=mode)(z, z.clone()).item() == pytest.approx(0.0, abs=1e-12)


def test_identical_views_leave_only_variance_and_covariance():
    z = torch.randn(12, 5, generator=gen(1), dtype=torch.float64) * 0.3
    loss = VICRegLoss()
    v, c = _brute_terms(z.tolist(), 1.0, 1e-4, "correlation")
    assert loss(z, z.clone()).item() == pytest.approx(v + c, rel=1e-9)
    assert loss.variance_term(z).item() == pytest.approx(v, rel=1e-9)
    # collapse: every row equal, the std hinge is gamma - sqrt(eps)
    flat = torch.ones(6, 3, dtype=torch.float64)
    assert loss(flat, flat.clone()).item() == pytest.approx(1.0 - math.sqrt(1e-4), rel=1e-6)


def test_weights_and_gradients():
    g = gen(2)
    z1 = torch.randn(8, 4, generator=g, requires_grad=True)
    z2 = torch.randn(8, 4, generator=g)
    only_inv = VICRegLoss(inv_weight=2.0, var_weight=0.0, cov_weight=0.0)(z1, z2)
    assert only_inv.item() == pytest.approx(2.0 * ((z1 - z2) ** 2).mean().item(), rel=1e-6)
    VICRegLoss()(z1, z2).backward()
    assert torch.isfinite(z1.grad).all()


def test_errors():
    with pytest.raises(ValueError, match="cov_mode"):
        VICRegLoss(cov_mode="cosine")
    with pytest.raises(ValueError, match="B >= 2"):
        VICRegLoss()(torch.randn(1, 3), torch.randn(1, 3))
