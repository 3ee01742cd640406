"""The index-at-scale benchmark: its settings, and a tiny run end to end through the writer."""

from __future__ import annotations

import json

import pytest

from benchmarks import external
from benchmarks.index_scale import (
    Options,
    command_for,
    factories,
    hnsw_m,
    knob,
    nlist_for,
    parse_args,
    run,
    skipped,
)
from benchmarks.measure import choose


@pytest.mark.parametrize(
    "n, expected", [(1_000_000, 2048), (100_000, 1024), (20_000, 512), (10_000, 256), (3000, 64)]
)
def test_nlist_is_a_power_of_two_within_bounds(n, expected):
    assert nlist_for(n, cap=2048) == expected
    assert nlist_for(n, cap=1024) == min(expected, 1024)
    assert 39 * expected <= n  # k-means gets enough points to train every list
    assert nlist_for(10, cap=1024) == 1


def test_factories_per_size_and_cut_offs():
    opts = Options(pq_max_size=100_000, hnsw_set_max_size=100_000, hnsw_m=32, hnsw_m_large=16)
    assert factories(100_000, opts) == {
        "exact": "IDMap2,Flat",
        "ivf_sq8": "IVF1024,SQ8",
        "ivf_pq": "IVF1024,PQ32",
        "hnsw": "HNSW32,Flat",
    }
    assert factories(1_000_000, opts) == {"exact": "IDMap2,Flat", "ivf_sq8": "IVF1024,SQ8"}
    assert hnsw_m(100_000, opts) == 32 and hnsw_m(1_000_000, opts) == 16
    assert set(skipped(1_000_000, opts)) == {"ivf_pq", "hnsw"} and not skipped(100_000, opts)


def test_knob_per_factory():
    assert knob("IDMap2,Flat") == (None, ())
    name, values = knob("IVF64,SQ8")
    assert name == "nprobe" and values[-1] == 64 and list(values) == sorted(values)
    assert knob("HNSW16,Flat")[0] == "ef_search"


def test_choose_takes_the_cheapest_setting_reaching_the_target():
    points = [{"param": p, "recall": r} for p, r in ((1, 0.5), (2, 0.96), (4, 0.99))]
    assert choose(points, 0.95) == (2, True)
    assert choose(points[:1], 0.95) == (1, False)
    with pytest.raises(ValueError, match="no sweep points"):
        choose([], 0.95)


def test_quick_flag_sets_defaults_that_explicit_flags_override(tmp_path):
    quick = parse_args(["--quick"])
    assert quick.sizes == (10_000,) and quick.queries == 200 and "ivf_pq" not in quick.configs
    assert "benchmarks/results" not in str(quick.out)  # never overwrites committed results
    mine = parse_args(["--quick", "--sizes", "2000", "--out", str(tmp_path / "x")])
    assert mine.sizes == (2000,) and mine.hnsw_m == 16 and mine.out == tmp_path / "x"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "index_scale"
    args = ["--quick", "--sizes", "2000", "--queries", "40", "--bandwidth-mib", "16",
            "--out", str(out)]
    return run(parse_args(args), command_for(args)), out


@pytest.mark.slow  # one tiny benchmark run, shared: about 10 s of CPU
def test_results_files_hold_the_run(tiny_run):
    payload, out = tiny_run
    on_disk = json.loads(out.with_suffix(".json").read_text())
    assert on_disk["sizes"]["2000"]["target"] == payload["sizes"]["2000"]["target"]
    meta = on_disk["meta"]
    assert "python -m benchmarks.index_scale --quick --sizes 2000" in meta["command"]
    assert meta["date"][:2] == "20"
    assert meta["machine"]["cores"] >= 1
    md = out.with_suffix(".md").read_text()
    assert "## 2,000 tracks" in md and "`IVF32,SQ8`" in md and "`HNSW16,Flat`" in md
    target = payload["sizes"]["2000"]["target"]
    assert set(target) == {"exact", "ivf_sq8", "hnsw", "faiss HNSW (full space only)",
                           *(f"{lib} HNSW (full space only)" for lib in external.available())}
    for name, v in target.items():
        assert f"- {name}: recall@10 {v['recall']:.3f}, p50 {v['p50_ms']:.3f} ms wall" in md
        assert v["met_cpu"] == (v["recall"] >= 0.95 and v["cpu_p50_ms"] <= 2.0)


@pytest.mark.slow  # one tiny benchmark run, shared: about 10 s of CPU
def test_exact_search_is_its_own_ground_truth(tiny_run):
    res = tiny_run[0]["sizes"]["2000"]["configs"]["exact"]
    for point in res["search"].values():
        assert point["recall"] == point["batch_recall"] == 1.0
    assert res["mix"]["at_full_setting"]["recall"] == 1.0
    # 5 flat indexes: 256 + 4 x 64 float32 per track, 8-byte ids in each id map
    assert 2088 <= res["serialized_bytes_per_track"] < 2089
    assert res["rss_bytes_per_track"] > 1000


@pytest.mark.slow  # one tiny benchmark run, shared: about 10 s of CPU
def test_each_setting_is_the_cheapest_reaching_the_target(tiny_run):
    size = tiny_run[0]["sizes"]["2000"]
    searched = [c["search"]["full"] for c in size["configs"].values()]
    searched += list(size["libraries"].values())
    for point in searched:
        if not point["sweep"]:
            continue
        below = [p for p in point["sweep"] if p["param"] < point["param"]]
        at = next(p for p in point["sweep"] if p["param"] == point["param"])
        assert all(p["recall"] < 0.95 for p in below)
        assert point["reached"] == (at["recall"] >= 0.95)
        # searching one query at a time gives the batch's answers
        assert point["recall"] == pytest.approx(at["recall"])
        assert point["p50_ms"] <= point["p95_ms"]


@pytest.mark.slow  # one tiny benchmark run, shared: about 10 s of CPU
def test_physical_bound_and_library_rows(tiny_run):
    size = tiny_run[0]["sizes"]["2000"]
    bound = size["physical_bound"]["full"]
    assert bound["bytes_per_query"] == 2000 * 256 * 4
    assert bound["bandwidth_bound_ms"] == pytest.approx(
        bound["bytes_per_query"] / size["bandwidth_1t"]["gb_per_s"] / 1e6
    )
    assert set(size["libraries"]) == {"faiss", *external.available()}
