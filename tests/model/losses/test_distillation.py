"""The distillation loss against a per-element loop, hand-computed values, and masking (masked
entries contribute nothing and get exactly zero gradient)."""

import math

import pytest
import torch

from layout.schema import ConceptSchema
from model.losses import DistillationLoss, SoftTagKLLoss, loss_method, tag_slices
from model.train.config import LossConfig
from tests.model.losses.conftest import DTYPES, TOL, gen


def _brute(logits, targets, mask):
    """Mean over unmasked (i, t) of p log(p/q) + (1-p) log((1-p)/(1-q)), q = sigmoid(x)."""
    total, count = 0.0, 0
    for row_x, row_p, row_m in zip(logits, targets, mask, strict=True):
        for x, p, m in zip(row_x, row_p, row_m, strict=True):
            if not m:
                continue
            q = 1.0 / (1.0 + math.exp(-x))
            kl = (p * math.log(p / q) if p > 0 else 0.0) + (
                (1 - p) * math.log((1 - p) / (1 - q)) if p < 1 else 0.0)
            total, count = total + kl, count + 1
    return total / count


def _inputs(b=6, t=5, seed=0):
    g = gen(seed)
    logits = torch.randn(b, t, generator=g, dtype=torch.float64) * 2
    targets = torch.rand(b, t, generator=g, dtype=torch.float64)
    targets[0, 0], targets[1, 1] = 0.0, 1.0  # the edges of [0, 1]
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[0, 0] = mask[1, 1] = True
    return logits, targets, mask


@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_brute_force(dtype, device):
    logits, targets, mask = _inputs()
    got = SoftTagKLLoss()(logits.to(device, dtype), targets.to(device, dtype), mask.to(device))
    expected = _brute(logits.tolist(), targets.tolist(), mask.tolist())
    assert got.dtype == dtype
    assert got.item() == pytest.approx(expected, abs=TOL[dtype] * 20)


def test_known_values_by_hand():
    loss = SoftTagKLLoss()
    # logit 0 -> q = 1/2; p = 1/2 is a perfect match, p = 1 costs log 2, p = 0 costs log 2.
    x = torch.zeros(1, 3, dtype=torch.float64)
    p = torch.tensor([[0.5, 1.0, 0.0]], dtype=torch.float64)
    assert loss(x[:, :1], p[:, :1]).item() == pytest.approx(0.0, abs=1e-12)
    assert loss(x, p).item() == pytest.approx(2 * math.log(2) / 3)
    # logit log 3 -> q = 3/4, p = 1/4: 1/4 log(1/3) + 3/4 log 3 = 1/2 log 3.
    x = torch.tensor([[math.log(3)]], dtype=torch.float64)
    assert loss(x, torch.tensor([[0.25]], dtype=torch.float64)).item() == pytest.approx(
        0.5 * math.log(3))


def test_zero_when_student_matches_teacher():
    logits = torch.randn(4, 7, generator=gen(2), dtype=torch.float64)
    assert SoftTagKLLoss()(logits, torch.sigmoid(logits)).item() == pytest.approx(0, abs=1e-12)


def test_masked_entries_contribute_nothing_and_get_zero_gradient():
    logits, targets, mask = _inputs(seed=3)
    targets = targets.masked_fill(~mask, float("nan"))  # unlabelled: no target at all
    x = logits.clone().requires_grad_(True)
    value = SoftTagKLLoss()(x, targets, mask)
    value.backward()
    assert torch.isfinite(value)
    assert bool((x.grad[~mask] == 0).all())
    assert bool((x.grad[mask] != 0).all())
    # Masked is not negative: the loss equals the loss on the unmasked entries alone.
    kept = SoftTagKLLoss()(logits[mask][None, :], targets[mask][None, :])
    assert value.item() == pytest.approx(kept.item())
    negatives = SoftTagKLLoss()(logits, targets.nan_to_num(0.0))
    assert negatives.item() != pytest.approx(value.item())


def test_gradient_is_that_of_soft_target_bce():
    logits, targets, mask = _inputs(seed=4)
    x = logits.clone().requires_grad_(True)
    SoftTagKLLoss()(x, targets, mask).backward()
    expected = (torch.sigmoid(logits) - targets) * mask / mask.sum()
    assert torch.allclose(x.grad, expected, atol=1e-12)


def test_all_masked_is_a_graph_safe_zero():
    x = torch.randn(3, 4, requires_grad=True)
    value = SoftTagKLLoss()(x, torch.rand(3, 4), torch.zeros(3, 4, dtype=torch.bool))
    value.backward()
    assert value.item() == 0.0
    assert bool((x.grad == 0).all())


def test_bad_inputs_are_refused():
    loss = SoftTagKLLoss()
    with pytest.raises(ValueError, match=r"both be \(B, T\)"):
        loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="mask must have shape"):
        loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        loss(torch.zeros(1, 2), torch.tensor([[0.5, 1.5]]))
    # out-of-range values where the mask is off are not looked at
    assert loss(torch.zeros(1, 2), torch.tensor([[0.5, 7.0]]),
                torch.tensor([[True, False]])).item() == pytest.approx(0.0, abs=1e-7)


def test_distillation_loss_masks_unlabelled_rows_and_uses_its_head():
    schema = ConceptSchema({"genre": ("rock", "jazz"), "mood": ("sad",)}, facet_dim=4)
    loss = loss_method("distillation", "supervised").build(
        LossConfig(method="distillation", temperature=0.1), schema, None)
    assert isinstance(loss, DistillationLoss)
    assert loss.head.normalize_embedding and loss.head.temperature == pytest.approx(0.1)
    z = torch.randn(4, schema.dim, generator=gen(5), dtype=torch.float64)
    loss = loss.double()
    targets = torch.rand(4, 3, generator=gen(6), dtype=torch.float64)
    labelled = torch.tensor([True, False, True, True])
    mask = torch.tensor([[True, False, True]] * 4)
    logits = loss.logits(z)
    got = loss(z, targets, labelled, mask)
    both = mask & labelled[:, None]
    assert got.item() == pytest.approx(_brute(logits.tolist(), targets.tolist(), both.tolist()))
    # disentangled: each tag's weight row lives in its concept's facet only
    assert [s for s in tag_slices(schema)] == [slice(0, 4), slice(0, 4), slice(4, 8)]
    assert bool((loss.head.effective_weight()[2, :4] == 0).all())
