"""A minimal Standard MIDI File writer (format 0) for generated events.

The build renders events straight into a long-lived synthesiser and never needs a file;
this writer exists so a clip's score can be inspected, rendered with the ``fluidsynth``
command line for comparison, or read back by any MIDI reader in tests.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from pathlib import Path

from model.data.benchmark.accompaniment import Event

TICKS_PER_QUARTER = 480


def _varlen(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_bytes(events: Iterable[Event], programs: Mapping[int, int], qbpm: float) -> bytes:
    """A format-0 MIDI file.

    Args:
        events: notes, times in quarter notes.
        programs: channel -> General MIDI program (on channel 9: the drum kit).
        qbpm: tempo in quarter notes per minute.
    """
    timed: list[tuple[int, int, bytes]] = []  # (tick, order, message); note-offs first
    for ch, prog in sorted(programs.items()):
        timed.append((0, 0, bytes([0xC0 | ch, prog & 0x7F])))
    for e in events:
        on = round(e.start * TICKS_PER_QUARTER)
        off = max(on + 1, round((e.start + e.dur) * TICKS_PER_QUARTER))
        timed.append((on, 2, bytes([0x90 | e.channel, e.pitch, max(1, min(127, e.velocity))])))
        timed.append((off, 1, bytes([0x80 | e.channel, e.pitch, 0])))
    timed.sort(key=lambda x: (x[0], x[1]))
    tempo = round(60_000_000 / qbpm)
    track = bytearray(b"\x00\xff\x51\x03" + tempo.to_bytes(3, "big"))
    last = 0
    for tick, _, msg in timed:
        track += _varlen(tick - last) + msg
        last = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_QUARTER)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def write_midi(path: Path, events: Iterable[Event], programs: Mapping[int, int],
               qbpm: float) -> Path:
    """Write :func:`midi_bytes` to ``path``."""
    path = Path(path)
    path.write_bytes(midi_bytes(events, programs, qbpm))
    return path
