"""Generated accompaniments: drums, bass and chords under a corpus melody, in eight styles.

Each style differs audibly in several independent ways, so no single cue gives it away:
the drum pattern and kit, the bass pattern, the chord rhythm and voicing, swing, and the
tempo range. The melody is harmonised per half bar with diatonic chords of its key.
Channels: melody 0, chords 1, bass 2, drums 9 (General MIDI percussion).

All times here are in quarter notes (beats of the 4/4 groove) from the piece's start.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.data.benchmark.labels import DRUM_CHANNEL, STYLES, LabelError
from model.data.benchmark.notes import NoteTuple

MELODY_CH, CHORD_CH, BASS_CH = 0, 1, 2
BAR = 4.0  # quarter notes per bar of the groove
SEGMENT = 2.0  # one chord per half bar


@dataclass(frozen=True, order=True)
class Event:
    """One note: start and duration in quarter notes, MIDI pitch, velocity, channel."""

    start: float
    dur: float
    pitch: int
    velocity: int
    channel: int


@dataclass(frozen=True)
class Style:
    """What makes a style: tempo range (quarter notes per minute), swing (where the off-beat
    eighth falls inside the beat: 0.5 straight, 2/3 triplet swing), drum kits (GM bank-128
    programs), drum pattern (GM key -> 16-step string per bar: X accent, x normal, o ghost),
    bass pattern, chord rhythm ((beat, length) hits per bar) and chord voicing."""

    name: str
    bpm: tuple[float, float]
    swing: float
    kits: tuple[int, ...]
    drums: dict[int, str]
    bass: str
    comp: tuple[tuple[float, float], ...]
    voicing: str


KICK, SIDE_STICK, SNARE, CLAP, HAT, PEDAL_HAT, OPEN_HAT, RIDE, MARACAS = (
    36, 37, 38, 39, 42, 44, 46, 51, 70)
STYLE_TABLE: dict[str, Style] = {s.name: s for s in (
    Style("jazz", (110, 180), 2 / 3, (32, 40),
          {RIDE: "x...x.x.x...x.x.", PEDAL_HAT: "....x.......x...", KICK: "o.......o......."},
          "walking", ((0, 0.4), (1.5, 0.4)), "rootless"),
    Style("rock", (100, 150), 0.5, (0, 16),
          {KICK: "X.....x.X.......", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."},
          "eighths", tuple((i * 0.5, 0.45) for i in range(8)), "power"),
    Style("blues", (60, 96), 2 / 3, (0, 8),
          {KICK: "x.......x.......", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."},
          "boogie", ((0, 0.9), (1.5, 0.4), (2, 0.9), (3.5, 0.4)), "dominant"),
    Style("electronic", (120, 132), 0.5, (24, 25),
          {KICK: "X...X...X...X...", CLAP: "....x.......x...", OPEN_HAT: "..x...x...x...x.",
           HAT: "oooooooooooooooo"},
          "offbeat", ((0, 2.0), (2, 2.0)), "add9"),
    Style("reggae", (66, 84), 0.5, (0, 8),
          {KICK: "........X.......", SIDE_STICK: "........x.......", HAT: "x.x.x.x.x.x.x.x."},
          "one_drop", ((1, 0.25), (3, 0.25)), "high_triad"),
    Style("latin", (110, 140), 0.5, (0, 8),
          {SIDE_STICK: "x..x..x...x..x..", KICK: "x..xx..xx..xx..x", MARACAS: "xoxoxoxoxoxoxoxo"},
          "bossa", ((0, 0.4), (0.75, 0.4), (1.5, 0.4), (2.5, 0.4), (3.25, 0.4)), "sixnine"),
    Style("hip-hop", (80, 96), 0.6, (25, 24),
          {KICK: "X......x.x......", SNARE: "....X.......X...", HAT: "x.x.x.x.x.x.x.x."},
          "hiphop", ((0, 1.5), (2, 1.5)), "rootless"),
    Style("country", (100, 140), 0.5, (0, 8),
          {KICK: "x.......x.......", SNARE: "o.o.X.o.o.o.X.o."},
          "root_fifth", ((1, 0.4), (3, 0.4)), "triad"),
)}
assert tuple(STYLE_TABLE) == STYLES

_VELOCITY = {"X": 1.15, "x": 0.9, "o": 0.5}
_MAJOR_CHORDS = ((0, "maj"), (2, "min"), (4, "min"), (5, "maj"), (7, "maj"), (9, "min"))
_MINOR_CHORDS = ((0, "min"), (3, "maj"), (5, "min"), (7, "maj"), (8, "maj"), (10, "maj"))
_PRIOR = {0: 0.3, 7: 0.2, 5: 0.15}


def style(name: str) -> Style:
    try:
        return STYLE_TABLE[name]
    except KeyError:
        raise LabelError(f"unknown style '{name}'; valid: {', '.join(STYLES)}") from None


# --- harmony --------------------------------------------------------------------------------
def chord_tones(root: int, quality: str) -> tuple[int, int, int]:
    """Pitch classes of a triad."""
    return (root % 12, (root + (4 if quality == "maj" else 3)) % 12, (root + 7) % 12)


def _chord_score(weights: list[float], tonic: int, chord: tuple[int, str]) -> float:
    """Melody time on the chord's tones, minus half the time off them, plus the prior."""
    inside = sum(weights[p] for p in chord_tones(tonic + chord[0], chord[1]))
    return inside - 0.5 * (sum(weights) - inside) + _PRIOR.get(chord[0], 0.0)


def harmonise(melody: tuple[NoteTuple, ...], tonic: int, mode: str, phase: float,
              start: float, end: float) -> list[tuple[float, int, str]]:
    """One diatonic triad per half bar covering [start, end).

    Each candidate scores the melody time spent on its chord tones (segment downbeats count
    1.5x), minus half the time on other notes, plus a small prior for I, V and IV.

    Returns:
        (segment start, root pitch class, ``maj``|``min``) per segment, in order.
    """
    table = _MAJOR_CHORDS if mode == "major" else _MINOR_CHORDS
    first = phase + SEGMENT * ((start - phase) // SEGMENT)
    chords: list[tuple[float, int, str]] = []
    prev = (tonic % 12, table[0][1])
    t = first
    while t < end:
        weights = [0.0] * 12
        for on, dur, pitch in melody:
            overlap = min(on + dur, t + SEGMENT) - max(on, t)
            if overlap > 0:
                weights[pitch % 12] += overlap * (1.5 if abs(on - t) < 1e-6 else 1.0)
        if sum(weights) > 0:
            scores = [_chord_score(weights, tonic, c) for c in table]
            deg, qual = table[scores.index(max(scores))]  # the first best, as max() picks
            prev = ((tonic + deg) % 12, qual)
        chords.append((t, prev[0], prev[1]))
        t += SEGMENT
    return chords


def _near(pc: int, lo: int) -> int:
    """The lowest pitch >= lo with pitch class pc."""
    return lo + (pc - lo) % 12


def voicing(root: int, quality: str, kind: str, dominant: bool = False) -> list[int]:
    """Pitches of one chord hit in a style's voicing."""
    third = 4 if quality == "maj" else 3
    seventh = 10 if (quality == "min" or dominant) else 11
    intervals = {
        "triad": (0, third, 7), "high_triad": (0, third, 7),
        "power": (0, 7, 12),
        "rootless": (third, 7, seventh, 14),
        "dominant": (0, third, 7, 10),
        "add9": (0, third, 7, 14),
        "sixnine": (third, 9 if quality == "maj" else seventh, 14),
    }[kind]
    base = {"power": 40, "high_triad": 64, "rootless": 48, "sixnine": 48}.get(kind, 52)
    r = _near(root, base)
    return [r + i for i in intervals]


# --- parts ----------------------------------------------------------------------------------
def _bass_line(kind: str, chords: list[tuple[float, int, str]], lo: int = 28) -> list[tuple]:
    """(start, dur, pitch) of the bass for every chord segment."""
    out: list[tuple[float, float, int]] = []
    for i, (t, root, qual) in enumerate(chords):
        r = _near(root, lo)
        third, fifth = r + (4 if qual == "maj" else 3), r + 7
        nxt = _near(chords[i + 1][1], lo) if i + 1 < len(chords) else r
        patterns: dict[str, list[tuple[float, float, int]]] = {
            "walking": [(0, 1, r), (1, 1, nxt - 1 if nxt > r else nxt + 1)],
            "eighths": [(k * 0.5, 0.45, r) for k in range(4)],
            "boogie": [(0, 0.5, r), (0.5, 0.5, third), (1, 0.5, fifth), (1.5, 0.5, r + 9)],
            "offbeat": [(0.5, 0.4, r), (1.5, 0.4, r + 12)],
            "one_drop": [(0, 1.25, r), (1.5, 0.5, fifth)],
            "bossa": [(0, 1.5, r), (1.5, 0.5, fifth)],
            "hiphop": [(0, 1.5, r), (1.75, 0.25, r)],
            "root_fifth": [(0, 1, r), (1, 1, fifth - 12 if fifth - 12 >= lo else fifth)],
        }
        pattern = patterns[kind]
        if kind == "walking" and i % 2 == 0:  # first half bar: root, then a chord tone
            pattern = [(0, 1, r), (1, 1, fifth if (i // 2) % 2 else third)]
        out.extend((t + a, d, p) for a, d, p in pattern)
    return out


def _drums(style_: Style, bar_starts: list[float], velocity: int) -> list[Event]:
    events = []
    for b in bar_starts:
        for key, pattern in style_.drums.items():
            for step, ch in enumerate(pattern):
                if ch in _VELOCITY:
                    vel = int(min(127, max(1, velocity * _VELOCITY[ch])))
                    events.append(Event(b + step * 0.25, 0.2, key, vel, DRUM_CHANNEL))
    return events


def swing_time(t: float, phase: float, ratio: float) -> float:
    """Move a time onto the swing grid: within each beat, [0, .5] maps to [0, ratio] and
    [.5, 1] to [ratio, 1]."""
    if ratio == 0.5:
        return t
    rel = t - phase
    beat = rel // 1.0
    f = rel - beat
    g = f * 2 * ratio if f <= 0.5 else ratio + (f - 0.5) * 2 * (1 - ratio)
    return phase + beat + g


def arrange(melody: tuple[NoteTuple, ...], tonic: int, mode: str, phase: float,
            style_name: str, start: float, end: float, velocity: int = 90) -> list[Event]:
    """The melody and a generated band part in a style, for notes starting in [start, end).

    Args:
        melody: monophonic melody (onset, duration, pitch) in quarter notes.
        tonic, mode: the melody's key.
        phase: offset of the first full bar (the groove's downbeats are phase + 4k).
        style_name: one of :data:`STYLES`.
        start, end: the window, in quarter notes.
        velocity: the melody's velocity; accompaniment is set relative to it.

    Returns:
        Events sorted by (start, channel, pitch), swing applied.
    """
    st = style(style_name)
    chords = harmonise(melody, tonic, mode, phase, start, end)
    events = [Event(on, dur, p, velocity, MELODY_CH) for on, dur, p in melody]
    comp_vel, bass_vel = max(1, velocity - 18), max(1, velocity - 6)
    for t, root, qual in chords:
        bar_pos = (t - phase) % BAR
        dominant = st.voicing == "dominant" or (qual == "maj" and (root - tonic) % 12 == 7)
        pitches = voicing(root, qual, st.voicing, dominant)
        for beat, length in st.comp:
            if bar_pos <= beat < bar_pos + SEGMENT:
                events.extend(Event(t + beat - bar_pos, length, p, comp_vel, CHORD_CH)
                              for p in pitches)
    events.extend(Event(a, d, p, bass_vel, BASS_CH) for a, d, p in _bass_line(st.bass, chords))
    bar_starts = sorted({t - ((t - phase) % BAR) for t, _, _ in chords})
    events.extend(_drums(st, bar_starts, velocity))
    out = []
    for e in events:
        if start - 1e-3 <= e.start < end:  # window starts are rounded onsets
            s = swing_time(e.start, phase, st.swing)
            stop = swing_time(e.start + e.dur, phase, st.swing)
            out.append(Event(round(s, 6), round(max(stop - s, 0.05), 6), e.pitch, e.velocity,
                             e.channel))
    return sorted(out, key=lambda e: (e.start, e.channel, e.pitch))


def folk_percussion(start: float, end: float, beat: float, bar: float, phase: float,
                    velocity: int) -> list[Event]:
    """A frame-drum style part for dance tunes: kick on the bar, low tom on the other
    beats, tambourine on the half beats, following the tune's own metre."""
    events = []
    k = (start - phase) // (beat / 2)
    t = phase + k * beat / 2
    while t < end:
        if t >= start:
            rel = (t - phase) % bar
            on_beat = abs(((t - phase) / beat) - round((t - phase) / beat)) < 1e-6
            key = KICK if rel < 1e-6 else 45 if on_beat else 54
            vel = velocity if on_beat else int(velocity * 0.6)
            events.append(Event(round(t, 6), 0.2, key, vel, DRUM_CHANNEL))
        t += beat / 2
    return events
