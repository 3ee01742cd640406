"""The resampler that brings every decoded file to the model's rate: accuracy and speed.

    python -m benchmarks.resampler [--real DIR] [--label soxr] [--out PATH]

Measures ``model.audio_resample.StreamResampler`` (whatever the checkout holds: the same script
ran against the torchaudio-based resampler of 9d475db for the comparison in the results file):

- pass band: level error of pure tones from 50 Hz to 7 kHz, 44.1 and 48 kHz to 16 kHz;
- stop band: the level of what tones from 8.2 kHz to 20 kHz leave behind at 16 kHz (aliasing);
- speed: seconds of CPU per hour of audio, pushing 2^18-sample blocks of noise (one thread);
- decode: ``model.audio.decode`` of real recordings (Ogg Vorbis/Opus, 44.1/48 kHz) to
  16 kHz, seconds per hour of audio (decoding included).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import command_line, markdown_table, meta_block, meta_markdown, publish
from model.audio import decode
from model.audio_resample import StreamResampler

TARGET = 16_000
BLOCK = 1 << 18
EDGE = 1_600  # output samples left out at each end (the filter's start-up)


def resample(x: np.ndarray, source: int) -> np.ndarray:
    r = StreamResampler(source, TARGET)
    for i in range(0, len(x), BLOCK):
        r.push(x[i : i + BLOCK])
    return r.finish()


def level_db(x: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    return 20 * np.log10(max(rms, 1e-20) / np.sqrt(0.5))  # re a full-scale sine


def tone(freq: float, rate: int, seconds: float = 2.0) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate).astype(np.float32)


def accuracy(source: int) -> dict[str, Any]:
    passband = [50.0, 200.0, 1000.0, 3000.0, 5000.0, 6000.0, 7000.0]
    stopband = [8200.0, 9000.0, 12000.0, 16000.0, 20000.0]
    stopband = [f for f in stopband if f < source / 2]
    pass_err = {f: level_db(resample(tone(f, source), source)[EDGE:-EDGE]) for f in passband}
    stop = {f: level_db(resample(tone(f, source), source)[EDGE:-EDGE]) for f in stopband}
    return {"passband_db": pass_err, "stopband_db": stop,
            "worst_passband_error_db": max(abs(v) for v in pass_err.values()),
            "worst_stopband_db": max(stop.values())}


def speed(source: int, seconds: float = 600.0) -> float:
    """CPU seconds per hour of audio."""
    x = np.random.default_rng(0).standard_normal(round(source * seconds)).astype(np.float32)
    resample(x[: source * 5], source)  # warm-up
    t0 = time.process_time()
    resample(x, source)
    return (time.process_time() - t0) * 3600.0 / seconds


def decode_speed(files: list[Path]) -> dict[str, float]:
    seconds = cpu = 0.0
    for f in files:
        t0 = time.process_time()
        d = decode(f, sample_rate=TARGET, max_seconds=3600)
        cpu += time.process_time() - t0
        seconds += d.duration
    return {"files": len(files), "audio_hours": seconds / 3600, "cpu_s_per_audio_hour":
            cpu / (seconds / 3600)}


def run(real: Path | None) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    out: dict[str, Any] = {"rates": {}}
    for source in (44_100, 48_000):
        out["rates"][str(source)] = {**accuracy(source),
                                     "cpu_s_per_audio_hour": speed(source)}
    if real is not None and real.is_dir():
        files = sorted(p for p in real.rglob("*") if p.suffix in {".ogg", ".opus"})[:40]
        out["decode"] = decode_speed(files)
    return out


def report(label: str):
    def render(result: dict[str, Any], meta: dict[str, Any]) -> str:
        rows = []
        for rate, r in result["rates"].items():
            rows.append([f"{rate} Hz -> 16 kHz", f"{r['worst_passband_error_db']:.4f}",
                         f"{r['worst_stopband_db']:.1f}", f"{r['cpu_s_per_audio_hour']:.1f}"])
        text = [f"# Resampler: {label}", "", meta_markdown(meta), "",
                markdown_table(["", "worst pass-band level error, dB (50 Hz-7 kHz)",
                                "worst stop-band residue, dB (8.2-20 kHz)",
                                "CPU s per audio hour (1 thread)"], rows)]
        if "decode" in result:
            d = result["decode"]
            text += ["", f"`model.audio.decode` of {d['files']} real recordings "
                     f"({d['audio_hours']:.2f} h of Ogg Vorbis/Opus) to 16 kHz: "
                     f"{d['cpu_s_per_audio_hour']:.1f} CPU s per audio hour, decoding included."]
        return "\n".join(text) + "\n"
    return render


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=Path("data/datasets/real"))
    ap.add_argument("--label", default="soxr (libsoxr HQ, streaming)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/resampler"))
    args = ap.parse_args(argv)
    meta = meta_block(command_line("benchmarks.resampler", argv))
    publish(args.out, meta, {"label": args.label, **run(args.real)}, report(args.label))


if __name__ == "__main__":
    main()
