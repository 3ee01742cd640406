"""Landmark audio fingerprints: which catalogue recording is this clip cut from?

The embedding says how music *sounds*; two tracks by one composer sound alike and an excerpt
of one may be nearer another's track vector. Identifying the exact recording is a different
question, answered here the classic way (Wang, "An Industrial-Strength Audio Search
Algorithm", ISMIR 2003):

1. A magnitude spectrogram (16 kHz, 1,024-point FFT, hop 256: 16 ms frames).
2. Landmarks: local maxima of the log-magnitude over a neighbourhood of
   ``PEAK_BINS`` x ``PEAK_FRAMES``, louder than ``PEAK_FLOOR_DB`` below the clip's loudest
   bin, inside ``MIN_BIN`` .. ``MAX_BIN`` (94 Hz - 5 kHz: what lossy codecs keep).
3. Pairs: each landmark (t1, f1) with the next ``FAN_OUT`` landmarks (t2, f2) in its target
   zone (1 .. ``MAX_DT`` frames later, |f2 - f1| <= 127 bins). The hash packs
   (f1, f2 - f1, t2 - t1), each halved (``F_QUANT``, ``DT_QUANT``) so that one bin or frame
   of jitter mostly leaves it unchanged, into 23 bits; it does not depend on where the clip
   starts, and ``t1`` records where in the recording it occurred. A query pairs each
   landmark with more targets (``QUERY_FAN_OUT``) than a stored recording does: pairs whose
   stored partner was displaced by one extra or missing landmark are still made.
4. Matching (:func:`align`): a query hash found in a recording votes for the time offset
   ``t1_recording - t1_query``. The query is in that recording if many votes agree on one
   offset (within one frame); unrelated audio scatters its few chance collisions.
5. The decision (:func:`identify`): the best (track, offset) must hold more votes than
   chance would put on any of the catalogue's offsets (:func:`chance_threshold`, which grows
   with the query's votes and the catalogue's length), ``MIN_SHARE`` of the query's hashes
   and a floor; then it is verified against the stretch of the recording it claims: the
   aligned hashes must be ``MIN_OVERLAP`` of both the clip's hashes and the stored hashes of
   that stretch (:func:`overlap`). Another track of the same composer or game that shares a
   motif, a loop or an instrument lines up many more hashes than chance would (13-36 of a
   10 s clip's ~1,000, issue 13) but a small part of both; a clip of the recording itself
   lines up most of the stretch's stored hashes (docs/fingerprints.md).

The parameters are fixed as version ``VERSION``: hashes of different versions never match,
so the store keeps the version with every fingerprint. They were chosen on real recordings
(docs/fingerprints.md): 10 s MP3 excerpts of the 14 singularity-music tracks against the 107
recordings of ``musicprism dataset real``; ~31 stored hashes per second of audio.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.stats
from scipy.ndimage import maximum_filter

from model.audio_resample import StreamResampler

VERSION = 1
SAMPLE_RATE = 16_000
N_FFT = 1024
HOP = 256
FRAME_SECONDS = HOP / SAMPLE_RATE
MIN_BIN, MAX_BIN = 6, 320  # 94 Hz .. 5 kHz at 15.6 Hz per bin
PEAK_BINS, PEAK_FRAMES = 31, 31  # neighbourhood a landmark is the maximum of (~480 Hz x 0.5 s)
PEAK_FLOOR_DB = 55.0  # ignore bins this far below the clip's loudest
ABS_FLOOR_DB = -20.0  # and below this level (a full-scale sine peaks near +48 dB)
MAX_DT = 64  # target zone: up to ~1 s after the anchor
MAX_DF = 127
FAN_OUT = 2  # targets per anchor in a stored fingerprint
QUERY_FAN_OUT = 6  # and in a query's: more pairs, so more chances to meet the stored ones
F_QUANT, DT_QUANT = 2, 2  # hash bins and frames in pairs of two: one bin or frame of jitter
MIN_SHARE = 0.05  # a match needs at least this share of the query's hashes to agree
MIN_OVERLAP = 0.09  # and this overlap of its hashes with the claimed stretch's (overlap)
VERIFY_AT_MOST = 3  # candidates identify() checks against the store, best first
CHANCE_TARGET = 1e-6  # expected chance matches per query the decision allows
JITTER_FRAMES = 2  # a score counts votes on an offset and on the next (align)
_F_BITS, _DF_BITS, _DT_BITS = 9, 8, 6  # f1, f2 - f1 + MAX_DF, t2 - t1 - 1 (each quantised)
HASH_BITS = _F_BITS + _DF_BITS + _DT_BITS
_WINDOW = np.hanning(N_FFT).astype(np.float32)
_OFFSET_BITS = 34  # bits of a (track, offset) vote key below the track id


@dataclass(frozen=True, eq=False)
class Fingerprint:
    """The landmark hashes of a recording.

    Attributes:
        hashes: (N,) int32 hash values in [0, 2**HASH_BITS).
        times: (N,) int32 frame index of each hash's anchor (``FRAME_SECONDS`` per frame).
        version: ``VERSION`` of the parameters that made it.
    """

    hashes: np.ndarray
    times: np.ndarray
    version: int = VERSION

    def __len__(self) -> int:
        return len(self.hashes)


@dataclass(frozen=True)
class RecordingMatch:
    """A catalogue recording the query was found in.

    Attributes:
        track_id: the recording.
        aligned: query hashes that agree on ``offset_seconds`` (within one frame).
        offset_seconds: where the query starts in the recording.
        share: ``aligned`` / query hashes, in (0, 1].
    """

    track_id: int
    aligned: int
    offset_seconds: float
    share: float


def fingerprint(samples: np.ndarray, sample_rate: int, *, fan_out: int = FAN_OUT) -> Fingerprint:
    """Landmark hashes of mono ``samples`` at ``sample_rate`` (resampled to ``SAMPLE_RATE``).

    Args:
        samples: (T,) float audio.
        sample_rate: its rate in Hz.

    Returns:
        The fingerprint; empty for audio shorter than one FFT frame or without landmarks.
    """
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if sample_rate != SAMPLE_RATE:
        resampler = StreamResampler(sample_rate, SAMPLE_RATE)
        resampler.push(x)
        x = resampler.finish()
    peaks_t, peaks_f = landmarks(spectrogram_db(x))
    hashes, times = pair_hashes(peaks_t, peaks_f, fan_out=fan_out)
    return Fingerprint(hashes=hashes, times=times)


def spectrogram_db(x: np.ndarray) -> np.ndarray:
    """(T,) samples -> (MAX_BIN - MIN_BIN, frames) log magnitude in dB (Hann window)."""
    if len(x) < N_FFT:
        return np.zeros((MAX_BIN - MIN_BIN, 0), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP]  # (frames, N_FFT)
    spec = np.abs(scipy.fft.rfft(frames * _WINDOW, axis=1)[:, MIN_BIN:MAX_BIN])  # (frames, bins)
    return 20.0 * np.log10(np.ascontiguousarray(spec.T) + np.float32(1e-6))


def landmarks(spec_db: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of ``spec_db`` (bins, frames): (frame, bin) arrays sorted by frame then bin.

    A landmark is the maximum of its ``PEAK_BINS`` x ``PEAK_FRAMES`` neighbourhood, no more
    than ``PEAK_FLOOR_DB`` below the loudest bin and above ``ABS_FLOOR_DB`` (``bin`` counts
    from ``MIN_BIN``).
    """
    if spec_db.size == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    local_max = maximum_filter(spec_db, size=(PEAK_BINS, PEAK_FRAMES), mode="constant",
                               cval=-np.inf)
    floor = max(float(spec_db.max()) - PEAK_FLOOR_DB, ABS_FLOOR_DB)
    is_peak = (spec_db == local_max) & (spec_db > floor)
    f, t = np.nonzero(is_peak)
    order = np.lexsort((f, t))
    return t[order].astype(np.int32), f[order].astype(np.int32)


def pair_hashes(
    t: np.ndarray, f: np.ndarray, *, fan_out: int = FAN_OUT
) -> tuple[np.ndarray, np.ndarray]:
    """Hash each landmark with the next ``FAN_OUT`` in its target zone.

    Args:
        t, f: (P,) frame and bin of each landmark, sorted by frame.

    Returns:
        (hashes, times): (N,) int32 each, sorted by time then hash, without repeats.
    """
    anchors, hashes = [], []
    taken = np.zeros(len(t), dtype=np.int32)  # targets paired so far, per anchor
    for step in range(1, len(t)):
        a = np.arange(len(t) - step)
        b = a + step
        dt = t[b] - t[a]
        df = f[b] - f[a]
        alive = dt <= MAX_DT
        if not alive.any():
            break  # sorted by time: larger steps only reach further
        ok = alive & (dt >= 1) & (np.abs(df) <= MAX_DF) & (taken[a] < fan_out)
        a, dt, df = a[ok], dt[ok], df[ok]
        taken[a] += 1
        anchors.append(a)
        hashes.append(
            ((f[a] // F_QUANT) << (_DF_BITS + _DT_BITS))
            | (((df + MAX_DF) // F_QUANT) << _DT_BITS)
            | ((dt - 1) // DT_QUANT)
        )
        if (taken >= fan_out).all():
            break
    if not anchors:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty
    h = np.concatenate(hashes).astype(np.int32)
    tt = t[np.concatenate(anchors)].astype(np.int32)
    pairs = np.unique(np.stack([tt, h], axis=1), axis=0)  # sorted by time, then hash
    return pairs[:, 1].copy(), pairs[:, 0].copy()


def stored_rows(
    recordings: Mapping[int, Fingerprint], hashes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From fingerprints held in memory, what the store's lookup returns for ``hashes``
    (``service.store.lookup_hashes``): every (hash, track id, time) of ``recordings`` whose
    hash is one of ``hashes``, as three (M,) int64 arrays. For tests and benchmarks."""
    if not recordings:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    h = np.concatenate([r.hashes for r in recordings.values()]).astype(np.int64)
    t = np.concatenate([r.times for r in recordings.values()]).astype(np.int64)
    ids = np.concatenate([np.full(len(r), i, np.int64) for i, r in recordings.items()])
    keep = np.isin(h, np.asarray(hashes))
    return h[keep], ids[keep], t[keep]


def align(
    query: Fingerprint,
    found_hashes: np.ndarray,
    found_tracks: np.ndarray,
    found_times: np.ndarray,
    *,
    min_aligned: int,
    min_share: float = 0.0,
) -> list[RecordingMatch]:
    """The recordings ``query`` was cut from, best first.

    Args:
        query: the clip's fingerprint.
        found_hashes, found_tracks, found_times: (M,) the stored hashes equal to one of the
            query's, with their track id and anchor frame (any order; each (hash, track,
            frame) once, as a stored fingerprint holds it). Track ids below 2**29.
        min_aligned: fewest hashes that must agree on one offset for a match.
        min_share: smallest ``aligned / len(query)`` for a match.

    Returns:
        One :class:`RecordingMatch` per track that passes both thresholds, most aligned
        hashes first (ties: lower track id).
    """
    if len(query) == 0 or len(found_hashes) == 0:
        return []
    order = np.argsort(query.hashes, kind="stable")
    q_hash, q_time = query.hashes[order], query.times[order]
    lo = np.searchsorted(q_hash, found_hashes, side="left")
    hi = np.searchsorted(q_hash, found_hashes, side="right")
    # Every (stored, query) pair with equal hashes votes for offset stored - query time.
    counts = hi - lo
    rows = np.repeat(np.arange(len(found_hashes)), counts)
    if len(rows) == 0:
        return []
    first = np.repeat(np.cumsum(counts) - counts, counts)  # where each row's pairs begin
    q_index = np.repeat(lo, counts) + np.arange(len(rows)) - first
    tracks = found_tracks[rows].astype(np.int64)
    offsets = found_times[rows].astype(np.int64) - q_time[q_index].astype(np.int64)
    # One int64 key per (track, offset), ordered by track then offset: offsets are frame
    # differences of 32-bit times, so offset + 2**32 fits in 33 bits below the track's.
    key = (tracks << _OFFSET_BITS) + (offsets + (1 << 32))
    keys, n = np.unique(key, return_counts=True)  # votes per (track, offset)
    k_track, k_offset = keys >> _OFFSET_BITS, (keys & ((1 << _OFFSET_BITS) - 1)) - (1 << 32)
    # Allow one frame of jitter: an offset's score adds its upper neighbour's votes.
    nxt = np.zeros_like(n)
    next_offset = keys[1:] == keys[:-1] + 1  # same track, the next frame
    nxt[:-1][next_offset] = n[1:][next_offset]
    score = n + nxt
    # Per track, the best score (the earliest offset among equals).
    order = np.lexsort((k_offset, -score, k_track))
    firsts = order[np.r_[True, k_track[order][1:] != k_track[order][:-1]]]
    total = len(query)
    matches = [
        RecordingMatch(
            track_id=int(k_track[i]),
            aligned=int(score[i]),
            offset_seconds=round(max(int(k_offset[i]), 0) * FRAME_SECONDS, 3),
            share=round(min(int(score[i]) / total, 1.0), 4),
        )
        for i in firsts
        if score[i] >= min_aligned and score[i] / total >= min_share
    ]
    return sorted(matches, key=lambda m: (-m.aligned, m.track_id))


def vote_count(query: Fingerprint, found_hashes: np.ndarray) -> int:
    """Votes :func:`align` casts for these stored rows: per stored hash, the query hashes
    equal to it (chance collisions and true ones together)."""
    if len(query) == 0 or len(found_hashes) == 0:
        return 0
    q = np.sort(query.hashes)
    found = np.asarray(found_hashes)
    counts = np.searchsorted(q, found, side="right") - np.searchsorted(q, found, side="left")
    return int(counts.sum())


def offset_bins(total_frames: int, tracks: int, query_frames: int) -> int:
    """(track, offset) pairs a query can land on: each of ``tracks`` recordings, ``total_frames``
    frames together, offers its frames plus the query's length (a clip may start before a
    recording's first hash or run past its end)."""
    return max(int(total_frames) + int(tracks) * int(query_frames), 1)


def chance_matches(aligned: int, votes: int, bins: int) -> float:
    """Expected number of the catalogue's (track, offset) bins that chance alone fills with
    ``aligned`` or more of a query's votes.

    The null hypothesis, stated once: the query is in no catalogue recording, and each of its
    ``votes`` (stored hashes equal to a query hash) falls on one of ``bins`` offsets uniformly
    and independently. A score counts ``JITTER_FRAMES`` adjacent offsets, so one bin's count
    is Binomial(votes, JITTER_FRAMES / bins), and the expected number of bins at ``aligned``
    or more is ``bins`` times its tail (exactly so when the offsets wrap around; a bound on
    the chance that any bin gets there, Bonferroni's). More votes (a longer or busier query,
    a bigger catalogue) make a given count likelier by chance; more bins spread them thinner.

    Raises:
        ValueError: a negative count or ``bins`` < 1.
    """
    if aligned < 0 or votes < 0 or bins < 1:
        raise ValueError(f"need aligned, votes >= 0 and bins >= 1; got {aligned}, {votes}, {bins}")
    if aligned == 0:
        return float(bins)
    p = min(JITTER_FRAMES / bins, 1.0)
    return bins * float(scipy.stats.binom.sf(aligned - 1, votes, p))


def chance_threshold(votes: int, bins: int, target: float = CHANCE_TARGET) -> int:
    """Fewest aligned votes that chance reaches on fewer than ``target`` bins in expectation:
    the smallest k >= 1 with ``chance_matches(k, votes, bins) <= target``."""
    if not 0 < target:
        raise ValueError(f"target must be > 0, got {target}")
    k = 1
    while k <= votes and chance_matches(k, votes, bins) > target:
        k += 1
    return k


def required_aligned(query_hashes: int, votes: int, bins: int, *, floor: int,
                     target: float = CHANCE_TARGET, min_share: float = MIN_SHARE) -> int:
    """Aligned hashes a match needs: beyond chance (:func:`chance_threshold`), at least
    ``min_share`` of the query's hashes, and at least ``floor`` (a deployment's own minimum,
    ``MUSICPRISM_FINGERPRINT_MIN_ALIGNED``)."""
    by_share = math.ceil(min_share * query_hashes - 1e-9)
    return max(chance_threshold(votes, bins, target), by_share, floor, 1)


def identify(
    query: Fingerprint,
    found_hashes: np.ndarray,
    found_tracks: np.ndarray,
    found_times: np.ndarray,
    *,
    catalogue_frames: int,
    catalogue_tracks: int,
    floor: int,
    segment_hashes: Callable[[int, int, int], int],
) -> list[RecordingMatch]:
    """The decision: :func:`align` with the aligned count :func:`required_aligned` asks for,
    then each candidate (at most ``VERIFY_AT_MOST``, best first) verified by its
    :func:`overlap` with the stretch of the recording it claims.

    Args:
        query, found_*: as for :func:`align` (the stored rows equal to a query hash).
        catalogue_frames, catalogue_tracks: the fingerprinted catalogue's length in frames and
            its number of tracks (where chance collisions can land, :func:`offset_bins`).
        floor: fewest aligned hashes in any case.
        segment_hashes: ``(track_id, start, stop)`` -> how many hashes the store holds for
            that track anchored in frames [start, stop).
    """
    if len(query) == 0:
        return []
    span = int(query.times.max()) + 1
    bins = offset_bins(catalogue_frames, catalogue_tracks, span)
    need = required_aligned(len(query), vote_count(query, found_hashes), bins, floor=floor)
    candidates = align(query, found_hashes, found_tracks, found_times, min_aligned=need,
                       min_share=MIN_SHARE)[:VERIFY_AT_MOST]
    verified = []
    for m in candidates:
        start = round(m.offset_seconds / FRAME_SECONDS)
        stored = segment_hashes(m.track_id, start, start + span)
        if overlap(m.aligned, len(query), stored) >= MIN_OVERLAP:
            verified.append(m)
    return verified


def overlap(aligned: int, query_hashes: int, segment_hashes: int) -> float:
    """How much of the clip and of the claimed stretch of the recording the aligned hashes
    are: ``aligned / sqrt(query_hashes * segment_hashes)`` (the cosine of the two hash sets
    when the aligned hashes are the ones they share), at most 1; 0 when either is empty.
    ``segment_hashes``: the recording's stored hashes anchored from the match's offset over
    the clip's length."""
    if query_hashes <= 0 or segment_hashes <= 0:
        return 0.0
    return min(aligned / math.sqrt(query_hashes * segment_hashes), 1.0)
