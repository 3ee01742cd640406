"""Print the project's runtime requirements from pyproject.toml, one per line (stdlib only).

The image installs its dependencies from this list in a layer of their own, before the code
is copied, so a code change does not reinstall them:

    python docker/requirements.py --only torch torchaudio   # the pins for the CPU wheel index
    python docker/requirements.py > requirements.txt        # everything (torch then satisfied)
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path

NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    """PEP 503 name: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: '{requirement}'")
    return canonical(match.group(1))


def requirements(pyproject: Path, only: Sequence[str] = ()) -> list[str]:
    """``[project].dependencies`` of ``pyproject``; with ``only``, those names in that order.

    Raises:
        KeyError: a name in ``only`` is not a dependency (the message lists them).
    """
    with open(pyproject, "rb") as f:
        deps = list(tomllib.load(f)["project"]["dependencies"])
    if not only:
        return deps
    by_name = {requirement_name(d): d for d in deps}
    missing = [n for n in only if canonical(n) not in by_name]
    if missing:
        raise KeyError(f"not in [project].dependencies: {', '.join(missing)} "
                       f"(have: {', '.join(sorted(by_name))})")
    return [by_name[canonical(n)] for n in only]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=Path("pyproject.toml"))
    parser.add_argument("--only", nargs="+", default=(), metavar="NAME")
    args = parser.parse_args(argv)
    try:
        lines = requirements(args.pyproject, args.only)
    except KeyError as exc:
        sys.stderr.write(f"requirements: {exc.args[0]}\n")
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
