"""False and true identification of the fingerprint decision at catalogue scale.

    python -m benchmarks.fingerprint_negatives [--data data/datasets/real] [--pad 10000]

Catalogue: every other recording of each package of ``musicprism dataset real`` (sorted by
path), so that each package (one game, mostly one composer) has tracks on both sides; padded
to ``--pad`` more tracks made from the catalogue recordings' landmarks, each copy moved by a
whole number of bins in frequency (-60..60, in steps of 2) and stretched in time (x0.85..1.15),
then hashed again (``fingerprint.pair_hashes``): tracks with the hash statistics of real music
(same composers, same instruments, transposed and at other tempi) that no query was cut from.
The stored rows are held in memory and looked up as ``service.store.lookup_hashes`` returns
them (``MemoryStore``); the decision is the service's (``fingerprint.required_aligned``).

Queries: 10 s clips, every ``--stride`` seconds, of

- the recordings left out (negatives: never in the catalogue), clean, MP3 / AAC / Opus at
  64 kb/s, and with the tempo raised 3 % (FFmpeg's ``atempo``, pitch kept);
- the catalogue recordings (positives), clean and MP3 / AAC / Opus at 64 kb/s; identified
  when the decision names the recording, within 0.1 s of where the clip was cut.

Each degradation is applied to the whole recording, which is then cut (one encode per
recording, not per clip). Prints and writes benchmarks/results/fingerprint_negatives.{md,json}:
the false and true identification rates of the shipped decision, and the curve of both
against the chance-bound target, the share, the verification threshold and the floor; every
clip's features (hash count, votes, best candidate, its stretch) go to
``fingerprint_negatives.clips.json.gz``, from which ``--from-json`` reports again.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import av.filter
import numpy as np

from benchmarks.common import (
    command_line,
    markdown_table,
    meta_block,
    meta_markdown,
    publish,
    write_results,
)
from model import fingerprint as fp
from model.audio import decode
from support.audio import best_lag_correlation

SR = fp.SAMPLE_RATE
CLIP_S = 10.0
NEGATIVE_KINDS = ("clean", "mp3", "aac", "opus", "tempo")
POSITIVE_KINDS = ("clean", "mp3", "aac", "opus")
CODECS = {"mp3": ("mp3", "libmp3lame"), "aac": ("ipod", "aac"), "opus": ("ogg", "libopus")}
BIT_RATE = 64_000
TEMPO = 1.03
OFFSET_FRAMES = 6  # a positive is identified within 0.1 s of where it was cut
CORRELATE_FROM = 5  # aligned hashes from which a negative's audio is compared
SAME_AUDIO = 0.9  # a clip correlating this well with the stretch it matched: its recording
#   holds that catalogue recording's audio (issue 13's lookalikes correlate 0.05-0.08)


def encoded(x: np.ndarray, kind: str) -> np.ndarray:
    """``x`` (mono, SR) through a codec at 64 kb/s and back."""
    container, codec = CODECS[kind]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=SR, layout="mono")
        stream.bit_rate = BIT_RATE
        frame = av.AudioFrame.from_ndarray(x[None, :].astype(np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return decode(buf.getvalue(), sample_rate=SR, max_seconds=3600).samples


def tempo(x: np.ndarray, factor: float) -> np.ndarray:
    """``x`` played ``factor`` times as fast, pitch kept (FFmpeg atempo)."""
    graph = av.filter.Graph()
    src = graph.add_abuffer(sample_rate=SR, format="flt", layout="mono", time_base=Fraction(1, SR))
    stretch = graph.add("atempo", str(factor))
    sink = graph.add("abuffersink")
    src.link_to(stretch)
    stretch.link_to(sink)
    graph.configure()
    out: list[np.ndarray] = []

    def drain() -> None:
        while True:
            try:
                out.append(graph.pull().to_ndarray().reshape(-1))
            except (av.error.BlockingIOError, av.error.EOFError):
                return

    for i in range(0, len(x), 8192):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, i:i + 8192]),
                                           format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SR, i, Fraction(1, SR)
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return np.concatenate(out).astype(np.float32)


def degraded(x: np.ndarray, kind: str) -> np.ndarray:
    if kind == "clean":
        return x
    if kind == "tempo":
        return tempo(x, TEMPO)
    return encoded(x, kind)


def load(data: Path, cache: Path) -> tuple[list[str], list[np.ndarray]]:
    """Usable recordings of the real data set, mono at SR (decoded once into ``cache``)."""
    files = sorted(p for p in data.rglob("*") if p.suffix in {".ogg", ".opus"})
    names, tracks = [], []
    cache.mkdir(parents=True, exist_ok=True)
    for path in files:
        name = str(path.relative_to(data))
        kept = cache / (name.replace("/", "__") + ".npy")
        if kept.exists():
            x = np.load(kept)
        else:
            try:
                x = decode(path, sample_rate=SR, max_seconds=3600).samples
            except Exception:  # noqa: BLE001 - unusable recordings (silence.ogg) are left out
                continue
            np.save(kept, x)
        if len(x) >= 2 * CLIP_S * SR:
            names.append(name)
            tracks.append(x)
    return names, tracks


def split(names: list[str]) -> tuple[list[int], list[int]]:
    """(catalogue, left out): alternate recordings of each package."""
    inside, outside = [], []
    packages: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        packages.setdefault(name.split("/")[0], []).append(i)
    for members in packages.values():
        for j, i in enumerate(members):
            (inside if j % 2 == 0 else outside).append(i)
    return sorted(inside), sorted(outside)


def padding(tracks: list[np.ndarray], count: int, seed: int = 0) -> list[fp.Fingerprint]:
    """``count`` stored fingerprints made from the landmarks of ``tracks`` (module docstring)."""
    rng = np.random.default_rng(seed)
    peaks = [fp.landmarks(fp.spectrogram_db(x)) for x in tracks]
    bins = fp.MAX_BIN - fp.MIN_BIN
    out = []
    for i in range(count):
        t, f = peaks[i % len(peaks)]
        shift = 2 * int(rng.integers(1, 31)) * (1 if rng.random() < 0.5 else -1)
        stretch = float(rng.uniform(0.85, 1.15))
        t2 = np.round(t * stretch).astype(np.int32)
        f2 = f + shift
        keep = (f2 >= 0) & (f2 < bins)
        t2, f2 = t2[keep], f2[keep]
        order = np.lexsort((f2, t2))
        h, tt = fp.pair_hashes(t2[order], f2[order], fan_out=fp.FAN_OUT)
        out.append(fp.Fingerprint(hashes=h, times=tt))
    return out


class MemoryStore:
    """Stored fingerprint rows in memory, looked up as ``service.store.lookup_hashes`` and
    ``segment_hashes`` return them."""

    def __init__(self, prints: list[fp.Fingerprint]) -> None:
        h = np.concatenate([p.hashes for p in prints]).astype(np.int32)
        ids = np.concatenate([np.full(len(p), i, np.int32) for i, p in enumerate(prints)])
        t = np.concatenate([p.times for p in prints]).astype(np.int32)
        order = np.argsort(h, kind="stable")
        self.hashes, self.tracks, self.times = h[order], ids[order], t[order]
        self.prints = prints
        self.rows = len(h)

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        wanted = np.unique(hashes)
        lo = np.searchsorted(self.hashes, wanted, side="left")
        hi = np.searchsorted(self.hashes, wanted, side="right")
        counts = hi - lo
        idx = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
        return (self.hashes[idx].astype(np.int64), self.tracks[idx].astype(np.int64),
                self.times[idx].astype(np.int64))

    def segment_count(self, track: int, start: int, stop: int) -> int:
        """Stored hashes of ``track`` anchored in frames [start, stop)
        (``service.store.count_hashes_between``)."""
        lo, hi = np.searchsorted(self.prints[track].times, [start, stop], side="left")
        return int(hi - lo)


def features(store: MemoryStore, clip: np.ndarray) -> dict[str, Any]:
    """What the decision looks at for ``clip``: its hash count, its votes and its best
    candidate (track, aligned hashes, offset in frames)."""
    query = fp.fingerprint(clip, SR, fan_out=fp.QUERY_FAN_OUT)
    found = store.lookup(query.hashes)
    span = int(query.times.max()) + 1 if len(query) else 0
    row: dict[str, Any] = {"n": len(query), "votes": fp.vote_count(query, found[0]),
                           "span": span, "track": -1, "aligned": 0, "offset": 0}
    best = best_candidate(query, *found)
    if best is not None:
        row.update(track=best[0], aligned=best[1], offset=best[2],
                   segment=store.segment_count(best[0], best[2], best[2] + span))
    return row


def best_candidate(query: fp.Fingerprint, hashes: np.ndarray, tracks: np.ndarray,
                   times: np.ndarray) -> tuple[int, int, int] | None:
    """(track, aligned, offset in frames) of ``fingerprint.align``'s first match (most
    aligned, then lowest track, then earliest offset), without ranking the others: at 10k
    tracks a clip's votes run to 10^5-10^6, and ranking all of them is most of a query's
    cost. ``test_best_candidate_is_aligns_first`` checks the two agree."""
    if len(query) == 0 or len(hashes) == 0:
        return None
    order = np.argsort(query.hashes, kind="stable")
    q_hash, q_time = query.hashes[order], query.times[order].astype(np.int64)
    lo = np.searchsorted(q_hash, hashes, side="left")
    counts = np.searchsorted(q_hash, hashes, side="right") - lo
    rows = np.repeat(np.arange(len(hashes)), counts)
    if len(rows) == 0:
        return None
    q_index = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(len(rows))
    key = (tracks[rows] << 34) + (times[rows] - q_time[q_index] + (1 << 32))
    keys, n = np.unique(key, return_counts=True)
    score = n.copy()
    nxt = keys[1:] == keys[:-1] + 1
    score[:-1][nxt] += n[1:][nxt]
    i = int(np.argmax(score))  # the first maximum: lowest track, then earliest offset
    return int(keys[i] >> 34), int(score[i]), max(int(keys[i] & ((1 << 34) - 1)) - (1 << 32), 0)


def same_audio(clip: np.ndarray, recording: np.ndarray, offset: int) -> float:
    """Best-lag correlation (within 0.1 s) of ``clip`` with the stretch of ``recording`` it
    was matched to: near 1 for the same audio, near 0 for different recordings."""
    start = offset * fp.HOP
    other = recording[start: start + len(clip)]
    if len(other) < SR or not np.any(other) or not np.any(clip):
        return 0.0
    return best_lag_correlation(clip, other, max_lag=SR // 10)[0]


def jobs(names: list[str], inside: list[int], outside: list[int], tracks: list[np.ndarray],
         stride: float, positive_stride: float) -> list[tuple[str, str, int, float]]:
    """Every (side, kind, recording, start) to query, in a seeded random order: a run cut short
    (``--minutes``) has measured a fair sample of all of them."""
    out = []
    for side, members, kinds, step in (("negative", outside, NEGATIVE_KINDS, stride),
                                       ("positive", inside, POSITIVE_KINDS, positive_stride)):
        for kind in kinds:
            for i in members:
                length = len(tracks[i]) / TEMPO if kind == "tempo" else len(tracks[i])
                starts = np.arange(0.0, (length - CLIP_S * SR) / SR + 1e-9, step)
                out += [(side, kind, i, float(s)) for s in starts]
    order = np.random.default_rng(0).permutation(len(out))
    return [out[j] for j in order]


def run(args: argparse.Namespace) -> dict[str, Any]:
    names, tracks = load(args.data, args.cache)
    inside, outside = split(names)
    started = time.perf_counter()
    prints = [fp.fingerprint(tracks[i], SR) for i in inside]
    prints += padding([tracks[i] for i in inside], args.pad)
    store = MemoryStore(prints)
    build_s = time.perf_counter() - started
    frames = int(sum(int(p.times.max()) + 1 for p in prints if len(p)))
    todo = jobs(names, inside, outside, tracks, args.stride, args.positive_stride)
    for kind, i in sorted({(kind, i) for _, kind, i, _ in todo}):  # encode first (cached)
        cached(args.cache, names[i], kind, tracks[i])
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    n = round(CLIP_S * SR)
    for side, kind, i, start in todo:
        if time.perf_counter() - started > 60 * args.minutes:
            break
        x = cached(args.cache, names[i], kind, tracks[i])
        clip = np.asarray(x[round(start * SR): round(start * SR) + n])
        if len(clip) < n:
            continue
        row = features(store, clip)
        row.update(side=side, kind=kind, recording=names[i], start=start)
        if side == "positive":
            row["own"] = bool(row["track"] == inside.index(i) and abs(
                row["offset"] - start / fp.FRAME_SECONDS) <= OFFSET_FRAMES)
        elif 0 <= row["track"] < len(inside) and row["aligned"] >= CORRELATE_FROM:
            row["correlation"] = same_audio(clip, tracks[inside[row["track"]]], row["offset"])
        rows.append(row)
    return {"catalogue_tracks": len(prints), "recordings_inside": len(inside),
            "recordings_outside": len(outside), "pad": args.pad, "stored_rows": store.rows,
            "catalogue_frames": frames, "build_s": build_s, "planned_clips": len(todo),
            "query_s": time.perf_counter() - started, "rows": rows}


def cached(cache: Path, name: str, kind: str, x: np.ndarray) -> np.ndarray:
    """``degraded(x, kind)``, kept in ``cache`` (the encoders take most of a run)."""
    path = cache / f"{kind}__{name.replace('/', '__')}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    y = degraded(x, kind)
    np.save(path, y)
    return y


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/datasets/real"))
    ap.add_argument("--cache", type=Path, default=Path("/tmp/musicprism-fingerprint-negatives"))
    ap.add_argument("--pad", type=int, default=10_000)
    ap.add_argument("--stride", type=float, default=5.0, help="seconds between negative clips")
    ap.add_argument("--positive-stride", type=float, default=10.0)
    ap.add_argument("--from-json", type=Path, default=None,
                    help="report again from the clips of an earlier run's .json")
    ap.add_argument("--minutes", type=float, default=float("inf"),
                    help="stop querying after this long (the clips are in random order)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/fingerprint_negatives"))
    args = ap.parse_args(argv)
    if args.from_json is not None:  # report again, with the rules as they are now
        earlier = json.loads(args.from_json.read_text())
        if "rows" not in earlier:
            earlier["rows"] = read_clips(args.from_json.with_name(earlier["clips_file"]))
        earlier.pop("summary", None)
        meta = {k: earlier.pop(k) for k in ("command", "date", "machine", "wall_s")}
        earlier["reported_with"] = command_line("benchmarks.fingerprint_negatives", argv)
        earlier["summary"] = summarise(earlier)
        markdown = report(earlier, meta)
        write_results(args.out, {**meta, **kept(args.out, earlier)}, markdown)
        print(markdown)  # noqa: T201
        return
    meta = meta_block(command_line("benchmarks.fingerprint_negatives", argv))
    result = run(args)
    result["summary"] = summarise(result)
    publish(args.out, meta, kept(args.out, result), lambda r, m: report(result, m))


def kept(stem: Path, result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without its per-clip rows, which go (gzipped) to ``stem.clips.json.gz``."""
    path = stem.with_name(stem.name + ".clips.json.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        json.dump(result["rows"], f, separators=(",", ":"))
    return {**{k: v for k, v in result.items() if k != "rows"}, "clips_file": path.name}


def read_clips(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows: list[dict[str, Any]] = json.load(f)
    return rows


Rule = tuple[str, int, float, float, float]  # (name, floor, chance target, share, overlap)
BEFORE: Rule = ("before: 12 aligned and 1 % (no chance bound)", 12, float("inf"), 0.01, 0.0)


def rules() -> list[Rule]:
    """The shipped decision, the one before it, and each knob varied alone."""
    target, share, overlap = fp.CHANCE_TARGET, fp.MIN_SHARE, fp.MIN_OVERLAP
    out: list[Rule] = [("shipped", 8, target, share, overlap), BEFORE]
    out += [("chance bound alone", 1, t, 0.0, 0.0) for t in (1e-2, 1e-6, 1e-9)]
    out += [("chance bound and floor", 8, target, 0.0, 0.0)]
    out += [("share", 8, target, m, overlap) for m in (0.0, 0.01, 0.03, 0.07, 0.09)]
    out += [("overlap", 8, target, share, m) for m in (0.0, 0.05, 0.07, 0.11, 0.13, 0.15)]
    out += [("floor", f, target, share, overlap) for f in (1, 5, 12)]
    return out


def identified(row: dict[str, Any], rule: Rule, frames: int, tracks: int) -> bool:
    """Whether ``rule`` accepts the clip's best candidate."""
    _, floor, target, share, overlap = rule
    if row["aligned"] == 0:
        return False
    if target == float("inf"):  # the rule before: a fixed count and a share
        return bool(row["aligned"] >= floor and row["aligned"] >= share * row["n"])
    bins = fp.offset_bins(frames, tracks, row["span"])
    need = fp.required_aligned(row["n"], row["votes"], bins, floor=floor, target=target,
                               min_share=share)
    return bool(row["aligned"] >= need
                and fp.overlap(row["aligned"], row["n"], row["segment"]) >= overlap)


def rates(result: dict[str, Any], rule: Rule) -> dict[str, Any]:
    frames, tracks = result["catalogue_frames"], result["catalogue_tracks"]
    rows = result["rows"]
    same = same_audio_pairs(rows)
    negatives = [r for r in rows if r["side"] == "negative"
                 and (r["recording"], r["track"]) not in same]
    false = [r for r in negatives if identified(r, rule, frames, tracks)]
    out: dict[str, Any] = {"rule": rule[0], "floor": rule[1], "target": rule[2],
                           "share": rule[3], "overlap": rule[4], "negatives": len(negatives),
                           "false": len(false),
                           "false_rate": len(false) / max(len(negatives), 1),
                           "false_clips": [{k: r.get(k) for k in (
                               "kind", "recording", "start", "n", "aligned", "segment", "track",
                               "correlation")} for r in false[:20]]}
    for kind in POSITIVE_KINDS:
        pos = [r for r in rows if r["side"] == "positive" and r["kind"] == kind]
        found = [r for r in pos if r["own"] and identified(r, rule, frames, tracks)]
        out[f"true_{kind}"] = len(found) / max(len(pos), 1)
        out[f"positives_{kind}"] = len(pos)
        missed = [r for r in pos if not (r["own"] and identified(r, rule, frames, tracks))]
        out[f"missed_{kind}"] = {
            "no hashes": sum(r["n"] == 0 for r in missed),
            "another track or offset first": sum(r["n"] > 0 and not r["own"] for r in missed),
            "refused": sum(r["n"] > 0 and r["own"] for r in missed)}
    return out


def same_audio_pairs(rows: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(left-out recording, catalogue track) pairs where some clip of the recording has the
    track's audio (correlation >= SAME_AUDIO with the stretch it matched): not a recording
    outside the catalogue, so none of its clips matched to that track is a negative."""
    return {(r["recording"], r["track"]) for r in rows
            if r["side"] == "negative" and r.get("correlation", 0.0) >= SAME_AUDIO}


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    rows = result["rows"]
    pairs = same_audio_pairs(rows)
    same = [r for r in rows if r["side"] == "negative" and (r["recording"], r["track"]) in pairs]
    frames, tracks = result["catalogue_frames"], result["catalogue_tracks"]
    long = [r for r in rows if r["n"] >= 500]
    bound = [fp.chance_threshold(r["votes"], fp.offset_bins(frames, tracks, r["span"]))
             for r in long]
    silent = [r for r in rows if r["side"] == "positive" and r["n"] == 0]
    return {"curve": [rates(result, rule) for rule in rules()],
            "same_audio": sorted(pairs),
            "same_audio_clips": len(same),
            "chance_threshold_quantiles": np.percentile(bound, [0, 50, 100]).tolist()
            if bound else [],
            "positives_without_hashes": len(silent),
            "negative_max_aligned": {k: max((r["aligned"] for r in rows if r["side"] ==
                                            "negative" and r["kind"] == k
                                            and (r["recording"], r["track"]) not in pairs),
                                           default=0) for k in NEGATIVE_KINDS}}


def report(result: dict[str, Any], meta: dict[str, Any]) -> str:
    s = result["summary"]
    curve = s["curve"]
    head = (f"Catalogue: {result['recordings_inside']} real recordings and {result['pad']} "
            f"padding tracks ({result['catalogue_tracks']:,} tracks, "
            f"{result['stored_rows']:,} stored hashes, "
            f"{result['catalogue_frames'] * fp.FRAME_SECONDS / 3600:,.0f} h). "
            f"Clips queried: {len(result['rows']):,} of {result['planned_clips']:,} planned "
            f"(random order), {result['query_s'] / max(len(result['rows']), 1):.3f} s each. "
            "Negatives: "
            f"{curve[0]['negatives']:,} 10 s clips of the {result['recordings_outside']} "
            "recordings left out (same packages, mostly the same composers), clean, "
            "MP3 / AAC / Opus at 64 kb/s and tempo x1.03. Positives: "
            f"{sum(curve[0][f'positives_{k}'] for k in POSITIVE_KINDS):,} clips of the "
            "catalogue's real recordings. False: a negative identified as any catalogue "
            "track; true: a positive identified as its own recording within 0.1 s. "
            f"{s['same_audio_clips']} clips of left-out recordings that hold a catalogue "
            f"recording's audio (some clip correlates >= {SAME_AUDIO} with the stretch it "
            f"matched: {s['same_audio']}), matched to that recording, are not negatives; "
            f"{s['positives_without_hashes']} positive clips without a single hash count as "
            "missed. Chance threshold for clips of >= 500 hashes (min / median / max): "
            f"{s['chance_threshold_quantiles']}. Most aligned hashes of any negative, per "
            f"degradation: {s['negative_max_aligned']}.")
    table = markdown_table(
        ["rule", "floor", "chance target", "min share", "min overlap", "false", "false rate",
         *[f"true {k}" for k in POSITIVE_KINDS]],
        [[r["rule"], r["floor"], "none" if r["target"] == float("inf") else r["target"],
          r["share"], r["overlap"], r["false"], r["false_rate"],
          *[f"{100 * r[f'true_{k}']:.2f} %" for k in POSITIVE_KINDS]] for r in curve])
    missed = "Positives the shipped rule misses, per degradation: " + "; ".join(
        f"{k}: {curve[0][f'missed_{k}']}" for k in POSITIVE_KINDS) + "."
    false = curve[0]["false_clips"]
    listed = "The shipped rule's false identifications: " + ("none." if not false else "; ".join(
        f"{c['recording']} at {c['start']:.0f} s ({c['kind']}): {c['aligned']} aligned of "
        f"{c['n']}, stretch {c['segment']}, track {c['track']}, audio correlation "
        f"{c['correlation'] if c['correlation'] is None else round(c['correlation'], 3)}"
        for c in false))
    again = ([f"Reported again from the clips of that run, with the rules as they are now: "
              f"`{result['reported_with']}`."] if "reported_with" in result else [])
    return "\n\n".join(["# Fingerprint decision: false and true identification",
                         meta_markdown(meta), *again, head, table, listed, missed])


if __name__ == "__main__":
    main()
