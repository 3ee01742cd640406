import pytest
import torch

from model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tests.utils.models import tiny_checkpoint, tiny_encoder


def test_round_trip_is_exact(tmp_path):
    path = tiny_checkpoint(tmp_path / "m.pt", seed=5)
    loaded = load_checkpoint(path)
    ref = tiny_encoder(seed=5)
    wave = 0.1 * torch.randn(2, 16_000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = ref(wave), loaded.encoder(wave)
    torch.testing.assert_close(a.embedding, b.embedding, rtol=0, atol=0)
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
    assert loaded.schema == ref.schema and loaded.config == ref.cfg
    assert loaded.info["metrics"] == {"note": "random"}
    assert loaded.version == f"tiny-{loaded.sha256[:12]}"
    assert not loaded.encoder.training


def test_save_leaves_no_temp_files(tmp_path):
    tiny_checkpoint(tmp_path / "m.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_rejects_other_files(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt is not a readable checkpoint"):
        load_checkpoint(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a musicprism checkpoint"):
        load_checkpoint(other)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_strict_loading_refuses_mismatched_weights(tmp_path):
    path = tiny_checkpoint(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"].pop("project.bias")
    torch.save(payload, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        load_checkpoint(path)


def test_version_mismatch(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", tiny_encoder(), name="x")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(path)
