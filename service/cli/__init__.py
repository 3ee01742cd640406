"""The ``musicprism`` command line: the service's operations without HTTP, and the model's
training and data commands (their flags live here; :mod:`model` keeps typed entry points and
never imports the service).

Subcommands by group: :mod:`service.cli.serving` (serve, migrate, ingest, reindex, demo),
:mod:`service.cli.transfer` (export, import),
:mod:`service.cli.querying` (similar, search, playlist, timeline: a running server,
over HTTP),
:mod:`service.cli.data` (dataset build, dataset real), :mod:`service.cli.training` (train,
evaluate, benchmark), :mod:`service.cli.plots` (plot training | facets | benchmark).
Exit codes: 0 success, 1 failure, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from service.cli import data, plots, querying, serving, training, transfer
from service.client import ApiError

#: Modules only the [train] extra installs (training, evaluation, the benchmark corpus).
TRAIN_ONLY_MODULES = frozenset({"music21", "sklearn", "matplotlib"})

Register = Callable[[argparse._SubParsersAction], object]  # type: ignore[type-arg]


def command_groups() -> list[Register]:
    """The ``register(subparsers)`` function of each group of subcommands."""
    return [serving.register, transfer.register, querying.register, data.register,
            training.register, plots.register]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicprism", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for register in command_groups():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from service.observability import configure_logging

    configure_logging("debug" if args.verbose else "info")
    try:
        return int(args.func(args))
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAIN_ONLY_MODULES:
            raise
        sys.stderr.write(
            f"musicprism: '{args.command}' needs the training extras ({exc.name} is not "
            "installed): pip install 'musicprism[train]', or `make install` in a checkout\n"
        )
        return 1
    except querying.CliUsage as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 2
    except ApiError as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 2 if exc.status == 422 else 1
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = str(first["msg"]).removeprefix("Value error, ")
        sys.stderr.write(
            f"musicprism: invalid setting {where}: {message}\n"
            if where
            else f"musicprism: {message}\n"
        )
        return 2
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 1

