import math

import pytest
import torch

from model.losses import NTXentLoss
from tests.model.losses.conftest import DTYPES, TOL, gen


def _brute(z1, z2, tau):
    views = [*z1, *z2]
    b = len(z1)

    def cos(u, v):
        return sum(a * c for a, c in zip(u, v, strict=True)) / math.sqrt(
            sum(a * a for a in u) * sum(c * c for c in v)
        )

    total = 0.0
    for i in range(2 * b):
        j = (i + b) % (2 * b)
        denom = sum(math.exp(cos(views[i], views[k]) / tau) for k in range(2 * b) if k != i)
        total += -cos(views[i], views[j]) / tau + math.log(denom)
    return total / (2 * b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("tau", [0.5, 0.1])
def test_matches_brute_force(dtype, tau, device):
    g = gen(0)
    z1 = torch.randn(6, 5, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(6, 5, generator=g, dtype=torch.float64)
    got = NTXentLoss(tau)(z1.to(device, dtype), z2.to(device, dtype))
    expected = _brute(z1.tolist(), z2.tolist(), tau)
    assert got.dtype == dtype
    assert got.item() == pytest.approx(expected, abs=TOL[dtype] * 10, rel=TOL[dtype])


@pytest.mark.parametrize("tau", [0.5, 0.1])
def test_identical_orthogonal_views_closed_form(tau):
    # B orthogonal unit vectors, both views equal: the partner's logit is 1/tau, the
    # 2B - 2 others are 0, so every term is log(1 + (2B - 2) exp(-1/tau)).
    b = 4
    z = torch.eye(6, dtype=torch.float64)[:b] * 3.0
    expected = math.log(1 + (2 * b - 2) * math.exp(-1 / tau))
    assert NTXentLoss(tau)(z, z.clone()).item() == pytest.approx(expected, rel=1e-12)


def test_better_aligned_views_have_lower_loss_and_gradients_are_finite():
    g = gen(1)
    z1 = torch.randn(8, 16, generator=g, requires_grad=True)
    noise = torch.randn(8, 16, generator=g)
    close, far = NTXentLoss()(z1, z1 + 0.1 * noise), NTXentLoss()(z1, z1 + 3.0 * noise)
    assert close.item() < far.item()
    far.backward()
    assert torch.isfinite(z1.grad).all() and z1.grad.abs().sum() > 0


def test_errors():
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(0.0)
    with pytest.raises(ValueError, match="at least 2"):
        NTXentLoss()(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match="same shape"):
        NTXentLoss()(torch.randn(3, 4), torch.randn(3, 5))
