"""Rendering: the synthesiser, post-processing, windows, parameters, missing FluidSynth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from model.data.benchmark.labels import DRUM_CHANNEL, INSTRUMENTS
from model.data.benchmark.notes import PieceNotes
from model.data.benchmark.params import LENGTH_S, draw_track, draw_window
from model.data.benchmark.render import (
    SilentClip,
    _shelf,
    clip_events,
    clip_tags,
    postprocess,
    render_audio,
)
from model.data.benchmark.synth import (
    INSTALL_HINT,
    Effects,
    Synth,
    SynthConfig,
    SynthUnavailable,
    check_synth,
)

SR = 16000
NOTES = PieceNotes(
    parts=(((0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 2.0, 76), (4.0, 4.0, 79)),
           ((0.0, 4.0, 48), (4.0, 4.0, 43))),
    qbpm=None, beat_ql=1.0, bar_ql=4.0, phase_ql=0.0, tonic=0, mode="major", confidence=0.9,
    length_ql=8.0,
)


@pytest.fixture(scope="module")
def synth() -> Synth:
    s = Synth(SynthConfig(), SR)
    yield s
    s.close()


def test_missing_library_is_a_typed_error_with_install_command():
    with pytest.raises(SynthUnavailable) as err:
        check_synth(SynthConfig(library="/nonexistent/libfluidsynth.so.3"))
    assert "/nonexistent/libfluidsynth.so.3" in str(err.value)
    assert INSTALL_HINT in str(err.value) and err.value.what == "FluidSynth library"
    with pytest.raises(SynthUnavailable, match="no-such-fluidsynth.*was not found"):
        check_synth(SynthConfig(library="no-such-fluidsynth"))


def test_missing_soundfont_is_a_typed_error(tmp_path):
    missing = tmp_path / "none.sf2"
    with pytest.raises(SynthUnavailable, match="apt-get install fluidsynth fluid-soundfont-gm"):
        Synth(SynthConfig(soundfont=missing), SR)


def test_synth_renders_exact_length_and_silence(synth):
    audio = synth.render([(0.1, 0.6, 0, 69, 100)], {0: 0}, 1.0, Effects())
    assert audio.shape == (SR,) and audio.dtype == np.float32
    assert np.abs(audio[: int(0.09 * SR)]).max() < 1e-6  # nothing before the note
    assert np.sqrt(np.mean(audio[int(0.15 * SR): int(0.5 * SR)] ** 2)) > 1e-3
    # the previous clip's reverb tail does not leak into the next one
    assert np.abs(synth.render([], {0: 0}, 0.5, Effects())).max() < 1e-5


def test_synth_pitch_is_right(synth):
    audio = synth.render([(0.0, 1.0, 0, 69, 110)], {0: 73}, 1.0, Effects(reverb_send=0))
    f, p = signal.periodogram(audio[2000:14000], SR)
    assert abs(f[np.argmax(p)] - 440.0) < 5.0  # a flute's A4


def test_shelves_have_the_gain_they_claim():
    low = _shelf(6.0, 200.0, SR, "low")
    _, h = signal.sosfreqz(low[None], worN=[0.0, SR / 2], fs=SR)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(6.0, abs=1e-6)
    assert 20 * np.log10(abs(h[1])) == pytest.approx(0.0, abs=0.05)
    high = _shelf(-8.0, 3000.0, SR, "high")
    _, h = signal.sosfreqz(high[None], worN=[0.0, SR / 2], fs=SR)
    assert 20 * np.log10(abs(h[1])) == pytest.approx(-8.0, abs=1e-6)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(0.0, abs=1e-6)


def test_postprocess_level_and_silence():
    rng = np.random.default_rng(0)
    x = (0.01 * rng.standard_normal(SR)).astype(np.float32)
    y = postprocess(x, SR, (0.0, 0.0, 7000.0), -20.0)
    rms_db = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-20, abs=1e-3)
    assert y[0] == 0.0 and y[-1] == 0.0  # faded
    loud = postprocess(x, SR, (0.0, 0.0, 7000.0), 0.0)
    assert np.abs(loud).max() == pytest.approx(0.98, abs=1e-6)  # peak limited
    with pytest.raises(SilentClip, match="'c1'"):
        postprocess(np.zeros(SR, np.float32), SR, (0.0, 0.0, 7000.0), -20.0, clip="c1")


def test_draw_window_starts_on_an_onset_and_fits():
    onsets = np.arange(0.0, 30.0, 0.5)
    for seed in range(20):
        start, length = draw_window(np.random.default_rng(seed), onsets, 30.0)
        assert start in onsets and LENGTH_S[0] <= length <= LENGTH_S[1]
        assert start + length <= 30.0 + 1e-9
    assert draw_window(np.random.default_rng(0), onsets, 2.5) is None
    start, length = draw_window(np.random.default_rng(1), np.array([0.0, 1.0]), 3.5)
    assert start == 0.0 and length <= 3.5


def test_track_params_score_and_arrangement():
    params = draw_track(np.random.default_rng(0), NOTES, "chorale", None, SR)
    assert set(params.programs) == {0, 1} and params.style is None
    assert params.qbpm == pytest.approx(70 * params.tempo_scale, rel=1e-3)
    assert params.beat_bpm == params.qbpm  # quarter-note beat
    jazz = draw_track(np.random.default_rng(0), NOTES, None, "jazz", SR)
    assert set(jazz.programs) == {0, 1, 2, DRUM_CHANNEL}
    assert jazz.programs[DRUM_CHANNEL] in (32, 40) and 110 <= jazz.qbpm <= 180


def test_instrument_draws_do_not_depend_on_genre():
    for seed in range(50):
        progs = [draw_track(np.random.default_rng(seed), NOTES, form, None, SR).programs
                 for form in ("chorale", "reel", "mass", "art song")]
        parts = [{ch: p for ch, p in pr.items() if ch != DRUM_CHANNEL} for pr in progs]
        assert all(p == parts[0] for p in parts)
    arranged = [draw_track(np.random.default_rng(7), NOTES, None, s, SR).programs
                for s in ("jazz", "rock", "country")]
    assert all({ch: p for ch, p in a.items() if ch != DRUM_CHANNEL}
               == {ch: p for ch, p in arranged[0].items() if ch != DRUM_CHANNEL}
               for a in arranged)


def test_clip_events_tags_and_audio(synth):
    params = draw_track(np.random.default_rng(5), NOTES, "chorale", None, SR)
    rng = np.random.default_rng(0)
    events = clip_events(NOTES, params, 1.0, 4.0, rng)
    assert sorted(e.start for e in events if e.channel == 0) == [1.0, 2.0]
    assert all(e.pitch == p + params.transpose for e, p in
               zip(sorted(e for e in events if e.channel == 0), (74, 76), strict=True))
    tags = clip_tags(("chorale", "sacred"), "bach", NOTES, params, events)
    assert tags.genre == ("chorale", "sacred") and tags.era == ("baroque",)
    assert set(tags.instrument) <= set(INSTRUMENTS) and tags.instrument
    length = 3.0 * 60 / params.qbpm
    audio = render_audio(synth, events, params, 1.0, length)
    assert len(audio) == round(length * SR)
    rms = 20 * np.log10(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert rms == pytest.approx(params.level_db, abs=0.5) or np.abs(audio).max() > 0.97


def test_note_timing_does_not_depend_on_what_was_rendered_before(synth):
    dry = Effects(reverb_send=0, chorus_send=0)
    first = synth.render([(0.1, 0.5, 0, 69, 100)], {0: 0}, 0.6, dry)
    synth.render([(0.0, 0.3, 1, 60, 90)], {1: 40}, 0.3337, dry)  # 5339 frames: not a block
    again = synth.render([(0.1, 0.5, 0, 69, 100)], {0: 0}, 0.6, dry)
    onset = int(np.argmax(np.abs(first) > 1e-4))
    assert onset == int(np.argmax(np.abs(again) > 1e-4))
    assert 0.1 * SR <= onset < 0.1 * SR + 64
    err = np.sqrt(np.mean((first - again) ** 2)) / np.sqrt(np.mean(first**2))
    assert err < 0.1
