import json

import numpy as np
import pytest
import torch
import yaml

from model.audio import decode
from model.checkpoint import load_checkpoint
from model.embed import Embedder
from model.train.benchmark import END, START
from service.cli import main
from tests.model.train.conftest import tiny_dict


def _write(path, d):
    path.write_text(yaml.safe_dump(d))
    return path


@pytest.mark.slow
def test_train_evaluate_load_and_serve_tags(tiny_data, tmp_path, capsys):
    d = tiny_dict(tiny_data, epochs=2)
    d["loss"] = {"method": "triplet"}  # no learned head: the shipped one is fitted
    cfg = _write(tmp_path / "tiny.yaml", d)
    ship = tmp_path / "weights" / "tiny.pt"
    assert main(["train", str(cfg), "--run-dir", str(tmp_path / "run"), "--ship", str(ship),
                 "--quiet", "--set", "name=e2e"]) == 0
    assert "seconds per epoch" in capsys.readouterr().out
    model = load_checkpoint(ship)
    info = model.info
    assert model.name == "e2e" and info["training"]["tag_head"] == "fitted"
    assert info["training"]["command"].startswith("musicprism train ")
    assert info["training"]["config"]["loss"]["method"] == "triplet"
    assert info["training"]["epochs_run"] == 2 and info["training"]["seconds_per_epoch"] > 0
    stored = info["metrics"]
    assert {"roc_auc", "R@1", "triplet_sub", "same_track_r1"} <= set(stored)

    out = tmp_path / "eval.json"
    assert main(["evaluate", str(ship), "--data", str(tiny_data), "--out", str(out),
                 "--triplets", "50", "--quiet"]) == 0
    res = json.loads(out.read_text())
    for k, v in stored.items():  # the checkpoint's metrics are what `evaluate` computes
        assert res[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k
    assert res["train_seconds"] == info["training"]["train_seconds"]

    proxies = model.encoder.head.proxy_vectors()
    assert proxies.shape == (5, 8)  # 5 tags, facet_dim 16 / 2 concepts
    torch.testing.assert_close(proxies.norm(dim=1), torch.ones(5))
    clip = decode(tiny_data / "audio" / "s0-0.wav", sample_rate=16_000).samples
    emb = Embedder(model).embed(clip)
    assert emb.tag_probs.shape == (5,) and np.all((emb.tag_probs > 0) & (emb.tag_probs < 1))


@pytest.mark.slow
def test_benchmark_command_on_tiny_variants(tiny_data, tmp_path):
    variants = tmp_path / "variants"
    variants.mkdir()
    _write(variants / "a.yaml", {**tiny_dict(), "name": "classification-plain",
                                 "loss": {"method": "classification", "normalize": False},
                                 "disentangled": False})
    _write(variants / "b.yaml", {**tiny_dict(), "name": "proxy-ntxent", "pretrain_epochs": 1,
                                 "epochs": 1, "loss": {"method": "proxy", "ssl": {
                                     "method": "ntxent", "projector": [16, 8],
                                     "joint": False}}})
    budget = _write(tmp_path / "budget.yaml", {"epochs": 2, "eval_triplets": 50,
                                               "data": {"path": str(tiny_data)}})
    doc = tmp_path / "bench.md"
    argv = ["benchmark", "--budget", str(budget), "--variants", str(variants), "--out",
            str(tmp_path / "out"), "--doc", str(doc), "--quiet"]
    assert main(argv) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert list(results) == ["classification-plain", "proxy-ntxent", "mfcc-chroma"]
    assert results["proxy-ntxent"]["training"]["tag_head"] == "copied"
    assert [h["stage"] for h in results["proxy-ntxent"]["training"]["history"]] == [
        "pretrain", "train"]
    text = doc.read_text()
    assert START in text and END in text and "| mfcc-chroma |" in text
    timing = json.loads((tmp_path / "out" / "timing.json").read_text())
    assert set(timing["seconds"]) == {"classification-plain", "proxy-ntxent"}
    row = next(ln for ln in text.splitlines() if ln.startswith("| classification-plain |"))
    assert "| 1.00 |" in row
    mtime = (tmp_path / "out" / "proxy-ntxent" / "model.pt").stat().st_mtime
    assert main(argv) == 0  # finished variants are reused, not trained again
    assert (tmp_path / "out" / "proxy-ntxent" / "model.pt").stat().st_mtime == mtime


def test_cli_reports_config_errors(tmp_path, capsys):
    bad = _write(tmp_path / "bad.yaml", {"epochz": 3})
    assert main(["train", str(bad)]) == 1
    assert "unknown key(s): epochz" in capsys.readouterr().err
    assert main(["benchmark", "--budget", "nope"]) == 1
    assert ("no budget 'nope'; valid: bench, bench-seed1, bench-seed2, ci or a YAML file"
            in capsys.readouterr().err)
