import copy
import dataclasses

import numpy as np
import pytest
import soundfile as sf
import torch

from model.audio_errors import SilentAudio
from model.config import ConfigError
from model.data.base import MusicDataset
from model.data.generic_csv import load_manifest, write_manifest
from model.train.builders import build_encoder, build_schema, config_from_dict
from model.train.data import load_splits
from model.train.features import ClipWindows, LogMelCache, window_frames
from model.train.loop import Trainer
from model.train.objectives import SSLObjective, SupervisedObjective
from model.train.run import make_caches
from support.audio import synth_music
from tests.model.train.conftest import CONCEPTS, SR, tiny_config, tiny_dict

SUPERVISED = {
    "triplet": {"method": "triplet"},
    "triplet-random": {"method": "triplet", "mining": "random"},
    "triplet-track-reg": {"method": "triplet", "track_reg": 0.5},
    "proxy": {"method": "proxy"},
    "classification-plain": {"method": "classification", "normalize": False},
    "classification-norm": {"method": "classification", "normalize": True},
    "distillation": {"method": "distillation"},
}
SSL = ["ntxent", "byol", "vicreg", "barlow_twins", "dino"]


@pytest.fixture(scope="module")
def clips(tiny_data):
    cfg = tiny_config(tiny_data)
    ds = load_manifest(tiny_data).split("train")
    cache = LogMelCache(ds, cfg.encoder, 10**8)
    cache.fill()
    return ClipWindows(cache, window_frames(cfg.encoder), seed=0)


def _trainer(cfg, clips, tmp_path):
    schema = build_schema(cfg, CONCEPTS)
    enc = build_encoder(cfg, schema)
    gen = torch.Generator().manual_seed(0)
    sup = SupervisedObjective(cfg.loss, schema, gen) if cfg.loss.method != "none" else None
    steps = clips.num_batches(cfg.batch_size)
    ssl = SSLObjective(cfg.loss.ssl, enc, 4 * steps, steps) if cfg.loss.ssl.enabled else None
    return Trainer(cfg, enc, sup, ssl, clips, None, gen, tmp_path, torch.device("cpu"))


def _fixed_batch_losses(trainer, steps=8):
    """Losses of repeated steps on one fixed batch (the same crops every time)."""
    views = trainer.views("train")
    batch = next(trainer.train_data.batches(0, 8, views))
    trainer.encoder.train()
    trainer.objective.train()
    out = []
    for _ in range(steps):
        trainer.generator.manual_seed(0)
        loss, _ = trainer.batch_loss(batch, "train", None)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        out.append(float(loss.detach()))
    return out


@pytest.mark.parametrize("disentangled", [True, False])
@pytest.mark.parametrize("name", list(SUPERVISED))
def test_supervised_methods_learn(name, disentangled, clips, tmp_path):
    cfg = tiny_config(loss=SUPERVISED[name], disentangled=disentangled,
                      optim={"lr": 0.01, "grad_clip": 0.0})
    tr = _trainer(cfg, clips, tmp_path)
    before = copy.deepcopy(tr.encoder.state_dict())
    losses = _fixed_batch_losses(tr)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0], losses
    changed = [k for k, v in tr.encoder.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("blocks.0.conv") for k in changed)
    assert not any(k.startswith("head.") for k in changed)  # the shipped head is set later


@pytest.mark.parametrize("ssl", SSL)
def test_ssl_auxiliaries_train(ssl, clips, tmp_path):
    cfg = tiny_config(loss={"method": "proxy", "ssl": {"method": ssl, "projector": [16, 8],
                                                       "out_dim": 32}},
                      optim={"lr": 0.01})
    tr = _trainer(cfg, clips, tmp_path)
    assert tr.views("train") == 2
    before = copy.deepcopy(tr.objective.state_dict())
    stats = tr.train_epoch(0)
    assert set(stats) == {"loss", "supervised", "ssl"}
    assert all(torch.isfinite(torch.tensor(list(stats.values()))))
    after = tr.objective.state_dict()
    first = next(k for k in after if k.startswith("ssl.projector.") and k.endswith("weight"))
    assert not torch.equal(after[first], before[first])
    if ssl in ("byol", "dino"):  # the EMA target moved towards the online encoder
        k = "ssl.target.encoder.blocks.0.conv.weight"
        assert not torch.equal(after[k], before[k])
        online = tr.encoder.state_dict()["blocks.0.conv.weight"]
        assert (after[k] - online).abs().sum() < (before[k] - online).abs().sum()


def test_ssl_only_and_pretraining_stage(clips, tmp_path):
    cfg = tiny_config(loss={"method": "none", "ssl": {"method": "ntxent",
                                                      "projector": [16, 8]}})
    tr = _trainer(cfg, clips, tmp_path)
    assert tr.supervised is None
    assert set(tr.train_epoch(0)) == {"loss", "ssl"}
    cfg = tiny_config(pretrain_epochs=1, loss={"method": "proxy", "ssl": {
        "method": "vicreg", "projector": [16, 8], "joint": False}})
    tr = _trainer(cfg, clips, tmp_path)
    assert tr.stage(0) == "pretrain" and tr.stage(1) == "train"
    assert tr.views("pretrain") == 2 and tr.views("train") == 1  # no SSL after pretraining
    assert set(tr.train_epoch(0)) == {"loss", "ssl"}
    assert set(tr.train_epoch(1)) == {"loss", "supervised"}


@pytest.mark.parametrize("name", ["triplet", "triplet-track-reg", "proxy",
                                  "classification-norm", "distillation"])
def test_unlabelled_rows_get_no_supervised_gradient(name):
    cfg = tiny_config(loss=SUPERVISED[name])
    schema = build_schema(cfg, CONCEPTS)
    obj = SupervisedObjective(cfg.loss, schema, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    tags = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 1], [1, 0, 0, 0, 1], [0, 1, 0, 1, 0],
                         [0, 0, 1, 1, 0], [0, 0, 1, 0, 1]], dtype=torch.float32)
    labelled = torch.tensor([True, True, True, False, True, False])
    groups = torch.arange(6)
    z = torch.randn(12, 16, generator=g, requires_grad=True)  # two views
    loss = obj(z, tags, labelled, groups)
    loss.backward()
    grad_rows = z.grad.abs().sum(dim=1).reshape(2, 6)
    if name == "triplet-track-reg":  # track triplets use every window, labelled or not
        assert loss > 0
        return
    assert torch.all(grad_rows[:, ~labelled] == 0)
    assert torch.all(grad_rows[:, labelled].sum(dim=0) > 0)
    if name in ("proxy", "classification-norm", "distillation"):  # = labelled rows alone
        keep = labelled.repeat(2)
        ref = obj.loss(z[keep], tags.repeat(2, 1)[keep])
        torch.testing.assert_close(loss, ref)


def _with_data(root, **data):
    d = tiny_dict(root)
    d["data"].update(data)
    return config_from_dict(d)


def test_partial_labels_reach_the_training_clips(tiny_data):
    cfg = _with_data(tiny_data, label_fraction=0.25, label_seed=3)
    splits = load_splits(cfg)
    labelled_tracks = {t.track_id for t in splits.train if t.labelled}
    assert len(labelled_tracks) == 2  # ceil(0.25 * 8)
    for t in splits.train:  # both clips of a track share its fate
        assert t.labelled == (t.track_id in labelled_tracks)
        assert (t.tags == ()) == (not t.labelled)
    again = load_splits(cfg)
    assert {t.track_id for t in again.train if t.labelled} == labelled_tracks
    other = load_splits(_with_data(tiny_data, label_fraction=0.25, label_seed=4))
    assert {t.track_id for t in other.train if t.labelled} != labelled_tracks
    assert all(t.labelled for t in splits.val) and len(other.train) == 16


def test_unlabelled_datasets_join_the_training_split_only(tiny_data, tmp_path):
    extra = tmp_path / "recordings"
    (extra / "audio").mkdir(parents=True)
    rows = []
    for k in range(3):  # long, untagged recordings, some carrying tags the schema lacks
        sf.write(extra / f"audio/r{k}.wav", synth_music(7.0, SR, seed=100 + k), SR)
        rows.append({"path": f"audio/r{k}.wav", "track_id": f"r{k}",
                     "tags": "chiptune" if k == 0 else ""})
    write_manifest(extra / "manifest.csv", rows)
    d = tiny_dict(tiny_data, loss={"method": "proxy", "ssl": {"method": "ntxent"}})
    d["data"].update(unlabelled=[str(extra)], unlabelled_repeat=2)
    splits = load_splits(config_from_dict(d))
    added = [t for t in splits.train if t.track_id.startswith("recordings:")]
    assert sorted(t.uid for t in added) == [f"recordings:audio/r{k}.wav#{r}"
                                            for k in range(3) for r in range(2)]
    assert all(not t.labelled and t.tags == () and t.split == "train" for t in added)
    assert len(splits.train) == 16 + 6 and len(splits.val) == 6 and len(splits.test) == 8
    cfg = config_from_dict(d)
    train, _ = make_caches(splits, cfg, progress=False)
    assert int(train.labelled.sum()) == 16 and len(train) == 22
    x = train.cache.get(len(splits.train) - 1)  # the whole 7 s recording, not one 1 s window
    assert x.shape[1] >= 6 * window_frames(cfg.encoder)
    with pytest.raises(ConfigError, match="self-supervised"):
        config_from_dict({**d, "loss": {"method": "proxy"}})


def test_silent_unlabelled_recordings_are_skipped_labelled_ones_raise(tiny_data, tmp_path):
    extra = tmp_path / "recordings"
    (extra / "audio").mkdir(parents=True)
    sf.write(extra / "audio/tune.wav", synth_music(4.0, SR, seed=7), SR)
    sf.write(extra / "audio/silence.wav", np.zeros(4 * SR, np.float32), SR)
    write_manifest(extra / "manifest.csv", [{"path": "audio/tune.wav", "track_id": "tune"},
                                            {"path": "audio/silence.wav", "track_id": "quiet"}])
    d = tiny_dict(tiny_data, loss={"method": "proxy", "ssl": {"method": "ntxent"}})
    d["data"].update(unlabelled=[str(extra)])
    cfg = config_from_dict(d)
    splits = load_splits(cfg)
    assert len(splits.train) == 18
    train, _ = make_caches(splits, cfg, progress=False)
    uids = [t.uid for t in train.cache.dataset]
    assert len(train) == 17 and "recordings:audio/tune.wav#0" in uids
    assert "recordings:audio/silence.wav#0" not in uids
    assert train.labelled.tolist() == [t.labelled for t in train.cache.dataset]
    labelled_silence = LogMelCache(
        MusicDataset([dataclasses.replace(splits.train[17], labelled=True)], splits.schema),
        cfg.encoder)
    with pytest.raises(SilentAudio):
        labelled_silence.fill(skip_unlabelled_errors=True)


def test_track_subsets_keep_whole_tracks(tiny_data):
    cfg = _with_data(tiny_data, max_train_clips=7)
    splits = load_splits(cfg)
    ids = [t.track_id for t in splits.train]
    assert len(ids) == 6 and all(ids.count(i) == 2 for i in ids)
    assert ids == [t.track_id for t in load_splits(cfg).train]
