"""``musicprism dataset build``: render the benchmark into ``<out>/``.

Output: ``audio/<split>/<track>-<window>.flac`` (16-bit FLAC, mono), ``manifest.csv``,
``concepts.json`` and ``card.md`` (docs/dataset.md). Resumable: a clip whose FLAC exists
with the expected rate and length is not rendered again, and the manifest depends only on
the seed, the size and the code, so an interrupted build finishes on re-run with the same
manifest. Files are written to a temporary name and renamed, never left half-written.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm import tqdm

from model.data.benchmark.card import write_card
from model.data.benchmark.catalog import Piece, build_catalogue, credits
from model.data.benchmark.labels import concept_schema
from model.data.benchmark.notes import NotesCache, NotesError
from model.data.benchmark.params import draw_track, draw_window
from model.data.benchmark.plan import TrackPlan, make_plan, size_to_clips
from model.data.benchmark.render import (
    SilentClip,
    clip_events,
    clip_tags,
    render_audio,
    window_onsets,
)
from model.data.benchmark.synth import Synth, SynthConfig, check_synth

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = (
    "path", "track_id", "split", "tags", "title", "artist", "album", "duration", "piece_id",
    "kind", "genre", "mood", "instrument", "era", "qbpm", "beat_bpm", "tempo_scale",
    "transpose", "velocity", "programs", "key", "key_confidence", "window_start",
    "reverb_room", "reverb_send", "chorus_send", "eq_low_db", "eq_high_db", "lowpass_hz",
    "level_db",
)


@dataclass(frozen=True)
class BuildConfig:
    """One build.

    Args:
        out: output directory.
        size: ``ci``, ``small`` or ``full`` (plan.SIZES); ``n_clips`` overrides it.
        seed: everything random is drawn from it.
        sample_rate: output rate (Hz).
        workers: render processes (1: in this process).
        synth: where FluidSynth and the soundfont are.
        collections: only draw from these corpus collections (None: all).
        cache_dir: parsed-notes cache (default ``<out>/.cache/notes``); builds may share one.
        progress: show a tqdm bar.
        command: the command line, recorded in the card.
    """

    out: Path
    size: str = "ci"
    seed: int = 0
    sample_rate: int = 16000
    workers: int = 2
    synth: SynthConfig = field(default_factory=SynthConfig)
    n_clips: int | None = None
    collections: frozenset[str] | None = None
    cache_dir: Path | None = None
    progress: bool = True
    command: str = ""


@dataclass
class BuildReport:
    """What a build did: clips in the manifest, clips rendered by this run, failures
    ((piece or clip, reason) pairs), wall time."""

    n_clips: int
    rendered: int
    failures: list[tuple[str, str]]
    seconds: float
    out: Path


# --- worker side ----------------------------------------------------------------------------
_WORKER: dict[str, Any] = {}  # per worker process: its synth and notes cache


def _init_worker(config: SynthConfig, sample_rate: int, cache_dir: Path) -> None:
    _WORKER["synth"] = Synth(config, sample_rate)
    _WORKER["cache"] = NotesCache(cache_dir)


def _verified(path: Path, sample_rate: int, frames: int) -> bool:
    if not path.exists():
        return False
    try:
        info = sf.info(str(path))
    except RuntimeError:
        return False
    return info.samplerate == sample_rate and info.frames == frames and info.channels == 1


def _write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), audio, sample_rate, format="FLAC", subtype="PCM_16")
    tmp.replace(path)


def _row(track: TrackPlan, title: str, rel: str, length: float, start: float, tags: Any,
         params: Any, notes: Any) -> dict[str, str]:
    artist, album = credits(track.piece.info.collection)
    names = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
    return {
        "path": rel, "track_id": track.track_id, "split": track.split,
        "tags": ";".join(tags.all()), "title": title, "artist": artist, "album": album,
        "duration": f"{length:.4f}", "piece_id": track.piece.key,
        "kind": "score" if track.style is None else "arranged",
        "genre": ";".join(tags.genre), "mood": ";".join(tags.mood),
        "instrument": ";".join(tags.instrument), "era": ";".join(tags.era),
        "qbpm": f"{params.qbpm:.3f}", "beat_bpm": f"{params.beat_bpm:.3f}",
        "tempo_scale": f"{params.tempo_scale:.4f}", "transpose": str(params.transpose),
        "velocity": str(params.velocity),
        "programs": " ".join(f"{ch}:{p}" for ch, p in sorted(params.programs.items())),
        "key": f"{names[(notes.tonic + params.transpose) % 12]} {notes.mode}",
        "key_confidence": f"{notes.confidence:.4f}", "window_start": f"{start:.4f}",
        "reverb_room": f"{params.fx.room:.3f}", "reverb_send": str(params.fx.reverb_send),
        "chorus_send": str(params.fx.chorus_send), "eq_low_db": f"{params.eq[0]:.2f}",
        "eq_high_db": f"{params.eq[1]:.2f}", "lowpass_hz": f"{params.eq[2]:.0f}",
        "level_db": f"{params.level_db:.2f}",
    }


def render_piece(piece: Piece, tracks: list[TrackPlan], out: Path, sample_rate: int
                 ) -> tuple[list[dict[str, str]], list[tuple[str, str]], int]:
    """Render (or verify) every clip of one piece's tracks, in a worker.

    Returns:
        (manifest rows, failures, clips rendered now).
    """
    synth, cache = _WORKER["synth"], _WORKER["cache"]
    try:
        notes = cache.get(piece)
    except NotesError as exc:
        return [], [(piece.key, exc.reason)] * sum(t.n_windows for t in tracks), 0
    form = piece.genre[0] if piece.genre else None
    title = piece.info.title if piece.info.relpath.endswith(".abc") else notes.title
    title = " ".join((title or Path(piece.info.relpath).stem).split())
    rows, failures, rendered = [], [], 0
    for track in tracks:
        params = draw_track(np.random.default_rng(track.seed), notes, form, track.style,
                            sample_rate)
        onsets, total = window_onsets(notes, params)
        for j in range(track.n_windows):
            rng = np.random.default_rng([track.seed, j])
            window = draw_window(rng, onsets, total)
            clip = f"{track.track_id}-{j}"
            if window is None:
                failures.append((clip, f"shorter than 3 s ({total:.1f} s)"))
                continue
            start, length = window
            spq = 60.0 / params.qbpm
            events = clip_events(notes, params, start / spq, (start + length) / spq, rng)
            rel = f"audio/{track.split}/{clip}.flac"
            if not _verified(out / rel, sample_rate, int(round(length * sample_rate))):
                try:
                    audio = render_audio(synth, events, params, start / spq, length, clip)
                except SilentClip as exc:
                    failures.append((clip, str(exc)))
                    continue
                _write_flac(out / rel, audio, sample_rate)
                rendered += 1
            tags = clip_tags(piece.genre, piece.info.collection, notes, params, events)
            rows.append(_row(track, title, rel, length, start, tags, params, notes))
    return rows, failures, rendered


# --- driver side ----------------------------------------------------------------------------
def _tasks(plan: list[TrackPlan]) -> list[tuple[Piece, list[TrackPlan]]]:
    by_piece: dict[str, list[TrackPlan]] = defaultdict(list)
    pieces: dict[str, Piece] = {}
    for t in plan:
        by_piece[t.piece.key].append(t)
        pieces[t.piece.key] = t.piece
    return [(pieces[k], by_piece[k]) for k in sorted(by_piece)]


def _run(tasks: list[tuple[Piece, list[TrackPlan]]], cfg: BuildConfig, cache: Path
         ) -> Iterator[tuple[int, tuple]]:
    if cfg.workers <= 1:
        _init_worker(cfg.synth, cfg.sample_rate, cache)
        try:
            for piece, tracks in tasks:
                yield sum(t.n_windows for t in tracks), render_piece(
                    piece, tracks, cfg.out, cfg.sample_rate)
        finally:
            _WORKER.pop("synth").close()
        return
    # spawn, not fork: a process that already holds a synthesiser (libfluidsynth's threads
    # and locks) deadlocks its forked children.
    ctx = get_context("spawn")
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(cfg.synth, cfg.sample_rate, cache)) as pool:
        futures = {pool.submit(render_piece, p, ts, cfg.out, cfg.sample_rate):
                   sum(t.n_windows for t in ts) for p, ts in tasks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


class SplitLeak(AssertionError):
    """A piece whose clips are in more than one split."""

    def __init__(self, piece: str, splits: set[str]) -> None:
        super().__init__(f"piece '{piece}' is in several splits: {sorted(splits)}")
        self.piece, self.splits = piece, splits


def verify_splits(rows: Iterable[dict[str, str]]) -> None:
    """Check that every piece (and so every track) lies in exactly one split.

    Raises:
        SplitLeak: naming the first piece found in two splits.
    """
    seen: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        seen[r["piece_id"]].add(r["split"])
        seen["track:" + r["track_id"]].add(r["split"])
    for piece, splits in sorted(seen.items()):
        if len(splits) > 1:
            raise SplitLeak(piece, splits)


def write_manifest(out: Path, rows: Iterable[dict[str, str]]) -> Path:
    """Write ``manifest.csv`` (rows sorted by path) atomically."""
    path, tmp = out / "manifest.csv", out / "manifest.csv.part"
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=lambda r: r["path"]))
    tmp.replace(path)
    return path


def write_concepts(out: Path, rows: list[dict[str, str]]) -> Path:
    """``concepts.json``: the tags present, per concept, in the ConceptSchema's order."""
    present = {t for r in rows for t in r["tags"].split(";") if t}
    schema = concept_schema(present)
    path = out / "concepts.json"
    path.write_text(json.dumps({c: list(t) for c, t in schema.concepts.items()}, indent=2) + "\n")
    return path


def _prune(out: Path, rows: list[dict[str, str]]) -> int:
    keep = {r["path"] for r in rows}
    removed = 0
    for f in sorted((out / "audio").rglob("*")):
        if f.is_file() and f.relative_to(out).as_posix() not in keep:
            f.unlink()
            removed += 1
    return removed


def build(cfg: BuildConfig) -> BuildReport:
    """Build (or finish) the benchmark described by ``cfg``.

    Raises:
        SynthUnavailable: FluidSynth or the soundfont is missing (before any work).
        PlanError: an unknown size or an empty corpus selection.
    """
    t0 = time.monotonic()
    cfg = replace(cfg, out=Path(cfg.out))
    check_synth(cfg.synth)
    n_clips = cfg.n_clips if cfg.n_clips is not None else size_to_clips(cfg.size)
    pieces = build_catalogue()
    if cfg.collections is not None:
        pieces = [p for p in pieces if p.info.collection in cfg.collections]
    plan = make_plan(pieces, n_clips, cfg.seed)
    out = cfg.out
    out.mkdir(parents=True, exist_ok=True)
    rows, failures, rendered = [], [], 0
    tasks = _tasks(plan)
    bar = tqdm(total=sum(t.n_windows for t in plan), unit="clip", disable=not cfg.progress,
               desc=f"bench-{cfg.size}")
    for n, (r, f, k) in _run(tasks, cfg, cfg.cache_dir or out / ".cache" / "notes"):
        rows.extend(r)
        failures.extend(f)
        rendered += k
        bar.update(n)
    bar.close()
    verify_splits(rows)
    write_manifest(out, rows)
    write_concepts(out, rows)
    pruned = _prune(out, rows)
    seconds = time.monotonic() - t0
    report = BuildReport(len(rows), rendered, sorted(failures), seconds, out)
    write_card(out, rows, cfg, report, n_planned=sum(t.n_windows for t in plan), pruned=pruned)
    logger.info("built %d clips (%d rendered now, %d failed) in %.1f s into %s",
                len(rows), rendered, len(failures), seconds, out)
    return report
