"""What every ``musicprism`` subcommand shares: settings from flags, the reproducing command."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

from service.settings import Settings


def settings_from(args: argparse.Namespace, **extra: object) -> Settings:
    """``Settings`` from the environment, with ``--data-dir`` and ``extra`` (non-None) on top."""
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data_dir", None) is not None:
        overrides["data_dir"] = args.data_dir
    return Settings(**overrides)


def data_dir_of(args: argparse.Namespace) -> Path:
    """``--data-dir`` if given, else the settings' data directory."""
    return settings_from(args).data_dir


def add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory (default: MUSICPRISM_DATA_DIR or ./data)",
    )


def command_line(args: argparse.Namespace, positional: tuple[str, ...],
                 options: tuple[str, ...]) -> str:
    """The command line that reproduces ``args`` (recorded in checkpoints and docs)."""
    words = ["musicprism", args.command]
    words += [str(getattr(args, p)) for p in positional]
    for name in options:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        if value is None or value is False or value == []:
            continue
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for v in value:
                words += [flag, str(v)]
        else:
            words += [flag, str(value)]
    return shlex.join(words)
