"""Where a server's CPU goes: py-spy samples of the threads holding the GIL, summarised as
the share of samples spent inside chosen functions (inclusive).

py-spy (PyPI, in the ``bench`` extra) attaches to a running process; it needs ptrace rights
over it (a child of this process, or root). Without it, profiling is skipped and said so.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

# (label, frame prefix): a frame in py-spy's raw output reads "function (module/path.py:line)".
SERVER_PARTS: tuple[tuple[str, str], ...] = (
    ("route handler (thread pool)", "similar_to_track (service/api/routes/similar.py"),
    ("  Queries.similar", "Queries.similar (service/catalog/queries.py"),
    ("    track rows: RowCache (memory, SQL on a miss)", "RowCache.rows (service/catalog/rows.py"),
    ("    track rows: store.tracks_by_ids (SQL + ORM)", "tracks_by_ids (service/store/"),
    ("    FAISS search", "FacetIndexSet.search (index/facet_set.py"),
    ("    vectors of hits: FacetIndexSet.get", "FacetIndexSet.get (index/facet_set.py"),
    ("    vectors of hits: FacetIndexSet.get_many", "FacetIndexSet.get_many (index/facet_set.py"),
    ("  Queries.vector_of", "Queries.vector_of (service/catalog/queries.py"),
    ("  response models and JSON (json_response)", "json_response (service/api/routes/common.py"),
    ("ASGI stack on the event loop (FastAPI, middleware)", "FastAPI.__call__ (fastapi/"),
    ("  FastAPI request parsing / dependencies", "solve_dependencies (fastapi/"),
    ("    query and path parameters", "request_params_to_args (fastapi/"),
    ("  route matching", "APIRouter.matches (fastapi/"),
    ("  hop to the thread pool", "run_in_threadpool (starlette/concurrency.py"),
    ("  response validation and JSON (FastAPI)", "serialize_response (fastapi/"),
    ("  metrics middleware (all of the above inside it)",
     "ObservabilityMiddleware.__call__ (service/observability/middleware.py"),
    ("    its own work: metrics and access log",
     "ObservabilityMiddleware._record (service/observability/middleware.py"),
)


def pyspy_path() -> str | None:
    """The py-spy executable next to this interpreter, or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def start_record(pid: int, seconds: float, out: Path, rate: int = 250) -> subprocess.Popen | None:
    """Start ``py-spy record --gil`` (raw collapsed stacks to ``out``); None without py-spy."""
    exe = pyspy_path()
    if exe is None:
        logger.warning("py-spy not installed: no profile")
        return None
    cmd = [exe, "record", "-p", str(pid), "-d", str(max(1, round(seconds))), "-r", str(rate),
           "-f", "raw", "--gil", "--subprocesses", "-o", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def parse_raw(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """py-spy raw lines ("f1;f2;...;leaf COUNT") -> (frames root first, count)."""
    out = []
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        out.append((stack.split(";"), int(count)))
    return out


def inclusive_shares(
    stacks: Sequence[tuple[list[str], int]], parts: Sequence[tuple[str, str]]
) -> dict[str, float]:
    """Share (0..1) of all samples whose stack has a frame starting with each part's prefix
    (each sample counted once per part, however often the frame recurs)."""
    total = sum(n for _, n in stacks)
    if total == 0:
        raise ValueError("no samples")
    return {
        label: sum(n for frames, n in stacks if any(f.startswith(p) for f in frames)) / total
        for label, p in parts
    }


def summarise_file(path: Path, parts: Sequence[tuple[str, str]] = SERVER_PARTS) -> dict:
    """``{"samples", "shares": {label: share}}`` of a py-spy raw file."""
    stacks = parse_raw(path.read_text().splitlines())
    return {"samples": sum(n for _, n in stacks), "shares": inclusive_shares(stacks, parts)}
