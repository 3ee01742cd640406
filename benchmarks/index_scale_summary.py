"""Numbers derived from index-at-scale measurements: physical bounds and target verdicts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def physical_bound(
    n: int,
    dims: Mapping[str, int],
    exact: dict[str, Any],
    bandwidth: dict[str, Any],
    gflops: float,
    nq: int,
) -> dict[str, Any]:
    """Exact search against memory bandwidth (single query) and compute (batched), one thread.

    A single query must read every stored vector once: bytes / bandwidth is its floor. A
    batch reads them once for all queries, so its floor per query is the arithmetic,
    2 n d flops at the measured matrix-multiply rate. Measured times are given by wall
    clock and by CPU time of the searching thread (the machine is shared).

    Args:
        n: tracks; dims: query kind -> dimension of the index it searches.
        exact: the exact configuration's results (``search`` per query kind).
        bandwidth: ``common.stream_bandwidth()``; gflops: ``common.sgemm_gflops()``.
        nq: queries per batch.
    """
    out = {}
    for kind, dim in dims.items():
        point = exact["search"][kind]
        scanned = n * dim * 4
        bound_ms = scanned / (bandwidth["gb_per_s"] * 1e9) * 1e3
        compute_ms = 2.0 * n * dim / (gflops * 1e9) * 1e3
        batch_ms, batch_cpu_ms = 1e3 / point["batch_qps_1t"], 1e3 / point["batch_qps_1t_cpu"]
        out[kind] = {
            "bytes_per_query": scanned,
            "bandwidth_bound_ms": bound_ms,
            "single_p50_ms": point["p50_ms"],
            "single_cpu_p50_ms": point["cpu_p50_ms"],
            "single_gb_per_s_cpu": scanned / (point["cpu_p50_ms"] / 1e3) / 1e9,
            "single_fraction_of_bound": bound_ms / point["p50_ms"],
            "single_fraction_of_bound_cpu": bound_ms / point["cpu_p50_ms"],
            "batch_ms_per_query_1t": batch_ms,
            "batch_cpu_ms_per_query_1t": batch_cpu_ms,
            "batch_bandwidth_bound_ms": bound_ms / nq,
            "batch_compute_bound_ms": compute_ms,
            "batch_gflops_1t_cpu": 2.0 * n * dim / (batch_cpu_ms / 1e3) / 1e9,
            "batch_fraction_of_bound_cpu": compute_ms / batch_cpu_ms,
        }
    return out


def target_verdict(
    size_result: dict[str, Any], target_recall: float, target_ms: float
) -> dict[str, Any]:
    """Whether each full-space search reaches ``target_recall`` at <= ``target_ms`` per query
    on one thread, by wall-clock p50 and by CPU-time p50 (FacetIndexSet configs, then the
    full-space HNSW libraries)."""
    points = {name: c["search"]["full"] for name, c in size_result["configs"].items()}
    points.update({f"{lib} HNSW (full space only)": point
                   for lib, point in size_result["libraries"].items()})
    verdict = {}
    for name, p in points.items():
        recall_ok = p["recall"] >= target_recall
        verdict[name] = {
            "recall": p["recall"], "p50_ms": p["p50_ms"], "cpu_p50_ms": p["cpu_p50_ms"],
            "met": recall_ok and p["p50_ms"] <= target_ms,
            "met_cpu": recall_ok and p["cpu_p50_ms"] <= target_ms,
        }
    return verdict
