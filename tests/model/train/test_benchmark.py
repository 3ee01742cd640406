import pytest

from model.train.benchmark import (
    END,
    START,
    load_variants,
    report,
    variant_config,
    write_doc,
)
from model.train.builders import CONFIGS
from tests.model.train.conftest import tiny_dict


def test_budget_overrides_variants_and_keeps_the_pretraining_share():
    variant = tiny_dict(pretrain_epochs=10, epochs=30,
                        loss={"method": "proxy", "ssl": {"method": "ntxent"}})
    cfg = variant_config(variant, {"epochs": 8, "batch_size": 4, "data": {"cache_mb": 8}})
    assert (cfg.pretrain_epochs, cfg.epochs) == (2, 6)  # 8 in total, a quarter pretraining
    assert cfg.batch_size == 4 and cfg.data.cache_mb == 8 and cfg.name == "tiny"
    plain = variant_config(tiny_dict(epochs=30), {"epochs": 8})
    assert (plain.pretrain_epochs, plain.epochs) == (0, 8)
    with pytest.raises(ValueError, match="must not set 'name'"):
        variant_config(variant, {"name": "x"})


def test_checked_in_variants_are_distinct_and_cover_the_table():
    budget = {"epochs": 5}
    cfgs = load_variants(CONFIGS / "benchmark", budget)
    names = [c.name for c in cfgs]
    for required in ("triplet", "triplet-disentangled", "triplet-disentangled-track-reg",
                     "proxy", "proxy-disentangled", "classification-plain",
                     "classification-norm", "classification-norm-disentangled"):
        assert required in names
    assert all(c.pretrain_epochs + c.epochs == 5 for c in cfgs)
    with pytest.raises(KeyError, match="unknown variant"):
        load_variants(CONFIGS / "benchmark", budget, only=["nope"])


def test_report_and_doc_markers(tmp_path):
    results = {
        "classification-plain": {"metrics": {"roc_auc": 0.8, "R@1": 40.0},
                                 "training": {"seconds_per_epoch": 10.0, "epochs_run": 5}},
        "proxy": {"metrics": {"roc_auc": 0.85, "triplet_sub.genre": 0.7},
                  "training": {"seconds_per_epoch": 12.0, "epochs_run": 4}},
    }
    text = report(results, "epochs: 5\n", "musicprism benchmark", ["genre"],
                  timing={"classification-plain": 2.0, "proxy": 3.0}, timing_clips=100)
    rows = [ln for ln in text.splitlines() if ln.startswith("| proxy |")]
    # s/epoch from the run, the time ratio from the back-to-back timing
    assert "| 12.0 | 1.50 | 4 |" in rows[0] and "0.850" in rows[0]
    assert "0.700" in rows[1]  # the per-concept table
    doc = tmp_path / "benchmark.md"
    doc.write_text(f"# B\n\nintro\n\n{START}\nold\n{END}\n\n## Analysis\nkept\n")
    write_doc(doc, "new table")
    out = doc.read_text()
    assert out == f"# B\n\nintro\n\n{START}\nnew table\n{END}\n\n## Analysis\nkept\n"
    fresh = tmp_path / "other.md"
    write_doc(fresh, "t")
    assert fresh.read_text() == f"# Benchmark\n\n{START}\nt\n{END}\n"
