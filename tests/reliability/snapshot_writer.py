"""A process that changes the catalogue and saves an index snapshot after every change, until
it is killed (run by test_crash_snapshot.py as ``python -m tests.reliability.snapshot_writer
FOLDER ITERATIONS``; settings come from the environment, as for ``musicprism``).

Iteration i takes the i-th audio file of FOLDER (cyclically): it is ingested if absent and
deleted if present, so every snapshot reflects a different store state. Prints ``ready``
once the indexes are open, and one line per snapshot saved.
"""

from __future__ import annotations

import sys
from pathlib import Path

from service.app import build_catalog
from service.catalog import TrackMeta
from service.settings import Settings


def main(argv: list[str]) -> int:
    folder, iterations = Path(argv[0]), int(argv[1])
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".wav", ".flac"})
    catalog = build_catalog(Settings())
    try:
        catalog.open()
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        for i in range(iterations):
            path = files[i % len(files)]
            outcome = catalog.recordings.ingest(path, TrackMeta(title=path.stem, source=path.name))
            if not outcome.created:
                catalog.recordings.delete(outcome.track.id)
            catalog.indexes.save_snapshot()
            sys.stdout.write(f"saved {i}\n")
            sys.stdout.flush()
    finally:
        catalog.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
