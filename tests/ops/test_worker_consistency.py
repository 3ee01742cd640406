"""Two catalogues on one store, as two uvicorn workers are: a track one of them has just
ingested must be found by the other at once (it exists in the store, the source of truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from service.app import build_catalog
from service.catalog import TrackMeta
from support.audio import encode
from tests.service.conftest import SR, make_settings, song


def test_a_track_ingested_by_one_worker_is_found_by_the_other(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url)
    first, second = build_catalog(settings), build_catalog(settings)
    try:
        first.open()
        second.open()
        second.indexes.sync(force=True)  # it has just synced: its next sync is throttled
        audio = encode(song("alpha"), SR, "flac")
        outcome = first.recordings.ingest(audio, TrackMeta(title="Alpha"))
        vector = second.queries.vector_of(outcome.track.id)
        np.testing.assert_allclose(vector, first.queries.vector_of(outcome.track.id), rtol=0,
                                   atol=0)
    finally:
        first.close()
        second.close()
