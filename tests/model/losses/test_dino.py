import math

import pytest
import torch

from model.losses import DINOLoss, dino_teacher_temperature
from tests.model.losses.conftest import DTYPES, TOL, gen


def _softmax(v, tau):
    m = max(x / tau for x in v)
    e = [math.exp(x / tau - m) for x in v]
    return [x / sum(e) for x in e]


def _brute(s1, s2, t1, t2, center, tau_s, tau_t):
    def ce(teacher, student):
        total = 0.0
        for t, s in zip(teacher, student, strict=True):
            q = _softmax([a - c for a, c in zip(t, center, strict=True)], tau_t)
            p = _softmax(s, tau_s)
            total += -sum(qi * math.log(pi) for qi, pi in zip(q, p, strict=True))
        return total / len(teacher)

    return (ce(t1, s2) + ce(t2, s1)) / 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_brute_force(dtype, device):
    g = gen(0)
    s1, s2, t1, t2 = (torch.randn(5, 6, generator=g, dtype=torch.float64) for _ in range(4))
    loss = DINOLoss(6).to(device)
    loss.center.copy_(0.1 * torch.randn(1, 6, generator=g))
    center = loss.center[0].tolist()
    got = loss(*(v.to(device, dtype) for v in (s1, s2, t1, t2)), epoch=3)
    expected = _brute(s1.tolist(), s2.tolist(), t1.tolist(), t2.tolist(), center, 0.1, 0.026)
    # float16 logits are divided by 0.026: about 2 significant digits survive
    tol = {torch.float16: 5e-2, torch.float32: 1e-5, torch.float64: 1e-9}[dtype]
    assert got.item() == pytest.approx(expected, rel=tol, abs=TOL[dtype])


def test_uniform_outputs_give_log_k():
    z = torch.zeros(4, 10)
    assert DINOLoss(10)(z, z, z, z, epoch=0).item() == pytest.approx(math.log(10))


def test_center_update_only_in_training():
    g = gen(1)
    t1, t2 = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
    s = torch.randn(4, 3, generator=g)
    loss = DINOLoss(3)
    loss(s, s, t1, t2, epoch=20)
    expected = 0.1 * torch.cat([t1, t2]).mean(dim=0, keepdim=True)
    assert torch.allclose(loss.center, expected)
    loss(s, s, t1, t2, epoch=20)
    assert torch.allclose(loss.center, 0.9 * expected + 0.1 * torch.cat([t1, t2]).mean(0))
    frozen = loss.center.clone()
    loss.eval()
    loss(s, s, t1, t2, epoch=20)
    assert torch.equal(loss.center, frozen)
    assert "center" in loss.state_dict()


def test_teacher_gets_no_gradient_student_does():
    g = gen(2)
    s1, s2 = (torch.randn(3, 5, generator=g, requires_grad=True) for _ in range(2))
    t1, t2 = (torch.randn(3, 5, generator=g, requires_grad=True) for _ in range(2))
    DINOLoss(5)(s1, s2, t1, t2, epoch=0).backward()
    assert t1.grad is None and t2.grad is None
    assert torch.isfinite(s1.grad).all() and s1.grad.abs().sum() > 0


def test_teacher_temperature_schedule():
    assert dino_teacher_temperature(0) == pytest.approx(0.02)
    assert dino_teacher_temperature(5) == pytest.approx(0.03)
    assert dino_teacher_temperature(10) == pytest.approx(0.04)
    assert dino_teacher_temperature(50) == pytest.approx(0.04)
    cos_q = 0.02 + 0.02 * (1 - math.cos(math.pi / 4)) / 2
    assert dino_teacher_temperature(2.5, shape="cosine") == pytest.approx(cos_q)
    assert DINOLoss(4, warmup_epochs=4, teacher_temp=0.06).teacher_temperature(2) == (
        pytest.approx(0.04)
    )


def test_errors():
    with pytest.raises(ValueError, match="shape"):
        DINOLoss(4, schedule="step")
    with pytest.raises(ValueError, match="center_momentum"):
        DINOLoss(4, center_momentum=2.0)
    with pytest.raises(ValueError, match=r"\(B, 4\)"):
        z = torch.zeros(2, 5)
        DINOLoss(4)(z, z, z, z, epoch=0)
