"""Physical bounds and target verdicts, on hand-computed numbers."""

from __future__ import annotations

import pytest

from benchmarks.index_scale_summary import physical_bound, target_verdict


def test_physical_bound_by_hand():
    exact = {"search": {"full": {
        "p50_ms": 2.0, "cpu_p50_ms": 1.0, "batch_qps_1t": 500.0, "batch_qps_1t_cpu": 1000.0,
    }}}
    # 1000 tracks x 256 float32 = 1,024,000 bytes: 1 ms at 1.024 GB/s;
    # 2 * 1000 * 256 = 512,000 flops: 1 ms at 0.512 GFLOP/s
    out = physical_bound(1000, {"full": 256}, exact, {"gb_per_s": 1.024}, 0.512, nq=100)
    assert out["full"] == pytest.approx({
        "bytes_per_query": 1_024_000,
        "bandwidth_bound_ms": 1.0,
        "single_p50_ms": 2.0,
        "single_cpu_p50_ms": 1.0,
        "single_gb_per_s_cpu": 1.024,
        "single_fraction_of_bound": 0.5,
        "single_fraction_of_bound_cpu": 1.0,
        "batch_ms_per_query_1t": 2.0,
        "batch_cpu_ms_per_query_1t": 1.0,
        "batch_bandwidth_bound_ms": 0.01,
        "batch_compute_bound_ms": 1.0,
        "batch_gflops_1t_cpu": 0.512,
        "batch_fraction_of_bound_cpu": 1.0,
    })


def test_target_verdict_by_wall_and_cpu_time():
    def point(recall: float, wall: float, cpu: float) -> dict[str, float]:
        return {"recall": recall, "p50_ms": wall, "cpu_p50_ms": cpu}

    size = {
        "configs": {
            "fast": {"search": {"full": point(0.96, 1.0, 0.9)}},
            "loaded": {"search": {"full": point(0.95, 3.0, 1.5)}},
            "inexact": {"search": {"full": point(0.90, 0.1, 0.1)}},
        },
        "libraries": {"hnswlib": point(0.97, 2.5, 2.1)},
    }
    verdict = target_verdict(size, 0.95, 2.0)
    met = {name: (v["met"], v["met_cpu"]) for name, v in verdict.items()}
    assert met == {
        "fast": (True, True),
        "loaded": (False, True),
        "inexact": (False, False),
        "hnswlib HNSW (full space only)": (False, False),
    }
