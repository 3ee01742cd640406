import math

import pytest
import torch
from torch import nn

from model.losses import BYOLLoss, byol_momentum, ema_update
from tests.model.losses.conftest import DTYPES, TOL, gen


def _brute(p, t):
    total = 0.0
    for u, v in zip(p, t, strict=True):
        nu, nv = math.sqrt(sum(a * a for a in u)), math.sqrt(sum(a * a for a in v))
        total += 2 - 2 * sum(a * b for a, b in zip(u, v, strict=True)) / (nu * nv)
    return total / len(p)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_brute_force(dtype, device):
    g = gen(0)
    p, t = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    got = BYOLLoss()(p.to(device, dtype), t.to(device, dtype))
    assert got.item() == pytest.approx(_brute(p.tolist(), t.tolist()), abs=TOL[dtype] * 4)


def test_properties():
    x = torch.randn(5, 3, generator=gen(1), dtype=torch.float64)
    assert BYOLLoss()(x, 2.0 * x).item() == pytest.approx(0.0, abs=1e-12)
    assert BYOLLoss()(x, -x).item() == pytest.approx(4.0)


def test_target_gets_no_gradient():
    p = torch.randn(4, 3, generator=gen(2), requires_grad=True)
    t = torch.randn(4, 3, generator=gen(3), requires_grad=True)
    BYOLLoss()(p, t).backward()
    assert t.grad is None
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_momentum_schedule():
    assert byol_momentum(0, 100) == pytest.approx(0.996)
    assert byol_momentum(50, 100) == pytest.approx(0.998)
    assert byol_momentum(100, 100) == pytest.approx(1.0)
    assert byol_momentum(250, 100) == pytest.approx(1.0)
    assert byol_momentum(25, 100) == pytest.approx(1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2)
    with pytest.raises(ValueError, match="total_steps"):
        byol_momentum(0, 0)


def _net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def test_ema_update_values():
    online, target = _net(0), _net(1)
    online(torch.randn(8, 3))  # moves the online BatchNorm statistics
    before = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update(target, online, 0.9)
    onl = dict(online.named_parameters())
    for name, param in target.named_parameters():
        assert torch.allclose(param, 0.9 * before[name] + 0.1 * onl[name], atol=1e-7)
    for name, buf in target.named_buffers():
        assert torch.equal(buf, dict(online.named_buffers())[name])


def test_ema_update_extremes_and_errors():
    online, target = _net(0), _net(1)
    frozen = {k: v.clone() for k, v in target.state_dict().items()}
    ema_update(target, online, 1.0)
    assert all(torch.equal(v, frozen[k]) for k, v in target.named_parameters())
    ema_update(target, online, 0.0)
    assert all(torch.equal(v, dict(online.named_parameters())[k])
               for k, v in target.named_parameters())
    with pytest.raises(ValueError, match="momentum"):
        ema_update(target, online, 1.5)
    with pytest.raises(ValueError, match="differ"):
        ema_update(nn.Linear(3, 4), nn.Sequential(nn.Linear(3, 4)), 0.5)
