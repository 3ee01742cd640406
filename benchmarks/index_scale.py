"""Index at scale: musicprism's FacetIndexSet on 100k / 1M synthetic tracks (issue 5, §2).

For each catalogue size, on D = 256 full-space vectors with the 4 x 64 facet layout
(``benchmarks.synthetic``) and held-out queries from the same distribution:

- exact search (``IDMap2,Flat``) gives the ground truth and the physical baseline;
- each approximate factory (IVF-SQ8, IVF-PQ, HNSW) is built through ``FacetIndexSet``
  (full space + 4 facets), its knob (nprobe / efSearch) swept to the cheapest setting
  with recall@10 >= 0.95, and measured there: single-query latency on one thread,
  batched throughput, build time, memory per track (serialized size and RSS delta);
- full-space search and one single-facet search (``mood``) are reported; a facet mix
  (mood 0.7, genre 0.3, on the full-space index) gets its recall at the full-space setting
  and the setting it needs itself;
- HNSW on the full space alone is compared with hnswlib and usearch, same M and
  efConstruction, each tuned to the same recall target.

Usage::

    OMP_WAIT_POLICY=PASSIVE python -m benchmarks.index_scale   # 100k and 1M -> results/
    python -m benchmarks.index_scale --quick    # 10k smoke run (seconds), written under /tmp

Above 100k tracks IVF-PQ is skipped and HNSW is built on the full space only with M = 16
(build time on a 2-core machine); see ``--pq-max-size``, ``--hnsw-set-max-size``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import math
import os
import shlex
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import external
from benchmarks.common import (
    ENV_KEYS,
    meta_block,
    release_free_memory,
    rss_bytes,
    sgemm_gflops,
    stream_bandwidth,
    timed,
    write_results,
)
from benchmarks.index_scale_report import render
from benchmarks.index_scale_summary import physical_bound, target_verdict
from benchmarks.measure import choose, sweep, tune_and_measure
from benchmarks.synthetic import CatalogueSpec, make_catalogue
from index import FacetIndexSet, set_threads
from layout.schema import ConceptSchema

logger = logging.getLogger(__name__)

SCHEMA = ConceptSchema({c: (c,) for c in ("genre", "mood", "instrument", "era")}, facet_dim=64)
FACET = "mood"
MIX = {"mood": 0.7, "genre": 0.3}
K = 10
TARGET_RECALL = 0.95
TARGET_MS = 2.0
NPROBES = (1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
EFS = (10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
# FAISS's HNSW factory strings build with efConstruction 40; the other libraries get the same.
EF_CONSTRUCTION = external.FAISS_EF_CONSTRUCTION
CONFIGS = ("exact", "ivf_sq8", "ivf_pq", "hnsw")
RESULTS = Path(__file__).parent / "results" / "index_scale"
# --quick: a smoke run of every code path but IVF-PQ training (slow), well under a minute.
QUICK: dict[str, Any] = {
    "sizes": [10_000], "queries": 200, "configs": ["exact", "ivf_sq8", "hnsw"], "hnsw_m": 16,
    "bandwidth_mib": 256, "out": Path(tempfile.gettempdir()) / "musicprism-bench" / "index_scale",
}


@dataclass(frozen=True)
class Options:
    """What to run; see ``parse_args`` for the meaning of each field."""

    sizes: tuple[int, ...] = (100_000, 1_000_000)
    queries: int = 1000
    configs: tuple[str, ...] = CONFIGS
    libraries: tuple[str, ...] = external.LIBRARIES
    hnsw_m: int = 32
    nlist_cap: int = 1024
    pq_max_size: int = 100_000
    hnsw_set_max_size: int = 100_000
    hnsw_m_large: int = 16
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    bandwidth_bytes: int = 2 * 1024**3
    seed: int = 0
    out: Path = RESULTS


def nlist_for(n: int, cap: int) -> int:
    """IVF lists: the largest power of two <= 4 sqrt(n), <= cap, <= n / 39 (k-means needs
    39 points per centroid to train)."""
    bound = min(4 * math.sqrt(n), cap, n / 39)
    return 1 << max(0, int(math.floor(math.log2(bound))))


def factories(n: int, opts: Options) -> dict[str, str]:
    """Factory string per configuration name, for a catalogue of ``n`` tracks."""
    nlist = nlist_for(n, opts.nlist_cap)
    table = {
        "exact": "IDMap2,Flat",
        "ivf_sq8": f"IVF{nlist},SQ8",
        "ivf_pq": f"IVF{nlist},PQ32",
    }
    skip = {"ivf_pq"} if n > opts.pq_max_size else set()
    if n > opts.hnsw_set_max_size:
        skip.add("hnsw")
    table["hnsw"] = f"HNSW{hnsw_m(n, opts)},Flat"
    return {name: table[name] for name in opts.configs if name not in skip}


def hnsw_m(n: int, opts: Options) -> int:
    """HNSW graph degree M at ``n`` tracks: smaller above ``hnsw_set_max_size``, where HNSW
    is only built on the full space (build time on a 2-core machine)."""
    return opts.hnsw_m if n <= opts.hnsw_set_max_size else opts.hnsw_m_large


def knob(factory: str) -> tuple[str | None, tuple[int, ...]]:
    """(search knob name, values to sweep) for a factory string."""
    if factory.startswith("IVF"):
        nlist = int(factory[3:].split(",")[0])
        return "nprobe", tuple(v for v in NPROBES if v <= nlist)
    if factory.startswith("HNSW"):
        return "ef_search", EFS
    return None, ()


class SetSearcher:
    """A ``FacetIndexSet`` searched with fixed facet weights, as a ``measure.Searcher``."""

    def __init__(self, name: str, index_set: Any, weights: Mapping[str, float] | None) -> None:
        self.name, self.index_set, self.weights = name, index_set, weights
        self.param_name, _ = knob(index_set.factory)

    def set_param(self, value: int) -> None:
        if self.param_name is not None:
            self.index_set.set_search_params(**{self.param_name: value})

    def set_threads(self, n: int) -> None:
        set_threads(n)

    def search(self, xq: np.ndarray, k: int) -> np.ndarray:
        ids: np.ndarray = self.index_set.search(xq, k, weights=self.weights)[1]
        return ids


@dataclass
class Data:
    """One catalogue: ids, base vectors, queries and the exact answers per query kind."""

    ids: np.ndarray
    xb: np.ndarray
    xq: np.ndarray
    truth: dict[str, np.ndarray] = field(default_factory=dict)


KINDS: dict[str, Mapping[str, float] | None] = {"full": None, f"facet:{FACET}": {FACET: 1.0}}


def make_data(n: int, opts: Options) -> Data:
    """``n`` catalogue tracks and ``opts.queries`` held-out queries from one draw."""
    cat, seconds = timed(lambda: make_catalogue(n + opts.queries, SCHEMA, seed=opts.seed))
    logger.info("generated %d + %d vectors in %.1f s", n, opts.queries, seconds)
    xq = np.ascontiguousarray(cat.x[n:])
    return Data(ids=np.arange(n, dtype=np.int64), xb=cat.x[:n], xq=xq)


def build_set(factory: str, data: Data, opts: Options) -> tuple[Any, dict[str, Any]]:
    """Build a ``FacetIndexSet`` on all cores; its build time and memory."""
    set_threads(opts.threads)
    before = _settled_rss()
    index_set = FacetIndexSet(SCHEMA, factory)
    _, build_s = timed(lambda: index_set.rebuild(data.ids, data.xb))
    rss_delta = _settled_rss() - before
    stats = index_set.stats()
    if factory != "IDMap2,Flat" and stats["mode"] != "approximate":
        raise RuntimeError(f"{factory} at {len(data.ids)} tracks is in mode {stats['mode']}")
    with tempfile.TemporaryDirectory() as tmp:
        snap = index_set.save(tmp, state={})
        files = {p.name: p.stat().st_size for p in snap.iterdir() if p.suffix == ".faiss"}
    n = len(data.ids)
    info = {
        "factory": factory,
        "build_s": build_s,
        "build_threads": opts.threads,
        "rss_delta_bytes": rss_delta,
        "rss_bytes_per_track": rss_delta / n,
        "serialized_bytes": sum(files.values()),
        "serialized_bytes_per_track": sum(files.values()) / n,
        "serialized_files": files,
    }
    logger.info("built %s: %s", factory, info)
    return index_set, info


def _settled_rss() -> int:
    """RSS after collecting garbage and handing freed heap memory back to the OS."""
    gc.collect()
    release_free_memory()
    return rss_bytes()


def ground_truth(index_set: Any, data: Data, opts: Options) -> None:
    """Fill ``data.truth`` by exact search for every query kind and the facet mix."""
    set_threads(opts.threads)
    for kind, weights in {**KINDS, "mix": MIX}.items():
        data.truth[kind] = index_set.search(data.xq, K, weights=weights)[1]


def run_set(name: str, factory: str, data: Data, opts: Options) -> dict[str, Any]:
    """Build one configuration through ``FacetIndexSet`` and measure every query kind."""
    index_set, out = build_set(factory, data, opts)
    if name == "exact":
        ground_truth(index_set, data, opts)
    _, values = knob(factory)
    out["search"] = {}
    for kind, weights in KINDS.items():
        searcher = SetSearcher(f"{name}/{kind}", index_set, weights)
        out["search"][kind] = tune_and_measure(
            searcher, data.xq, data.truth[kind], values, K,
            target=TARGET_RECALL, threads_all=opts.threads,
        )
    out["mix"] = mix_sweep(SetSearcher(f"{name}/mix", index_set, MIX), data, out)
    return out


def mix_sweep(searcher: SetSearcher, data: Data, res: dict[str, Any]) -> dict[str, Any]:
    """A facet mix searched on the full-space index: recall at the full-space setting, and
    the setting the mix itself needs (batched, one thread; no single-query timing)."""
    full_param = res["search"]["full"]["param"]
    if searcher.param_name is None:
        point = sweep(searcher, data.xq, data.truth["mix"], [1], K)[0]
        return {"at_full_setting": point, "sweep": [], "param": None, "reached": True}
    searcher.set_param(full_param)
    at_full = sweep(searcher, data.xq, data.truth["mix"], [full_param], K)[0]
    _, values = knob(searcher.index_set.factory)
    points = sweep(searcher, data.xq, data.truth["mix"], values, K)
    param, reached = choose(points, TARGET_RECALL)
    return {"at_full_setting": at_full, "sweep": points, "param": param, "reached": reached}


def run_full_only(library: str, data: Data, opts: Options) -> dict[str, Any]:
    """HNSW on the full space alone, for the library comparison: FAISS (through
    musicprism's ``FaissIndex``), hnswlib or usearch, same M and efConstruction."""
    n, m, efc = len(data.ids), hnsw_m(len(data.ids), opts), EF_CONSTRUCTION
    before = _settled_rss()
    searcher = external.make_searcher(library, SCHEMA.dim, m, efc)
    _, build_s = timed(lambda: searcher.build(data.xb, opts.threads))
    rss_delta = _settled_rss() - before
    out: dict[str, Any] = {
        "library": library,
        "M": m,
        "ef_construction": efc,
        "build_s": build_s,
        "build_threads": opts.threads,
        "rss_bytes_per_track": rss_delta / n,
        "serialized_bytes_per_track": searcher.serialized_bytes() / n,
    }
    out.update(tune_and_measure(
        searcher, data.xq, data.truth["full"], EFS, K,
        target=TARGET_RECALL, threads_all=opts.threads,
    ))
    return out  # the searcher is freed here; the next build starts with gc.collect()


def run_size(n: int, opts: Options) -> dict[str, Any]:
    """Every configuration and library at one catalogue size."""
    data = make_data(n, opts)
    out: dict[str, Any] = {"n": n, "queries": opts.queries, "configs": {}, "libraries": {}}
    out["bandwidth_1t"] = bandwidth = stream_bandwidth(opts.bandwidth_bytes)
    out["sgemm_gflops_1t"] = gflops = sgemm_gflops(n=min(n, 65_536))
    logger.info("one thread: %.2f GB/s, %.1f GFLOP/s", bandwidth["gb_per_s"], gflops)
    for name, factory in factories(n, _with_exact(opts)).items():
        out["configs"][name] = run_set(name, factory, data, opts)
    dims = {"full": SCHEMA.dim, f"facet:{FACET}": SCHEMA.facet(FACET).dim}
    out["physical_bound"] = physical_bound(
        n, dims, out["configs"]["exact"], bandwidth, gflops, opts.queries
    )
    for library in ("faiss", *opts.libraries):
        out["libraries"][library] = run_full_only(library, data, opts)
    out["target"] = target_verdict(out, TARGET_RECALL, TARGET_MS)
    out["skipped"] = skipped(n, opts)
    return out


def _with_exact(opts: Options) -> Options:
    configs = ("exact", *(c for c in opts.configs if c != "exact"))
    return Options(**{**opts.__dict__, "configs": configs})


def skipped(n: int, opts: Options) -> dict[str, str]:
    """Configurations asked for but not built at ``n`` tracks, and why."""
    out = {}
    if "ivf_pq" in opts.configs and n > opts.pq_max_size:
        out["ivf_pq"] = (f"IVF-PQ is built up to {opts.pq_max_size:,} tracks only (training "
                         "32 sub-quantizers per index is slow; its recall ceiling shows there)")
    if "hnsw" in opts.configs and n > opts.hnsw_set_max_size:
        out["hnsw"] = (f"above {opts.hnsw_set_max_size:,} tracks HNSW is built on the full "
                       f"space only, with M = {opts.hnsw_m_large} (build time on this machine); "
                       "see the library table")
    return out


def run(opts: Options, command: str) -> dict[str, Any]:
    """The whole benchmark; writes results after each size so a crash keeps what was done.

    Args:
        opts: what to run.
        command: the command line that reproduces the run, recorded in the results.
    """
    set_threads(opts.threads)
    payload: dict[str, Any] = {
        "meta": meta_block(command),
        "settings": _settings(opts),
        "sizes": {},
    }
    for n in opts.sizes:
        payload["sizes"][str(n)] = run_size(n, opts)
        payload["meta"]["load_avg_end"] = list(os.getloadavg())
        write_results(opts.out, payload, render(payload))
    return payload


def _settings(opts: Options) -> dict[str, Any]:
    return {
        "sizes": list(opts.sizes), "queries": opts.queries, "k": K,
        "target_recall": TARGET_RECALL, "target_ms": TARGET_MS, "facet": FACET, "mix": MIX,
        "hnsw_m": {str(n): hnsw_m(n, opts) for n in opts.sizes},
        "ef_construction": EF_CONSTRUCTION, "pq_max_size": opts.pq_max_size,
        "hnsw_set_max_size": opts.hnsw_set_max_size,
        "threads_all": opts.threads, "seed": opts.seed,
        "schema": SCHEMA.to_dict(), "catalogue_spec": CatalogueSpec().__dict__,
        "factories": {str(n): factories(n, _with_exact(opts)) for n in opts.sizes},
    }


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line; ``--quick`` changes the defaults, explicit flags win."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 10k tracks, 200 queries, no IVF-PQ, HNSW M=16")
    p.add_argument("--sizes", type=int, nargs="+", default=list(Options.sizes))
    p.add_argument("--queries", type=int, default=Options.queries)
    p.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    p.add_argument("--libraries", nargs="*", choices=external.LIBRARIES,
                   default=external.available())
    p.add_argument("--hnsw-m", type=int, default=Options.hnsw_m)
    p.add_argument("--hnsw-set-max-size", type=int, default=Options.hnsw_set_max_size,
                   help="above this many tracks, HNSW is built on the full space only ...")
    p.add_argument("--hnsw-m-large", type=int, default=Options.hnsw_m_large,
                   help="... with this M (build time)")
    p.add_argument("--nlist-cap", type=int, default=Options.nlist_cap)
    p.add_argument("--pq-max-size", type=int, default=Options.pq_max_size,
                   help="build IVF-PQ only up to this many tracks (its training is slow)")
    p.add_argument("--bandwidth-mib", type=int, default=Options.bandwidth_bytes // 2**20)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=RESULTS, help="result path without suffix")
    if p.parse_known_args(argv)[0].quick:
        p.set_defaults(**QUICK)
    a = p.parse_args(argv)
    return Options(
        sizes=tuple(a.sizes), queries=a.queries, configs=tuple(a.configs),
        libraries=tuple(a.libraries), hnsw_m=a.hnsw_m, nlist_cap=a.nlist_cap,
        pq_max_size=a.pq_max_size, hnsw_set_max_size=a.hnsw_set_max_size,
        hnsw_m_large=a.hnsw_m_large, threads=a.threads,
        bandwidth_bytes=a.bandwidth_mib * 2**20, seed=a.seed, out=a.out,
    )


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    run(parse_args(args), command_for(args))


def command_for(argv: Sequence[str]) -> str:
    """The shell command that runs this benchmark with ``argv``, environment included."""
    env = " ".join(f"{k}={shlex.quote(os.environ[k])}" for k in ENV_KEYS if k in os.environ)
    return " ".join(filter(None, [env, "python -m benchmarks.index_scale", shlex.join(argv)]))


if __name__ == "__main__":
    main()
