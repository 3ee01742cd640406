"""model/plots: the figures hold exactly the data they are drawn from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from model.checkpoint import SHIPPED_MODEL, load_checkpoint
from model.plots import save
from model.plots.benchmark import benchmark_figure, read_markdown, read_results
from model.plots.facets import (
    OTHER,
    PALETTE,
    colours,
    facet_maps_figure,
    facet_points,
    pca_2d,
    top_tags,
    tsne_2d,
)
from model.plots.training import loss_curves, metric_bars, training_figure
from tests.utils.models import tiny_schema

DOCS = Path(__file__).resolve().parents[2] / "docs"


def line(fig: Figure, gid: str):
    found = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


def collection(fig: Figure, gid: str):
    found = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, gid
    return found[0]


HISTORY = [
    {"epoch": 1, "stage": "pretrain", "lr": 1e-3, "train_loss": 0.9, "train_ssl": 0.9,
     "val_loss": 0.95, "seconds": 2.0},
    {"epoch": 2, "stage": "train", "lr": 1e-3, "train_loss": 0.7, "train_supervised": 0.5,
     "train_ssl": 0.2, "val_loss": 0.8, "seconds": 2.0},
    {"epoch": 3, "stage": "train", "lr": 2e-4, "train_loss": 0.6, "train_supervised": 0.42,
     "train_ssl": 0.18, "val_loss": 0.82, "seconds": 2.0},
]
METRICS = {"roc_auc": 0.91, "pr_auc": 0.6, "R@1": 62.5, "R@4": 84.0, "triplet_sub": 0.8,
           "tracks": 171}


def test_training_figure_draws_the_history_and_the_metrics() -> None:
    fig = training_figure({"history": HISTORY, "best_epoch": 2}, METRICS, title="m")
    for key in ("train_loss", "val_loss", "train_ssl"):
        ln = line(fig, key)
        assert list(ln.get_xdata()) == [h["epoch"] for h in HISTORY]
        assert list(ln.get_ydata()) == [h[key] for h in HISTORY]
    sup = line(fig, "train_supervised")  # pretraining has no supervised loss
    assert (list(sup.get_xdata()), list(sup.get_ydata())) == ([2, 3], [0.5, 0.42])
    assert list(line(fig, "best").get_xdata()) == [2, 2]
    assert list(line(fig, "lr").get_ydata()) == [1e-3, 1e-3, 2e-4]
    bars = [p.get_width() for p in collection_or_bars(fig, "metrics")]
    assert bars == [0.91, 0.6, 0.625, 0.84, 0.8]
    assert fig._suptitle.get_text() == "m — 3 epochs"
    (span,) = collection_or_bars(fig, "pretrain")  # the pretraining epoch is shaded
    assert (span.get_x(), span.get_x() + span.get_width()) == (0.5, 1.5)


def collection_or_bars(fig: Figure, gid: str):
    return [p for ax in fig.axes for p in ax.patches if p.get_gid() == gid]


def test_a_loss_with_one_part_is_drawn_once() -> None:
    history = [{"epoch": e, "train_loss": v, "train_supervised": v, "val_loss": v + 0.1}
               for e, v in [(1, 0.5), (2, 0.4)]]
    assert set(loss_curves(history)) == {"train_loss", "val_loss"}


def test_metric_bars_take_what_is_there() -> None:
    assert metric_bars({"roc_auc": 0.9, "R@1": 50.0, "same_track_r1": None}) == (
        ["ROC-AUC", "R@1 (÷ 100)"], [0.9, 0.5])


def test_no_history_is_said_plainly() -> None:
    with pytest.raises(ValueError, match="stores no per-epoch training history"):
        training_figure({}, {})


def test_the_shipped_checkpoint_history_is_what_is_drawn() -> None:
    info = load_checkpoint(SHIPPED_MODEL).info
    history = info["training"]["history"]
    fig = training_figure(info["training"], info["metrics"])
    assert list(line(fig, "val_loss").get_ydata()) == [h["val_loss"] for h in history]
    assert list(line(fig, "train_ssl").get_ydata()) == [h["train_ssl"] for h in history]
    assert list(line(fig, "best").get_xdata())[0] == info["training"]["best_epoch"]
    bars = [p.get_width() for p in collection_or_bars(fig, "metrics")]
    assert bars[0] == info["metrics"]["roc_auc"]


def test_the_benchmark_table_is_read_from_the_docs() -> None:
    table = read_markdown((DOCS / "benchmark.md").read_text(encoding="utf-8"))
    assert len(table) == 20 and list(table)[0] == "triplet" and "mfcc-chroma" in table
    assert table["proxy"]["ROC-AUC"] == 0.899 and table["proxy"]["R@1"] == 58.7
    assert table["mfcc-chroma"]["s/epoch"] is None


def test_results_json_reads_as_the_same_columns() -> None:
    table = read_results({"proxy": {"metrics": {"roc_auc": 0.8991, "R@1": 58.7},
                                    "training": {}}})
    assert table["proxy"]["ROC-AUC"] == 0.8991
    assert table["proxy"]["R@1"] == 58.7
    assert table["proxy"]["PR-AUC"] is None


def test_benchmark_figure_places_each_variant_at_its_value() -> None:
    table = {"a": {"ROC-AUC": 0.8, "R@1": 50.0}, "b": {"ROC-AUC": 0.9, "R@1": None},
             "mfcc-chroma": {"ROC-AUC": 0.7, "R@1": 40.0}}
    fig = benchmark_figure(table, panels=("ROC-AUC", "R@1", "PR-AUC"))
    assert [ax.get_title() for ax in fig.axes] == ["ROC-AUC", "R@1"]  # PR-AUC: no values
    roc = collection(fig, "ROC-AUC")
    assert roc.get_offsets().tolist() == [[0.8, 0], [0.9, 1], [0.7, 2]]
    assert list(roc.get_sizes()) == [22, 46, 22]  # the best is larger
    assert collection(fig, "R@1").get_offsets().tolist() == [[50.0, 0], [40.0, 2]]


def test_missing_results_section_is_an_error() -> None:
    with pytest.raises(ValueError, match="no results section"):
        read_markdown("# nothing here")


def test_pca_matches_the_principal_components() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)) * [3.0, 1.0, 0.1] @ np.array(
        [[0.6, 0.8, 0.0], [-0.8, 0.6, 0.0], [0.0, 0.0, 1.0]]) + 5.0
    xy = pca_2d(x)
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    for column, vector in enumerate([vectors[:, -1], vectors[:, -2]]):
        vector = vector * np.sign(vector[np.abs(vector).argmax()])  # the largest loading > 0
        np.testing.assert_allclose(xy[:, column], centred @ vector, atol=1e-9)
    assert xy[:, 0].var() > 5 * xy[:, 1].var()


def synthetic(schema, n_per_tag: int = 10):
    """Tracks whose genre facet clusters by genre tag (jazz vs rock), probabilities to match."""
    rng = np.random.default_rng(1)
    n = 2 * n_per_tag
    vectors = rng.standard_normal((n, schema.dim)).astype(np.float32)
    genre = schema.facet("genre").slice
    vectors[:n_per_tag, genre] += 6.0
    vectors[n_per_tag:, genre] -= 6.0
    probs = rng.uniform(0, 0.4, (n, len(schema.tags))).astype(np.float32)
    probs[:n_per_tag, schema.tag_index("jazz")] = 0.9
    probs[n_per_tag:, schema.tag_index("rock")] = 0.9
    probs[:, schema.tag_index("calm")] = 0.95
    return vectors, probs


def test_facet_points_colour_each_track_by_its_top_tag_in_that_facet() -> None:
    schema = tiny_schema()
    vectors, probs = synthetic(schema)
    points = facet_points(vectors, probs, schema)
    assert list(points) == list(schema.facet_names)
    xy, labels = points["genre"]
    assert labels == ["jazz"] * 10 + ["rock"] * 10
    assert points["mood"][1] == ["calm"] * 20
    assert top_tags(probs, schema, "genre") == labels
    # the two genre clusters fall on either side of the first component
    assert {bool(s) for s in np.sign(xy[:10, 0]) > 0} != {bool(s) for s in np.sign(xy[10:, 0]) > 0}


def test_facet_maps_figure_plots_those_points() -> None:
    schema = tiny_schema()
    vectors, probs = synthetic(schema)
    points = facet_points(vectors, probs, schema)
    fig = facet_maps_figure(points, title="t")
    xy, labels = points["genre"]
    jazz = collection(fig, "genre:jazz")
    np.testing.assert_allclose(jazz.get_offsets(), xy[:10])
    np.testing.assert_allclose(collection(fig, "genre:rock").get_offsets(), xy[10:])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["jazz (10)", "rock (10)"]
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        f"{f} facet" for f in schema.facet_names]


def test_colours_go_to_the_most_frequent_tags_and_never_grey() -> None:
    labels = [f"t{i}" for i in range(12) for _ in range(12 - i)]
    got = colours(labels)
    assert [got[f"t{i}"] for i in range(9)] == list(PALETTE)
    assert {got["t9"], got["t10"], got["t11"]} == {OTHER}
    assert "C7" not in PALETTE  # tab10's grey would read as "other"


def test_shapes_and_methods_are_checked() -> None:
    schema = tiny_schema()
    vectors, probs = synthetic(schema)
    with pytest.raises(ValueError, match=r"vectors: expected shape \(N, 32\)"):
        facet_points(vectors[:, :5], probs, schema)
    with pytest.raises(ValueError, match="unknown method 'umap'; valid: pca, tsne"):
        facet_points(vectors, probs, schema, method="umap")


def test_tsne_is_seeded_and_keeps_clusters_apart() -> None:
    schema = tiny_schema()
    vectors, _ = synthetic(schema)
    genre = vectors[:, schema.facet("genre").slice]
    a, b = tsne_2d(genre, seed=0), tsne_2d(genre, seed=0)
    np.testing.assert_allclose(a, b)
    gap = np.linalg.norm(a[:10].mean(axis=0) - a[10:].mean(axis=0))
    spread = max(a[:10].std(axis=0).max(), a[10:].std(axis=0).max())
    assert gap > 3 * spread


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_save_writes_the_format_of_the_suffix(tmp_path: Path, suffix: str, magic: bytes) -> None:
    fig = training_figure({"history": HISTORY}, {})
    path = save(fig, tmp_path / "sub" / f"t{suffix}")
    assert path.read_bytes().startswith(magic)


def test_save_refuses_other_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot write t.gif: use one of .pdf, .png, .svg"):
        save(training_figure({"history": HISTORY}, {}), tmp_path / "t.gif")
