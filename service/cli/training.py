"""``musicprism train | evaluate | benchmark``: the flags of :mod:`model.train`'s typed entry
points (``run.train``, ``evaluation.evaluate.evaluate_checkpoint``,
``benchmark.run_benchmark``). Training packages are imported when a command runs, so the
serving install answers ``--help`` without them."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import sys
from pathlib import Path

from service.cli.common import command_line

logger = logging.getLogger(__name__)


def cmd_train(args: argparse.Namespace) -> int:
    from model.train.builders import load_config, resolve_config
    from model.train.run import train

    cfg = load_config(resolve_config(args.config), args.set)
    if args.init_from is not None:
        cfg = dataclasses.replace(cfg, init_from=str(args.init_from))
    run_dir = args.run_dir or Path("runs") / cfg.name
    result = train(cfg, run_dir, resume=not args.no_resume, progress=not args.quiet,
                   command=command_line(args, ("config",), ("set", "data", "init_from",
                                                            "run_dir", "ship")),
                   data=args.data)
    if args.ship is not None:
        args.ship.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.ship.with_name(f".{args.ship.name}.tmp")
        shutil.copyfile(result.checkpoint, tmp)
        tmp.replace(args.ship)
        logger.info("shipped %s -> %s", result.checkpoint, args.ship)
    sys.stdout.write(f"checkpoint: {result.checkpoint}\n")
    sys.stdout.write(f"seconds per epoch: {result.training['seconds_per_epoch']}\n")
    if result.metrics:
        sys.stdout.write(json.dumps(result.metrics, indent=2) + "\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from model.evaluation.evaluate import evaluate_checkpoint, markdown_table

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    res = evaluate_checkpoint(args.checkpoint, args.data, split=args.split, level=args.level,
                              triplets=args.triplets, seed=args.seed, progress=not args.quiet)
    text = json.dumps(res, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n\n" + markdown_table({Path(args.checkpoint).name: res}))
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    from model.train.benchmark import run_benchmark
    from model.train.builders import CONFIGS, resolve_budget

    report = run_benchmark(
        budget=resolve_budget(args.budget), variants_dir=args.variants or CONFIGS / "benchmark",
        out_dir=args.out, data=args.data, only=args.only, baseline=not args.no_baseline,
        doc=args.doc,
        command=command_line(args, (), ("budget", "variants", "only", "data", "out", "doc",
                                        "no_baseline", "timing_clips")),
        progress=not args.quiet, timing_clips=args.timing_clips or None,
    )
    sys.stdout.write(report + "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``train``, ``evaluate`` and ``benchmark``."""
    p = subparsers.add_parser("train", help="train an encoder from a YAML config")
    p.add_argument("config", help="YAML training config: a file, or the name of one in "
                                   "model/configs/ (e.g. default)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set loss.ssl.method=ntxent")
    p.add_argument("--data", type=Path, default=None, help="dataset directory (data.path)")
    p.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT",
                   help="fine-tune this checkpoint (init_from): its encoder weights are the "
                        "start; new tags in the data's concepts.json get fresh head rows")
    p.add_argument("--run-dir", type=Path, default=None, help="default: runs/<name>")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing last.pt")
    p.add_argument("--ship", type=Path, default=None,
                   help="copy the trained checkpoint here (e.g. model/weights/"
                        "musicprism-default.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="evaluate a checkpoint on a dataset split")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", type=Path, required=True, help="dataset directory (manifest.csv)")
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument("--level", default="track", choices=("track", "clip"),
                   help="aggregate windows per track_id (default) or per clip")
    p.add_argument("--triplets", type=int, default=2000, help="triplets per concept")
    p.add_argument("--seed", type=int, default=0, help="seed of the triplet sets")
    p.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest on a machine shared with other jobs)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("benchmark", help="train and evaluate every variant under one "
                                                "budget and write the comparison table")
    p.add_argument("--budget", default="bench",
                   help="budget name in model/configs/budgets/ or file")
    p.add_argument("--variants", type=Path, default=None,
                   help="directory of variant configs, run in name order "
                        "(default: model/configs/benchmark)")
    p.add_argument("--only", action="append", default=None, metavar="NAME",
                   help="run only this variant (repeatable; mfcc-chroma is the baseline)")
    p.add_argument("--data", type=Path, default=None, help="dataset directory override")
    p.add_argument("--out", type=Path, default=Path("runs/benchmark"))
    p.add_argument("--doc", type=Path, default=None,
                   help="Markdown file whose results section is rewritten")
    p.add_argument("--no-baseline", action="store_true", help="skip the MFCC/chroma baseline")
    p.add_argument("--timing-clips", type=int, default=500,
                   help="clips per back-to-back timing epoch for the time ratios (0: skip)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_benchmark)
