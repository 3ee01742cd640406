"""The one list of training losses: every method builds, configs accept exactly its names,
and the objectives build from it."""

import pytest
import torch

from layout.schema import ConceptSchema
from model.losses import (
    LOSSES,
    ClassificationLoss,
    PerConcept,
    ProxyLoss,
    TrackRegularized,
    concept_columns,
    concept_slices,
    loss_method,
    methods,
    tag_slices,
)
from model.train.config import METHODS, SSL_METHODS, ConfigError, LossConfig, SSLConfig

SCHEMA = {"genre": ("rock", "jazz", "pop"), "mood": ("sad", "happy")}
COLUMNS = {"genre": [0, 1, 2], "mood": [3, 4]}


def test_configs_accept_exactly_the_registered_methods():
    assert METHODS == ("triplet", "proxy", "classification", "distillation", "none")
    assert SSL_METHODS == ("none", "ntxent", "byol", "vicreg", "barlow_twins", "dino")
    assert set(METHODS) | set(SSL_METHODS) == set(LOSSES) | {"none"}
    with pytest.raises(ConfigError, match="loss.method='softmax': valid: triplet, proxy"):
        LossConfig(method="softmax")
    with pytest.raises(ConfigError, match="loss.ssl.method='simclr': valid: none, ntxent"):
        SSLConfig(method="simclr")


@pytest.mark.parametrize("name", methods("supervised"))
def test_every_supervised_method_builds_from_its_config(name):
    schema = ConceptSchema(SCHEMA, facet_dim=4)
    loss = loss_method(name, "supervised").build(LossConfig(method=name), schema, None)
    assert isinstance(loss, torch.nn.Module)
    z, tags = torch.randn(6, schema.dim), torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1]] * 3)
    assert torch.isfinite(loss(z, tags.float(), torch.ones(6, dtype=torch.bool)))


@pytest.mark.parametrize("name", methods("self-supervised"))
def test_every_self_supervised_method_builds_from_its_config(name):
    method = loss_method(name, "self-supervised")
    loss = method.build(SSLConfig(method=name, out_dim=16))
    assert isinstance(loss, torch.nn.Module)
    assert method.ema_target == (name in ("byol", "dino"))
    assert method.predictor == (name == "byol") and method.prototypes == (name == "dino")


def test_builders_pass_the_settings():
    schema = ConceptSchema(SCHEMA, facet_dim=4)
    proxy = loss_method("proxy", "supervised").build(LossConfig(temperature=0.1), schema, None)
    assert isinstance(proxy, ProxyLoss) and proxy.head.temperature == 0.1
    plain = loss_method("classification", "supervised").build(
        LossConfig(method="classification", normalize=False, temperature=0.1), schema, None)
    assert isinstance(plain, ClassificationLoss) and plain.head.temperature == 1.0
    triplet = loss_method("triplet", "supervised")
    assert isinstance(triplet.build(LossConfig(method="triplet"), schema, None), PerConcept)
    reg = triplet.build(LossConfig(method="triplet", track_reg=0.25), schema, None)
    assert isinstance(reg, TrackRegularized) and reg.weight == 0.25
    assert loss_method("ntxent", "self-supervised").build(SSLConfig(temperature=0.1)
                                                          ).temperature == 0.1


def test_unknown_or_wrong_kind_lists_the_valid_names():
    with pytest.raises(KeyError, match="unknown supervised loss 'ntxent'; valid: triplet, proxy"):
        loss_method("ntxent", "supervised")
    with pytest.raises(KeyError, match="unknown self-supervised loss 'x'; valid: ntxent, byol"):
        loss_method("x", "self-supervised")


def test_layout_from_disentangled_schema():
    schema = ConceptSchema(SCHEMA, facet_dim=4)
    assert concept_columns(schema) == COLUMNS
    assert concept_slices(schema) == {"genre": slice(0, 4), "mood": slice(4, 8)}
    assert tag_slices(schema) == [slice(0, 4)] * 3 + [slice(4, 8)] * 2
    loss = ProxyLoss(schema.num_tags, schema.dim, tag_slices=tag_slices(schema))
    assert loss.proxies[:3, 4:].abs().sum() == 0


def test_layout_from_plain_schema():
    schema = ConceptSchema(SCHEMA, facet_dim=8, disentangled=False)
    assert concept_columns(schema) == COLUMNS
    assert concept_slices(schema) is None and tag_slices(schema) is None
