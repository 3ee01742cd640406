"""`musicprism ingest` killed (SIGKILL) at seeded random points, then restarted until it
completes: no track is lost or stored twice, and after every crash the store and the indexes
agree once the indexes are opened (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from service.db import make_engine
from tests.reliability.helpers import (
    Deployment,
    assert_index_matches_store,
    count_tracks,
    log_tail,
    opened_catalog,
    start_cli,
    wait_until,
    write_library,
)

N_FILES = 20
KILLS = 2
SEED = 20240611


def check_after_crash(deployment: Deployment, work: Path, n: int) -> int:
    """Open the catalogue on a copy of the indexes the crash left (so this check changes
    nothing the restart will see); returns how many tracks the store holds."""
    copy = work / f"after-crash-{n}"
    source = deployment.settings.index_dir
    if source.exists():
        shutil.copytree(source, copy / "indexes")
    with opened_catalog(deployment.with_data_dir(copy)) as (catalog, _how):
        return len(assert_index_matches_store(catalog))


def kill_when_stored(
    deployment: Deployment, library: Path, log: Path, target: int, rng: np.random.Generator
) -> None:
    """Run the ingest and SIGKILL it once the store holds ``target`` tracks, plus 0-40 ms:
    the kill then lands anywhere in decoding, embedding, the store commit, the index update or
    the final snapshot."""
    engine = make_engine(deployment.settings.resolved_database_url)
    proc = start_cli(deployment, log, "ingest", str(library))
    try:
        wait_until(
            lambda: proc.poll() is not None or count_tracks(engine) >= target,
            f"{target} tracks in the store",
        )
        time.sleep(rng.uniform(0.0, 0.04))
    finally:
        proc.kill()  # SIGKILL; a no-op if the run already finished
        proc.wait()
        engine.dispose()


@pytest.mark.slow
def test_killed_ingest_resumes_without_loss_or_duplicates(deployment: Deployment, tmp_path: Path):
    library = tmp_path / "library"
    expected = write_library(library, "t", N_FILES)
    rng = np.random.default_rng(SEED)
    targets = sorted(rng.choice(np.arange(1, N_FILES), size=KILLS, replace=False).tolist())
    stored = []
    for n, target in enumerate(targets):
        kill_when_stored(deployment, library, tmp_path / f"ingest-{n}.log", target, rng)
        stored.append(check_after_crash(deployment, tmp_path, n))
        assert stored == sorted(stored), f"a restart lost tracks: {stored}"

    log = tmp_path / "ingest-final.log"
    proc = start_cli(deployment, log, "ingest", str(library))
    assert proc.wait() == 0, log_tail(log)

    pattern = r"^(\d+) added; (\d+) already in the catalogue; (\d+) skipped"
    summary = re.search(pattern, log.read_text(), re.MULTILINE)
    assert summary, log_tail(log)
    added, already, skipped = map(int, summary.groups())
    assert (already, added + already, skipped) == (stored[-1], N_FILES, 0)
    with opened_catalog(deployment) as (catalog, how):
        assert how == "loaded, 0 events replayed"  # the completed run's snapshot is current
        rows = assert_index_matches_store(catalog).values()
    assert sorted(t.source for t in rows) == sorted(expected)
    assert {t.source: t.content_hash for t in rows} == expected
