"""``musicprism plot``: pictures as PNG or SVG (the suffix of ``--out`` decides).

- ``plot training CHECKPOINT``: loss and learning rate per epoch, from the history the
  checkpoint stores, and its test metrics;
- ``plot facets``: the catalogue's facet spaces, one 2-D map per facet, from the store's
  vectors and tag scores;
- ``plot benchmark``: the method comparison of docs/benchmark.md (or the results.json
  ``musicprism benchmark`` wrote).

The figures are model/plots/ (matplotlib, the [train] extra).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from service.settings import Settings

if TYPE_CHECKING:
    from model.schema import ConceptSchema

log = logging.getLogger(__name__)


def cmd_training(args: argparse.Namespace) -> int:
    from model.checkpoint import load_checkpoint
    from model.plots import save
    from model.plots.training import training_figure

    model = load_checkpoint(args.checkpoint)
    fig = training_figure(model.info.get("training") or {}, model.info.get("metrics") or {},
                          title=model.version)
    return _written(save(fig, args.out))


def catalogue_arrays(
    settings: Settings, *, max_points: int, seed: int = 0
) -> tuple[ConceptSchema, str, np.ndarray, np.ndarray]:
    """(schema, model version, (N, D) vectors, (N, T) tag probabilities) of the tracks in the
    store, at most ``max_points`` of them (a seeded sample)."""
    from service import store
    from service.app import build_catalog

    catalog = build_catalog(settings)
    try:
        schema = catalog.schema
        version_id = catalog.binding.register()
        with catalog.binding.session() as session:
            ids, vectors = store.load_embeddings(session, model_version_id=version_id)
            if len(ids) > max_points:
                keep = np.sort(np.random.default_rng(seed).choice(len(ids), max_points, False))
                ids, vectors = ids[keep], vectors[keep]
            scores = store.tag_scores_for(session, track_ids=ids.tolist(), tags=schema.tags,
                                          model_version_id=version_id)
        probs = np.array([[scores.get(int(i), {}).get(t, 0.0) for t in schema.tags]
                          for i in ids], dtype=np.float32).reshape(len(ids), len(schema.tags))
        return schema, catalog.model.version, vectors, probs
    finally:
        catalog.close()


def cmd_facets(args: argparse.Namespace) -> int:
    from model.plots import save
    from model.plots.facets import facet_maps_figure, facet_points

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    schema, version, vectors, probs = catalogue_arrays(Settings(**overrides),
                                                       max_points=args.max_points)
    if len(vectors) < 3:
        raise ValueError(f"{len(vectors)} tracks to map: a map needs at least 3")
    points = facet_points(vectors, probs, schema, method=args.method)
    fig = facet_maps_figure(points, method=args.method,
                            title=f"{len(vectors)} catalogue tracks, {version}")
    return _written(save(fig, args.out))


def cmd_benchmark(args: argparse.Namespace) -> int:
    from model.plots import save
    from model.plots.benchmark import benchmark_figure, read_markdown, read_results

    if args.results is not None:
        table = read_results(json.loads(args.results.read_text(encoding="utf-8")))
    else:
        table = read_markdown(args.doc.read_text(encoding="utf-8"))
    return _written(save(benchmark_figure(table), args.out))


def _written(path: Path) -> int:
    sys.stdout.write(f"wrote {path}\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("plot", help="draw training curves, facet maps or the benchmark")
    sub = p.add_subparsers(dest="figure", required=True)

    t = sub.add_parser("training", help="loss per epoch and test metrics of a checkpoint")
    t.add_argument("checkpoint", type=Path)
    t.add_argument("--out", type=Path, default=Path("training.png"), help=".png, .svg or .pdf")
    t.set_defaults(func=cmd_training)

    f = sub.add_parser("facets", help="a 2-D map of each facet space of the catalogue")
    f.add_argument("--data-dir", type=Path, default=None)
    f.add_argument("--method", choices=["pca", "tsne"], default="tsne",
                   help="t-SNE (default: neighbourhoods read best) or PCA (distances are linear)")
    f.add_argument("--max-points", type=int, default=5000, help="sample this many tracks at most")
    f.add_argument("--out", type=Path, default=Path("facets.png"))
    f.set_defaults(func=cmd_facets)

    b = sub.add_parser("benchmark", help="docs/benchmark.md's comparison as a chart")
    b.add_argument("--doc", type=Path, default=Path("docs/benchmark.md"))
    b.add_argument("--results", type=Path, default=None,
                   help="the results.json of `musicprism benchmark --out DIR` (else --doc)")
    b.add_argument("--out", type=Path, default=Path("benchmark.png"))
    b.set_defaults(func=cmd_benchmark)
