"""From a piece's notes and drawn parameters to a clip: its events, audio and tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.data.benchmark.accompaniment import Event, arrange, folk_percussion
from model.data.benchmark.labels import (
    DRUM_CHANNEL,
    era_tag,
    instrument_tags,
    mood_tags,
    style_tags,
)
from model.data.benchmark.notes import PieceNotes
from model.data.benchmark.params import TrackParams
from model.data.benchmark.synth import Synth

FADE_IN_S, FADE_OUT_S = 0.005, 0.03
SILENCE_RMS = 1e-5
MELODY_REGISTER = (60, 76)
EPS_QL = 1e-3  # window starts are rounded (0.1 ms): the onset they start on stays inside


class SilentClip(RuntimeError):
    """A rendered clip with no audible content."""

    def __init__(self, clip: str, rms: float) -> None:
        super().__init__(f"clip '{clip}' rendered silent (RMS {rms:.2e})")
        self.clip, self.rms = clip, rms


def _transposed_melody(notes: PieceNotes, transpose: int) -> tuple:
    melody = notes.melody()
    mean = float(np.mean([p for _, _, p in melody])) + transpose
    shift = transpose
    while mean < MELODY_REGISTER[0]:
        mean, shift = mean + 12, shift + 12
    while mean >= MELODY_REGISTER[1]:
        mean, shift = mean - 12, shift - 12
    return tuple((on, d, min(127, max(0, p + shift))) for on, d, p in melody)


def window_onsets(notes: PieceNotes, params: TrackParams) -> tuple[np.ndarray, float]:
    """Onsets (s, sorted, unique) where a window may start, and the piece's length (s)."""
    spq = 60.0 / params.qbpm
    if params.style is None:
        onsets = {n[0] for part in notes.parts for n in part}
        total = notes.length_ql
    else:
        melody = notes.melody()
        onsets = {n[0] for n in melody}
        total = max(on + d for on, d, _ in melody)
    return np.array(sorted(onsets)) * spq, total * spq


def clip_events(notes: PieceNotes, params: TrackParams, start_ql: float, end_ql: float,
                rng: np.random.Generator) -> list[Event]:
    """The events of a window [start_ql, end_ql) of a track, velocities final.

    A score's parts play on channels 0.. (plus a frame drum on 9 when drawn); an arrangement
    plays melody, chords, bass and drums (:func:`arrange`).
    """
    if params.style is None:
        events = [
            Event(on, d, min(127, max(0, p + params.transpose)), params.velocity, ch)
            for ch, part in enumerate(notes.parts) for on, d, p in part
            if start_ql - EPS_QL <= on < end_ql
        ]
        if DRUM_CHANNEL in params.programs:
            events += folk_percussion(start_ql, end_ql, notes.beat_ql, notes.bar_ql,
                                      notes.phase_ql, params.velocity)
    else:
        melody = _transposed_melody(notes, params.transpose)
        events = arrange(melody, (notes.tonic + params.transpose) % 12, notes.mode,
                         notes.phase_ql, params.style, start_ql, end_ql, params.velocity)
    jitter = rng.integers(-5, 6, size=len(events))
    return [
        Event(e.start, e.dur, e.pitch,
              int(np.clip(e.velocity + params.part_velocity.get(e.channel, 0) + j, 1, 127)),
              e.channel)
        for e, j in zip(events, jitter, strict=True)
    ]


def _shelf(gain_db: float, freq: float, sr: int, kind: str) -> np.ndarray:
    """RBJ cookbook shelving biquad (slope 1) as one SOS row."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / sr
    cw, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2)
    sa = 2 * np.sqrt(a) * alpha
    sign = 1 if kind == "low" else -1
    b = a * np.array([(a + 1) - sign * (a - 1) * cw + sa,
                      sign * 2 * ((a - 1) - sign * (a + 1) * cw),
                      (a + 1) - sign * (a - 1) * cw - sa])
    den = np.array([(a + 1) + sign * (a - 1) * cw + sa,
                    -sign * 2 * ((a - 1) + sign * (a + 1) * cw),
                    (a + 1) + sign * (a - 1) * cw - sa])
    return np.concatenate([b / den[0], den / den[0]])


def postprocess(audio: np.ndarray, sr: int, eq: tuple[float, float, float], level_db: float,
                clip: str = "?") -> np.ndarray:
    """EQ (low shelf 200 Hz, high shelf 3 kHz, 2nd-order low-pass), fades, level.

    Args:
        audio: mono float32, shape (T,).
        eq: (low shelf dB, high shelf dB, low-pass cut-off Hz).
        level_db: target RMS in dBFS; the peak is then limited to 0.98.

    Raises:
        SilentClip: the input is silent.
    """
    from scipy import signal

    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    if rms < SILENCE_RMS:
        raise SilentClip(clip, rms)
    low_db, high_db, cutoff = eq
    sos = np.vstack([_shelf(low_db, 200.0, sr, "low"), _shelf(high_db, 3000.0, sr, "high"),
                     signal.butter(2, min(cutoff, 0.45 * sr), fs=sr, output="sos")])
    y = signal.sosfilt(sos, audio.astype(np.float64))
    n_in, n_out = int(FADE_IN_S * sr), int(FADE_OUT_S * sr)
    y[:n_in] *= np.linspace(0, 1, n_in, endpoint=False)
    y[len(y) - n_out:] *= np.linspace(1, 0, n_out)
    y *= 10 ** (level_db / 20) / max(float(np.sqrt(np.mean(y**2))), 1e-12)
    peak = float(np.max(np.abs(y)))
    if peak > 0.98:
        y *= 0.98 / peak
    return y.astype(np.float32)


def render_audio(synth: Synth, events: list[Event], params: TrackParams, start_ql: float,
                 length_s: float, clip: str = "?") -> np.ndarray:
    """Render a window's events and post-process them.

    Returns:
        float32, shape (round(length_s * synth.sample_rate),).
    """
    spq = 60.0 / params.qbpm
    notes = [(max(0.0, (e.start - start_ql) * spq), (e.start - start_ql + e.dur) * spq,
              e.channel, e.pitch, e.velocity) for e in events]
    playing = {ch: p for ch, p in params.programs.items() if any(e.channel == ch for e in events)}
    audio = synth.render(notes, playing, length_s, params.fx)
    return postprocess(audio, synth.sample_rate, params.eq, params.level_db, clip)


@dataclass(frozen=True)
class ClipTags:
    """A clip's tags per concept."""

    genre: tuple[str, ...]
    mood: tuple[str, ...]
    instrument: tuple[str, ...]
    era: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        return self.genre + self.mood + self.instrument + self.era


def clip_tags(form_genre: tuple[str, ...], collection: str, notes: PieceNotes,
              params: TrackParams, events: list[Event]) -> ClipTags:
    """Tags of one clip by the rules of :mod:`labels` (instruments: channels that play)."""
    channels = {e.channel for e in events}
    programs = [p for ch, p in params.programs.items() if ch in channels and ch != DRUM_CHANNEL]
    arranged = params.style is not None
    return ClipTags(
        genre=style_tags(params.style) if params.style is not None else form_genre,
        mood=mood_tags(notes.mode, notes.confidence, params.beat_bpm, params.velocity),
        instrument=instrument_tags(programs, DRUM_CHANNEL in channels),
        era=(era_tag(None if arranged else collection),),
    )
