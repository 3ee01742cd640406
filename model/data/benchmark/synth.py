"""A long-lived FluidSynth synthesiser driven through libfluidsynth (ctypes, no extra package).

Measured on the 2-core build machine (docs/dataset.md): the ``fluidsynth`` command line
spends ~0.5 s loading the 148 MB FluidR3 soundfont on every call, longer than rendering a
10 s clip; one synthesiser per worker process loads it once and renders events directly
(timed to FluidSynth's 64-frame block), with no MIDI file in between.

Audio is deterministic up to the phase of the reverb and chorus modulation, which carries
over from the clips a worker rendered before (run-to-run difference 13-26 dB below the
signal); the manifest does not depend on it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.data.benchmark.labels import DRUM_CHANNEL

logger = logging.getLogger(__name__)

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
INSTALL_HINT = "apt-get install fluidsynth fluid-soundfont-gm"
#: FluidSynth renders in blocks of 64 frames and applies events at block starts, so note
#: times are exact to 64 frames (4 ms at 16 kHz), counted from the clip's first frame.
BLOCK = 64
_VP, _INT, _DBL, _STR = ctypes.c_void_p, ctypes.c_int, ctypes.c_double, ctypes.c_char_p


class SynthUnavailable(RuntimeError):
    """FluidSynth's library or the soundfont is missing or unusable."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(f"{what} '{value}' {reason}; install it with: {INSTALL_HINT}")
        self.what = what
        self.value = value


@dataclass(frozen=True)
class SynthConfig:
    """Where FluidSynth is.

    Args:
        soundfont: the General MIDI soundfont (``fluid-soundfont-gm``).
        library: a library name for ``ctypes.util.find_library`` or a path to
            ``libfluidsynth.so``.
    """

    soundfont: Path = DEFAULT_SOUNDFONT
    library: str = "fluidsynth"


@dataclass(frozen=True)
class Effects:
    """Per-clip effect settings: reverb room (0..1), damping (0..1), width (0..100), level
    (0..1); reverb and chorus send (MIDI CC 91/93, 0..127) on every channel."""

    room: float = 0.2
    damp: float = 0.0
    width: float = 0.5
    level: float = 0.9
    reverb_send: int = 40
    chorus_send: int = 0


def load_library(config: SynthConfig) -> ctypes.CDLL:
    """Open libfluidsynth and declare the functions used.

    Raises:
        SynthUnavailable: the library cannot be found or opened.
    """
    lib = config.library
    name = lib if "/" in lib else ctypes.util.find_library(lib)
    if name is None:
        raise SynthUnavailable("FluidSynth library", lib, "was not found")
    try:
        dll = ctypes.CDLL(name)
    except OSError as exc:
        raise SynthUnavailable("FluidSynth library", lib, f"cannot be loaded ({exc})") from exc
    sigs = {
        "new_fluid_settings": (_VP, []), "new_fluid_synth": (_VP, [_VP]),
        "fluid_settings_setnum": (_INT, [_VP, _STR, _DBL]),
        "fluid_settings_setint": (_INT, [_VP, _STR, _INT]),
        "fluid_synth_sfload": (_INT, [_VP, _STR, _INT]),
        "fluid_synth_noteon": (_INT, [_VP, _INT, _INT, _INT]),
        "fluid_synth_noteoff": (_INT, [_VP, _INT, _INT]),
        "fluid_synth_cc": (_INT, [_VP, _INT, _INT, _INT]),
        "fluid_synth_program_change": (_INT, [_VP, _INT, _INT]),
        "fluid_synth_system_reset": (_INT, [_VP]),
        "fluid_synth_write_float": (_INT, [_VP, _INT, _VP, _INT, _INT, _VP, _INT, _INT]),
        "fluid_synth_set_reverb_group_roomsize": (_INT, [_VP, _INT, _DBL]),
        "fluid_synth_set_reverb_group_damp": (_INT, [_VP, _INT, _DBL]),
        "fluid_synth_set_reverb_group_width": (_INT, [_VP, _INT, _DBL]),
        "fluid_synth_set_reverb_group_level": (_INT, [_VP, _INT, _DBL]),
        "delete_fluid_synth": (None, [_VP]), "delete_fluid_settings": (None, [_VP]),
    }
    for fn, (restype, argtypes) in sigs.items():
        try:
            f = getattr(dll, fn)
        except AttributeError as exc:
            raise SynthUnavailable("FluidSynth library", lib,
                                   f"lacks {fn} (FluidSynth >= 2.2 is needed)") from exc
        f.restype, f.argtypes = restype, argtypes
    return dll


def check_synth(config: SynthConfig) -> None:
    """Fail fast, before any work, when FluidSynth or the soundfont is missing.

    Raises:
        SynthUnavailable: naming the missing file and the install command.
    """
    if not Path(config.soundfont).is_file():
        raise SynthUnavailable("soundfont", str(config.soundfont), "does not exist")
    load_library(config)


class Synth:
    """One FluidSynth instance with the soundfont loaded once, rendering mono float32.

    Args:
        config: where the library and soundfont are.
        sample_rate: output rate in Hz.
    """

    def __init__(self, config: SynthConfig, sample_rate: int) -> None:
        check_synth(config)
        self.lib = load_library(config)
        self.sample_rate = int(sample_rate)
        self._settings = self.lib.new_fluid_settings()
        self.lib.fluid_settings_setnum(self._settings, b"synth.sample-rate", float(sample_rate))
        self.lib.fluid_settings_setnum(self._settings, b"synth.gain", 0.4)
        self.lib.fluid_settings_setint(self._settings, b"synth.polyphony", 512)
        self._synth = self.lib.new_fluid_synth(self._settings)
        if not self._synth:
            raise SynthUnavailable("FluidSynth library", config.library, "cannot create a synth")
        if self.lib.fluid_synth_sfload(self._synth, str(config.soundfont).encode(), 1) < 0:
            raise SynthUnavailable("soundfont", str(config.soundfont), "cannot be loaded")

    def close(self) -> None:
        if self._synth:
            self.lib.delete_fluid_synth(self._synth)
            self.lib.delete_fluid_settings(self._settings)
            self._synth = None

    def _write(self, n: int) -> np.ndarray:
        left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
        self.lib.fluid_synth_write_float(self._synth, n, left.ctypes.data, 0, 1,
                                         right.ctypes.data, 0, 1)
        return 0.5 * (left + right)

    def _setup(self, programs: dict[int, int], fx: Effects) -> None:
        lib, s = self.lib, self._synth
        lib.fluid_synth_system_reset(s)
        # Drain the previous clip's reverb and chorus tails (silence renders at ~300x).
        for _ in range(400):
            if float(np.max(np.abs(self._write(1024)))) < 1e-6:
                break
        lib.fluid_synth_set_reverb_group_roomsize(s, -1, fx.room)
        lib.fluid_synth_set_reverb_group_damp(s, -1, fx.damp)
        lib.fluid_synth_set_reverb_group_width(s, -1, fx.width)
        lib.fluid_synth_set_reverb_group_level(s, -1, fx.level)
        for ch, prog in programs.items():
            lib.fluid_synth_program_change(s, ch, prog)
            lib.fluid_synth_cc(s, ch, 91, fx.reverb_send)
            lib.fluid_synth_cc(s, ch, 93, 0 if ch == DRUM_CHANNEL else fx.chorus_send)

    def render(self, notes: list[tuple[float, float, int, int, int]], programs: dict[int, int],
               duration: float, fx: Effects) -> np.ndarray:
        """Render notes into ``duration`` seconds of mono audio.

        Args:
            notes: (start s, end s, channel, pitch, velocity) per note.
            programs: channel -> GM program (channel 9: drum kit).
            duration: seconds of output.
            fx: effect settings.

        Returns:
            float32 array, shape (round(duration * sample_rate),).
        """
        self._setup(programs, fx)
        sr, total = self.sample_rate, int(round(duration * self.sample_rate))
        actions = []  # (frame, order, kind, channel, pitch, velocity); offs before ons
        for start, end, ch, pitch, vel in notes:
            actions.append((int(round(start * sr)), 1, ch, pitch, vel))
            actions.append((int(round(end * sr)), 0, ch, pitch, 0))
        actions.sort()
        chunks, pos = [], 0
        for frame, kind, ch, pitch, vel in actions:
            frame = min(frame, total)
            if frame > pos:
                chunks.append(self._write(frame - pos))
                pos = frame
            if frame >= total:
                break
            if kind:
                self.lib.fluid_synth_noteon(self._synth, ch, pitch, vel)
            else:
                self.lib.fluid_synth_noteoff(self._synth, ch, pitch)
        if pos < total:
            chunks.append(self._write(total - pos))
        if total % BLOCK:  # end on a block boundary, so the next clip starts on one too
            self._write(BLOCK - total % BLOCK)
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
