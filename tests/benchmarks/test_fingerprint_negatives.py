"""benchmarks/fingerprint_negatives.py: its shortcut to align's first match, the split of the
real recordings, the padding tracks, the in-memory store and the rules it reports."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import fingerprint_negatives as bench
from model import fingerprint as fp


def random_rows(rng: np.random.Generator, m: int) -> tuple[np.ndarray, ...]:
    rows = np.unique(np.stack([rng.integers(0, 25, m), rng.integers(0, 6, m),
                               rng.integers(0, 80, m)], axis=1), axis=0)
    return tuple(rows[:, i].astype(np.int64) for i in range(3))


@pytest.mark.parametrize("seed", range(20))
def test_best_candidate_is_aligns_first(seed: int) -> None:
    rng = np.random.default_rng(seed)
    query = fp.Fingerprint(hashes=rng.integers(0, 20, 30).astype(np.int32),
                           times=np.sort(rng.integers(0, 50, 30)).astype(np.int32))
    for m in (0, 1, 40, 300):
        found = random_rows(rng, m)
        matches = fp.align(query, *found, min_aligned=1)
        expected = None if not matches else (
            matches[0].track_id, matches[0].aligned,
            round(matches[0].offset_seconds / fp.FRAME_SECONDS))
        assert bench.best_candidate(query, *found) == expected


def test_split_alternates_within_each_package() -> None:
    names = ["a/1.ogg", "a/2.ogg", "a/3.ogg", "b/1.ogg", "b/2.ogg"]
    assert bench.split(names) == ([0, 2, 3], [1, 4])


def test_memory_store_returns_what_a_lookup_by_hash_returns() -> None:
    rng = np.random.default_rng(5)
    prints = [fp.Fingerprint(hashes=rng.integers(0, 60, 50).astype(np.int32),
                             times=np.arange(50, dtype=np.int32)) for _ in range(3)]
    store = bench.MemoryStore(prints)
    wanted = np.array([3, 3, 17, 59, 99])
    got = set(zip(*(a.tolist() for a in store.lookup(wanted)), strict=True))
    expected = set(zip(*(a.tolist() for a in fp.stored_rows(dict(enumerate(prints)), wanted)),
                       strict=True))
    assert got == expected


def test_padding_tracks_are_moved_copies_of_the_catalogue() -> None:
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(fp.SAMPLE_RATE * 6)).astype(np.float32)
    pads = bench.padding([x], 3)
    own = fp.fingerprint(x, fp.SAMPLE_RATE)
    assert len(pads) == 3
    for pad in pads:
        assert len(pad) > 0.5 * len(own)
        assert len(np.intersect1d(pad.hashes, own.hashes)) < 0.5 * len(np.unique(own.hashes))


def test_the_rule_before_and_the_shipped_rule_on_hand_made_rows() -> None:
    shipped = bench.rules()[0]
    assert shipped[1:] == (8, fp.CHANCE_TARGET, fp.MIN_SHARE, fp.MIN_OVERLAP)
    row = {"n": 1000, "votes": 30_000, "span": 600}
    lookalike = {**row, "aligned": 15, "segment": 300}  # issue 13: 1.5 %
    shares_a_motif = {**row, "n": 400, "aligned": 25, "segment": 290}  # 6 %, overlap 0.073
    clip_of_it = {**row, "aligned": 250, "segment": 320}
    quiet_clip = {**row, "n": 20, "votes": 300, "aligned": 9, "segment": 12}
    frames, tracks = 10**8, 10_000
    assert bench.identified(lookalike, bench.BEFORE, frames, tracks)
    assert not bench.identified(lookalike, shipped, frames, tracks)
    assert bench.identified(shares_a_motif, bench.BEFORE, frames, tracks)
    assert not bench.identified(shares_a_motif, shipped, frames, tracks)
    assert bench.identified(clip_of_it, shipped, frames, tracks)
    assert bench.identified(quiet_clip, shipped, frames, tracks)
    assert not bench.identified(quiet_clip, bench.BEFORE, frames, tracks)


def test_the_clips_go_to_a_gzipped_file_and_come_back(tmp_path) -> None:
    rows = [{"n": 3, "aligned": 1, "side": "negative"}, {"n": 0, "aligned": 0, "side": "x"}]
    kept = bench.kept(tmp_path / "out" / "run", {"rows": rows, "pad": 7})
    assert kept == {"pad": 7, "clips_file": "run.clips.json.gz"}
    assert bench.read_clips(tmp_path / "out" / "run.clips.json.gz") == rows
