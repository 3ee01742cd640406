"""Shared benchmark helpers: the machine, memory, bandwidth, timing and result files.

Every benchmark writes ``<name>.json`` (all numbers, machine, command, date) and
``<name>.md`` (the same as tables) through ``write_results``, so results are reproducible
and comparable: ratios are only compared within one run.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

GIB = 1024**3
# Environment variables that change how the numerical libraries use threads.
ENV_KEYS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, load and library versions of this machine.

    Returns:
        ``{"cpu_model", "cores", "ram_gib", "load_avg", "os", "python", "versions"}``.
    """
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_meminfo_kib("MemTotal") / 1024**2, 1),
        "load_avg": load_average(),
        "busy_processes": busy_processes(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": package_versions(["numpy", "faiss-cpu", "hnswlib", "usearch"]),
        "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ},
    }


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (lscpu, then ``platform`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return _lscpu().get("Model name", platform.processor() or "unknown")


def busy_processes(min_cpu: float = 20.0) -> list[str]:
    """Other processes using at least ``min_cpu`` % of a core (ps's average over each
    process's life), as "PCT% COMMAND" with the command cut to 80 characters: who else was
    using the machine."""
    try:
        text = subprocess.run(["ps", "-eo", "pid=,pcpu=,args=", "--sort=-pcpu"],
                              capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    out = []
    for line in text.splitlines():
        pid, pcpu, args = line.split(None, 2)
        if float(pcpu) < min_cpu:
            break
        if int(pid) != os.getpid():
            out.append(f"{float(pcpu):.0f}% {args[:80]}")
    return out


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to 0.01."""
    return [round(v, 2) for v in os.getloadavg()]


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed distribution versions (``None`` when not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _meminfo_kib(key: str) -> int:
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(f"{key} not in /proc/meminfo")


def rss_bytes() -> int:
    """Resident set size of this process now (Linux ``/proc/self/status`` VmRSS), bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def stream_bandwidth(n_bytes: int = 2 * GIB, repeats: int = 5) -> dict[str, Any]:
    """Memory read bandwidth of one thread: best of ``repeats`` streaming reductions.

    A float32 array far larger than any cache is reduced with ``max`` (a trivially
    vectorised read, the closest numpy gets to the hardware limit) and with ``sum``
    (pairwise summation, which does more arithmetic per byte and can fall short of the
    limit). Results are checked so the read cannot be skipped. Each pass is timed by wall
    clock and by the thread's CPU time; bandwidth is bytes over CPU time, so that time spent
    waiting for a core on a shared machine does not count (stalls on memory do).

    Args:
        n_bytes: array size in bytes, >= 1 MiB (2 GiB by default).
        repeats: timed passes per kernel, >= 1; the fastest is kept (least disturbed).

    Returns:
        ``{"bytes", "gb_per_s", "kernel", "kernels": {name: {"best_s", "median_s",
        "best_wall_s", "gb_per_s"}}}`` (``best_s``/``median_s``: CPU time) with GB = 1e9
        bytes; the top-level ``gb_per_s`` is the fastest kernel's.

    Raises:
        ValueError: ``n_bytes`` under 1 MiB or ``repeats`` < 1.
    """
    if n_bytes < 2**20 or repeats < 1:
        raise ValueError(f"need n_bytes >= 1 MiB and repeats >= 1, got {n_bytes}, {repeats}")
    a = np.ones(n_bytes // 4, dtype=np.float32)
    a[-1] = 2.0  # max must read to the end
    kernels: dict[str, tuple[Callable[[], float], float, float]] = {
        "max": (lambda: float(a.max()), 2.0, 0.0),
        "sum": (lambda: float(a.sum()), a.size + 1.0, 1e-3),
    }
    out: dict[str, Any] = {"bytes": float(a.nbytes), "kernels": {}}
    for name, (kernel, expected, rtol) in kernels.items():
        times, walls = [], []
        for _ in range(repeats):
            start_cpu, start = time.thread_time(), time.perf_counter()
            value = kernel()
            walls.append(time.perf_counter() - start)
            times.append(time.thread_time() - start_cpu)
            if abs(value - expected) > rtol * expected:
                raise RuntimeError(f"streaming {name} gave {value}, expected {expected}")
        best = min(times)
        out["kernels"][name] = {
            "best_s": best,
            "median_s": float(np.median(times)),
            "best_wall_s": min(walls),
            "gb_per_s": a.nbytes / best / 1e9,
        }
    out["kernel"] = max(out["kernels"], key=lambda k: out["kernels"][k]["gb_per_s"])
    out["gb_per_s"] = out["kernels"][out["kernel"]]["gb_per_s"]
    return out


def percentiles(values: Sequence[float], qs: Sequence[float]) -> list[float]:
    """The ``qs`` percentiles (0..100) of ``values``, linear interpolation between order
    statistics (numpy's default): the p-th percentile of sorted x[0..n-1] sits at rank
    (n - 1) * p / 100."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values to take percentiles of")
    return [float(v) for v in np.percentile(x, qs)]


def latency_stats(seconds: Sequence[float], prefix: str = "") -> dict[str, float]:
    """p50 / p95 / mean of per-call latencies, in milliseconds, keys ``{prefix}p50_ms`` ..."""
    ms = np.asarray(seconds, dtype=np.float64) * 1e3
    if ms.size == 0:
        raise ValueError("no latencies to summarise")
    return {
        f"{prefix}p50_ms": float(np.percentile(ms, 50)),
        f"{prefix}p95_ms": float(np.percentile(ms, 95)),
        f"{prefix}mean_ms": float(ms.mean()),
    }


def time_each(call: Callable[[int], object], n: int) -> tuple[list[float], list[float]]:
    """Wall time and calling-thread CPU time of ``call(i)`` for i in 0..n-1, each on its own.

    On a shared machine wall time includes waiting for a core; CPU time does not. The CPU
    clock is the calling thread's (``time.thread_time``), so it only means something for
    calls that run in the calling thread (single-threaded searches do). Its clock is read
    outside the wall-clock interval: on a VM it costs microseconds per read.

    Returns:
        (wall seconds, CPU seconds), n each.
    """
    wall, cpu = [], []
    for i in range(n):
        start_cpu = time.thread_time()
        start = time.perf_counter()
        call(i)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return wall, cpu


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """``(call(), wall seconds it took)``."""
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def release_free_memory() -> None:
    """Return freed heap memory to the OS (glibc ``malloc_trim``), so that RSS deltas
    measure what is held rather than what an earlier step left in malloc's free lists."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:  # not glibc: RSS deltas may then under-count reused memory
        logger.debug("malloc_trim unavailable")


def write_results(stem: Path, payload: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``stem.json`` (payload plus a ``meta`` block) and ``stem.md`` atomically.

    Args:
        stem: path without suffix, e.g. ``benchmarks/results/index_scale``.
        payload: JSON-serialisable results (numpy scalars are converted).
        markdown: the human-readable report.

    Returns:
        The JSON and Markdown paths.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = stem.with_suffix(".json"), stem.with_suffix(".md")
    texts = json.dumps(payload, indent=2, default=_jsonable) + "\n", markdown.rstrip() + "\n"
    for path, text in zip(paths, texts, strict=True):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    logger.info("wrote %s and %s", *paths)
    return paths


def publish(
    stem: Path,
    meta: dict[str, Any],
    result: dict[str, Any],
    report: Callable[[dict[str, Any], dict[str, Any]], str],
) -> str:
    """Finish ``meta`` (end time and load), render ``report(result, meta)``, write
    ``stem.json`` (meta and result) and ``stem.md``, print the Markdown and return it."""
    meta = finish_meta(meta)
    markdown = report(result, meta)
    write_results(stem, {**meta, **result}, markdown)
    print(markdown)  # noqa: T201
    return markdown


def _jsonable(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON: {value!r}")


def command_line(module: str, argv: Sequence[str] | None) -> str:
    """``python -m module ARGS`` as a shell would need it typed (arguments quoted)."""
    import shlex
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", module, *args])


def meta_block(command: str) -> dict[str, Any]:
    """``{"command", "date", "machine"}`` for the top of a result file."""
    return {
        "command": command,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
    }


def finish_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Add the load average at the end of the run and the run's length to a meta block."""
    started = dt.datetime.fromisoformat(meta["date"])
    meta["machine"]["load_avg_end"] = load_average()
    meta["machine"]["busy_processes_end"] = busy_processes()
    meta["wall_s"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    return meta


def meta_markdown(meta: dict[str, Any]) -> str:
    """The header lines of a result file: command, date, machine, load at start and end."""
    m = meta["machine"]
    lines = [
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']} (run took {meta.get('wall_s', '?')} s)  ",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, "
        f"Python {m['python']}  ",
        f"Load average (1/5/15 min) at start {m['load_avg']}, at end "
        f"{m.get('load_avg_end', '?')}  ",
    ]
    for when in ("", "_end"):
        busy = m.get(f"busy_processes{when}")
        if busy is not None:
            lines.append(f"Other busy processes at {'the end' if when else 'the start'}: "
                         + ("; ".join(f"`{b}`" for b in busy) if busy else "none") + "  ")
    if meta.get("note"):
        lines.append(f"\n{meta['note']}")
    return "\n".join(lines)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub Markdown table; floats are shown with 3 significant digits."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def sgemm_gflops(m: int = 1000, n: int = 65_536, k: int = 256, repeats: int = 3) -> float:
    """Single-thread float32 matrix-multiply throughput (numpy's BLAS), best of ``repeats``
    by the thread's CPU time (BLAS held to one thread, which runs in the caller).

    Shapes mirror batched exact search: (m, k) queries times (k, n) database vectors.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    best = np.inf
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(repeats):
            start = time.thread_time()
            a @ b
            best = min(best, time.thread_time() - start)
    return 2.0 * m * n * k / best / 1e9
