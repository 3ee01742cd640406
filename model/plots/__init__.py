"""Pictures of what musicprism trains and serves, as matplotlib figures (the [train] extra).

Pure functions from data to a :class:`matplotlib.figure.Figure` (no pyplot, no global state):
``training.training_figure`` (loss per epoch from a checkpoint's history),
``facets.facet_maps_figure`` (a 2-D map of each facet space) and
``benchmark.benchmark_figure`` (the method comparison). ``save`` writes one as PNG or SVG.
``musicprism plot ...`` (service/cli/plots.py) reads the data and calls them.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

FORMATS = {".png", ".svg", ".pdf"}


def save(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` in the format its suffix names (.png, .svg or .pdf).

    Raises:
        ValueError: another suffix.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"cannot write {path.name}: use one of {', '.join(sorted(FORMATS))}")
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"Software": None} if path.suffix.lower() == ".png" else {}
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=metadata)
    return path
