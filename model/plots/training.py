"""Training curves from a checkpoint's own record (``info["training"]``, model/train/run.py).

What a checkpoint stores per epoch (``training["history"]``, one row per epoch): the stage
(``pretrain``/``train``), the learning rate, the training loss (``train_loss``, and its parts
``train_supervised`` / ``train_ssl`` when there are several), the validation loss
(``val_loss``) and the seconds it took. Test metrics (ROC-AUC, R@K, facet triplets ...) are
measured once, after training, on the best epoch's weights (``info["metrics"]``): no
per-epoch validation metrics are stored, so they are drawn as one set of bars, not curves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

#: history keys drawn as loss curves, in this order, with their legend labels.
LOSSES = (
    ("train_loss", "training loss"),
    ("train_supervised", "training: supervised part"),
    ("train_ssl", "training: self-supervised part"),
    ("val_loss", "validation loss"),
)
#: test metrics drawn as bars (all in [0, 1]; R@K is stored in percent and divided by 100).
METRICS = (
    ("roc_auc", "ROC-AUC"),
    ("pr_auc", "PR-AUC"),
    ("R@1", "R@1 (÷ 100)"),
    ("R@4", "R@4 (÷ 100)"),
    ("triplet_full", "facet triplets\n(full space)"),
    ("triplet_sub", "facet triplets\n(sub-space)"),
    ("same_track_r1", "same-track\nR@1"),
)


def loss_curves(history: Sequence[Mapping[str, Any]]) -> dict[str, tuple[list[int], list[float]]]:
    """The curves to draw: history key -> (epochs, values), for the keys of LOSSES that the
    history holds (a key missing from some epochs is drawn where it is present)."""
    curves = {}
    for key, _ in LOSSES:
        points = [(int(h["epoch"]), float(h[key])) for h in history if h.get(key) is not None]
        if points and not (key != "train_loss" and _same(points, history, "train_loss")):
            curves[key] = ([e for e, _ in points], [v for _, v in points])
    return curves


def _same(points: list[tuple[int, float]], history: Sequence[Mapping[str, Any]], key: str) -> bool:
    """Whether a part equals the total at every epoch (a run with one loss: draw it once)."""
    total = {int(h["epoch"]): h.get(key) for h in history}
    return all((t := total.get(e)) is not None and abs(float(t) - v) < 1e-12 for e, v in points)


def metric_bars(metrics: Mapping[str, Any]) -> tuple[list[str], list[float]]:
    """(labels, values in [0, 1]) of the METRICS the checkpoint has."""
    labels, values = [], []
    for key, label in METRICS:
        v = metrics.get(key)
        if isinstance(v, int | float):
            labels.append(label)
            values.append(float(v) / 100 if key.startswith("R@") else float(v))
    return labels, values


def training_figure(
    training: Mapping[str, Any], metrics: Mapping[str, Any], *, title: str = ""
) -> Figure:
    """Loss per epoch (best epoch marked, pretraining shaded), the learning rate per epoch,
    and the test metrics measured after training.

    Args:
        training: a checkpoint's ``info["training"]`` (needs ``history``).
        metrics: its ``info["metrics"]`` (may be empty: no test metrics panel).
        title: the figure title, e.g. the checkpoint's name.

    Raises:
        ValueError: the record holds no per-epoch history.
    """
    history = list(training.get("history") or [])
    if not history:
        raise ValueError("this checkpoint stores no per-epoch training history")
    labels, values = metric_bars(metrics)
    fig = Figure(figsize=(12, 4.2) if labels else (8.5, 4.2), layout="constrained")
    grid = fig.add_gridspec(2, 2 if labels else 1, height_ratios=(3, 1),
                            width_ratios=(1.35, 1) if labels else None)
    ax = fig.add_subplot(grid[0, 0])
    lr = fig.add_subplot(grid[1, 0], sharex=ax)
    for key, (epochs, vals) in loss_curves(history).items():
        ax.plot(epochs, vals, marker="o", ms=3, label=dict(LOSSES)[key], gid=key)
    pre = [int(h["epoch"]) for h in history if h.get("stage") == "pretrain"]
    if pre:
        ax.axvspan(min(pre) - 0.5, max(pre) + 0.5, color="0.92", gid="pretrain",
                   label="self-supervised pretraining")
    best = training.get("best_epoch")
    if best:
        ax.axvline(int(best), color="0.4", ls="--", lw=1, label=f"best epoch ({best})", gid="best")
    ax.set_ylabel("loss")
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    ax.grid(alpha=0.3)
    ax.tick_params(labelbottom=False)
    epochs = [int(h["epoch"]) for h in history]
    lr.step(epochs, [float(h["lr"]) for h in history], where="mid", color="C4", gid="lr")
    lr.set_yscale("log")
    lr.set_ylabel("learning rate")
    lr.set_xlabel("epoch")
    lr.grid(alpha=0.3)
    if labels:
        bars = fig.add_subplot(grid[:, 1])
        bars.barh(range(len(values)), values, color="C2", gid="metrics")
        bars.set_yticks(range(len(values)), labels, fontsize=8)
        bars.invert_yaxis()
        bars.set_xlim(0, 1)
        for i, v in enumerate(values):
            bars.text(v + 0.01, i, f"{v:.3f}", va="center", fontsize=8)
        bars.set_title("test split, after training", fontsize=9)
        bars.grid(axis="x", alpha=0.3)
    stopped = " (stopped early)" if training.get("stopped_early") else ""
    fig.suptitle(f"{title} — {len(history)} epochs{stopped}".strip(" —"))
    return fig
