import pytest
import torch

from model.checkpoint import load_checkpoint
from model.train.builders import build_encoder, config_from_dict
from model.train.data import load_splits
from model.train.loop import LAST, Plateau, Trainer
from model.train.objectives import SupervisedObjective
from model.train.run import make_caches, train
from tests.model.train.conftest import tiny_dict


def test_plateau_follows_lee_et_al():
    p = Plateau()
    seq = [p.update(v, patience=2, max_reductions=1) for v in [5, 4, 4.5, 4.2, 3.9, 4, 4, 4]]
    # the second plateau, after the one allowed reduction, stops the run
    assert seq == ["improved", "improved", "wait", "reduce", "improved", "wait", "stop", "stop"]
    assert p.reductions == 1 and p.best == 3.9


def _cfg(data, **top):
    d = tiny_dict(data, epochs=3, **top)
    d["loss"] = {"method": "triplet", "ssl": {"method": "byol", "projector": [16, 8]}}
    d["augment"] = {"finetune": True}
    return config_from_dict(d)


@pytest.mark.slow
def test_resume_gives_the_uninterrupted_run(tiny_data, tmp_path):
    cfg = _cfg(tiny_data)
    full = train(cfg, tmp_path / "full", evaluate=False)
    part = train(cfg, tmp_path / "part", evaluate=False, stop_after=1)
    assert not part.checkpoint.exists() and (tmp_path / "part" / LAST).is_file()
    assert part.training["epochs_run"] == 1
    resumed = train(cfg, tmp_path / "part", evaluate=False)
    a, b = load_checkpoint(full.checkpoint), load_checkpoint(resumed.checkpoint)
    sa, sb = a.encoder.state_dict(), b.encoder.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    keys = ("train_loss", "train_supervised", "train_ssl", "val_loss")
    for ha, hb in zip(full.training["history"], resumed.training["history"], strict=True):
        assert [ha[k] for k in keys] == [hb[k] for k in keys]
    other = train(_cfg(tiny_data, seed=1), tmp_path / "seed1", evaluate=False)
    assert other.training["history"][0]["train_loss"] != full.training["history"][0][
        "train_loss"]


def test_plateau_reduces_the_rate_stops_and_restores_the_best(tiny_data, tmp_path):
    d = tiny_dict(tiny_data, epochs=8)
    d["optim"] = {"lr": 0.01, "lr_factor": 0.5, "lr_patience": 1, "max_lr_reductions": 1}
    cfg = config_from_dict(d)
    splits = load_splits(cfg)
    train_clips, val_clips = make_caches(splits, cfg, progress=False)
    enc = build_encoder(cfg, splits.schema)
    gen = torch.Generator()
    tr = Trainer(cfg, enc, SupervisedObjective(cfg.loss, splits.schema, gen), None,
                 train_clips, val_clips, gen, tmp_path, torch.device("cpu"))
    values = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    seen = {}

    def scripted_validation(epoch):  # the loop's decisions, on a known sequence
        seen[epoch] = {k: v.clone() for k, v in enc.state_dict().items()}
        return next(values)

    tr.validate = scripted_validation
    state = tr.fit()
    assert [h["lr"] for h in state.history] == [0.01, 0.01, 0.01, 0.005]
    assert state.epoch == 4 and state.stopped and state.best_epoch == 1
    assert tr.restore_best() == 1
    for k, v in enc.state_dict().items():
        assert torch.equal(v, seen[1][k]), k
