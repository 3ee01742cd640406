"""Where the time of ``POST /similar`` goes, stage by stage, on a catalogue with fingerprints.

    python -m benchmarks.post_similar_stages --data-dir /tmp/stages/data [--tracks 10000]
        [--n 30] [--json benchmarks/results/post_similar_stages.json]

Issue 15 asks where identification's 41-51 ms go and whether batching concurrent embeddings
would pay. This builds (once; reused when ``--data-dir`` already holds it) a catalogue of
``--tracks`` synthetic tracks (``benchmarks.api_load.build_data_dir``) and stores a fingerprint
for each (landmarks of ``support.audio.synth_music`` audio, moved in time and frequency as
``benchmarks.fingerprint_negatives.padding`` does, through ``service.store.put_fingerprint``),
then runs the route's stages one after the other on the same objects the route uses
(``Recordings.decode``, ``embed``, ``fingerprint``, ``store.lookup_hashes``, the decision
``model.fingerprint.identify``, ``Queries.similar``), for a 10 s clip cut from a stored track
("known") and one from audio the catalogue does not hold ("unknown"), timing each.

Then the embedding on its own: ``--batch`` clips embedded one by one and as one batch, on one
torch thread, which is what micro-batching concurrent uploads would save.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from benchmarks.common import machine_info
from support.audio import synth_music

RATE = 16_000  # the shipped model's sample rate, at which the route fingerprints a clip
SOURCES = 8


def fingerprint_catalogue(data_dir: Path, tracks: int) -> dict[str, Any]:
    """The synthetic catalogue with one stored fingerprint per track (module docstring)."""
    from sqlalchemy import func, select

    from benchmarks.api_load import build_data_dir
    from benchmarks.fingerprint_negatives import padding
    from model import fingerprint as fp
    from service import store
    from service.app import build_catalog
    from service.models import fingerprint_hashes
    from service.settings import Settings

    if not (data_dir / "musicprism.db").exists():
        build_data_dir(data_dir, n_synthetic=tracks, clips=[])
    catalog = build_catalog(Settings(data_dir=data_dir))
    catalog.open()
    try:
        with catalog.binding.session() as session:
            ids, _ = store.load_embeddings(session,
                                           model_version_id=catalog.binding.model_version_id)
            have = store.fingerprint_extent(session, version=fp.VERSION)[0]
        started = time.perf_counter()
        if have < len(ids):
            # The first tracks hold the sources' own fingerprints (what a clip of them
            # finds), the rest moved copies of their landmarks (chance collisions only).
            sources = [_source(seed) for seed in range(SOURCES)]
            prints = [fp.fingerprint(x, RATE) for x in sources]
            prints += padding(sources, len(ids) - len(sources))
            for i, track_id in enumerate(ids.tolist()):
                with catalog.binding.session() as session:
                    store.put_fingerprint(session, track_id=track_id, fingerprint=prints[i])
            with catalog.binding.session() as session:
                store.refresh_statistics(session)
        with catalog.binding.session() as session:
            tracks_fp, seconds = store.fingerprint_extent(session, version=fp.VERSION)
            rows = session.execute(select(func.count()).select_from(fingerprint_hashes)
                                   ).scalar_one()
        return {"tracks": len(ids), "fingerprinted": tracks_fp, "audio_hours": seconds / 3600,
                "hash_rows": rows, "fill_seconds": round(time.perf_counter() - started, 1)}
    finally:
        catalog.close()


def _source(seed: int) -> np.ndarray:
    return synth_music(30.0, RATE, seed=1_000 + seed).astype(np.float32)


def clip_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


class Stopwatch:
    """Milliseconds per named stage: ``with watch("decode"): ...``."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}
        self._stage = ""
        self._started = 0.0

    def __call__(self, stage: str) -> Stopwatch:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        elapsed = 1000 * (time.perf_counter() - self._started)
        self.times.setdefault(self._stage, []).append(elapsed)


def one_query(catalog: Any, data: bytes, watch: Stopwatch) -> tuple[bool, int]:
    """The route's stages for one upload; (identified, stored rows the look-up returned)."""
    from model import fingerprint as fp
    from service import store

    recordings = catalog.recordings
    with watch("decode"):
        decoded = recordings.decode(data)
    with watch("embed"):
        emb = recordings.embed(decoded.samples)
    with watch("fingerprint"):
        query = recordings.fingerprint(decoded.samples, fan_out=fp.QUERY_FAN_OUT)
    with catalog.binding.session() as session:
        with watch("hash look-up"):
            found = store.lookup_hashes(session, hashes=query.hashes, version=query.version)
        tracks, seconds = recordings._extent(session, query.version)

        def segment(track_id: int, start: int, stop: int) -> int:
            return store.count_hashes_between(session, track_id=track_id, start=start,
                                              stop=stop)

        with watch("decision"):
            matches = fp.identify(query, *found,
                                  catalogue_frames=round(seconds / fp.FRAME_SECONDS),
                                  catalogue_tracks=tracks,
                                  floor=catalog.config.fingerprint_min_aligned,
                                  segment_hashes=segment)
    with watch("search + rows"):
        catalog.queries.similar(emb.vector, k=10, matches=matches)
    with watch("identify, as the route calls it"):
        recordings.identify(decoded.samples)
    return bool(matches), len(found[0])


def stages(data_dir: Path, n: int, clips: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per clip and stage, p50 and mean milliseconds over ``n`` runs (two more first, not
    counted), and how often the clip was identified."""
    from service.app import build_catalog
    from service.settings import Settings

    catalog = build_catalog(Settings(data_dir=data_dir))
    catalog.open()
    out: dict[str, Any] = {}
    try:
        for name, samples in clips.items():
            data, watch = clip_bytes(samples), Stopwatch()
            runs = [one_query(catalog, data, watch) for _ in range(n + 2)]
            out[name] = {"ms": {stage: {"p50": round(statistics.median(v[2:]), 2),
                                        "mean": round(statistics.fmean(v[2:]), 2)}
                                for stage, v in watch.times.items()},
                         "identified": sum(hit for hit, _ in runs), "runs": len(runs),
                         "rows_found": runs[-1][1]}
    finally:
        catalog.close()
    return out


def embedding_batches(batch: int, n: int) -> dict[str, float]:
    """Milliseconds per 10 s clip, embedded one by one and as one batch, one torch thread."""
    import torch

    from model.audio import windows
    from model.checkpoint import SHIPPED_MODEL, load_checkpoint
    from model.embed import Embedder

    torch.set_num_threads(1)
    embedder = Embedder(load_checkpoint(SHIPPED_MODEL), batch_size=1024)
    rate = embedder.sample_rate
    frames = [windows(synth_music(10.0, rate, seed=s).astype(np.float32), rate,
                      embedder.window_seconds, embedder.hop_seconds) for s in range(batch)]
    together = np.concatenate(frames)
    embedder.embed_windows(together)
    alone, batched = [], []
    for _ in range(n):
        started = time.perf_counter()
        for f in frames:
            embedder.embed_windows(f)
        alone.append(1000 * (time.perf_counter() - started) / batch)
        started = time.perf_counter()
        embedder.embed_windows(together)
        batched.append(1000 * (time.perf_counter() - started) / batch)
    return {"clips": batch, "windows_per_clip": int(frames[0].shape[0]),
            "one_by_one_ms_per_clip": round(statistics.median(alone), 2),
            "batched_ms_per_clip": round(statistics.median(batched), 2)}


def report(result: dict[str, Any]) -> str:
    cat = result["catalogue"]
    lines = [f"Catalogue: {cat['tracks']:,} tracks, {cat['fingerprinted']:,} fingerprinted "
             f"({cat['audio_hours']:.0f} h of audio)", "",
             "| stage | known clip p50 ms | unknown clip p50 ms |", "|---|---|---|"]
    known, unknown = result["stages"]["known"], result["stages"]["unknown"]
    for stage, v in known["ms"].items():
        lines.append(f"| {stage} | {v['p50']} | {unknown['ms'][stage]['p50']} |")
    lines += ["", f"Identified: known {known['identified']} of {known['runs']} "
              f"({known['rows_found']:,} stored rows share a hash with it), unknown "
              f"{unknown['identified']} of {unknown['runs']} ({unknown['rows_found']:,} rows)."]
    b = result["batching"]
    lines += ["", f"Embedding {b['clips']} clips of 10 s ({b['windows_per_clip']} windows each) "
              f"on one thread: {b['one_by_one_ms_per_clip']} ms per clip one by one, "
              f"{b['batched_ms_per_clip']} ms per clip as one batch."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    catalogue = fingerprint_catalogue(args.data_dir, args.tracks)
    source = _source(0)
    known = source[RATE * 12: RATE * 22]  # 10 s of the first track, from 12 s
    unknown = synth_music(10.0, RATE, seed=99).astype(np.float32)
    result = {"machine": machine_info(), "catalogue": catalogue,
              "stages": stages(args.data_dir, args.n, {"known": known, "unknown": unknown}),
              "batching": embedding_batches(args.batch, args.n)}
    print(report(result))  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
