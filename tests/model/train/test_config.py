import pytest
import yaml

from model.config import ConfigError, EncoderConfig
from model.train.builders import (
    CONFIGS,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    merge,
    parse_override,
)
from model.train.config import LossConfig, SSLConfig, TrainConfig
from tests.model.train.conftest import tiny_dict


def test_defaults_round_trip_through_yaml():
    cfg = TrainConfig()
    text = dump_config(cfg)
    assert config_from_dict(yaml.safe_load(text)) == cfg
    assert dump_config(config_from_dict(yaml.safe_load(text))) == text


def test_every_field_round_trips(tmp_path):
    d = tiny_dict(loss={"method": "triplet", "track_reg": 0.5, "mining": "hard",
                        "ssl": {"method": "byol", "projector": [32, 8], "joint": False}},
                  pretrain_epochs=3, disentangled=False)
    cfg = config_from_dict(d)
    assert cfg.encoder == EncoderConfig(clip_seconds=1.0, n_mels=32, channels=(4, 8, 16))
    assert cfg.loss.ssl == SSLConfig(method="byol", projector=(32, 8), joint=False)
    assert cfg.loss.track_reg == 0.5 and cfg.pretrain_epochs == 3
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    again = load_config(path)
    assert again == cfg
    assert config_to_dict(again) == config_to_dict(cfg)
    assert config_to_dict(cfg)["loss"]["ssl"]["projector"] == [32, 8]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"epochz": 3}, "unknown key(s): epochz; valid: name, seed"),
        ({"loss": {"methd": "proxy"}}, "unknown key(s) in 'loss': methd"),
        ({"loss": {"ssl": {"tau": 0.1}}}, "unknown key(s) in 'loss.ssl': tau"),
        ({"encoder": {"n_mel": 64}}, "unknown key(s) in 'encoder': n_mel"),
        ({"epochs": "ten"}, "epochs='ten': expected an integer"),
        ({"epochs": 2.5}, "epochs=2.5: expected an integer"),
        ({"disentangled": "yes"}, "disentangled='yes': expected true or false"),
        ({"loss": {"method": "arcface"}}, "loss.method='arcface': valid: triplet, proxy"),
        ({"encoder": {"channels": 16}}, "encoder.channels: expected a list"),
        ({"data": None}, "data: expected a mapping"),
        ({"seed": None}, "seed: null is not allowed"),
    ],
)
def test_refuses_unknown_keys_and_bad_values(patch, message):
    with pytest.raises(ConfigError) as e:
        config_from_dict(merge(tiny_dict(), patch))
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"data": {"label_fraction": 0.0}}, "data.label_fraction=0.0"),
        ({"loss": {"method": "proxy", "track_reg": 0.5}}, "goes with method 'triplet'"),
        ({"loss": {"method": "none"}}, "'none' needs a self-supervised loss"),
        ({"pretrain_epochs": 2}, "pretraining needs a self-supervised loss"),
        ({"encoder": {"head": "linear"}}, "encoder.head='linear'"),
        ({"data": {"unlabelled": ["x"]}}, "unlabelled tracks train only a self-supervised"),
        ({"data": {"unlabelled_repeat": 0}}, "data.unlabelled_repeat=0"),
        ({"embedding_dim": 15}, None),
    ],
)
def test_validation(patch, message):
    if message is None:  # 15 does not split into 2 facets: refused when the schema is built
        cfg = config_from_dict(merge(tiny_dict(), patch))
        with pytest.raises(ConfigError, match="split evenly into 2"):
            cfg.facet_dim(2)
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config_from_dict(merge(tiny_dict(), patch))


def test_overrides():
    assert parse_override("loss.ssl.method=ntxent") == {"loss": {"ssl": {"method": "ntxent"}}}
    assert parse_override("encoder.channels=[8, 16]") == {"encoder": {"channels": [8, 16]}}
    assert parse_override("data.max_train_clips=null") == {"data": {"max_train_clips": None}}
    cfg = load_config(None, ["epochs=3", "loss.ssl.method=vicreg", "loss.ssl.alpha=2"],
                      base=tiny_dict())
    assert cfg.epochs == 3 and cfg.loss.ssl.method == "vicreg" and cfg.loss.ssl.weight == 2 / 22
    with pytest.raises(ConfigError, match="must look like key.sub=value"):
        parse_override("epochs")


def test_views_follow_the_objective():
    assert LossConfig().views == 1
    assert LossConfig(method="triplet", track_reg=0.5).views == 2
    assert LossConfig(ssl=SSLConfig(method="ntxent")).views == 2


def test_checked_in_configs_load():
    files = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "benchmark").glob("*.yaml"))
    assert files, "no configs found"
    budgets = sorted((CONFIGS / "budgets").glob("*.yaml"))
    for f in files:
        cfg = load_config(f)
        assert cfg.name
        for b in budgets:
            load_config(b, base=yaml.safe_load(f.read_text()))
