"""How the fingerprint's parameters trade stored hashes against identification margin.

    python -m benchmarks.fingerprint_study [--data data/datasets/real]

Every recording of ``musicprism dataset real`` (107 usable, 8.35 h) is fingerprinted in full
with each parameter set; 42 random 10 s excerpts of the 14 singularity-music tracks (one-minute
stretches from 20 s in, three seeds, as benchmarks/real_excerpts.py draws them), re-encoded as
MP3, are identified against all 107. Per set: stored hashes per second of audio (what the
store holds), fingerprinting cost, how often the own recording has the most aligned hashes,
the fewest aligned hashes any excerpt got from its own recording (the margin a threshold has
to stay under), and the most any other recording got (what it must stay above). Module
constants are set per row and restored; the shipped values are the row marked ``*``.
Writes benchmarks/results/fingerprint_study.{md,json}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    command_line,
    markdown_table,
    meta_block,
    meta_markdown,
    publish,
)
from model import fingerprint as fp
from model.audio import decode
from support.audio import encode

SR = fp.SAMPLE_RATE
PARAMS = ("HOP", "PEAK_BINS", "PEAK_FRAMES", "MAX_DT", "F_QUANT", "DT_QUANT")
STUDY = [
    dict(HOP=256, PEAK_BINS=31, PEAK_FRAMES=31, MAX_DT=64, F_QUANT=1, DT_QUANT=1, fan=3, qfan=3),
    dict(HOP=256, PEAK_BINS=31, PEAK_FRAMES=31, MAX_DT=64, F_QUANT=2, DT_QUANT=2, fan=3, qfan=3),
    dict(HOP=256, PEAK_BINS=31, PEAK_FRAMES=31, MAX_DT=64, F_QUANT=2, DT_QUANT=2, fan=2, qfan=2),
    dict(HOP=256, PEAK_BINS=31, PEAK_FRAMES=31, MAX_DT=64, F_QUANT=2, DT_QUANT=2, fan=2, qfan=6),
    dict(HOP=256, PEAK_BINS=41, PEAK_FRAMES=61, MAX_DT=64, F_QUANT=2, DT_QUANT=2, fan=3, qfan=3),
    dict(HOP=512, PEAK_BINS=31, PEAK_FRAMES=21, MAX_DT=40, F_QUANT=2, DT_QUANT=2, fan=2, qfan=2),
]


def shipped(cfg: dict[str, Any]) -> bool:
    return all(getattr(fp, p) == cfg[p] for p in PARAMS) and (cfg["fan"], cfg["qfan"]) == (
        fp.FAN_OUT, fp.QUERY_FAN_OUT)


def load(data: Path) -> tuple[dict[int, np.ndarray], list[tuple[int, np.ndarray]]]:
    files = sorted(p for p in data.rglob("*") if p.suffix in {".ogg", ".opus"})
    tracks = {}
    for i, path in enumerate(files):
        try:
            tracks[i] = decode(path, sample_rate=SR, max_seconds=3600).samples
        except Exception:  # noqa: BLE001 - unusable recordings (silence.ogg) are left out
            continue
    singularity = [i for i in tracks
                   if "singularity" in str(files[i]) and len(tracks[i]) >= 80 * SR]
    clips = []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        for i in singularity:
            seg = tracks[i][20 * SR: 80 * SR]
            s = int(rng.integers(0, len(seg) - 10 * SR))
            mp3 = encode(seg[s: s + 10 * SR], SR, "mp3")
            clips.append((i, decode(mp3, sample_rate=SR).samples))
    return tracks, clips


def evaluate(cfg: dict[str, Any], tracks: dict[int, np.ndarray],
             clips: list[tuple[int, np.ndarray]]) -> dict[str, Any]:
    saved = {p: getattr(fp, p) for p in (*PARAMS, "FRAME_SECONDS")}
    try:
        for p in PARAMS:
            setattr(fp, p, cfg[p])
        fp.FRAME_SECONDS = fp.HOP / SR
        start = time.perf_counter()
        prints = {i: fp.fingerprint(x, SR, fan_out=cfg["fan"]) for i, x in tracks.items()}
        seconds = time.perf_counter() - start
        audio_s = sum(len(x) for x in tracks.values()) / SR
        own, other, first = [], [], []
        for i, clip in clips:
            q = fp.fingerprint(clip, SR, fan_out=cfg["qfan"])
            matches = fp.align(q, *fp.stored_rows(prints, q.hashes), min_aligned=1)
            first.append(bool(matches) and matches[0].track_id == i)
            own.append(next((m.aligned for m in matches if m.track_id == i), 0))
            other.append(max((m.aligned for m in matches if m.track_id != i), default=0))
    finally:
        for p, v in saved.items():
            setattr(fp, p, v)
    stored = sum(len(f) for f in prints.values())
    return {**cfg, "hashes_per_s": stored / audio_s, "ms_per_audio_s": 1e3 * seconds / audio_s,
            "first": float(np.mean(first)), "own_min": min(own),
            "own_median": float(np.median(own)),
            "other_max": max(other), "shipped": shipped(cfg)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("data/datasets/real"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/fingerprint_study"))
    args = ap.parse_args(argv)
    meta = meta_block(command_line("benchmarks.fingerprint_study", argv))
    tracks, clips = load(args.data)
    result = {"recordings": len(tracks), "clips": len(clips),
              "hours": sum(len(x) for x in tracks.values()) / SR / 3600,
              "rows": [evaluate(cfg, tracks, clips) for cfg in STUDY]}
    publish(args.out, meta, result, report)


def report(result: dict[str, Any], meta: dict[str, Any]) -> str:
    return "\n\n".join([
        "# Fingerprint parameters: stored hashes against identification margin",
        meta_markdown(meta),
        f"{result['recordings']} recordings ({result['hours']:.2f} h) fingerprinted; "
        f"{result['clips']} 10 s MP3 excerpts identified against all of them. "
        "'own min': fewest hashes of an excerpt aligned with its own recording; 'other max': "
        "most aligned with any other recording. A threshold between the two identifies every "
        "excerpt and nothing else; the shipped one is 12 (and 1 % of the query's hashes).",
        markdown_table(
            ["", "hop", "peak area (bins x frames)", "quant (f, t)", "fan-out stored / query",
             "hashes per s", "ms per audio s", "own first", "own min", "own median",
             "other max"],
            [["*" if r["shipped"] else "", r["HOP"], f"{r['PEAK_BINS']} x {r['PEAK_FRAMES']}",
              f"{r['F_QUANT']}, {r['DT_QUANT']}", f"{r['fan']} / {r['qfan']}",
              r["hashes_per_s"], r["ms_per_audio_s"], r["first"], r["own_min"],
              r["own_median"], r["other_max"]] for r in result["rows"]]),
    ])


if __name__ == "__main__":
    main()
