"""benchmarks/ingest.py: step timing, file picking and staging, the PostgreSQL URL."""

from __future__ import annotations

import pytest

from benchmarks.ingest import (
    StepTimer,
    fingerprint_storage,
    instrumented,
    pick,
    postgres_schema_url,
    stage,
)


def test_step_timer_split_hand_values():
    t = StepTimer()
    t.seconds.update(decode=6.0, embed=2.0, store=1.0)
    t.calls.update(decode=3, embed=3, store=3)
    split = t.split(10.0)
    assert split["decode"] == {"seconds": 6.0, "calls": 3, "share": 0.6}
    assert split["hash"]["seconds"] == 0.0
    assert split["other"]["seconds"] == pytest.approx(1.0)
    assert sum(v["share"] for v in split.values()) == pytest.approx(1.0)


def test_instrumented_wraps_and_restores():
    from model import audio
    from model.embed import Embedder

    real = audio.decode, Embedder.embed
    t = StepTimer()
    with instrumented(t):
        assert audio.decode is not real[0]
        with pytest.raises(audio.AudioError):
            audio.decode(b"not audio", sample_rate=16_000)
    assert (audio.decode, Embedder.embed) == real
    assert t.calls["decode"] == 1 and t.seconds["decode"] > 0


def test_pick_spreads_and_stage_copies(tmp_path):
    src = tmp_path / "src"
    for pkg in ("a", "b"):
        (src / pkg).mkdir(parents=True)
        for i in range(5):
            (src / pkg / f"{i}.ogg").write_bytes(f"{pkg}{i}".encode())
        (src / pkg / "copyright").write_text("x")
    files = pick(src, 4)  # 10 files, step 2.5: indices 0, 2, 5, 7
    assert [f.relative_to(src).as_posix() for f in files] == ["a/0.ogg", "a/2.ogg", "b/0.ogg",
                                                              "b/2.ogg"]
    assert len(pick(src, None)) == 10
    dest = stage(files, src, tmp_path / "dest")
    assert (dest / "b" / "2.ogg").read_bytes() == b"b2"
    assert not (dest / "b" / "2.ogg").is_symlink()
    assert sorted(p.name for p in dest.rglob("*")) == ["0.ogg", "0.ogg", "2.ogg", "2.ogg", "a",
                                                       "b"]


def test_postgres_schema_url():
    url = postgres_schema_url("postgresql+psycopg://postgres@127.0.0.1:5432/test", "mp_x")
    assert url == ("postgresql+psycopg://postgres@127.0.0.1:5432/test"
                   "?options=-csearch_path%3Dmp_x")


def test_fingerprint_storage_counts_the_rows_and_their_pages(session, database_url):
    import numpy as np

    from model.fingerprint import Fingerprint
    from tests.utils.db import create_track, model_version, track_fields

    empty = fingerprint_storage(database_url)
    assert empty["rows"] == 0
    mv = model_version(session)
    fp = Fingerprint(hashes=np.arange(20_000, dtype=np.int32) * 7,
                     times=np.arange(20_000, dtype=np.int32))
    create_track(session, **track_fields(1, mv.id), fingerprint=fp)
    full = fingerprint_storage(database_url)
    assert full["rows"] == 20_000
    # At least the three 4-byte columns of every row, and not absurdly more.
    assert 12 * 20_000 < full["bytes"] - empty["bytes"] < 200 * 20_000
