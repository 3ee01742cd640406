import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from layout.schema import ConceptSchema
from layout.tags import tag_cosines
from model.config import EncoderConfig
from model.encoder import Encoder
from model.losses import ClassificationLoss, ProxyLoss, tag_slices
from model.train.tag_head import calibrate, copy_loss_head, fit_proxies, set_cosine_head

CONCEPTS = {"genre": ("jazz", "rock", "folk"), "mood": ("happy", "sad")}
CFG = EncoderConfig(clip_seconds=1.0, n_mels=32, channels=(4, 8, 16))


def _schema(disentangled: bool) -> ConceptSchema:
    return ConceptSchema(CONCEPTS, facet_dim=4 if disentangled else 8, disentangled=disentangled)


@pytest.mark.parametrize("disentangled", [True, False])
@pytest.mark.parametrize("kind", ["proxy", "classification"])
def test_copied_head_reproduces_the_loss_logits(kind, disentangled):
    torch.manual_seed(0)
    schema = _schema(disentangled)
    slices = tag_slices(schema)
    if kind == "proxy":
        loss = ProxyLoss(5, 8, temperature=0.05, tag_slices=slices)
    else:
        loss = ClassificationLoss(5, 8, normalize=True, temperature=0.07, tag_slices=slices)
        with torch.no_grad():
            loss.head.bias.uniform_(-1, 1)
    with torch.no_grad():
        loss.head.weight.mul_(torch.linspace(0.5, 3.0, 8))  # rows of different norms
    enc = Encoder(CFG, schema)
    copy_loss_head(loss, enc)
    z = torch.randn(6, 8)
    with torch.no_grad():
        torch.testing.assert_close(enc.head(z), loss.logits(z), rtol=1e-5, atol=1e-5)
        assert torch.allclose(enc.head.proxies.norm(dim=1), torch.ones(5))


def test_unnormalised_classification_cannot_be_copied():
    schema = _schema(False)
    with pytest.raises(TypeError, match="not a cosine head"):
        copy_loss_head(ClassificationLoss(5, 8, normalize=False), Encoder(CFG, schema))


def test_fitted_proxies_are_normalised_class_means_of_unit_facets():
    schema = _schema(True)
    rng = np.random.default_rng(0)
    v = rng.normal(size=(6, 8))
    y = np.zeros((6, 5))
    y[[0, 1, 4], 0] = 1  # jazz
    y[[2], 1] = 1  # rock: a single track
    y[[0, 3, 5], 3] = 1  # happy
    y[[1, 2], 4] = 1  # sad; folk (column 2) has no track
    p = fit_proxies(v, y, schema)

    def unit(x):
        return x / np.linalg.norm(x)

    genre = [unit(r[:4]) for r in v]
    mood = [unit(r[4:]) for r in v]
    np.testing.assert_allclose(p[0], unit(genre[0] + genre[1] + genre[4]), rtol=1e-6)
    np.testing.assert_allclose(p[1], genre[2], rtol=1e-6)
    np.testing.assert_array_equal(p[2], np.zeros(4))
    np.testing.assert_allclose(p[3], unit(mood[0] + mood[3] + mood[5]), rtol=1e-6)
    np.testing.assert_allclose(p[4], unit(mood[1] + mood[2]), rtol=1e-6)
    cos = tag_cosines(v, p, schema)
    np.testing.assert_allclose(cos[3, 3], mood[3] @ p[3], rtol=1e-6)
    np.testing.assert_allclose(cos[2, 1], 1.0, rtol=1e-6)


def test_fitted_proxies_without_disentanglement_use_the_whole_vector():
    schema = _schema(False)
    v = np.array([[3.0, 4, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 2]])
    y = np.array([[1, 0, 0, 1, 0], [1, 0, 0, 0, 1]])
    p = fit_proxies(v, y, schema)
    np.testing.assert_allclose(p[0], np.array([0.6, 0.8, 0, 0, 0, 0, 0, 1]) / np.sqrt(2),
                               rtol=1e-6)
    np.testing.assert_allclose(p[3], [0.6, 0.8, 0, 0, 0, 0, 0, 0], rtol=1e-6)


def test_calibration_is_logistic_regression_on_val_with_train_fallback():
    rng = np.random.default_rng(1)
    cos_val = rng.uniform(-1, 1, size=(30, 3))
    y_val = np.zeros((30, 3))
    y_val[:, 0] = cos_val[:, 0] + 0.3 * rng.normal(size=30) > 0.2
    # tag 1: no positive in val -> train; tag 2: neither split has both classes -> none
    cos_tr = rng.uniform(-1, 1, size=(40, 3))
    y_tr = np.zeros((40, 3))
    y_tr[:, 1] = cos_tr[:, 1] > 0
    cal = calibrate(cos_val, y_val, cos_tr, y_tr)
    assert cal.source == ("val", "train", "none")
    ref = LogisticRegression(C=1.0).fit(cos_val[:, :1], y_val[:, 0])
    np.testing.assert_allclose([cal.scale[0], cal.bias[0]],
                               [ref.coef_[0, 0], ref.intercept_[0]], rtol=1e-5)
    ref = LogisticRegression(C=1.0).fit(cos_tr[:, 1:2], y_tr[:, 1])
    np.testing.assert_allclose(cal.scale[1], ref.coef_[0, 0], rtol=1e-5)
    assert cal.scale[0] > 0 and cal.scale[1] > 0
    assert (cal.scale[2], cal.bias[2]) == (1.0, 0.0)


def test_set_cosine_head_serves_the_calibrated_probabilities():
    schema = _schema(True)
    enc = Encoder(CFG, schema)
    rng = np.random.default_rng(2)
    proxies = rng.normal(size=(5, 4))
    proxies /= np.linalg.norm(proxies, axis=1, keepdims=True)
    cal = calibrate(rng.uniform(size=(8, 5)), rng.integers(0, 2, size=(8, 5)),
                    rng.uniform(size=(8, 5)), rng.integers(0, 2, size=(8, 5)))
    set_cosine_head(enc, proxies.astype(np.float32), cal)
    z = rng.normal(size=(3, 8)).astype(np.float32)
    expect = tag_cosines(z, proxies, schema) * cal.scale + cal.bias
    with torch.no_grad():
        got = enc.head(torch.from_numpy(z)).numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(enc.head.proxy_vectors().numpy(), proxies, rtol=1e-6)
