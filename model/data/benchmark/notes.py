"""Notes of a corpus piece: parsed once with music21, cached as JSON.

Parsing a score costs 0.05 s to 20 s; everything after it (windows, tempo, transposition,
programs, arrangements) works on this plain note list, so the cache makes re-runs and the
several clips of one piece cheap. A piece that fails to parse is cached as a failure too, so
it is skipped, counted and reported the same way on every run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from model.data.benchmark.catalog import Piece

logger = logging.getLogger(__name__)

MAX_PARTS = 8
#: (onset, duration, MIDI pitch); times in quarter notes from the start of the piece.
NoteTuple = tuple[float, float, int]


class NotesError(RuntimeError):
    """A corpus piece that cannot be parsed into notes."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"piece '{key}': {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class PieceNotes:
    """The notes and the analysis of one piece.

    Args:
        parts: per part (top part first, at most :data:`MAX_PARTS`), its notes sorted by onset.
        qbpm: the score's metronome mark in quarter notes per minute, if it has one.
        beat_ql: the beat of the first time signature in quarter lengths (1.5 in 6/8).
        bar_ql: the bar length in quarter lengths.
        phase_ql: offset of the first full bar (the pickup's length), in quarter lengths.
        tonic: pitch class of the analysed key; mode: ``major`` or ``minor``.
        confidence: the key analysis' correlation coefficient.
        length_ql: the piece's length in quarter lengths.
        title: the score's title, or "" when it has none.
    """

    parts: tuple[tuple[NoteTuple, ...], ...]
    qbpm: float | None
    beat_ql: float
    bar_ql: float
    phase_ql: float
    tonic: int
    mode: str
    confidence: float
    length_ql: float
    title: str = ""

    def melody(self) -> tuple[NoteTuple, ...]:
        """The top part made monophonic: the highest note per onset, cut at the next onset."""
        by_onset: dict[float, NoteTuple] = {}
        for n in self.parts[0]:
            if n[0] not in by_onset or n[2] > by_onset[n[0]][2]:
                by_onset[n[0]] = n
        ordered = sorted(by_onset.values())
        out = []
        for i, (on, dur, pitch) in enumerate(ordered):
            nxt = ordered[i + 1][0] if i + 1 < len(ordered) else on + dur
            out.append((on, min(dur, nxt - on), pitch))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PieceNotes:
        d = dict(d)
        d["parts"] = tuple(tuple((float(a), float(b), int(c)) for a, b, c in p) for p in d["parts"])
        return cls(**d)


def _part_notes(part: Any) -> tuple[NoteTuple, ...]:
    from music21 import harmony

    notes: list[NoteTuple] = []
    for el in part.flatten().notes:
        if isinstance(el, harmony.Harmony):  # chord symbols are not played
            continue
        dur = float(el.quarterLength)
        if dur <= 0:  # grace notes
            continue
        for p in getattr(el, "pitches", ()):
            if 0 <= p.midi <= 127:
                notes.append((round(float(el.offset), 6), round(dur, 6), int(p.midi)))
    return tuple(sorted(notes))


def _metre(score: Any) -> tuple[float, float, float]:
    from music21 import meter, stream

    ts = next(iter(score.flatten().getElementsByClass(meter.TimeSignature)), None)
    beat = float(ts.beatDuration.quarterLength) if ts else 1.0
    bar = float(ts.barDuration.quarterLength) if ts else 4.0
    parts = list(score.parts) or [score]
    measures = list(parts[0].getElementsByClass(stream.Measure))
    phase = 0.0
    if len(measures) > 1 and float(measures[0].duration.quarterLength) < bar - 1e-6:
        phase = float(measures[1].offset) % bar
    return beat, bar, phase


def _tempo(score: Any) -> float | None:
    from music21 import tempo

    for mm in score.flatten().getElementsByClass(tempo.MetronomeMark):
        q = mm.getQuarterBPM()
        if q and 30 <= q <= 300:
            return float(q)
    return None


def extract_notes(score: Any, key: str = "?") -> PieceNotes:
    """Notes and analysis of a parsed music21 score.

    Raises:
        NotesError: the score has no pitched notes.
    """
    score = score.stripTies()
    parts = [_part_notes(p) for p in (list(score.parts) or [score])]
    parts = [p for p in parts if p][:MAX_PARTS]
    if not parts:
        raise NotesError(key, "no pitched notes")
    analysed = score.analyze("key")
    beat, bar, phase = _metre(score)
    title = (score.metadata.title or "") if score.metadata else ""
    return PieceNotes(
        parts=tuple(parts), qbpm=_tempo(score), beat_ql=beat, bar_ql=bar, phase_ql=phase,
        tonic=int(analysed.tonic.pitchClass), mode=str(analysed.mode),
        confidence=round(float(analysed.correlationCoefficient), 6),
        length_ql=float(max(n[0] + n[1] for p in parts for n in p)), title=str(title),
    )


def parse_piece(piece: Piece) -> PieceNotes:
    """Parse a corpus piece with music21 and extract its notes.

    Raises:
        NotesError: music21 cannot parse it, or it has no usable notes or key.
    """
    from music21 import corpus

    try:
        score = corpus.parse(piece.info.relpath, number=piece.info.number)
        notes = extract_notes(score, piece.key)
    except NotesError:
        raise
    except Exception as exc:  # music21 raises many types on malformed encodings
        raise NotesError(piece.key, f"{type(exc).__name__}: {exc}") from exc
    if notes.mode not in ("major", "minor"):
        raise NotesError(piece.key, f"key analysis gave mode '{notes.mode}'")
    return notes


class NotesCache:
    """A directory of ``<piece>.json`` files, each the notes of a piece or its failure."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[-60:]
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        return self.directory / f"{slug}-{digest}.json"

    def get(self, piece: Piece) -> PieceNotes:
        """The cached notes, parsing and caching them on a miss.

        Raises:
            NotesError: the piece failed to parse (now or on an earlier run).
        """
        path = self.path(piece.key)
        if path.exists():
            d = json.loads(path.read_text())
        else:
            try:
                d = {"notes": parse_piece(piece).to_dict()}
            except NotesError as exc:
                logger.warning("skipping %s", exc)
                d = {"error": exc.reason}
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(d))
            tmp.replace(path)
        if "error" in d:
            raise NotesError(piece.key, d["error"])
        return PieceNotes.from_dict(d["notes"])
