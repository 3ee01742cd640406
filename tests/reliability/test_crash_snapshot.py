"""A process killed (SIGKILL) while it writes an index snapshot: the next open loads the
previous snapshot, catches up from the store's change log and agrees with the store; the next
save clears what the crash left (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support.server import REPO_ROOT, subprocess_env
from tests.reliability.helpers import (
    Deployment,
    assert_index_matches_store,
    log_tail,
    opened_catalog,
    snapshot_files,
    wait_until,
    write_library,
)

# Kill-and-reopen rounds. What a crash leaves on disk does not depend on the store; one round
# checks the catch-up from PostgreSQL's change log too.
ROUNDS = {"sqlite": 2, "postgres": 1}
SEED = 77
WRITER = "tests.reliability.snapshot_writer"


def start_writer(deployment: Deployment, library: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", WRITER, str(library), "100000"],
            cwd=REPO_ROOT,
            env=subprocess_env(deployment.env),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def saves(log: Path) -> int:
    return log.read_text(errors="replace").count("\nsaved ")


def writing(root: Path) -> bool:
    """A snapshot is being written: its temporary directory exists."""
    return root.exists() and any(p.name.startswith(".tmp-") for p in root.iterdir())


def kill_while_writing(
    deployment: Deployment, library: Path, log: Path, rng: np.random.Generator
) -> Path:
    """Start the writer, let it save 1-5 snapshots, then SIGKILL it as soon as a write is
    seen in progress, plus 0-10 ms: somewhere between the temporary directory, the index
    files, meta.json, the renames and the pruning. Returns the snapshot root."""
    proc = start_writer(deployment, library, log)
    try:
        at_least = saves(log) + int(rng.integers(1, 6))
        wait_until(lambda: proc.poll() is not None or saves(log) >= at_least, "snapshots")
        root = next(deployment.settings.index_dir.iterdir())
        wait_until(lambda: proc.poll() is not None or writing(root), "a snapshot write")
        time.sleep(rng.uniform(0.0, 0.01))
        assert proc.poll() is None, log_tail(log)
    finally:
        proc.kill()
        proc.wait()
    return root


@pytest.mark.slow
def test_kill_during_snapshot_write_keeps_previous_snapshot(
    deployment: Deployment, tmp_path: Path, backend: str
):
    library = tmp_path / "library"
    write_library(library, "s", 6)
    rng = np.random.default_rng(SEED)
    for n in range(ROUNDS[backend]):
        root = kill_while_writing(deployment, library, tmp_path / f"writer-{n}.log", rng)
        left = snapshot_files(root)
        with opened_catalog(deployment) as (catalog, how):
            assert how.startswith("loaded"), (how, left)
            assert catalog.indexes.index.state == left["state"], left
            assert_index_matches_store(catalog)

    with opened_catalog(deployment) as (catalog, _):
        catalog.indexes.save_snapshot()  # the next save clears every leftover of the crashes
    entries = snapshot_files(root)["entries"]
    assert [e for e in entries if not e.startswith("snap-")] == [".write.lock", "CURRENT"]
    assert 1 <= len(entries) - 2 <= 2, entries  # the live snapshot and at most the previous
    with opened_catalog(deployment) as (catalog, how):
        assert how == "loaded, 0 events replayed"
        assert_index_matches_store(catalog)
