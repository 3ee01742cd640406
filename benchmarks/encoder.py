"""The shipped encoder on this CPU: size, MACs per window, throughput, decode time per format.

    python -m benchmarks.encoder [--quick]

Reports parameters; multiply-accumulates (MACs) per 3 s window, the log-mel front end apart
from the network; windows per second and the real-time factor at several batch sizes on 1
and 2 torch threads; the time to embed a 30 s track (decode excluded and included); and the
time ``model.audio.decode`` takes for a 30 s clip in each format PyAV/soundfile can write.
Target (issue 5): a 30 s track embedded in <= 60 ms (>= 500x real time), decode excluded.
Writes benchmarks/results/encoder.{md,json}.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import (
    command_line,
    finish_meta,
    markdown_table,
    meta_block,
    meta_markdown,
    write_results,
)
from model.audio import decode
from model.checkpoint import LoadedModel, load_checkpoint
from model.embed import Embedder
from service.app import DEFAULT_MODEL

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results" / "encoder"
TARGET_TRACK_MS = 60.0  # a 30 s track, decode excluded
TRACK_SECONDS = 30.0
SOURCE_RATE = 44_100  # decode inputs: CD-rate stereo, as catalogues mostly hold
FORMATS = ("wav", "flac", "ogg", "mp3", "opus", "m4a")


# --- counting --------------------------------------------------------------------------------
def conv2d_macs(
    c_in: int, c_out: int, kernel: tuple[int, int], out_hw: tuple[int, int], groups: int = 1
) -> int:
    """MACs of one Conv2d application: every output value is a dot product of length
    ``c_in / groups * kh * kw``; there are ``c_out * h_out * w_out`` of them (per item)."""
    kh, kw = kernel
    h, w = out_hw
    return c_out * h * w * (c_in // groups) * kh * kw


def conv_macs_by_hand(module: nn.Module, x: torch.Tensor) -> list[dict[str, Any]]:
    """Per-Conv2d MACs of ``module(x)`` for one item, from the output shapes a forward pass
    records (batch size 1 expected)."""
    rows: list[dict[str, Any]] = []

    def hook(mod: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        h, w = (int(v) for v in out.shape[-2:])
        kh, kw = mod.kernel_size
        macs = conv2d_macs(mod.in_channels, mod.out_channels, (kh, kw), (h, w), mod.groups)
        rows.append({"layer": f"conv {mod.in_channels}->{mod.out_channels}", "out": (h, w),
                     "macs": macs})

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return rows


def counted_macs(fn: Callable[[], object]) -> dict[str, int]:
    """MACs by operator of ``fn()``, from torch's FlopCounterMode (MACs = FLOPs / 2). It
    counts matrix products and convolutions; FFTs and element-wise work are not counted."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return {str(op): int(n) // 2 for op, n in counter.get_flop_counts()["Global"].items()}


def rfft_macs(n_fft: int, frames: int) -> int:
    """Estimated MACs of ``frames`` real FFTs of length ``n_fft``: a real FFT is about
    2.5 N log2 N real flops (half a complex radix-2 FFT's 5 N log2 N), i.e. 1.25 N log2 N
    MACs, plus the power spectrum (2 MACs per bin, N/2 + 1 bins)."""
    per_frame = 1.25 * n_fft * math.log2(n_fft) + 2 * (n_fft // 2 + 1)
    return int(round(per_frame * frames))


def macs_per_window(model: LoadedModel) -> dict[str, Any]:
    """MACs of one window: front end (FFT estimated, mel filterbank counted) and the network
    (counted by FlopCounterMode and by hand per conv layer; the two must agree)."""
    enc, cfg = model.encoder, model.config
    wave = torch.zeros(1, int(cfg.sample_rate * cfg.clip_seconds))
    with torch.inference_mode():
        logmel = enc.features(wave)
        normed = enc.input_norm(logmel.unsqueeze(1))
    frames = int(logmel.shape[-1])
    front = counted_macs(lambda: enc.features(wave))
    net = counted_macs(lambda: enc.head(enc.embed_features(logmel)))
    by_hand = conv_macs_by_hand(enc.blocks, normed)
    conv_counted = net.get("aten.convolution", 0)
    conv_hand = sum(r["macs"] for r in by_hand)
    if conv_counted != conv_hand:
        raise RuntimeError(f"conv MACs: counter {conv_counted} != by hand {conv_hand}")
    fft = rfft_macs(cfg.n_fft, frames)
    mel = sum(front.values())
    return {
        "frames": frames,
        "front_end": {"fft_estimated": fft, "mel_filterbank": mel, "total": fft + mel},
        "network": {"by_op": net, "total": sum(net.values()), "conv_layers": by_hand},
        "total": fft + mel + sum(net.values()),
    }


# --- timing ----------------------------------------------------------------------------------
def time_calls(call: Callable[[], object], *, repeats: int, min_seconds: float) -> list[float]:
    """Wall seconds of ``call()`` after one warm-up, at least ``repeats`` times and at least
    ``min_seconds`` in all (bounded at 50 * repeats calls)."""
    call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (
        time.perf_counter() - start < min_seconds and len(times) < 50 * repeats
    ):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return times


def summary(times: list[float]) -> dict[str, float]:
    """Median and best of a list of wall times, in ms, and how many."""
    return {"median_ms": float(np.median(times)) * 1e3, "best_ms": min(times) * 1e3,
            "n": len(times)}


def throughput(model: LoadedModel, batches: list[int], threads: list[int], *, repeats: int,
               min_seconds: float) -> list[dict[str, Any]]:
    """Windows/s and real-time factor of the whole encoder (front end included)."""
    cfg = model.config
    n = int(cfg.sample_rate * cfg.clip_seconds)
    rng = np.random.default_rng(0)
    rows = []
    for t in threads:
        torch.set_num_threads(t)
        for b in batches:
            x = torch.from_numpy(rng.uniform(-0.5, 0.5, (b, n)).astype(np.float32))
            with torch.inference_mode():
                s = summary(time_calls(lambda x=x: model.encoder(x), repeats=repeats,
                                       min_seconds=min_seconds))
            wps = b / (s["median_ms"] / 1e3)
            rows.append({"threads": t, "batch": b, **s, "windows_per_s": wps,
                         "realtime_x": wps * cfg.clip_seconds,
                         "best_windows_per_s": b / (s["best_ms"] / 1e3)})
            logger.info("encoder threads=%d batch=%d: %s", t, b, rows[-1])
    return rows


def sample_track(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """(round(seconds * sr), 2) float32 stereo: harmonic notes on a beat, plus noise."""
    from support.audio import synth_music

    return synth_music(seconds, sr, seed=seed, channels=2)


def encoded_clips(seconds: float) -> tuple[dict[str, bytes], dict[str, str]]:
    """The test track encoded in each of FORMATS (those this PyAV/libsndfile can write)."""
    from support.audio import encode

    samples = sample_track(seconds, SOURCE_RATE)
    out, failed = {}, {}
    for fmt in FORMATS:
        try:
            out[fmt] = encode(samples, SOURCE_RATE, fmt)
        except Exception as exc:  # an encoder missing from this build: reported, not fatal
            failed[fmt] = f"{type(exc).__name__}: {exc}"
            logger.warning("cannot write %s here: %s", fmt, exc)
    return out, failed


def track_times(model: LoadedModel, clips: dict[str, bytes], threads: list[int], *,
                repeats: int, min_seconds: float) -> dict[str, Any]:
    """Decode time per format, and embed time of a 30 s track with and without decoding."""
    embedder = Embedder(model)
    sr = embedder.sample_rate
    out: dict[str, Any] = {"decode": [], "embed": [], "end_to_end": []}
    torch.set_num_threads(1)
    for fmt, data in clips.items():
        s = summary(time_calls(lambda d=data: decode(d, sample_rate=sr), repeats=repeats,
                               min_seconds=min_seconds))
        out["decode"].append({"format": fmt, "kib": len(data) / 1024, **s,
                              "realtime_x": TRACK_SECONDS / (s["median_ms"] / 1e3)})
    samples = decode(clips["wav"], sample_rate=sr).samples
    for t in threads:
        torch.set_num_threads(t)
        s = summary(time_calls(lambda: embedder.embed(samples), repeats=repeats,
                               min_seconds=min_seconds))
        out["embed"].append({"threads": t, **s,
                             "realtime_x": TRACK_SECONDS / (s["median_ms"] / 1e3)})
        for fmt in ("wav", "ogg", "mp3"):
            if fmt in clips:
                s = summary(time_calls(
                    lambda d=clips[fmt]: embedder.embed(decode(d, sample_rate=sr).samples),
                    repeats=repeats, min_seconds=min_seconds))
                out["end_to_end"].append({"threads": t, "format": fmt, **s,
                                          "realtime_x": TRACK_SECONDS / (s["median_ms"] / 1e3)})
    torch.set_num_threads(1)
    return out


def verdict(track: dict[str, Any]) -> list[str]:
    """One line per thread count: does embedding a 30 s track meet TARGET_TRACK_MS?"""
    lines = []
    for row in track["embed"]:
        ms = row["median_ms"]
        ok = "meets" if ms <= TARGET_TRACK_MS else "misses"
        lines.append(
            f"{row['threads']} thread(s): {ms:.1f} ms median (best {row['best_ms']:.1f} ms) "
            f"for a 30 s track, {row['realtime_x']:.0f}x real time: {ok} the "
            f"{TARGET_TRACK_MS:.0f} ms target ({ms / TARGET_TRACK_MS:.2f}x of it)"
        )
    for row in track["end_to_end"]:
        ms = row["median_ms"]
        lines.append(
            f"decode included ({row['format']}, {row['threads']} thread(s)): {ms:.0f} ms: "
            f"{'would meet' if ms <= TARGET_TRACK_MS else 'would miss'} the same budget "
            f"({ms / TARGET_TRACK_MS:.2f}x of it)"
        )
    return lines


def report(results: dict[str, Any]) -> str:
    m, p = results["macs"], results["params"]
    parts = [
        "# Encoder on CPU", "", meta_markdown(results["meta"]), "",
        f"Model `{results['model']}`: {p:,} parameters ({p * 4 / 1024:.0f} KiB as float32).",
        "",
        "## MACs per 3 s window",
        "",
        markdown_table(["part", "MACs", "how"], [
            ["log-mel: FFT + power", f"{m['front_end']['fft_estimated']:,}",
             "estimated, 1.25 N log2 N per frame"],
            ["log-mel: mel filterbank", f"{m['front_end']['mel_filterbank']:,}",
             "counted (FlopCounterMode)"],
            *[[r["layer"] + f" (out {r['out'][0]}x{r['out'][1]})", f"{r['macs']:,}", "by hand"]
              for r in m["network"]["conv_layers"]],
            ["network total", f"{m['network']['total']:,}", "counted; conv = by hand"],
            ["total", f"{m['total']:,}", ""],
        ]),
        "",
        "## Throughput (whole encoder, front end included; wall time, median)",
        "",
        markdown_table(["threads", "batch", "ms / batch", "windows/s", "x real time",
                        "best windows/s"],
                       [[r["threads"], r["batch"], r["median_ms"], r["windows_per_s"],
                         r["realtime_x"], r["best_windows_per_s"]]
                        for r in results["throughput"]]),
        "",
        "## A 30 s track (44.1 kHz stereo source)",
        "",
        markdown_table(["step", "threads", "median ms", "best ms", "x real time"],
                       [["embed (decoded)", r["threads"], r["median_ms"], r["best_ms"],
                         r["realtime_x"]] for r in results["track"]["embed"]]
                       + [[f"decode {r['format']} + embed", r["threads"], r["median_ms"],
                           r["best_ms"], r["realtime_x"]]
                          for r in results["track"]["end_to_end"]]),
        "",
        "Decode (`model.audio.decode` to 16 kHz mono, one thread):",
        "",
        markdown_table(["format", "KiB", "median ms", "best ms", "x real time"],
                       [[r["format"], r["kib"], r["median_ms"], r["best_ms"], r["realtime_x"]]
                        for r in results["track"]["decode"]]),
        "",
        "## Target: 30 s track in <= 60 ms, decode excluded (decode included for reference)",
        "",
        *[f"- {line}" for line in results["verdict"]],
    ]
    if results["formats_failed"]:
        parts += ["", "Formats this build cannot write: " + ", ".join(
            f"{k} ({v})" for k, v in results["formats_failed"].items())]
    return "\n".join(parts)


def run(model_path: Path, *, quick: bool, command: str, note: str = "") -> dict[str, Any]:
    meta = meta_block(command)
    meta["note"] = note
    model = load_checkpoint(model_path)
    repeats, min_s = (3, 0.3) if quick else (10, 2.0)
    batches = [1, 8] if quick else [1, 8, 32]
    threads = [1, 2]
    clips, failed = encoded_clips(TRACK_SECONDS)
    results: dict[str, Any] = {
        "model": model.version,
        "params": sum(p.numel() for p in model.encoder.parameters()),
        "macs": macs_per_window(model),
        "throughput": throughput(model, batches, threads, repeats=repeats, min_seconds=min_s),
        "track": track_times(model, clips, threads, repeats=repeats, min_seconds=min_s),
        "formats_failed": failed,
        "quick": quick,
    }
    results["verdict"] = verdict(results["track"])
    results["meta"] = finish_meta(meta)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and batch sizes")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=Path, default=RESULTS, help="result path without suffix")
    ap.add_argument("--note", default="", help="a remark for the results (e.g. other load)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    command = command_line("benchmarks.encoder", argv)
    results = run(args.model, quick=args.quick, command=command, note=args.note)
    write_results(args.out, results, report(results))
    for line in results["verdict"]:
        logger.info("%s", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
