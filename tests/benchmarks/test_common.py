"""Benchmark helpers: bandwidth, latency summaries, tables and the result writer."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.common import (
    busy_processes,
    command_line,
    cpu_model,
    finish_meta,
    latency_stats,
    machine_info,
    markdown_table,
    meta_block,
    meta_markdown,
    percentiles,
    publish,
    rss_bytes,
    stream_bandwidth,
    time_each,
    write_results,
)


def test_stream_bandwidth_reports_bytes_over_best_time():
    out = stream_bandwidth(32 * 2**20, repeats=2)
    assert out["bytes"] == 32 * 2**20
    assert set(out["kernels"]) == {"max", "sum"}
    for kernel in out["kernels"].values():
        assert kernel["best_s"] <= kernel["median_s"]
        assert kernel["gb_per_s"] == pytest.approx(out["bytes"] / kernel["best_s"] / 1e9)
    assert out["gb_per_s"] == max(k["gb_per_s"] for k in out["kernels"].values())
    assert out["gb_per_s"] == out["kernels"][out["kernel"]]["gb_per_s"]
    # any machine this runs on streams between 100 MB/s and 10 TB/s from one thread
    assert 0.1 < out["gb_per_s"] < 10_000


@pytest.mark.parametrize("n_bytes, repeats", [(2**20 - 1, 1), (2**20, 0)])
def test_stream_bandwidth_rejects_tiny_arrays_and_no_repeats(n_bytes, repeats):
    with pytest.raises(ValueError, match=f"got {n_bytes}, {repeats}"):
        stream_bandwidth(n_bytes, repeats)


def test_latency_stats_in_milliseconds():
    seconds = np.arange(1, 101) / 1e3  # 1 .. 100 ms
    out = latency_stats(seconds, prefix="cpu_")
    assert out == pytest.approx({"cpu_p50_ms": 50.5, "cpu_p95_ms": 95.05, "cpu_mean_ms": 50.5})
    with pytest.raises(ValueError, match="no latencies"):
        latency_stats([])


def test_time_each_times_every_call_wall_and_cpu():
    seen = []
    wall, cpu = time_each(lambda i: seen.append(sum(range(20_000 * (i + 1)))), 3)
    assert len(seen) == len(wall) == len(cpu) == 3
    assert all(w > 0 for w in wall) and all(c >= 0 for c in cpu)


def test_rss_grows_with_a_touched_allocation():
    before = rss_bytes()
    block = np.ones(64 * 2**20, dtype=np.uint8)  # touched: every page is resident
    grown = rss_bytes() - before
    assert grown > 48 * 2**20, grown
    del block


def test_machine_info_names_cpu_cores_and_ram():
    info = machine_info()
    assert info["cores"] >= 1 and info["ram_gib"] > 0 and info["cpu_model"]
    assert info["versions"]["numpy"] == np.__version__


def test_markdown_table_formats_floats_and_blanks():
    table = markdown_table(["a", "b", "c"], [[0.123456, 12345.6, None], ["x", 2, 1e-4]])
    assert table.splitlines() == [
        "| a | b | c |",
        "|---|---|---|",
        "| 0.123 | 12,346 |  |",
        "| x | 2 | 0.0001 |",
    ]


def test_write_results_writes_json_and_markdown(tmp_path):
    payload = {"n": np.int64(3), "x": np.float32(0.5), "a": np.arange(3)}
    json_path, md_path = write_results(tmp_path / "sub" / "bench", payload, "# Title\n\n")
    assert json.loads(json_path.read_text()) == {"n": 3, "x": 0.5, "a": [0, 1, 2]}
    assert md_path.read_text() == "# Title\n"
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["bench.json", "bench.md"]


def test_write_results_refuses_what_json_cannot_hold(tmp_path):
    with pytest.raises(TypeError, match="cannot write set to JSON"):
        write_results(tmp_path / "bench", {"bad": {1, 2}}, "")


def test_percentiles_against_hand_values():
    # ranks (n - 1) * p / 100 over 1..10: p50 -> 4.5 (5.5), p95 -> 8.55 (9.55), p99 -> 8.91.
    values = [10, 1, 9, 2, 8, 3, 7, 4, 6, 5]
    assert percentiles(values, [50, 95, 99]) == pytest.approx([5.5, 9.55, 9.91])
    assert percentiles([3.0], [50, 99]) == [3.0, 3.0]
    with pytest.raises(ValueError, match="no values"):
        percentiles([], [50])


def test_cpu_model_and_meta_block_with_end_load():
    assert cpu_model()
    meta = finish_meta(meta_block("python -m benchmarks.x --quick"))
    assert len(meta["machine"]["load_avg_end"]) == 3
    assert meta["wall_s"] >= 0
    text = meta_markdown(meta)
    assert "`python -m benchmarks.x --quick`" in text and "at end" in text


def test_command_line_quotes_arguments():
    assert command_line("benchmarks.x", ["--quick", "--note", "two jobs ran"]) == (
        "python -m benchmarks.x --quick --note 'two jobs ran'"
    )


def test_busy_processes_lists_others_above_the_threshold():
    everyone = busy_processes(min_cpu=0.0)
    assert everyone and all(b.split("% ", 1)[0].isdigit() for b in everyone)
    assert busy_processes(min_cpu=1e9) == []


def test_publish_finishes_meta_writes_both_files_and_prints(tmp_path, capsys):
    meta = meta_block("python -m benchmarks.x")
    seen = {}

    def report(result, finished):
        seen["meta"] = finished
        return f"# n = {result['n']}"

    md = publish(tmp_path / "x", meta, {"n": 4}, report)
    assert md == "# n = 4"
    assert "wall_s" in seen["meta"] and "load_avg_end" in seen["meta"]["machine"]
    payload = json.loads((tmp_path / "x.json").read_text())
    assert payload["n"] == 4 and payload["command"] == "python -m benchmarks.x"
    assert (tmp_path / "x.md").read_text() == "# n = 4\n"
    assert capsys.readouterr().out == "# n = 4\n"
