"""LossTagHead, MultiLabelBCELoss, ProxyLoss and ClassificationLoss against loop implementations."""

import math

import pytest
import torch

from model.losses import ClassificationLoss, LossTagHead, MultiLabelBCELoss, ProxyLoss
from tests.model.losses.conftest import DTYPES, TOL, gen

D, T = 8, 5
TAG_SLICES = [slice(0, 4)] * 3 + [slice(4, 8)] * 2  # 3 genre tags, 2 mood tags


def _unit(v):
    n = math.sqrt(sum(c * c for c in v))
    return [c / n for c in v]


def _brute_logits(z, weight, bias, *, norm_z, norm_w, temperature, tag_slices):
    out = []
    for row in z:
        logits = []
        for t, w in enumerate(weight):
            s = tag_slices[t] if tag_slices else slice(0, len(row))
            zs, ws = row[s], w[s]
            zs = _unit(zs) if norm_z else zs
            ws = _unit(ws) if norm_w else ws
            v = sum(a * b for a, b in zip(zs, ws, strict=True)) / temperature
            logits.append(v + (bias[t] if bias is not None else 0.0))
        out.append(logits)
    return out


def _brute_bce(logits, labels, labelled):
    terms = []
    for row, y, keep in zip(logits, labels, labelled, strict=True):
        if keep:
            for x, t in zip(row, y, strict=True):
                terms.append(max(x, 0.0) - x * t + math.log1p(math.exp(-abs(x))))
    return sum(terms) / len(terms)


def _data(b=6, seed=0):
    g = gen(seed)
    z = torch.randn(b, D, generator=g, dtype=torch.float64)
    labels = (torch.rand(b, T, generator=g) < 0.4).to(torch.float64)
    return z, labels


CASES = {
    "proxy": lambda ts: ProxyLoss(T, D, temperature=0.05, tag_slices=ts),
    "classification": lambda ts: ClassificationLoss(T, D, tag_slices=ts),
    "classification-norm": lambda ts: ClassificationLoss(T, D, normalize=True, tag_slices=ts),
    "classification-norm-temp": lambda ts: ClassificationLoss(
        T, D, normalize=True, temperature=0.1, tag_slices=ts
    ),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("disentangled", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_matches_brute_force(case, disentangled, dtype, device):
    torch.manual_seed(0)
    ts = TAG_SLICES if disentangled else None
    loss = CASES[case](ts).to(device)
    head = loss.head
    z, labels = _data()
    labelled = torch.tensor([True, True, False, True, True, True])
    got = loss(z.to(device, dtype), labels.to(device, dtype), labelled.to(device))
    bias = head.bias.tolist() if head.bias is not None else None
    logits = _brute_logits(
        z.tolist(), head.weight.double().tolist(), bias, norm_z=head.normalize_embedding,
        norm_w=head.normalize_weight, temperature=head.temperature, tag_slices=ts,
    )
    expected = _brute_bce(logits, labels.tolist(), labelled.tolist())
    # float16 logits of the proxy loss reach 1/0.05 = 20 and keep ~3 significant digits
    assert got.item() == pytest.approx(expected, abs=TOL[dtype] * 10, rel=TOL[dtype])
    got_logits = loss.logits(z.to(device, dtype)).double().cpu()
    assert torch.allclose(got_logits, torch.tensor(logits, dtype=torch.float64),
                          atol=TOL[dtype] * 40, rtol=TOL[dtype])


def test_proxy_logits_are_scaled_cosines_and_proxies_live_in_their_slice():
    loss = ProxyLoss(T, D, temperature=0.05, tag_slices=TAG_SLICES)
    z, _ = _data(b=20)
    logits = loss.logits(z)
    assert logits.abs().max() <= 20.0 + 1e-9
    proxies = loss.proxies.detach()
    assert torch.allclose(proxies.norm(dim=1), torch.ones(T, dtype=proxies.dtype))
    assert proxies[:3, 4:].abs().sum() == 0 and proxies[3:, :4].abs().sum() == 0
    # a proxy's logit is its cosine with the facet sub-vector, times 20
    cos = torch.nn.functional.cosine_similarity(z[:, :4], proxies[0, :4].double()[None], dim=1)
    assert torch.allclose(logits[:, 0], 20.0 * cos.to(logits.dtype), atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_disentangled_tags_see_only_their_facet(case):
    torch.manual_seed(1)
    loss = CASES[case](TAG_SLICES)
    z, labels = _data()
    z2 = z.clone()
    z2[:, 4:] = torch.randn(6, 4, generator=gen(5), dtype=torch.float64)
    assert torch.allclose(loss.logits(z)[:, :3], loss.logits(z2)[:, :3])
    assert not torch.allclose(loss.logits(z)[:, 3:], loss.logits(z2)[:, 3:])
    loss(z, labels).backward()
    grad = loss.head.weight.grad
    assert grad[:3, 4:].abs().sum() == 0 and grad[3:, :4].abs().sum() == 0
    assert grad[:3, :4].abs().sum() > 0


def test_normalised_classification_is_scale_invariant_plain_is_not():
    z, labels = _data(seed=2)
    torch.manual_seed(2)
    norm, plain = ClassificationLoss(T, D, normalize=True), ClassificationLoss(T, D)
    assert norm(3.0 * z, labels).item() == pytest.approx(norm(z, labels).item())
    assert plain(3.0 * z, labels).item() != pytest.approx(plain(z, labels).item())


@pytest.mark.parametrize("case", sorted(CASES))
def test_unlabelled_rows_contribute_nothing(case):
    torch.manual_seed(3)
    loss = CASES[case](None)
    z, labels = _data(seed=3)
    labelled = torch.tensor([True, False, True, True, False, True])
    base = loss(z, labels, labelled).item()
    z2, labels2 = z.clone(), labels.clone()
    z2[~labelled] = 100.0 * torch.randn(2, D, generator=gen(4), dtype=torch.float64)
    labels2[~labelled] = 0.0  # an untagged track's all-zero row
    z2.requires_grad_(True)
    out = loss(z2, labels2, labelled)
    assert out.item() == pytest.approx(base)
    out.backward()
    assert z2.grad[~labelled].abs().sum() == 0
    assert loss(z[labelled], labels[labelled]).item() == pytest.approx(base)


def test_no_labelled_row_is_graph_safe_zero():
    loss = ProxyLoss(T, D)
    z, labels = _data()
    z.requires_grad_(True)
    out = loss(z, labels, torch.zeros(6, dtype=torch.bool))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))
    assert loss.head.weight.grad is not None and loss.head.weight.grad.abs().sum() == 0


def test_multilabel_bce_pos_weight_by_hand():
    # one logit 0 (sigmoid 1/2), target 1, pos_weight 3: 3 * log 2; target-0 logit 0: log 2
    loss = MultiLabelBCELoss(pos_weight=torch.tensor([3.0, 1.0]))
    out = loss(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]))
    assert out.item() == pytest.approx((3 * math.log(2) + math.log(2)) / 2)


def test_gradients_finite():
    for case in CASES.values():
        loss = case(TAG_SLICES)
        z, labels = _data()
        z[0] = 0.0  # a zero embedding must not give NaN through the normalisation
        z.requires_grad_(True)
        loss(z, labels).backward()
        assert torch.isfinite(z.grad).all()
        assert torch.isfinite(loss.head.weight.grad).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tag_slices": [slice(0, 4)] * 4}, "entries"),
        ({"tag_slices": [slice(0, 5)] * 3 + [slice(4, 8)] * 2}, "overlap"),
        ({"tag_slices": [slice(0, 4)] * 3 + [slice(4, 9)] * 2}, "inside"),
        ({"temperature": 0.0}, "temperature"),
    ],
)
def test_head_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LossTagHead(D, T, **kwargs)


def test_head_input_errors():
    head = LossTagHead(D, T)
    with pytest.raises(ValueError, match="dim 8"):
        head(torch.randn(2, 7))
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        MultiLabelBCELoss()(torch.randn(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="bool"):
        MultiLabelBCELoss()(torch.randn(2, 3), torch.zeros(2, 3), torch.ones(2))
