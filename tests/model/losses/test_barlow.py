import math

import numpy as np
import pytest
import torch

from model.losses import BarlowTwinsLoss
from tests.model.losses.conftest import DTYPES, TOL, gen


def _brute(z1, z2, lam, eps=1e-5):
    b, d = len(z1), len(z1[0])

    def std_cols(z):
        cols = []
        for j in range(d):
            col = [r[j] for r in z]
            m = sum(col) / b
            s = math.sqrt(sum((v - m) ** 2 for v in col) / b + eps)
            cols.append([(v - m) / s for v in col])
        return cols

    a, c = std_cols(z1), std_cols(z2)
    on, off = [], []
    for i in range(d):
        for j in range(d):
            cij = sum(a[i][k] * c[j][k] for k in range(b)) / b
            (on if i == j else off).append((1 - cij) ** 2 if i == j else cij**2)
    return sum(on) / len(on) + lam * sum(off) / len(off)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("lam", [1.0, 0.005])
def test_matches_brute_force(dtype, lam, device):
    g = gen(0)
    z1 = torch.randn(10, 4, generator=g, dtype=torch.float64)
    z2 = z1 + 0.7 * torch.randn(10, 4, generator=g, dtype=torch.float64)
    got = BarlowTwinsLoss(lam)(z1.to(device, dtype), z2.to(device, dtype))
    expected = _brute(z1.tolist(), z2.tolist(), lam)
    assert got.item() == pytest.approx(expected, abs=TOL[dtype] * 10, rel=TOL[dtype] * 4)


def test_identical_views_leave_only_redundancy_equal_to_pearson():
    z = torch.randn(16, 5, generator=gen(1), dtype=torch.float64)
    corr = np.corrcoef(z.numpy(), rowvar=False)
    off = corr[~np.eye(5, dtype=bool)]
    got = BarlowTwinsLoss(lambda_offdiag=1.0, eps=0.0)(z, z.clone()).item()
    assert got == pytest.approx(float((off**2).mean()), rel=1e-10)


def test_identical_decorrelated_views_cost_nothing():
    h = torch.tensor([[1.0]], dtype=torch.float64)
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    z = 3.0 * h[:, 1:6]  # orthogonal, zero-mean columns: cross-correlation is the identity
    assert BarlowTwinsLoss(eps=0.0)(z, z.clone()).item() == pytest.approx(0.0, abs=1e-20)
    c = BarlowTwinsLoss(eps=0.0).cross_correlation(z, z)
    assert torch.allclose(c, torch.eye(5, dtype=torch.float64))


def test_gradients_finite_and_errors():
    z1 = torch.randn(6, 3, generator=gen(2), requires_grad=True)
    BarlowTwinsLoss()(z1, torch.randn(6, 3, generator=gen(3))).backward()
    assert torch.isfinite(z1.grad).all()
    with pytest.raises(ValueError, match="lambda"):
        BarlowTwinsLoss(-1.0)
    with pytest.raises(ValueError, match="D >= 2"):
        BarlowTwinsLoss()(torch.randn(4, 1), torch.randn(4, 1))
