"""Landmark fingerprints: hashing against a brute-force pairing, alignment against hand-computed
votes, the decision's chance bound against hand-computed tails and brute-force enumeration, and
identification of re-encoded excerpts of real (synthetic) audio."""

from __future__ import annotations

import itertools

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
    """As ``Recordings.identify`` decides, with the default floor."""
    query = fp.fingerprint(clip, SR, fan_out=fp.QUERY_FAN_OUT)
    found = fp.stored_rows(recordings, query.hashes)
    frames = sum(int(r.times.max()) + 1 for r in recordings.values())
    return fp.identify(query, *found, catalogue_frames=frames,
                       catalogue_tracks=len(recordings), floor=8,
                       segment_hashes=lambda t, a, b: segment_count(recordings[t], a, b))


def segment_count(recording: fp.Fingerprint, start: int, stop: int) -> int:
    return int(((recording.times >= start) & (recording.times < stop)).sum())


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


def test_a_clip_sharing_a_passage_with_a_catalogue_track_is_not_identified(
    songs: dict[int, np.ndarray], recordings: dict[int, fp.Fingerprint]
) -> None:
    """Issue 13: another recording that shares a motif or a loop with a catalogue track lines
    up 13-17 hashes on it, 1-3 % of its own. Here 2 s of song 1 inside 10 s of other music:
    the rule before (12 aligned and 1 %) called that song 1; the share rule does not."""
    for seed in range(4):
        clip = synth_music(10.0, SR, seed=600 + seed).copy()
        clip[4 * SR: 6 * SR] = songs[1][5 * SR: 7 * SR]
        query = fp.fingerprint(clip, SR, fan_out=fp.QUERY_FAN_OUT)
        found = fp.stored_rows(recordings, query.hashes)
        before = fp.align(query, *found, min_aligned=12, min_share=0.01)
        assert [m.track_id for m in before] == [1]
        assert 0.01 <= before[0].share < fp.MIN_SHARE
        assert identify(recordings, clip) == []


def brute_force_full_windows(aligned: int, votes: int, bins: int) -> float:
    """Mean over every placement of ``votes`` votes on ``bins`` offsets (on a circle) of the
    number of offsets o whose window {o, o + 1} holds ``aligned`` or more votes."""
    total = 0
    for placement in itertools.product(range(bins), repeat=votes):
        per = np.bincount(np.array(placement, dtype=np.int64), minlength=bins)
        windows = per + np.roll(per, -1)
        total += int((windows >= aligned).sum())
    return total / bins**votes


@pytest.mark.parametrize(("aligned", "votes", "bins"),
                         [(1, 3, 4), (2, 3, 4), (3, 4, 5), (2, 5, 6), (4, 5, 6), (6, 5, 6)])
def test_chance_matches_is_the_expected_count_of_full_windows(
    aligned: int, votes: int, bins: int
) -> None:
    assert fp.chance_matches(aligned, votes, bins) == pytest.approx(
        brute_force_full_windows(aligned, votes, bins), rel=1e-12, abs=1e-15)


def test_chance_matches_against_hand_computed_tails() -> None:
    # p = 2 / 4: P(Bin(3, 1/2) >= 2) = 4/8, times 4 bins.
    assert fp.chance_matches(2, 3, 4) == pytest.approx(2.0, rel=1e-12)
    # p = 2 / 20: P(Bin(10, 0.1) >= 2) = 1 - 0.9**10 - 10 * 0.1 * 0.9**9, times 20 bins.
    assert fp.chance_matches(2, 10, 20) == pytest.approx(
        20 * (1 - 0.9**10 - 0.9**9), rel=1e-12)
    # p = 2 / 10**8, 30,000 votes: the tail is ~(6e-4)**3 / 3!, so about 3.6e-3 bins.
    assert fp.chance_matches(3, 30_000, 10**8) == pytest.approx(
        10**8 * (6e-4) ** 3 / 6 * np.exp(-6e-4), rel=1e-3)
    assert fp.chance_matches(0, 5, 7) == 7.0
    assert fp.chance_matches(6, 5, 7) == 0.0  # more than the votes
    with pytest.raises(ValueError, match="bins >= 1"):
        fp.chance_matches(1, 5, 0)
    with pytest.raises(ValueError, match="aligned, votes >= 0"):
        fp.chance_matches(1, -1, 5)


def test_chance_threshold_is_the_smallest_count_under_the_target() -> None:
    for votes, bins, target in [(3, 4, 0.1), (10, 20, 1e-3), (30_000, 10**8, 1e-6),
                                (10**6, 2 * 10**8, 1e-6), (0, 10, 1e-6)]:
        k = fp.chance_threshold(votes, bins, target)
        assert fp.chance_matches(k, votes, bins) <= target
        assert k == 1 or fp.chance_matches(k - 1, votes, bins) > target
    # Hand-checked: 30,000 votes on 10**8 bins: 3 aligned happen on 3.6e-3 bins, 4 on
    # ~5.4e-7 (10**8 * (6e-4)**4 / 4!), so 4 is the first under 1e-6.
    assert fp.chance_threshold(30_000, 10**8, 1e-6) == 4
    with pytest.raises(ValueError, match="target"):
        fp.chance_threshold(10, 10, 0.0)


def test_the_chance_threshold_grows_with_the_query_and_the_catalogue() -> None:
    bins = 10**7
    by_votes = [fp.chance_threshold(v, bins) for v in (10, 10**3, 10**5, 10**6)]
    assert by_votes == sorted(by_votes) and by_votes[0] < by_votes[-1]
    # A catalogue ten times longer holds ten times the colliding rows: ten times the votes.
    by_size = [fp.chance_threshold(30 * tracks, 20_000 * tracks) for tracks in
               (10, 100, 10**3, 10**4, 10**5, 10**6)]
    assert by_size == sorted(by_size) and by_size[0] < by_size[-1]


def test_required_aligned_is_the_largest_of_chance_share_and_floor() -> None:
    assert fp.required_aligned(1000, 30_000, 10**8, floor=3, min_share=0.0) == 4  # chance
    assert fp.required_aligned(1000, 30_000, 10**8, floor=3, min_share=0.08) == 80  # share
    assert fp.required_aligned(1000, 30_000, 10**8, floor=90, min_share=0.08) == 90  # floor
    assert fp.required_aligned(25, 0, 10**8, floor=1, min_share=0.08) == 2  # ceil(0.08 * 25)
    assert fp.required_aligned(0, 0, 1, floor=0, min_share=0.08) == 1


def test_vote_count_is_the_pairs_align_votes_with() -> None:
    rng = np.random.default_rng(3)
    query = fp.Fingerprint(hashes=rng.integers(0, 12, 40).astype(np.int32),
                           times=np.sort(rng.integers(0, 100, 40)).astype(np.int32))
    found = rng.integers(0, 15, 70)
    brute = sum(int((query.hashes == h).sum()) for h in found.tolist())
    assert fp.vote_count(query, found) == brute
    assert fp.vote_count(query, found[:0]) == 0


def test_offset_bins_count_every_track_with_a_query_length_of_slack() -> None:
    assert fp.offset_bins(10_000, 3, 600) == 11_800
    assert fp.offset_bins(0, 0, 600) == 1


def test_overlap_against_hand_computed_values() -> None:
    assert fp.overlap(30, 900, 100) == pytest.approx(0.1)  # 30 / sqrt(90,000)
    assert fp.overlap(10, 25, 16) == pytest.approx(0.5)
    assert fp.overlap(50, 40, 40) == 1.0  # capped: one stored hash can meet several
    assert fp.overlap(5, 0, 10) == 0.0
    assert fp.overlap(5, 10, 0) == 0.0


def test_identify_keeps_the_candidates_whose_stretch_they_overlap() -> None:
    """Two tracks hold the same 20 hashes at one offset; the store says track 4's stretch
    holds 30 hashes (overlap 20 / sqrt(20 * 30) = 0.82) and track 9's 50,000 (0.013)."""
    query = fp.Fingerprint(hashes=np.arange(20, dtype=np.int32),
                           times=np.arange(20, dtype=np.int32) * 3)
    hashes = np.concatenate([query.hashes, query.hashes]).astype(np.int64)
    tracks = np.repeat([4, 9], 20)
    times = np.concatenate([query.times + 100, query.times + 500]).astype(np.int64)
    asked = []

    def segment_hashes(track: int, start: int, stop: int) -> int:
        asked.append((track, start, stop))
        return {4: 30, 9: 50_000}[track]

    matches = fp.identify(query, hashes, tracks, times, catalogue_frames=10_000,
                          catalogue_tracks=2, floor=3, segment_hashes=segment_hashes)
    assert [(m.track_id, m.aligned) for m in matches] == [(4, 20)]
    assert asked == [(4, 100, 158), (9, 500, 558)]  # the clip spans frames 0..57
    assert fp.identify(query, hashes, tracks, times, catalogue_frames=10_000,
                       catalogue_tracks=2, floor=21, segment_hashes=segment_hashes) == []
    empty = fp.Fingerprint(np.zeros(0, np.int32), np.zeros(0, np.int32))
    assert fp.identify(empty, hashes, tracks, times, catalogue_frames=10_000,
                       catalogue_tracks=2, floor=3, segment_hashes=segment_hashes) == []
