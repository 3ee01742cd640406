"""Measuring a k-NN searcher: recall sweeps, single-query latency, batched throughput.

A ``Searcher`` is anything that can set its one search knob (IVF nprobe, HNSW ef), its
thread count, and return the ids of the k nearest neighbours of a batch of queries. The
same functions measure musicprism's ``FacetIndexSet`` and other libraries, so their numbers
are taken the same way in the same run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from benchmarks.common import latency_stats, time_each, timed
from index import recall_at_k

logger = logging.getLogger(__name__)


class Searcher(Protocol):
    """A k-NN index under test."""

    name: str
    param_name: str | None  # "nprobe", "ef_search", or None (exact: nothing to tune)

    def set_param(self, value: int) -> None:
        """Set the search knob (ignored when ``param_name`` is None)."""

    def set_threads(self, n: int) -> None:
        """Threads used by later searches."""

    def search(self, xq: np.ndarray, k: int) -> np.ndarray:
        """(nq, D) float32 queries -> (nq, k) int64 ids, best first."""
        ...


def sweep(
    searcher: Searcher,
    xq: np.ndarray,
    truth: np.ndarray,
    values: Sequence[int],
    k: int,
    *,
    stop_recall: float = 0.995,
    plateau: float = 0.002,
) -> list[dict[str, float]]:
    """Recall@k and batched time per query (one thread) for each knob value, ascending.

    Stops after the first value reaching ``stop_recall``, or (after six values) once the
    last three gained less than ``plateau`` recall, a quantizer's ceiling: larger values
    would only cost time.

    Args:
        xq: (nq, D) float32 queries; truth: (nq, >=k) exact ids.
        values: knob values to try, ascending.

    Returns:
        One ``{"param", "recall", "batch_ms_per_query", "batch_cpu_ms_per_query"}`` per
        value tried (wall and CPU time).
    """
    searcher.set_threads(1)
    points = []
    for value in values:
        searcher.set_param(value)
        start_cpu = time.thread_time()
        ids, seconds = timed(lambda: searcher.search(xq, k))
        cpu = time.thread_time() - start_cpu
        point = {
            "param": value,
            "recall": recall_at_k(ids, truth, k),
            "batch_ms_per_query": seconds / len(xq) * 1e3,
            "batch_cpu_ms_per_query": cpu / len(xq) * 1e3,
        }
        logger.info("%s %s=%d: %s", searcher.name, searcher.param_name, value, point)
        points.append(point)
        recent = [p["recall"] for p in points[-3:]]
        flat = len(points) >= 6 and max(recent) - min(recent) < plateau
        if point["recall"] >= stop_recall or flat:
            break
    return points


def choose(points: Sequence[dict[str, float]], target: float) -> tuple[int, bool]:
    """The smallest knob value whose recall reaches ``target``, and whether one did.

    When none does, the value with the best recall is returned with ``False``.
    """
    if not points:
        raise ValueError("no sweep points to choose from")
    for point in points:
        if point["recall"] >= target:
            return int(point["param"]), True
    best = max(points, key=lambda p: p["recall"])
    return int(best["param"]), False


def operating_point(
    searcher: Searcher,
    xq: np.ndarray,
    truth: np.ndarray,
    k: int,
    *,
    threads_all: int,
    value: int | None = None,
) -> dict[str, Any]:
    """Recall, single-query latency (one thread) and batched throughput at one setting.

    Args:
        xq: (nq, D) float32 queries, searched one at a time and then as one batch.
        truth: (nq, >=k) exact ids.
        threads_all: threads for the second batched measurement (all cores).
        value: knob value (None: leave as is).

    Returns:
        ``{"param", "recall", "p50_ms", "p95_ms", "mean_ms", "cpu_p50_ms", "cpu_p95_ms",
        "cpu_mean_ms", "batch_recall", "batch_qps_1t", "batch_qps_1t_cpu", "batch_qps_all",
        "threads_all"}``: single-query latencies (wall and CPU) on one thread, batched
        queries per second by wall time (one thread, all threads) and by CPU time (one).
    """
    if value is not None:
        searcher.set_param(value)
    searcher.set_threads(1)
    ids = np.empty((len(xq), k), dtype=np.int64)

    def one(i: int) -> None:
        ids[i] = searcher.search(xq[i : i + 1], k)[0]

    wall, cpu = time_each(one, len(xq))
    start_cpu = time.thread_time()
    _, batch_1t = timed(lambda: searcher.search(xq, k))
    batch_1t_cpu = time.thread_time() - start_cpu
    searcher.set_threads(threads_all)
    batch_ids, batch_all = timed(lambda: searcher.search(xq, k))
    searcher.set_threads(1)
    out: dict[str, Any] = {"param": value, "recall": recall_at_k(ids, truth, k)}
    out.update(latency_stats(wall))
    out.update(latency_stats(cpu, prefix="cpu_"))
    out["batch_recall"] = recall_at_k(batch_ids, truth, k)
    out["batch_qps_1t"] = len(xq) / batch_1t
    out["batch_qps_1t_cpu"] = len(xq) / batch_1t_cpu
    out["batch_qps_all"] = len(xq) / batch_all
    out["threads_all"] = threads_all
    logger.info("%s at %s=%s: %s", searcher.name, searcher.param_name, value, out)
    return out


def tune_and_measure(
    searcher: Searcher,
    xq: np.ndarray,
    truth: np.ndarray,
    values: Sequence[int],
    k: int,
    *,
    target: float,
    threads_all: int,
) -> dict[str, Any]:
    """Sweep the knob, pick the cheapest setting reaching ``target``, measure it there.

    Returns:
        ``{"sweep": [...], "reached": bool, **operating_point(...)}``; for an exact searcher
        (``param_name`` None) no sweep is run.
    """
    if searcher.param_name is None:
        return {"sweep": [], "reached": True, **operating_point(
            searcher, xq, truth, k, threads_all=threads_all
        )}
    points = sweep(searcher, xq, truth, values, k)
    value, reached = choose(points, target)
    point = operating_point(searcher, xq, truth, k, threads_all=threads_all, value=value)
    return {"sweep": points, "reached": reached, **point}
