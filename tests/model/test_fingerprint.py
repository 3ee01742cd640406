"""Landmark fingerprints: hashing against a brute-force pairing, alignment against hand-computed
votes, and identification of re-encoded excerpts of real (synthetic) audio."""

from __future__ import annotations

import numpy as np
import pytest

from model import fingerprint as fp
from model.audio import decode
from support.audio import encode, synth_music

SR = fp.SAMPLE_RATE


def brute_force_pairs(t: np.ndarray, f: np.ndarray, fan_out: int) -> set[tuple[int, int]]:
    """(time, hash) of every anchor with its first ``fan_out`` valid targets, by a plain loop."""
    out = set()
    for i in range(len(t)):
        taken = 0
        for j in range(i + 1, len(t)):
            dt, df = int(t[j] - t[i]), int(f[j] - f[i])
            if dt > fp.MAX_DT or taken == fan_out:
                break
            if dt >= 1 and abs(df) <= fp.MAX_DF:
                h = ((int(f[i]) // fp.F_QUANT) << 14) | (((df + fp.MAX_DF) // fp.F_QUANT) << 6) \
                    | ((dt - 1) // fp.DT_QUANT)
                out.add((int(t[i]), h))
                taken += 1
    return out


@pytest.mark.parametrize("fan_out", [1, 3, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_hashes_match_brute_force(seed: int, fan_out: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    t = np.sort(rng.integers(0, 2000, n)).astype(np.int32)
    f = rng.integers(0, fp.MAX_BIN - fp.MIN_BIN, n).astype(np.int32)
    order = np.lexsort((f, t))
    t, f = t[order], f[order]
    hashes, times = fp.pair_hashes(t, f, fan_out=fan_out)
    pairs = set(zip(times.tolist(), hashes.tolist(), strict=True))
    assert pairs == brute_force_pairs(t, f, fan_out)
    assert len(hashes) == len(set(zip(times.tolist(), hashes.tolist(), strict=True)))  # no repeats
    assert np.all(np.diff(times) >= 0)
    assert hashes.min() >= 0 and hashes.max() < 1 << fp.HASH_BITS


def test_pair_hashes_of_nothing() -> None:
    empty = np.zeros(0, dtype=np.int32)
    for peaks in [(empty, empty), (np.array([5], np.int32), np.array([9], np.int32))]:
        h, t = fp.pair_hashes(*peaks)
        assert h.shape == t.shape == (0,)


def test_landmarks_are_the_isolated_maxima_above_the_floors() -> None:
    spec = np.full((fp.MAX_BIN - fp.MIN_BIN, 400), -100.0, dtype=np.float32)
    spec[50, 20] = 30.0
    spec[200, 100] = 20.0
    spec[100, 300] = 10.0
    spec[10, 380] = 30.0 - fp.PEAK_FLOOR_DB - 1  # too far below the loudest
    spec[120, 200] = 31.0
    spec[121, 201] = 29.0  # inside the neighbourhood of a louder peak
    t, f = fp.landmarks(spec)
    assert list(zip(t.tolist(), f.tolist(), strict=True)) == [
        (20, 50), (100, 200), (200, 120), (300, 100)
    ]


def test_silence_and_short_audio_have_no_fingerprint() -> None:
    assert len(fp.fingerprint(np.zeros(SR * 5, np.float32), SR)) == 0
    assert len(fp.fingerprint(np.full(SR * 5, 1e-6, np.float32), SR)) == 0
    assert len(fp.fingerprint(np.zeros(fp.N_FFT - 1, np.float32), SR)) == 0


def test_align_counts_votes_per_offset_with_one_frame_of_jitter() -> None:
    query = fp.Fingerprint(hashes=np.array([10, 20, 30, 40], np.int32),
                           times=np.array([0, 5, 9, 12], np.int32))
    # Track 7 holds the clip from frame 100 (one hash a frame late, one far away); track 8 has
    # two chance collisions at unrelated offsets; hash 99 is not in the query.
    hashes = np.array([10, 20, 30, 40, 10, 20, 99])
    tracks = np.array([7, 7, 7, 7, 8, 8, 7])
    times = np.array([100, 105, 110, 500, 3, 50, 100])
    matches = fp.align(query, hashes, tracks, times, min_aligned=1)
    assert matches == [
        fp.RecordingMatch(track_id=7, aligned=3, offset_seconds=round(100 * fp.FRAME_SECONDS, 3),
                          share=0.75),
        fp.RecordingMatch(track_id=8, aligned=1, offset_seconds=round(3 * fp.FRAME_SECONDS, 3),
                          share=0.25),
    ]
    assert [m.track_id for m in fp.align(query, hashes, tracks, times, min_aligned=2)] == [7]
    assert fp.align(query, hashes, tracks, times, min_aligned=1, min_share=0.8) == []
    assert fp.align(query, hashes[:0], tracks[:0], times[:0], min_aligned=1) == []
    empty = fp.Fingerprint(np.zeros(0, np.int32), np.zeros(0, np.int32))
    assert fp.align(empty, hashes, tracks, times, min_aligned=1) == []


def test_align_ties_go_to_the_lower_track_id() -> None:
    query = fp.Fingerprint(hashes=np.array([1, 2], np.int32), times=np.array([0, 1], np.int32))
    matches = fp.align(query, np.array([1, 2, 1, 2]), np.array([9, 9, 4, 4]),
                       np.array([10, 11, 20, 21]), min_aligned=2)
    assert [(m.track_id, m.aligned) for m in matches] == [(4, 2), (9, 2)]


def brute_force_rows(recordings: dict[int, fp.Fingerprint], hashes: np.ndarray) -> set:
    """Every stored (hash, track, time) whose hash is in ``hashes``, by a plain loop."""
    wanted = set(hashes.tolist())
    return {(h, tid, t) for tid, r in recordings.items()
            for h, t in zip(r.hashes.tolist(), r.times.tolist(), strict=True) if h in wanted}


def test_stored_rows_are_what_a_lookup_by_hash_returns() -> None:
    rng = np.random.default_rng(7)
    recordings = {tid: fp.Fingerprint(hashes=rng.integers(0, 50, 40).astype(np.int32),
                                      times=np.arange(40, dtype=np.int32)) for tid in (3, 9)}
    hashes = np.array([1, 7, 7, 49, 60])
    found = fp.stored_rows(recordings, hashes)
    assert all(a.dtype == np.int64 for a in found)
    rows = list(zip(*(a.tolist() for a in found), strict=True))
    assert len(rows) == len(set(rows))
    assert set(rows) == brute_force_rows(recordings, hashes)
    assert all(len(a) == 0 for a in fp.stored_rows({}, hashes))


@pytest.fixture(scope="module")
def songs() -> dict[int, np.ndarray]:
    return {i: synth_music(20.0, SR, seed=100 + i) for i in range(3)}


@pytest.fixture(scope="module")
def recordings(songs: dict[int, np.ndarray]) -> dict[int, fp.Fingerprint]:
    return {i: fp.fingerprint(x, SR) for i, x in songs.items()}


def identify(recordings: dict[int, fp.Fingerprint], clip: np.ndarray) -> list[fp.RecordingMatch]:
    query = fp.fingerprint(clip, SR, fan_out=fp.QUERY_FAN_OUT)
    found = fp.stored_rows(recordings, query.hashes)
    return fp.align(query, *found, min_aligned=12, min_share=fp.MIN_SHARE)


@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_a_re_encoded_excerpt_is_found_at_its_offset(
    songs: dict[int, np.ndarray], recordings: dict[int, fp.Fingerprint], fmt: str
) -> None:
    start = 7.3456  # not on the frame grid
    clip = songs[2][round(start * SR): round((start + 8) * SR)]
    matches = identify(recordings, decode(encode(clip, SR, fmt), sample_rate=SR).samples)
    assert [m.track_id for m in matches] == [2]
    # The codec's delay shifts the clip by a few ms; one frame is 16 ms.
    assert matches[0].offset_seconds == pytest.approx(start, abs=3 * fp.FRAME_SECONDS)
    assert matches[0].share >= 0.05


def test_other_audio_is_not_identified(recordings: dict[int, fp.Fingerprint]) -> None:
    for seed in range(3):
        assert identify(recordings, synth_music(8.0, SR, seed=300 + seed)) == []


def test_the_rate_of_the_input_does_not_change_the_hashes_much() -> None:
    x = synth_music(20.0, 22_050, seed=5)
    at_model_rate = decode(encode(x, 22_050, "wav"), sample_rate=SR).samples
    ref = fp.fingerprint(at_model_rate, SR)
    other = fp.fingerprint(x, 22_050)  # resampled inside
    both = set(zip(ref.hashes.tolist(), ref.times.tolist(), strict=True))
    shared = both & set(zip(other.hashes.tolist(), other.times.tolist(), strict=True))
    assert len(shared) >= 0.9 * len(ref)
