"""Render parameters, drawn from a seeded generator (drawn first, then applied).

A *track* is one rendition of a piece: its tempo, transposition, dynamics, programs,
effects, EQ and level are fixed, so several windows of it are same-track positives. Programs
are drawn from one distribution whatever the genre or style, so the instrument concept varies
independently of genre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.data.benchmark.accompaniment import BASS_CH, CHORD_CH, MELODY_CH, style
from model.data.benchmark.labels import DANCE_FORMS, DRUM_CHANNEL, PROGRAMS
from model.data.benchmark.notes import PieceNotes
from model.data.benchmark.synth import Effects

MELODIC_FAMILIES = ("piano", "organ", "guitar", "strings", "brass", "reeds", "flute", "voice",
                    "synth")
COMP_FAMILIES = ("piano", "organ", "guitar", "strings", "brass", "voice", "synth")
FOLK_KITS = (0, 8)
#: Quarter notes per minute when a score has no metronome mark (before tempo scaling).
FORM_QBPM = {
    "folk song": 100, "chorale": 70, "mass": 140, "madrigal": 110, "reel": 200, "jig": 165,
    "hornpipe": 160, "strathspey": 120, "air": 80, "march": 115, "string quartet": 100,
    "art song": 80, "piano piece": 100,
}
DEFAULT_QBPM = 110
TEMPO_SCALE = (0.8, 1.25)
TRANSPOSE = (-5, 5)
VELOCITY = (45, 115)
LENGTH_S = (3.0, 10.0)
PERCUSSION_P = 0.3  # a frame-drum part under a dance tune
HOMOGENEOUS_P = 0.4  # all parts from one family
BASS_PART_P = 0.25  # the lowest part of a score on a bass program


@dataclass(frozen=True)
class TrackParams:
    """Everything fixed for one rendition.

    Args:
        style: arrangement style, or None for the score as written.
        qbpm: quarter notes per minute; beat_bpm: beats per minute (the metre's beat).
        tempo_scale: qbpm over the piece's base tempo.
        transpose: semitones; velocity: base MIDI velocity of the track.
        part_velocity: per channel offset added to ``velocity``.
        programs: channel -> GM program (channel 9: drum kit), only channels that play.
        fx: reverb/chorus; eq: (low shelf dB, high shelf dB, low-pass Hz); level_db: RMS dBFS.
    """

    style: str | None
    qbpm: float
    beat_bpm: float
    tempo_scale: float
    transpose: int
    velocity: int
    part_velocity: dict[int, int]
    programs: dict[int, int]
    fx: Effects
    eq: tuple[float, float, float]
    level_db: float


def base_qbpm(notes: PieceNotes, form: str | None) -> float:
    """The tempo a score is played at before scaling: its mark, else its form's default."""
    if notes.qbpm:
        return notes.qbpm
    return float(FORM_QBPM.get(form or "", DEFAULT_QBPM))


def _program(rng: np.random.Generator, families: tuple[str, ...]) -> int:
    family = families[int(rng.integers(len(families)))]
    options = PROGRAMS[family]
    return int(options[int(rng.integers(len(options)))])


def score_programs(rng: np.random.Generator, n_parts: int) -> list[int]:
    """Programs for the parts of a score (top part first)."""
    if rng.random() < HOMOGENEOUS_P:
        family = MELODIC_FAMILIES[int(rng.integers(len(MELODIC_FAMILIES)))]
        progs = [_program(rng, (family,)) for _ in range(n_parts)]
    else:
        progs = [_program(rng, MELODIC_FAMILIES) for _ in range(n_parts)]
    if n_parts >= 2 and rng.random() < BASS_PART_P:
        progs[-1] = _program(rng, ("bass",))
    return progs


def _effects(rng: np.random.Generator, sample_rate: int) -> tuple[Effects, tuple, float]:
    fx = Effects(room=float(rng.uniform(0.1, 0.9)), damp=float(rng.uniform(0.0, 0.8)),
                 width=float(rng.uniform(0.5, 10.0)), level=float(rng.uniform(0.3, 1.0)),
                 reverb_send=int(rng.integers(0, 101)), chorus_send=int(rng.integers(0, 71)))
    nyquist = 0.5 * sample_rate
    eq = (float(rng.uniform(-6, 6)), float(rng.uniform(-8, 4)),
          float(rng.uniform(0.3, 0.95) * nyquist))
    return fx, eq, float(rng.uniform(-28, -14))


def draw_track(rng: np.random.Generator, notes: PieceNotes, form: str | None,
               style_name: str | None, sample_rate: int) -> TrackParams:
    """Draw one rendition of a piece (``style_name`` None: the score as written)."""
    base = base_qbpm(notes, form)
    if style_name is None:
        qbpm = base * float(rng.uniform(*TEMPO_SCALE))
        beat_ql = notes.beat_ql
        progs = score_programs(rng, len(notes.parts))
        programs = {ch: p for ch, p in enumerate(progs)}
        if form in DANCE_FORMS and rng.random() < PERCUSSION_P:
            programs[DRUM_CHANNEL] = int(FOLK_KITS[int(rng.integers(len(FOLK_KITS)))])
    else:
        st = style(style_name)
        qbpm, beat_ql = float(rng.uniform(*st.bpm)), 1.0
        programs = {MELODY_CH: _program(rng, MELODIC_FAMILIES),
                    CHORD_CH: _program(rng, COMP_FAMILIES), BASS_CH: _program(rng, ("bass",)),
                    DRUM_CHANNEL: int(st.kits[int(rng.integers(len(st.kits)))])}
    transpose = int(rng.integers(TRANSPOSE[0], TRANSPOSE[1] + 1))
    velocity = int(rng.integers(VELOCITY[0], VELOCITY[1] + 1))
    part_velocity = {ch: int(rng.integers(-8, 9)) for ch in programs}
    fx, eq, level = _effects(rng, sample_rate)
    return TrackParams(style_name, round(qbpm, 3), round(qbpm / beat_ql, 3),
                       round(qbpm / base, 4), transpose, velocity, part_velocity, programs, fx,
                       eq, round(level, 3))


def draw_window(rng: np.random.Generator, onsets_s: np.ndarray, total_s: float,
                min_s: float = LENGTH_S[0]) -> tuple[float, float] | None:
    """A window (start s, length s) that starts on a note onset.

    Its length is drawn in :data:`LENGTH_S` (capped by the piece); its start is the onset
    nearest a uniformly drawn point. None when the piece is shorter than ``min_s``.
    """
    length = float(rng.uniform(*LENGTH_S))
    u = float(rng.random())
    if total_s < min_s:
        return None
    length = min(length, total_s)
    target = u * (total_s - length)
    valid = onsets_s[onsets_s <= total_s - length + 1e-9]
    if len(valid) == 0:
        return None
    start = float(valid[int(np.argmin(np.abs(valid - target)))])
    return round(start, 4), round(length, 4)
