"""``python -m model.train {train,evaluate,benchmark} ...``: the same subcommands as
``musicprism``, usable before (or without) the service's command line."""

from __future__ import annotations

import argparse
import logging
import sys

from model.train.cli import register


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.train")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except (OSError, ValueError, KeyError) as exc:
        sys.stderr.write(f"musicprism: {exc}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
