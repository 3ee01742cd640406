"""The comparison table: every variant trained and evaluated under one budget.

A *variant* is a full training config (``model/configs/benchmark/*.yaml``, run in name order); a
*budget* (``model/configs/budgets/*.yaml``) is a partial config laid over every variant (data,
subset sizes, architecture, batch size, threads) whose ``epochs`` is the total number of
epochs of a run: a variant with self-supervised pretraining keeps its own split between the
two stages (``pretrain_epochs / (pretrain_epochs + epochs)``) within that total. The MFCC /
chroma baseline (:mod:`model.baseline`) is fitted on the same training subset.

Results land in ``<out>/<variant>/`` (resumable: a finished variant with the same config is
not trained again) and in ``<out>/results.json`` / ``results.md``; with ``doc`` the part of
that Markdown file between ``<!-- results:start -->`` and ``<!-- results:end -->`` is
replaced by the new tables.
"""

from __future__ import annotations

import json
import logging
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import yaml

from model.baseline import evaluate_baseline
from model.evaluation.evaluate import COLUMNS, markdown_table
from model.train.builders import config_from_dict, config_to_dict, merge, read_yaml
from model.train.config import TrainConfig
from model.train.data import load_splits
from model.train.features import FeatureStore
from model.train.run import MODEL, train
from model.train.timing import time_variants

logger = logging.getLogger(__name__)

BASELINE = "mfcc-chroma"
START, END = "<!-- results:start -->", "<!-- results:end -->"
REFERENCE = "classification-plain"  # the time ratios are relative to it, as in Lee et al.


def variant_config(variant: dict[str, Any], budget: dict[str, Any]) -> TrainConfig:
    """Lay ``budget`` over ``variant``, keeping the variant's pretrain / train proportion
    within the budget's total ``epochs``."""
    if "name" in budget:
        raise ValueError("a budget must not set 'name'")
    budget = dict(budget)
    total = budget.get("epochs")
    pre = int(variant.get("pretrain_epochs", 0))
    if total is not None and pre > 0:
        main = int(variant.get("epochs", TrainConfig.epochs))
        budget["pretrain_epochs"] = max(1, round(total * pre / (pre + main)))
        budget["epochs"] = total - budget["pretrain_epochs"]
    return config_from_dict(merge(variant, budget))


def load_variants(variants_dir: Path, budget: dict[str, Any],
                  only: Sequence[str] | None = None) -> list[TrainConfig]:
    files = sorted(Path(variants_dir).glob("*.yaml"))
    if not files:
        raise FileNotFoundError(f"no variant configs (*.yaml) in {variants_dir}")
    cfgs = [variant_config(read_yaml(f), budget) for f in files]
    names = [c.name for c in cfgs]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be unique, got {names}")
    if only:
        unknown = sorted(set(only) - set(names) - {BASELINE})
        if unknown:
            raise KeyError(f"unknown variant(s) {unknown}; valid: {', '.join(names)}, "
                           f"{BASELINE}")
    return cfgs


def _finished(run_dir: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    path = run_dir / "metrics.json"
    if not (path.is_file() and (run_dir / MODEL).is_file()
            and (run_dir / "config.yaml").is_file()):
        return None
    if yaml.safe_load((run_dir / "config.yaml").read_text()) != config_to_dict(cfg):
        return None
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def run_variant(cfg: TrainConfig, out_dir: Path, data: Path | None, store: FeatureStore,
                command: str, progress: bool) -> dict[str, Any]:
    run_dir = out_dir / cfg.name
    done = _finished(run_dir, cfg)
    if done is not None:
        logger.info("%s: finished earlier, reusing %s", cfg.name, run_dir)
        return done
    logger.info("%s: training", cfg.name)
    r = train(cfg, run_dir, resume=True, progress=progress, command=command, data=data,
              store=store)
    return {"metrics": r.metrics,
            "training": {k: v for k, v in r.training.items() if k != "config"}}


def run_baseline(cfg: TrainConfig, out_dir: Path, data: Path | None,
                 progress: bool) -> dict[str, Any]:
    path = out_dir / BASELINE / "metrics.json"
    if path.is_file():
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    splits = load_splits(cfg, data)
    metrics = evaluate_baseline(splits.train, splits.val, splits.test,
                                sample_rate=cfg.encoder.sample_rate,
                                window_seconds=cfg.encoder.clip_seconds,
                                triplets=cfg.eval_triplets, seed=cfg.seed, progress=progress)
    res = {"metrics": metrics, "training": {"train_seconds": metrics["train_seconds"]}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=2), encoding="utf-8")
    return res


def report(results: dict[str, dict[str, Any]], budget_text: str, command: str,
           concepts: Sequence[str], timing: dict[str, float] | None = None,
           timing_clips: int = 0) -> str:
    """The Markdown tables: overall metrics, training times, per-concept triplet accuracy.

    ``s/epoch`` is what each run measured (its moment's machine load included); ``time
    ratio`` comes from ``timing`` (back-to-back measurements, :mod:`model.train.timing`)
    when given, relative to classification-plain as in Lee et al."""
    rows = {}
    ref = (timing or {}).get(REFERENCE)
    for name, r in results.items():
        row = dict(r["metrics"])
        row["seconds_per_epoch"] = r["training"].get("seconds_per_epoch")
        t = (timing or {}).get(name)
        row["time_ratio"] = t / ref if (t and ref) else None
        row["epochs_run"] = r["training"].get("epochs_run")
        rows[name] = row
    cols = [*COLUMNS, ("seconds_per_epoch", "s/epoch", "{:.1f}"),
            ("time_ratio", "time ratio", "{:.2f}"), ("epochs_run", "epochs", "{:d}")]
    cols = [c for c in cols if c[0] != "train_seconds"]
    per_concept = [(f"triplet_{kind}.{c}", f"{c} ({kind})", "{:.3f}")
                   for kind in ("full", "sub") for c in concepts]
    lines = [
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, Python {platform.python_version()}.",
        "",
        "Budget:",
        "",
        "```yaml",
        budget_text.strip(),
        "```",
        "",
        markdown_table(rows, cols),
        "s/epoch: as measured by each run (on a shared machine: other jobs' load included). "
        + (f"Time ratio: seconds per epoch measured back to back for every variant on "
           f"{timing_clips} training clips (fastest of repeated epochs, after a warm-up), "
           f"relative to {REFERENCE}." if timing else ""),
        "",
        "Per-concept triplet accuracy (full space / the concept's sub-space):",
        "",
        markdown_table(rows, per_concept),
    ]
    return "\n".join(lines)


def write_doc(doc: Path, text: str) -> None:
    """Replace the results section of ``doc`` (markers), or create it."""
    block = f"{START}\n{text}\n{END}"
    if doc.is_file():
        old = doc.read_text(encoding="utf-8")
        if START in old and END in old:
            head, _, rest = old.partition(START)
            _, _, tail = rest.partition(END)
            doc.write_text(head + block + tail, encoding="utf-8")
            return
        doc.write_text(old.rstrip() + "\n\n" + block + "\n", encoding="utf-8")
        return
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"# Benchmark\n\n{block}\n", encoding="utf-8")


def run_benchmark(*, budget: Path, variants_dir: Path, out_dir: Path, data: Path | None = None,
                  only: Sequence[str] | None = None, baseline: bool = True,
                  doc: Path | None = None, command: str = "", progress: bool = False,
                  timing_clips: int | None = 500) -> str:
    """Train and evaluate every variant (and the baseline), then time them back to back
    (``timing_clips`` clips each; ``None`` skips it); returns the Markdown report."""
    budget_dict = read_yaml(budget)
    cfgs = load_variants(variants_dir, budget_dict, only)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = FeatureStore(max(c.data.cache_mb for c in cfgs) << 20)
    results: dict[str, dict[str, Any]] = {}
    for cfg in (c for c in cfgs if not only or c.name in only):
        if cfg.threads is not None:
            torch.set_num_threads(cfg.threads)
        results[cfg.name] = run_variant(cfg, out_dir, data, store, command, progress)
        _save(out_dir, results)
    if baseline and (not only or BASELINE in only):
        results[BASELINE] = run_baseline(cfgs[0], out_dir, data, progress)
        _save(out_dir, results)
    timing = None
    if timing_clips:
        timing = _timing(out_dir, [c for c in cfgs if c.name in results], data, timing_clips)
    concepts = list(load_splits(cfgs[0], data).schema.concepts)
    text = report(results, budget.read_text(encoding="utf-8"), command, concepts, timing,
                  timing_clips or 0)
    (out_dir / "results.md").write_text(text, encoding="utf-8")
    if doc is not None:
        write_doc(doc, text)
    return text


def _timing(out_dir: Path, cfgs: Sequence[TrainConfig], data: Path | None,
            clips: int) -> dict[str, float]:
    """Back-to-back timings, reused from ``timing.json`` when it covers these variants."""
    path = out_dir / "timing.json"
    key = {c.name: config_to_dict(c) for c in cfgs}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("clips") == clips and old.get("configs") == key:
            return old["seconds"]  # type: ignore[no-any-return]
    seconds = time_variants(cfgs, data=data, clips=clips)
    path.write_text(json.dumps({"clips": clips, "configs": key, "seconds": seconds}, indent=2),
                    encoding="utf-8")
    return seconds


def _save(out_dir: Path, results: dict[str, Any]) -> None:
    (out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
