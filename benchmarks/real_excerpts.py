"""Same-track retrieval on real recordings: does a 10 s MP3 excerpt find its own track?

The check of tests/service/test_default_model.py, without HTTP and over several seeds:
each recording of a Debian game-music package (default singularity-music, held out of the
default model's training) gives a one-minute catalogue track (from 20 s in); random 10 s
excerpts, re-encoded as MP3, are ranked against the catalogue as ``POST /similar`` ranks
them (recordings identified by fingerprint first, then by the inner product of full-space
track vectors), by the track vector alone (``identify=false``) and, for comparison, by window
matching (mean over the excerpt's windows of the best cosine to any window of the track).

    python -m benchmarks.real_excerpts [--model PATH] [--seeds 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

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
from model.checkpoint import load_checkpoint
from model.data.real import fetch_real
from model.embed import Embedder, TrackEmbedding
from service.app import DEFAULT_MODEL
from support.audio import encode

SR = 16_000
CATALOGUE_S, QUERY_S, SKIP_S = 60.0, 10.0, 20.0


def rank_of(scores: np.ndarray, own: int) -> int:
    """0-based rank of ``own`` when ``scores`` are sorted high to low (ties count against)."""
    return int((np.delete(scores, own) >= scores[own]).sum())


def window_match(query: TrackEmbedding, track: TrackEmbedding) -> float:
    return float((query.windows @ track.windows.T).max(axis=1).mean())


def service_rank(scores: np.ndarray, own: int, identified: list[int]) -> int:
    """Rank of ``own`` when the ``identified`` tracks come first (in order), then the rest by
    ``scores``."""
    if own in identified:
        return identified.index(own)
    others = np.array([i for i in range(len(scores)) if i not in identified and i != own])
    ahead = int((scores[others] >= scores[own]).sum()) if len(others) else 0
    return len(identified) + ahead


def identify(catalogue: list[fp.Fingerprint], samples: np.ndarray) -> list[int]:
    """Catalogue indices ``samples`` is identified as, as ``Recordings.identify`` decides it
    (``fingerprint.identify`` with the default floor of 8), best first."""
    query = fp.fingerprint(samples, SR, fan_out=fp.QUERY_FAN_OUT)
    found = fp.stored_rows(dict(enumerate(catalogue)), query.hashes)
    frames = sum(int(c.times.max()) + 1 for c in catalogue if len(c))

    def segment_hashes(track: int, start: int, stop: int) -> int:
        times = catalogue[track].times
        return int(((times >= start) & (times < stop)).sum())

    matches = fp.identify(query, *found, catalogue_frames=frames,
                          catalogue_tracks=len(catalogue), floor=8,
                          segment_hashes=segment_hashes)
    return [m.track_id for m in matches]


def load_tracks(folder: Path) -> list[np.ndarray]:
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".ogg", ".opus"})
    out = []
    for path in files:
        samples = decode(path, sample_rate=SR, max_seconds=3600).samples
        if len(samples) >= (CATALOGUE_S + SKIP_S) * SR:
            out.append(samples[int(SKIP_S * SR): int((SKIP_S + CATALOGUE_S) * SR)])
    return out


def run(model: Path, folder: Path, seeds: int) -> dict:
    embedder = Embedder(load_checkpoint(model))
    tracks = load_tracks(folder)
    catalogue = [embedder.embed(t) for t in tracks]
    prints = [fp.fingerprint(t, SR) for t in tracks]
    vectors = np.stack([e.vector for e in catalogue])
    ranks: dict[str, list[int]] = {"POST /similar": [], "track vector": [], "window match": []}
    wrong = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        for i, samples in enumerate(tracks):
            start = int(rng.integers(0, len(samples) - QUERY_S * SR))
            clip = encode(samples[start: start + int(QUERY_S * SR)], SR, "mp3")
            samples = decode(clip, sample_rate=SR).samples
            q = embedder.embed(samples)
            identified = identify(prints, samples)
            wrong += len([j for j in identified if j != i])
            ranks["POST /similar"].append(service_rank(vectors @ q.vector, i, identified))
            ranks["track vector"].append(rank_of(vectors @ q.vector, i))
            ranks["window match"].append(
                rank_of(np.array([window_match(q, e) for e in catalogue]), i))
    return {"model": embedder.model.version, "tracks": len(tracks), "seeds": seeds,
            "ranks": ranks, "wrong_identifications": wrong,
            "summary": {k: {"top1": float(np.mean(np.array(r) == 0)),
                            "top3": float(np.mean(np.array(r) < 3)),
                            "top5": float(np.mean(np.array(r) < 5))} for k, r in ranks.items()}}


def report(result: dict, meta: dict) -> str:
    rows = [(k, v["top1"], v["top3"], v["top5"]) for k, v in result["summary"].items()]
    return "\n\n".join([
        "# Same-track retrieval on real recordings",
        meta_markdown(meta) + f"\nModel: `{result['model']}`",
        f"{result['tracks']} one-minute tracks of `{result['package']}`, "
        f"{result['tracks'] * result['seeds']} random 10 s MP3 excerpts ({result['seeds']} seeds). "
        "POST /similar: recordings identified by fingerprint first, then the track vector's "
        "score. Track vector: that score alone (`identify=false`). Window match: mean over "
        "the excerpt's 3 s windows of the best cosine to any window of the track. "
        f"Excerpts identified as another track: {result['wrong_identifications']}.",
        markdown_table(["score", "top-1", "top-3", "top-5"], rows),
        "Ranks of the own track (0: first), seed 0:\n\n" + "\n".join(
            f"- {k}: {r[: result['tracks']]}" for k, r in result["ranks"].items()),
    ])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--package", default="singularity-music")
    ap.add_argument("--data", type=Path, default=Path("data/datasets/real"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/real_excerpts"))
    args = ap.parse_args(argv)
    folder = args.data / args.package
    if not folder.is_dir():
        fetch_real(args.data, packages=[args.package])
    meta = meta_block(command_line("benchmarks.real_excerpts", argv))
    result = {**run(args.model, folder, args.seeds), "package": args.package}
    publish(args.out, meta, result, report)


if __name__ == "__main__":
    main()
