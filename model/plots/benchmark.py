"""The method comparison (docs/benchmark.md) as a chart.

Its numbers come from the JSON ``musicprism benchmark`` writes (``<out>/results.json``) when
there is one, else from the first table between docs/benchmark.md's results markers (the
same numbers, rounded as printed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from model.evaluation.evaluate import COLUMNS

START, END = "<!-- results:start -->", "<!-- results:end -->"
#: The columns drawn, by their label in the table.
PANELS = ("ROC-AUC", "PR-AUC", "R@1", "trip. sub", "same-track R@1")
BASELINE = "mfcc-chroma"

Table = dict[str, dict[str, float | None]]


def read_markdown(text: str) -> Table:
    """variant -> {column label: value} from the first table between the results markers;
    ``-`` cells are None.

    Raises:
        ValueError: no results markers, or no table between them.
    """
    if START not in text or END not in text:
        raise ValueError(f"no results section ({START} ... {END}) in the document")
    section = text.split(START, 1)[1].split(END, 1)[0]
    lines = [ln.strip() for ln in section.splitlines()]
    first = next((i for i, ln in enumerate(lines) if ln.startswith("| model |")), None)
    if first is None:
        raise ValueError("no results table in the results section")
    header = [c.strip() for c in lines[first].strip("|").split("|")]
    table: Table = {}
    for line in lines[first + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        table[cells[0]] = {h: _number(c) for h, c in zip(header[1:], cells[1:], strict=True)}
    return table


def _number(cell: str) -> float | None:
    return None if cell in ("-", "") else float(cell)


def read_results(results: Mapping[str, Mapping[str, Any]]) -> Table:
    """The same table from ``results.json`` ({variant: {"metrics": {...}, ...}}), keyed by
    the labels the Markdown table prints."""
    labels = {key: label for key, label, _ in COLUMNS}
    table: Table = {}
    for name, r in results.items():
        metrics = r.get("metrics", {})
        table[name] = {
            label: float(metrics[key]) if isinstance(metrics.get(key), int | float) else None
            for key, label in labels.items()
        }
    return table


def panel_values(table: Table, column: str) -> tuple[list[str], list[float]]:
    """(variants, values) of one column, table order, variants without a value left out."""
    names, values = [], []
    for name, row in table.items():
        v = row.get(column)
        if v is not None and not math.isnan(v):
            names.append(name)
            values.append(v)
    return names, values


def benchmark_figure(
    table: Table, *, panels: Sequence[str] = PANELS, baseline: str = BASELINE, title: str = "",
) -> Figure:
    """One dot chart per metric, a row per variant (the best in a darker, larger dot), the
    classical baseline as a dashed line. The axes zoom on the values: the differences
    between variants are a few hundredths."""
    panels = [c for c in panels if panel_values(table, c)[0]]
    if not panels:
        raise ValueError("the table has none of the metrics to draw")
    names = list(table)
    fig = Figure(figsize=(2.6 * len(panels) + 3.4, 0.3 * len(names) + 1.4), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, column in zip(axes, panels, strict=True):
        variants, values = panel_values(table, column)
        rows = [names.index(v) for v in variants]
        best = max(values)
        for y in rows:
            ax.axhline(y, color="0.93", lw=0.8, zorder=0)
        ax.scatter(values, rows, s=[46 if v == best else 22 for v in values],
                   c=["C0" if v == best else ("0.45" if n == baseline else "#8fa7cf")
                      for n, v in zip(variants, values, strict=True)], zorder=3, gid=column)
        if baseline in variants:
            ax.axvline(values[variants.index(baseline)], color="0.45", ls="--", lw=0.8)
        span = max(values) - min(values) or abs(best) or 1.0
        ax.set_xlim(min(values) - 0.08 * span, max(values) + 0.08 * span)
        ax.set_title(column, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(names)), names, fontsize=8)
    axes[0].set_ylim(len(names) - 0.5, -0.5)
    fig.suptitle(title or "Every variant under one budget: best per metric in blue, "
                 f"the {baseline} baseline dashed", fontsize=11)
    return fig
