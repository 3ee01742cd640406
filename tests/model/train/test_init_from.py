"""Fine-tuning a checkpoint on an owner's CSV with new tags: the encoder starts from the
checkpoint's weights, kept tags start from its head, new tags start fresh, the result
describes its new schema and evaluates; incompatible checkpoints are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from model.checkpoint import CheckpointError, load_checkpoint
from model.data.generic_csv import write_concepts, write_manifest
from model.losses import ProxyLoss, tag_slices
from model.train.builders import build_encoder, build_schema, config_from_dict
from model.train.init_from import check_compatible, init_encoder, init_loss_head, kept_tags
from service.cli import main
from support.audio import synth_music
from tests.model.train.conftest import tiny_dict
from tests.utils.models import tiny_checkpoint

SR = 16_000
# The checkpoint's concepts (tests/utils/models.py) in the same order, with new tags.
OWNER = {"genre": ["jazz", "rock", "surf"], "mood": ["happy", "sad"],
         "instrument": ["piano", "kazoo"], "era": ["modern"]}
ROWS = [("train", "jazz;happy;piano"), ("train", "rock;sad;kazoo;modern"),
        ("train", "surf;happy;kazoo"), ("train", "jazz;sad;piano;modern"),
        ("train", "rock;happy;piano"), ("train", "surf;sad;kazoo;modern"),
        ("val", "jazz;happy;piano"), ("val", "surf;sad;kazoo;modern"),
        ("test", "rock;happy;kazoo;modern"), ("test", "jazz;sad;piano"),
        ("test", "surf;happy;piano"), ("test", "rock;sad;kazoo")]


def owner_csv(root: Path) -> Path:
    (root / "audio").mkdir(parents=True)
    rows = []
    for k, (split, tags) in enumerate(ROWS):
        sf.write(root / "audio" / f"{k}.wav", synth_music(1.5, SR, seed=k), SR)
        rows.append({"path": f"audio/{k}.wav", "split": split, "tags": tags})
    write_manifest(root / "manifest.csv", rows)
    write_concepts(root / "concepts.json", OWNER)
    return root


def owner_dict(data: Path, **top: object) -> dict:
    d = tiny_dict(data, **{"epochs": 1, "batch_size": 4, "embedding_dim": 32, **top})
    d["encoder"] = {"clip_seconds": 1.0, "n_mels": 32, "channels": [8, 16, 32]}
    d["optim"] = {"lr": 1e-4}
    return d


def _body(encoder) -> dict[str, torch.Tensor]:
    return {k: v for k, v in encoder.state_dict().items() if not k.startswith("head.")}


def test_the_encoder_starts_from_the_checkpoint_and_new_tags_start_fresh(tmp_path):
    loaded = load_checkpoint(tiny_checkpoint(tmp_path / "ckpt.pt"))
    cfg = config_from_dict(owner_dict(tmp_path))
    schema = build_schema(cfg, OWNER)
    check_compatible(cfg, loaded, schema)
    encoder = build_encoder(cfg, schema)
    fresh = {k: v.clone() for k, v in encoder.state_dict().items()}
    report = init_encoder(encoder, loaded)
    assert report["kept_tags"] == ["jazz", "rock", "happy", "sad", "piano", "modern"]
    assert report["new_tags"] == ["surf", "kazoo"]
    for k, v in _body(loaded.encoder).items():
        assert torch.equal(encoder.state_dict()[k], v), k
    old, new = loaded.schema.tags.index("piano"), schema.tags.index("piano")
    for name in ("proxies", "scale", "bias"):
        kept = getattr(loaded.encoder.head, name)[old]
        assert torch.equal(getattr(encoder.head, name)[new], kept)
    surf = schema.tags.index("surf")
    assert torch.equal(encoder.head.proxies[surf], fresh["head.proxies"][surf])
    # the proxy loss's head starts at the kept proxies, in their facets
    loss = ProxyLoss(schema.num_tags, schema.dim, tag_slices=tag_slices(schema))
    assert init_loss_head(loss, encoder, report["kept_tags"]) == 6
    w = loss.head.effective_weight().detach()
    torch.testing.assert_close(w[new, 16:24], encoder.head.proxy_vectors()[new])
    assert torch.count_nonzero(w[new, :16]) == 0 and torch.count_nonzero(w[new, 24:]) == 0


def test_a_tag_whose_facet_moved_is_not_kept():
    from layout.schema import ConceptSchema

    old = ConceptSchema({"genre": ("jazz",), "mood": ("sad",)}, facet_dim=4)
    new = ConceptSchema({"mood": ("sad",), "genre": ("jazz", "surf")}, facet_dim=4)
    assert kept_tags(old, new) == {}
    assert kept_tags(old, old) == {"jazz": (0, 0), "sad": (1, 1)}


def test_fine_tune_one_epoch_on_an_owner_csv_from_the_cli(tmp_path, capsys):
    data = owner_csv(tmp_path / "owner")
    ckpt = tiny_checkpoint(tmp_path / "ckpt.pt", seed=7)  # not the run's own seeded init
    cfg = tmp_path / "fine.yaml"
    cfg.write_text(yaml.safe_dump(owner_dict(data, name="fine")))
    run = tmp_path / "run"
    assert main(["train", str(cfg), "--init-from", str(ckpt), "--run-dir", str(run),
                 "--quiet"]) == 0
    model = load_checkpoint(run / "model.pt")
    assert model.schema.concepts == {c: tuple(t) for c, t in OWNER.items()}
    training = model.info["training"]
    assert training["config"]["init_from"] == str(ckpt)
    assert "--init-from" in training["command"]
    assert training["init_from"]["new_tags"] == ["surf", "kazoo"]
    assert training["init_from"]["checkpoint"] == load_checkpoint(ckpt).version
    assert model.info["metrics"]["roc_auc"] > 0
    # one epoch at a small learning rate stays near the checkpoint, far from a fresh start
    start = _body(load_checkpoint(ckpt).encoder)
    fresh = _body(build_encoder(config_from_dict(owner_dict(data)), model.schema))
    done = _body(model.encoder)
    weights = [k for k in start if start[k].is_floating_point() and "bn" not in k
               and "norm" not in k]
    moved = sum(float((done[k] - start[k]).norm()) for k in weights)
    apart = sum(float((fresh[k] - start[k]).norm()) for k in weights)
    assert 0 < moved < 0.05 * apart
    capsys.readouterr()
    assert main(["evaluate", str(run / "model.pt"), "--data", str(data), "--triplets", "20",
                 "--quiet"]) == 0
    assert '"roc_auc"' in capsys.readouterr().out


@pytest.mark.parametrize(("cfg", "expected"), [
    ({"sample_rate": 22_050}, "encoder.sample_rate: config 16000, checkpoint 22050"),
    ({"n_mels": 40}, "encoder.n_mels: config 32, checkpoint 40"),
    ({"hop_length": 128, "clip_seconds": 2.0},
     "encoder.clip_seconds: config 1.0, checkpoint 2.0; encoder.hop_length: config 256, "
     "checkpoint 128"),
])
def test_an_incompatible_checkpoint_names_what_differs(tmp_path, capsys, cfg, expected):
    data = owner_csv(tmp_path / "owner")
    ckpt = tiny_checkpoint(tmp_path / "other.pt", **cfg)
    path = tmp_path / "fine.yaml"
    path.write_text(yaml.safe_dump(owner_dict(data)))
    assert main(["train", str(path), "--init-from", str(ckpt), "--run-dir",
                 str(tmp_path / "run"), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot fine-tune 'other.pt'" in err and expected in err


def test_other_refusals(tmp_path, capsys):
    loaded = load_checkpoint(tiny_checkpoint(tmp_path / "ckpt.pt"))
    cfg = config_from_dict(owner_dict(tmp_path, embedding_dim=16))
    with pytest.raises(CheckpointError, match="embedding_dim: config 16, checkpoint 32"):
        check_compatible(cfg, loaded, build_schema(cfg, OWNER))
    data = owner_csv(tmp_path / "owner")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    path = tmp_path / "fine.yaml"
    path.write_text(yaml.safe_dump(owner_dict(data)))
    for ckpt, message in ((tmp_path / "junk.pt", "junk.pt is not a readable checkpoint"),
                          (tmp_path / "absent.pt", "No such file")):
        assert main(["train", str(path), "--init-from", str(ckpt), "--run-dir",
                     str(tmp_path / "run"), "--quiet"]) == 1
        assert message in capsys.readouterr().err
