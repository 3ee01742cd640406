"""Generated accompaniments: channels, programs, patterns per style, read back from MIDI."""

from __future__ import annotations

from itertools import combinations

import pytest
from music21 import midi as m21midi

from model.data.benchmark.accompaniment import (
    BASS_CH,
    CHORD_CH,
    MELODY_CH,
    STYLE_TABLE,
    arrange,
    folk_percussion,
    harmonise,
    style,
    swing_time,
    voicing,
)
from model.data.benchmark.labels import DRUM_CHANNEL, STYLES, LabelError
from model.data.benchmark.midi import write_midi

# Eight bars of quarter notes walking up and down a C major scale (8 bars x 4 beats).
SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
MELODY = tuple((float(i), 1.0, SCALE[i % 8] if (i // 8) % 2 == 0 else SCALE[7 - i % 8])
               for i in range(32))


def _read_midi(path):
    mf = m21midi.MidiFile()
    mf.open(str(path))
    mf.read()
    mf.close()
    notes, programs = [], {}
    for e in mf.tracks[0].events:
        if e.type == m21midi.ChannelVoiceMessages.NOTE_ON and e.velocity > 0:
            notes.append((e.channel, e.pitch))
        elif e.type == m21midi.ChannelVoiceMessages.PROGRAM_CHANGE:
            programs[e.channel] = e.data
    return notes, programs


@pytest.mark.parametrize("name", STYLES)
def test_each_style_has_gm_channels_and_programs_in_midi(tmp_path, name):
    events = arrange(MELODY, 0, "major", 0.0, name, 0.0, 32.0, velocity=90)
    channels = {e.channel for e in events}
    assert channels == {MELODY_CH, CHORD_CH, BASS_CH, DRUM_CHANNEL}
    programs = {MELODY_CH: 73, CHORD_CH: 0, BASS_CH: 33, DRUM_CHANNEL: STYLE_TABLE[name].kits[0]}
    path = write_midi(tmp_path / f"{name}.mid", events, programs, qbpm=120)
    notes, read_programs = _read_midi(path)
    assert len(notes) == len(events)
    # music21 numbers channels from 1: GM percussion is channel 10.
    drum_keys = {p for ch, p in notes if ch == 10}
    assert drum_keys and drum_keys <= set(range(35, 82))
    assert read_programs == {ch + 1: p for ch, p in programs.items()}
    assert all(p < 52 for ch, p in notes if ch == BASS_CH + 1)  # bass register
    melody = sorted((e.start, e.pitch) for e in events if e.channel == MELODY_CH)
    assert [p for _, p in melody] == [p for _, _, p in MELODY]


def test_jazz_walking_bass_plays_one_note_per_beat():
    events = arrange(MELODY, 0, "major", 0.0, "jazz", 0.0, 32.0)
    bass = sorted(e for e in events if e.channel == BASS_CH)
    assert [e.start for e in bass] == [float(b) for b in range(32)]
    assert all(e.dur == pytest.approx(1.0) for e in bass)
    # beat 1 of every bar is a chord root (C, F or G in this harmonisation of C major)
    assert {bass[i].pitch % 12 for i in range(0, 32, 4)} <= {0, 5, 7, 9, 2, 4}


def test_jazz_swings_the_ride_and_electronic_is_four_on_the_floor():
    jazz = arrange(MELODY, 0, "major", 0.0, "jazz", 0.0, 8.0)
    ride = sorted(e.start for e in jazz if e.channel == DRUM_CHANNEL and e.pitch == 51)
    assert ride == pytest.approx([0, 1, 1 + 2 / 3, 2, 3, 3 + 2 / 3, 4, 5, 5 + 2 / 3, 6, 7,
                                  7 + 2 / 3])
    edm = arrange(MELODY, 0, "major", 0.0, "electronic", 0.0, 8.0)
    kicks = sorted(e.start for e in edm if e.channel == DRUM_CHANNEL and e.pitch == 36)
    assert kicks == [float(b) for b in range(8)]
    reggae = arrange(MELODY, 0, "major", 0.0, "reggae", 0.0, 8.0)
    one_drop = sorted(e.start for e in reggae if e.channel == DRUM_CHANNEL and e.pitch == 36)
    assert one_drop == [2.0, 6.0]  # kick on beat 3 only


def test_styles_are_pairwise_distinct_in_several_cues():
    for a, b in combinations(STYLE_TABLE.values(), 2):
        cues = [a.drums != b.drums, a.bass != b.bass, a.comp != b.comp,
                a.voicing != b.voicing, a.swing != b.swing, a.bpm != b.bpm]
        assert sum(cues) >= 3, (a.name, b.name)


def test_window_limits_events_and_phase_shifts_grid():
    events = arrange(MELODY, 0, "major", 0.0, "rock", 8.0, 16.0)
    assert min(e.start for e in events) >= 8.0 and max(e.start for e in events) < 16.0
    shifted = arrange(tuple((on + 1, d, p) for on, d, p in MELODY), 0, "major", 1.0, "rock",
                      1.0, 9.0)
    snares = sorted(e.start for e in shifted if e.channel == DRUM_CHANNEL and e.pitch == 38)
    assert snares == [2.0, 4.0, 6.0, 8.0]  # backbeat on 2 and 4 of bars starting at 1


@pytest.mark.parametrize(
    ("pitches", "tonic", "mode", "chord"),
    [((60, 64, 67), 0, "major", (0, "maj")), ((65, 69, 72), 0, "major", (5, "maj")),
     ((67, 71, 74), 0, "major", (7, "maj")), ((69, 72, 76), 9, "minor", (9, "min")),
     ((62, 65, 69), 0, "major", (2, "min"))],
)
def test_harmonise_picks_the_triad_of_the_melody(pitches, tonic, mode, chord):
    melody = tuple((i * 2 / 3, 2 / 3, p) for i, p in enumerate(pitches))
    ((t, root, quality),) = harmonise(melody, tonic, mode, 0.0, 0.0, 2.0)
    assert (t, root, quality) == (0.0, *chord)


def test_harmonise_keeps_the_chord_over_rests():
    melody = ((0.0, 2.0, 67), (0.0, 0.5, 71))  # G major segment, then silence
    chords = harmonise(melody, 0, "major", 0.0, 0.0, 6.0)
    assert [(r, q) for _, r, q in chords] == [(7, "maj")] * 3


def test_voicings():
    assert voicing(0, "maj", "triad") == [60, 64, 67]
    assert voicing(0, "maj", "power") == [48, 55, 60]
    assert voicing(2, "min", "rootless") == [53, 57, 60, 64]  # F A C E over D: Dm9
    assert voicing(7, "maj", "rootless", dominant=True) == [59, 62, 65, 69]  # G9: B D F A


def test_swing_time():
    assert swing_time(0.5, 0.0, 2 / 3) == pytest.approx(2 / 3)
    assert swing_time(1.25, 0.0, 2 / 3) == pytest.approx(1 + 1 / 3)
    assert swing_time(2.0, 0.0, 2 / 3) == 2.0
    assert swing_time(0.5, 0.25, 2 / 3) == pytest.approx(0.25 + 1 / 3)  # grid from phase
    assert swing_time(3.7, 0.0, 0.5) == 3.7


def test_folk_percussion_follows_six_eight():
    events = folk_percussion(0.0, 3.0, beat=1.5, bar=3.0, phase=0.0, velocity=80)
    assert [(e.start, e.pitch) for e in events] == [
        (0.0, 36), (0.75, 54), (1.5, 45), (2.25, 54)]
    assert all(e.channel == DRUM_CHANNEL for e in events)


def test_unknown_style():
    with pytest.raises(LabelError, match="polka"):
        style("polka")
