"""``musicprism plot``: training curves, facet maps and the benchmark, written as files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.checkpoint import SHIPPED_MODEL
from service.cli import main
from tests.service.conftest import Catalogue
from tests.utils.models import tiny_checkpoint

PNG = b"\x89PNG\r\n\x1a\n"


def test_plot_training_of_the_shipped_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "training.svg"
    assert main(["plot", "training", str(SHIPPED_MODEL), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    text = out.read_text()
    assert text.startswith("<?xml") and "<svg" in text


def test_plot_training_without_a_history_says_so(tmp_path: Path, capsys) -> None:
    ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    assert main(["plot", "training", str(ckpt), "--out", str(tmp_path / "t.png")]) == 1
    assert capsys.readouterr().err == (
        "musicprism: this checkpoint stores no per-epoch training history\n")
    assert not (tmp_path / "t.png").exists()


def test_plot_benchmark_from_the_docs_and_from_results_json(tmp_path: Path) -> None:
    assert main(["plot", "benchmark", "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").read_bytes().startswith(PNG)
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"proxy": {"metrics": {"roc_auc": 0.9, "pr_auc": 0.6}}}))
    out = tmp_path / "r.png"
    assert main(["plot", "benchmark", "--results", str(results), "--out", str(out)]) == 0
    assert out.read_bytes().startswith(PNG)


def test_an_unknown_format_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["plot", "benchmark", "--out", str(tmp_path / "b.gif")]) == 1
    assert capsys.readouterr().err == (
        "musicprism: cannot write b.gif: use one of .pdf, .png, .svg\n")


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_plot_facets_of_a_catalogue(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, method: str, capsys
) -> None:
    s = catalogue.settings
    monkeypatch.setenv("DATABASE_URL", s.resolved_database_url)
    monkeypatch.setenv("MUSICPRISM_MODEL_PATH", str(s.model_path))
    out = tmp_path / "facets.png"
    args = ["plot", "facets", "--data-dir", str(s.data_dir), "--method", method, "--out", str(out)]
    assert main(args) == 0
    assert out.read_bytes().startswith(PNG)
    capsys.readouterr()
    assert main([*args[:-2], "--max-points", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err  # after any log lines the store's migrations check wrote
    assert err.splitlines()[-1] == "musicprism: 2 tracks to map: a map needs at least 3"
