"""Markdown rendering of ``benchmarks.index_scale`` results (the JSON payload)."""

from __future__ import annotations

from typing import Any

from benchmarks.common import markdown_table

METHOD = """\
Method. Catalogue: `benchmarks.synthetic.make_catalogue` (D = 256, facets genre / mood /
instrument / era of 64 dims; per facet 300 Gaussian clusters in 30 families, Zipf
popularity, per-cluster spread and rank-12 noise subspace; facets coupled with probability
0.5, otherwise independent; then `layout.facets.to_full_space`). Queries are held-out draws
from the same distribution. Recall@10 is against exact search (`IDMap2,Flat`) of the same
query kind. Every configuration is built through `index.FacetIndexSet` (full space + 4
facet indexes) on all cores; its search knob (nprobe / efSearch) is swept with batched
one-thread searches and the cheapest setting reaching recall@10 >= 0.95 is measured:
single-query latency over all queries on one thread (`index.set_threads(1)`), batched
throughput for the whole query batch on one thread and on all cores. Memory per track is
for all five indexes together: the serialized snapshot (`FacetIndexSet.save`) and the
process RSS growth during the build. The library comparison builds one full-space HNSW
index per library with the same M and efConstruction (FAISS through musicprism's
`FaissIndex`), tuned to the same recall target."""


def render(payload: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    meta, settings = payload["meta"], payload["settings"]
    machine = meta["machine"]
    lines = [
        "# Index at scale (issue 5, §2)",
        "",
        f"- Date: {meta['date']}",
        f"- Command: `{meta['command']}`",
        f"- Machine: {machine['cpu_model']}, {machine['cores']} cores, "
        f"{machine['ram_gib']} GiB RAM ({machine['os']}); shared with other jobs: load "
        f"average {machine['load_avg']} at start, {meta.get('load_avg_end')} at end",
        f"- Versions: Python {machine['python']}, "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v),
        f"- Thread settings: {machine.get('env') or 'library defaults'}; builds use "
        f"{settings['threads_all']} threads",
        f"- Queries: {settings['queries']} per size, k = {settings['k']}; target: recall@10 "
        f">= {settings['target_recall']} at <= {settings['target_ms']} ms per query (p50, one "
        "thread, full space)",
        "",
    ]
    lines += ["## Summary: full-space search at recall@10 >= 0.95, one thread", ""]
    lines += [_summary_table(payload), ""]
    for n, result in payload["sizes"].items():
        lines += _size_section(int(n), result, settings)
    lines += [METHOD, ""]
    return "\n".join(lines)


def _size_section(n: int, res: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    bw = res["bandwidth_1t"]
    out = [f"## {n:,} tracks", ""]
    out += [
        f"Measured before this size's runs, one thread, by CPU time: memory read bandwidth "
        f"{bw['gb_per_s']:.2f} GB/s (numpy streaming reductions over "
        f"{bw['bytes'] / 2**30:.2f} GiB of float32, best of 5: "
        + ", ".join(f"{k} {v['gb_per_s']:.2f} GB/s (median {bw['bytes'] / v['median_s'] / 1e9:.2f},"
                    f" best by wall clock {bw['bytes'] / v['best_wall_s'] / 1e9:.2f})"
                    for k, v in bw["kernels"].items())
        + f"); float32 matrix multiply {res['sgemm_gflops_1t']:.1f} GFLOP/s (numpy BLAS, "
        "best of 3).",
        "",
    ]
    for name, why in res.get("skipped", {}).items():
        out += [f"Not built at this size: {name}: {why}.", ""]
    out += ["### Targets (full space, one thread: recall@10 >= 0.95 at p50 <= 2 ms)", ""]
    for name, v in res["target"].items():
        out.append(
            f"- {name}: recall@10 {v['recall']:.3f}, p50 {v['p50_ms']:.3f} ms wall "
            f"({_met(v['met'])}), {v['cpu_p50_ms']:.3f} ms CPU ({_met(v['met_cpu'])})"
        )
    out += ["", "### FacetIndexSet: build and memory (full + 4 facets)", ""]
    out += [_build_table(res), ""]
    out += ["### FacetIndexSet: search at the cheapest setting with recall@10 >= 0.95", ""]
    out += [_search_table(res), ""]
    out += ["### Facet mix (mood 0.7, genre 0.3) on the full-space index (batched, 1 thread)", ""]
    out += [_mix_table(res), ""]
    out += ["### Physical bound of exact search (one thread)", ""]
    out += [
        "A single query reads every stored vector once, so bytes / bandwidth is its floor. "
        "A batch reads them once for all its queries and is bound by arithmetic instead "
        "(2 n d flops per query), compared here with numpy's float32 matrix-multiply rate.",
        "",
    ]
    out += [_bound_table(res), ""]
    out += [f"### HNSW libraries, full space only (M = {settings['hnsw_m'][str(n)]}, "
            f"efConstruction = {settings['ef_construction']})", ""]
    out += [_library_table(res), ""]
    out += ["### Sweeps (batched, one thread; CPU time per query)", ""]
    out += [_sweep_table(res), ""]
    return out


def _summary_table(payload: dict[str, Any]) -> str:
    rows = []
    for n, res in payload["sizes"].items():
        memory = {name: c for name, c in res["configs"].items()}
        for name, v in res["target"].items():
            lib = name.split()[0] if name not in memory else None
            build = memory[name] if lib is None else res["libraries"][lib]
            point = res["configs"][name]["search"]["full"] if lib is None else build
            scope = "full + 4 facets" if lib is None else "full only"
            rows.append([
                f"{int(n):,}", name, _knob(point), v["recall"], v["p50_ms"], v["cpu_p50_ms"],
                point["batch_qps_1t_cpu"], build["build_s"], scope,
                build["serialized_bytes_per_track"], _met(v["met"]), _met(v["met_cpu"]),
            ])
    headers = ["tracks", "index", "nprobe / efSearch", "recall@10", "p50 ms (wall)",
               "p50 ms (CPU)", "batch q/s (1 thread, CPU)", "build s", "indexes built",
               "serialized B/track", "<= 2 ms (wall)", "<= 2 ms (CPU)"]
    return markdown_table(headers, rows)


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def _build_table(res: dict[str, Any]) -> str:
    rows = []
    for name, c in res["configs"].items():
        rows.append([
            name, f"`{c['factory']}`", c["build_s"], c["serialized_bytes_per_track"],
            c["rss_bytes_per_track"], c["serialized_bytes"] / 2**20,
        ])
    headers = ["config", "factory", "build s", "serialized B/track", "RSS B/track",
               "serialized MiB"]
    return markdown_table(headers, rows)


def _search_table(res: dict[str, Any]) -> str:
    rows = []
    for name, c in res["configs"].items():
        for kind, s in c["search"].items():
            rows.append([
                name, kind, _knob(s), s["recall"], s["p50_ms"], s["p95_ms"], s["cpu_p50_ms"],
                s["cpu_p95_ms"], s["batch_qps_1t"], s["batch_qps_1t_cpu"], s["batch_qps_all"],
            ])
    threads = next(iter(res["configs"].values()))["search"]["full"]["threads_all"]
    headers = ["config", "query", "nprobe / efSearch", "recall@10", "p50 ms", "p95 ms",
               "CPU p50 ms", "CPU p95 ms", "batch q/s (1 thread)",
               "batch q/s by CPU time (1 thread)", f"batch q/s ({threads} threads)"]
    return markdown_table(headers, rows)


def _mix_table(res: dict[str, Any]) -> str:
    rows = []
    for name, c in res["configs"].items():
        mix, full = c["mix"], c["search"]["full"]
        at_full = mix["at_full_setting"]
        own = next((p for p in mix["sweep"] if p["param"] == mix["param"]), at_full)
        rows.append([
            name, _knob(full), at_full["recall"], _knob(mix), own["recall"],
            own["batch_cpu_ms_per_query"],
        ])
    headers = ["config", "full-space setting", "mix recall@10 there", "setting the mix needs",
               "mix recall@10", "batched CPU ms / query there (1 thread)"]
    return markdown_table(headers, rows)


def _knob(point: dict[str, Any]) -> str:
    if point["param"] is None:
        return "-"
    return str(point["param"]) + ("" if point["reached"] else " (target not reached)")


def _bound_table(res: dict[str, Any]) -> str:
    rows = []
    for kind, b in res["physical_bound"].items():
        rows.append([
            kind, b["bytes_per_query"] / 2**20, b["bandwidth_bound_ms"], b["single_cpu_p50_ms"],
            b["single_p50_ms"], b["single_gb_per_s_cpu"], b["single_fraction_of_bound_cpu"],
            b["batch_compute_bound_ms"], b["batch_cpu_ms_per_query_1t"],
            b["batch_gflops_1t_cpu"], b["batch_fraction_of_bound_cpu"],
        ])
    headers = ["index", "MiB read / query", "bandwidth floor ms", "single CPU p50 ms",
               "single wall p50 ms", "single GB/s (CPU)", "single: floor / CPU p50",
               "batched ms / query at numpy sgemm rate", "batched CPU ms / query",
               "batched GFLOP/s (CPU)", "batched: sgemm-rate time / CPU time"]
    return markdown_table(headers, rows)


def _library_table(res: dict[str, Any]) -> str:
    rows = []
    for name, lib in res["libraries"].items():
        rows.append([
            name, lib["build_s"], lib["serialized_bytes_per_track"], lib["rss_bytes_per_track"],
            _knob(lib), lib["recall"], lib["p50_ms"], lib["p95_ms"], lib["cpu_p50_ms"],
            lib["cpu_p95_ms"], lib["batch_qps_1t"], lib["batch_qps_1t_cpu"],
            lib["batch_qps_all"],
        ])
    headers = ["library", "build s", "serialized B/track", "RSS B/track", "efSearch",
               "recall@10", "p50 ms", "p95 ms", "CPU p50 ms", "CPU p95 ms",
               "batch q/s (1 thread)", "batch q/s by CPU time (1 thread)", "batch q/s (all)"]
    return markdown_table(headers, rows)


def _sweep_table(res: dict[str, Any]) -> str:
    rows = []
    sweeps = [(name, kind, s["sweep"]) for name, c in res["configs"].items()
              for kind, s in c["search"].items()]
    sweeps += [(name, "mix", c["mix"]["sweep"]) for name, c in res["configs"].items()]
    sweeps += [(name, "full (alone)", lib["sweep"]) for name, lib in res["libraries"].items()]
    for name, kind, points in sweeps:
        if points:
            cells = ", ".join(
                f"{p['param']}: {p['recall']:.3f} / {p['batch_cpu_ms_per_query']:.3g}"
                for p in points
            )
            rows.append([name, kind, cells])
    return markdown_table(["index", "query", "knob: recall@10 / CPU ms per query"], rows)
